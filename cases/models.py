"""Tables of the case lifecycle: SLA policies, clocks, ratings, extensions, routing, the holiday table.

Core owns ``cases`` (the Case row and its public events); what only the lifecycle needs lives
here, keyed by ``case_id`` so core's table stays as it is.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow


class SlaPolicy(Base):
    """Deadlines for a kind of case: a sequence of clocks. The most specific active match wins
    (priority outweighs topic, topic outweighs appeal type)."""

    __tablename__ = "cases_sla_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    appeal_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)  # topic name, e.g. 城乡建设
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: ``[{"kind": "sign"|"answer"|"review", "amount": 1, "unit": "workday"|"hour"|"day"}, …]``
    clocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Clock(Base):
    """One deadline of one case: started, maybe paused and extended, then stopped or cancelled.

    ``next_notice_at`` is the earliest milestone not yet sent (NULL when none is pending), so the
    sweep reads only the rows that are due through its index.
    """

    __tablename__ = "cases_clocks"
    __table_args__ = (
        Index("ix_cases_clocks_department_kind", "department_code", "kind", "started_at"),
        #: Only the few estimated clocks are indexed, so the sweep's warning never scans the table.
        Index("ix_cases_clocks_estimated_due", "due_at", sqlite_where=text("estimated = 1"),
              postgresql_where=text("estimated = true")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # sign | answer | review | rating
    reason: Mapped[str] = mapped_column(String(16), default="assigned")  # assigned | reopened | redo | appeal | answered
    round: Mapped[int] = mapped_column(Integer, default=0)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("cases_sla_policies.id"), nullable=True)
    unit: Mapped[str] = mapped_column(String(8))  # workday | hour | day
    amount: Mapped[float] = mapped_column(Float)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: ``[[from_iso, to_iso | null], …]``: waiting on the citizen; an open pause has ``null``.
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(12), default="running")  # running | paused | stopped | cancelled
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Some milestone (deadline, reminders or red card) relied on a year without a schedule.
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    milestones: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # name -> ISO instant
    sent: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_time: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: Working days from start to stop, pauses excluded (the scorecard's time to answer).
    work_days_used: Mapped[float | None] = mapped_column(Float, nullable=True)
    card: Mapped[str | None] = mapped_column(String(8), nullable=True)  # yellow | red


class CaseMeta(Base):
    """Lifecycle facts about a case that core's ``cases`` table does not hold."""

    __tablename__ = "cases_case_meta"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    suggested_department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    suggestion_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    suggestion_rule_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suggested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # high risk: top of every queue
    card: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    unsatisfied_count: Mapped[int] = mapped_column(Integer, default=0)
    appeal_count: Mapped[int] = mapped_column(Integer, default=0)
    unrated: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    answer_html: Mapped[str | None] = mapped_column(Text, nullable=True)  # sanitised rich text of the answer
    material_request: Mapped[str | None] = mapped_column(Text, nullable=True)
    material_reply: Mapped[str | None] = mapped_column(Text, nullable=True)


class Rating(Base):
    __tablename__ = "cases_ratings"
    __table_args__ = (UniqueConstraint("case_id", "round", name="uq_cases_ratings_case_round"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)  # the answer being rated (0 = first answer)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True, index=True)
    rating: Mapped[str] = mapped_column(String(16))  # satisfied | basic | unsatisfied
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Extension(Base):
    __tablename__ = "cases_extensions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("cases_clocks.id"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True, index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending | approved | denied
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class RoutingRule(Base):
    """Routes a case to a department when every field it sets matches (first by position wins)."""

    __tablename__ = "cases_routing_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=100)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)
    appeal_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)  # any of them in title or text
    place: Mapped[str | None] = mapped_column(String(100), nullable=True)  # substring of the case's place
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HolidayDay(Base):
    """An administrator's entry for one date: a holiday, or a make-up working day (调休)."""

    __tablename__ = "cases_holidays"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(50), default="")


class HolidayYear(Base):
    """A year whose official schedule has been entered: its days are no longer estimated."""

    __tablename__ = "cases_holiday_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    entered_by: Mapped[str] = mapped_column(String(100), default="system")


class ReplyTemplate(Base):
    __tablename__ = "cases_reply_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Option(Base):
    """Admin-editable switches of the lifecycle (public league table, limits, windows)."""

    __tablename__ = "cases_options"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Contact(Base):
    """E-mail addresses that receive copies of notices for a role or a department."""

    __tablename__ = "cases_contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    email: Mapped[str] = mapped_column(String(200))
