"""Requests and answers exchanged with a ``SearchBackend`` (backend-neutral)."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from search.query import MatchAll, ParsedQuery

SORTS = ("relevance", "time", "heat")
INTERVALS = ("day", "week", "month")
MAX_SIZE = 100
#: Relevance order pages by offset; deeper than this, sort by time (which pages without limit).
MAX_RELEVANCE_OFFSET = 10_000


class BadCursor(ValueError):
    """An ``after`` token that this server did not issue (or issued for another sort)."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last hit's sort key (time/heat) or an offset (relevance)."""

    sort: str
    key: int | float | None = None
    doc_id: int | None = None
    offset: int = 0

    def encode(self) -> str:
        payload = json.dumps([self.sort, self.key, self.doc_id, self.offset], separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            name, key, doc_id, offset = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor("翻页参数 after 无效，请从第一页重新开始。") from None
        if name != sort or not isinstance(offset, int) or offset < 0:
            raise BadCursor("翻页参数 after 与当前排序方式不符，请从第一页重新开始。")
        if key is not None and not isinstance(key, (int, float)) or doc_id is not None and not isinstance(doc_id, int):
            raise BadCursor("翻页参数 after 无效，请从第一页重新开始。")
        return cls(name, key, doc_id, offset)


@dataclass
class SearchRequest:
    query: ParsedQuery = field(default_factory=lambda: ParsedQuery("", MatchAll()))
    #: keyword field → accepted values (OR within a field, AND across fields)
    filters: dict[str, list[str]] = field(default_factory=dict)
    date_from: dt.datetime | None = None  # inclusive
    date_to: dt.datetime | None = None  # exclusive
    sort: str = "relevance"
    size: int = 20
    after: Cursor | None = None
    facets: tuple[str, ...] = ()
    facet_size: int = 10
    histogram: str | None = None  # "day" | "week" | "month" (Asia/Shanghai calendar)
    #: Whistleblower-protected reports are only found by the supervising role.
    include_protected: bool = False
    #: Document id window (id_above < id <= id_at_most): new matches for saved-search alerts.
    id_above: int | None = None
    id_at_most: int | None = None


@dataclass
class Hit:
    id: int
    score: float | None
    doc: dict[str, Any]


@dataclass
class Bucket:
    key: str
    count: int


@dataclass
class SignificantBucket:
    key: str
    count: int  # in the slice
    bg_count: int  # in the background
    score: float


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[Bucket]] = field(default_factory=dict)
    histogram: list[Bucket] = field(default_factory=list)  # keys are ISO dates (bucket start)
    next: Cursor | None = None


def jlh(fg_count: int, fg_total: int, bg_count: int, bg_total: int) -> float:
    """Elasticsearch's default significance score: (fg% − bg%) · fg% / bg%."""
    if not fg_total or not bg_total or not bg_count:
        return 0.0
    fg, bg = fg_count / fg_total, bg_count / bg_total
    return (fg - bg) * (fg / bg) if fg > bg else 0.0
