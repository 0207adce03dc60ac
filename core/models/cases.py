"""A Case is a filed complaint: the citizen's request, linked to its Document, with a public timeline."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import BigId, Base, UTCDateTime, utcnow
from core.models.documents import Document

APPEAL_TYPES = ("投诉", "举报", "咨询", "建议", "求助", "表扬")

#: Every case status and how the public pages name it. The state machine (cases/state.py) owns transitions.
STATUS_LABELS: dict[str, str] = {
    "held": "待人工审核",
    "submitted": "已提交",
    "accepted": "已受理",
    "rejected": "不予受理",
    "assigned": "已交办",
    "signed": "已签收",
    "in_progress": "办理中",
    "waiting_citizen": "待补充材料",
    "returned": "退回重新分派",
    "answered": "已答复",
    "reopened": "重新办理",
    "appealed": "复查中",
    "merged": "已并案",
    "closed": "已办结",
}


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    query_code_hash: Mapped[str] = mapped_column(String(200))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(32), default="form")  # form | open311 | phone …
    appeal_type: Mapped[str] = mapped_column(String(8), index=True)
    category_topic: Mapped[str | None] = mapped_column(ForeignKey("topics.code"), nullable=True)  # citizen's choice
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # topic name once known
    title: Mapped[str] = mapped_column(String(200))
    place_district: Mapped[str | None] = mapped_column(String(100), nullable=True)
    place_street: Mapped[str | None] = mapped_column(String(100), nullable=True)
    place_community: Mapped[str | None] = mapped_column(String(100), nullable=True)
    place_text: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: Contact data is encrypted at rest (Fernet); ``contact_hmac`` finds repeats without decrypting.
    contact_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    contact_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    contact_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whistleblower protection (举报 about officials): identity visible to supervisors only.
    protected: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    status: Mapped[str] = mapped_column(String(24), index=True, default="submitted")
    held_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True, index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal", index=True)  # normal | high | urgent
    risk: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    master_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    answer_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    text_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    client_ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    document: Mapped[Document] = relationship(lazy="joined")
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="case", order_by="Attachment.id", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """One step of a case's timeline. ``public_note`` is what the citizen reads; staff names never appear."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    status_after: Mapped[str] = mapped_column(String(24))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    public_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    internal_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_role: Mapped[str | None] = mapped_column(String(24), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    case: Mapped[Case] = relationship(back_populates="events")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="filing")  # filing | answer | material
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")
