"""In-app notices (the inbox). Every domain that alerts someone writes here; e-mail/webhook copy it out."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: Exactly-once key: the same event never notifies twice (unique).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    recipient_role: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    recipient_department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # reminder | yellow_card | red_card | risk | alert …
    level: Mapped[str] = mapped_column(String(16), default="info")  # info | warning | urgent
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
