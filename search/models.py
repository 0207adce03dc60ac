"""Search tables: the indexing queue, and analysts' saved searches with alerts.

``search_pending`` makes indexing durable and batched: the worker stage adds a row in the same
transaction that marks the stage done, and an indexer drains the rows into the index in batches
(one commit per batch instead of one per document). Notices go to the shared inbox
(``core.notices``), so no notice table lives here.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow


class SearchPending(Base):
    """A document whose index entry must be (re)written; removed once the index has it."""

    __tablename__ = "search_pending"

    document_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    #: Changed on every re-queue, so a row re-queued while being indexed is not lost.
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class SavedSearch(Base):
    __tablename__ = "saved_searches"
    __table_args__ = (Index("ix_saved_searches_alert", "alert"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The search page's parameters (q, topic, sentiment, … from, to), validated when saved.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alert: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Documents with ids up to here were already considered for alerts.
    last_seen_id: Mapped[int] = mapped_column(BigId, default=0)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_alert_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchState(Base):
    """Small named values (watermarks) of the search package's periodic jobs."""

    __tablename__ = "search_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
