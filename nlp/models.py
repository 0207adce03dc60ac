"""Analysts' corrections of the classifier: the review queue's answers and the next training run's data."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow


class Correction(Base):
    """One analyst's verdict on one document's labels; the latest per document is the one that counts.

    A label left ``None`` was not corrected (the analyst confirmed or skipped it).
    ``predicted`` keeps what the model said, so the corrections also measure the model.
    """

    __tablename__ = "nlp_corrections"
    __table_args__ = (Index("ix_nlp_corrections_document_created", "document_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sentiment: Mapped[str | None] = mapped_column(String(16), nullable=True)
    appeal: Mapped[str | None] = mapped_column(String(8), nullable=True)
    risk: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    predicted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
