"""Intake's own tables: the per-day tracking-number counter."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base


class TrackingCounter(Base):
    """Last number issued per day; incremented under the row lock so numbers never repeat."""

    __tablename__ = "tracking_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD, Asia/Shanghai
    value: Mapped[int] = mapped_column(Integer, default=0)
