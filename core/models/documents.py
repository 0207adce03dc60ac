"""A Document is every text that enters the system: a filed complaint or a crawled post."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_documents_source_external_id"),
        Index("ix_documents_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)  # "form", "open311", or a crawled site's name
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    canonical_url: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    likes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reply_department: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True, default="")
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Set when this document repeats another one (same story on two sites).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True, index=True)

    # --- written by the NLP stage -------------------------------------------------------------
    tokens: Mapped[str | None] = mapped_column(Text, nullable=True)  # jieba tokens, space-joined
    title_tokens: Mapped[str | None] = mapped_column(Text, nullable=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    topic_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    topic_scores: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    sentiment: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    appeal: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    appeal_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    has_risk: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    keywords: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    places: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    organisations: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: 64-bit simhash stored signed (two's complement) so it fits BIGINT; bands for the multi-index lookup.
    simhash: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sim_band0: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    sim_band1: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    sim_band2: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    sim_band3: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
