"""What a spider yields for each page it understood; the ingest pipeline turns it into a Document."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageItem:
    site: str
    url: str | None
    canonical_url: str | None
    seen_key: str  # the canonical URL, or ``id:<message id>`` for a listing entry without a link
    external_id: str
    title: str
    body: str
    author: str | None = None
    published_at: dt.datetime | None = None
    likes: int | None = None
    reply_body: str | None = None
    reply_at: dt.datetime | None = None
    reply_department: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
