"""What one document looks like inside either search backend.

``IndexDoc`` is backend-neutral: the embedded and the Elasticsearch backend store exactly these
fields. Title and body are stored already masked; contact data and whistleblower identities are
never part of it (see ``search.documents``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: Keyword fields that can be filtered on and counted (facets). Multi-valued: risk, places, keywords.
KEYWORD_FIELDS = ("source", "topic", "sentiment", "appeal", "risk", "department", "status", "places", "keywords")
MULTI_VALUED = frozenset({"risk", "places", "keywords"})
#: Facets shown by default (keywords are for significant terms, not a sidebar).
FACET_FIELDS = ("source", "topic", "sentiment", "appeal", "risk", "department", "status", "places")
#: Token fields (space-joined, whitespace analyzer).
TEXT_FIELDS = ("tokens", "title_tokens", "place_tokens")


@dataclass
class IndexDoc:
    id: int
    source: str
    title: str
    body: str
    tokens: str
    title_tokens: str
    time: dt.datetime
    topic: str | None = None
    sentiment: str | None = None
    appeal: str | None = None
    risk: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    place_tokens: str = ""
    keywords: list[str] = field(default_factory=list)
    department: str | None = None
    status: str | None = None
    case: str | None = None
    heat: int = 0
    protected: bool = False
    url: str | None = None

    def stored(self) -> dict[str, Any]:
        """The fields a hit returns (no token fields)."""
        return {
            "id": self.id, "source": self.source, "title": self.title, "body": self.body,
            "time": self.time, "topic": self.topic, "sentiment": self.sentiment, "appeal": self.appeal,
            "risk": list(self.risk), "places": list(self.places), "department": self.department,
            "status": self.status, "case": self.case, "heat": self.heat, "url": self.url,
            "protected": self.protected,
        }


def time_key(time: dt.datetime, doc_id: int) -> int:
    """A unique, time-ordered 64-bit sort key: seconds since the epoch, then the id (32 bits)."""
    return (max(0, int(time.timestamp())) << 32) | (doc_id & 0xFFFFFFFF)


def heat_key(heat: int, doc_id: int) -> int:
    return (max(0, min(int(heat), 0x7FFFFFFF)) << 32) | (doc_id & 0xFFFFFFFF)
