"""The interface both search backends implement, and shared helpers for them.

Writes are idempotent by document id (an upsert replaces the previous version) and are visible
to searches when the call returns. ``rebuild()`` fills a fresh versioned index next to the live
one and swaps it in atomically at the end, so searches never see a half-built index.
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from search.schema import IndexDoc
from search.types import Bucket, SearchRequest, SearchResult, SignificantBucket

SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH = dt.date(1970, 1, 1)


class BackendUnavailable(RuntimeError):
    """The index cannot be reached or written now (lock held too long, cluster down); retry later."""


class Rebuild(ABC):
    """A new index being filled by ``minsheng reindex``; the live one keeps serving meanwhile."""

    @abstractmethod
    def add(self, docs: Iterable[IndexDoc]) -> int: ...


class SearchBackend(ABC):
    name: str = "abstract"

    # --- writing ------------------------------------------------------------------------------------
    @abstractmethod
    def index(self, docs: Iterable[IndexDoc]) -> int:
        """Insert or replace documents by id; returns how many were written."""

    @abstractmethod
    def delete(self, ids: Iterable[int]) -> int:
        """Remove documents by id (absent ids are ignored)."""

    @abstractmethod
    def rebuild(self) -> "contextmanager[Rebuild]":
        """Context manager yielding a ``Rebuild``; on success the new index replaces the live one."""

    @abstractmethod
    def clear(self) -> None:
        """Drop every document and index version (tests, ``reindex --drop``)."""

    # --- reading ------------------------------------------------------------------------------------
    @abstractmethod
    def search(self, request: SearchRequest) -> SearchResult: ...

    @abstractmethod
    def count(self, request: SearchRequest | None = None) -> int: ...

    @abstractmethod
    def get(self, doc_id: int) -> dict | None:
        """The stored fields of one document, or None."""

    @abstractmethod
    def terms(self, request: SearchRequest, field: str, size: int = 10) -> list[Bucket]: ...

    @abstractmethod
    def date_histogram(self, request: SearchRequest, interval: str = "day") -> list[Bucket]: ...

    @abstractmethod
    def significant_terms(
        self, request: SearchRequest, field: str = "keywords", size: int = 10,
        background: SearchRequest | None = None,
    ) -> list[SignificantBucket]:
        """Values over-represented in the request's slice compared with the background (default: all)."""

    def close(self) -> None:
        """Release files and connections."""


# --- helpers shared by the backends ------------------------------------------------------------------

def local_day(time: dt.datetime) -> int:
    """Days since 1970-01-01 on the Asia/Shanghai calendar (the histogram's day)."""
    return (time.astimezone(SHANGHAI).date() - EPOCH).days


def bucket_start(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def roll_up(day_counts: Iterable[tuple[int, int]], interval: str) -> list[Bucket]:
    """Daily counts (day numbers) → buckets of ``interval`` keyed by ISO start date, zero-filled."""
    merged: dict[dt.date, int] = {}
    for day_no, count in day_counts:
        start = bucket_start(EPOCH + dt.timedelta(days=int(day_no)), interval)
        merged[start] = merged.get(start, 0) + int(count)
    return fill_buckets(merged, interval)


def fill_buckets(counts: dict[dt.date, int], interval: str) -> list[Bucket]:
    if not counts:
        return []
    first, last = min(counts), max(counts)
    out, day = [], first
    while day <= last:
        out.append(Bucket(day.isoformat(), counts.get(day, 0)))
        if interval == "month":
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            day += dt.timedelta(days=7 if interval == "week" else 1)
    return out


@contextmanager
def nothing() -> Iterator[None]:
    yield
