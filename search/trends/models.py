"""Tables of the analyst console. Every row is derived from documents except analyst edits.

A document belongs to at most one hot topic (``TrendMember``, keyed by document id), which also
serves as the per-document fact row the dashboard aggregates (day, source, label, sentiment…),
so dashboard queries never parse the documents' JSON columns.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow

ALERT_LEVELS = {1: "关注", 2: "预警", 3: "紧急"}


class HotTopic(Base):
    """A group of documents about one problem at one place (热点问题)."""

    __tablename__ = "trend_topics"
    __table_args__ = (
        Index("ix_trend_topics_status_heat", "status", "heat"),
        Index("ix_trend_topics_status_last_seen", "status", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    #: Set when an analyst renamed the topic: automatic re-titling stops.
    title_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("trend_topics.id"), nullable=True)
    label: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    #: term -> weight (the centroid, capped), place -> count, label -> count.
    terms: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    place_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    label_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    places: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    representative_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0, index=True)
    reporters: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    risk: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    master_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TrendMember(Base):
    """One processed document: its hot topic and the facts the dashboard counts."""

    __tablename__ = "trend_members"
    __table_args__ = (
        Index("ix_trend_members_topic_at", "topic_id", "at"),
        Index("ix_trend_members_topic_reporter", "topic_id", "reporter"),
        Index("ix_trend_members_day_source", "day", "source"),
        Index("ix_trend_members_day_label", "day", "label"),
        Index("ix_trend_members_topic_day", "topic_id", "day"),
        Index("ix_trend_members_day_topic", "day", "topic_id"),
        Index("ix_trend_members_risk_at", "risk", "at"),
    )

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True, autoincrement=False)
    topic_id: Mapped[int] = mapped_column(ForeignKey("trend_topics.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in Asia/Shanghai
    source: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sentiment: Mapped[str | None] = mapped_column(String(16), nullable=True)
    risk: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter: Mapped[str] = mapped_column(String(200))
    likes: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    #: An analyst put the document here by hand: automatic merging keeps it, splitting never moves it.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrendMemberPlace(Base):
    """Places of a processed document (normalised by NLP), for place filters and place rankings."""

    __tablename__ = "trend_member_places"
    __table_args__ = (Index("ix_trend_member_places_place_day", "place", "day"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("trend_members.document_id", ondelete="CASCADE"),
                                             primary_key=True)
    place: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[str] = mapped_column(String(10))


class TrendDaily(Base):
    """Roll-up of ``trend_members`` per Shanghai day, source, label and sentiment (the dashboard's series and totals).

    Maintained in the writer's transaction by ``search.trends.summary`` (increments, never recounts);
    ``minsheng trends rebuild-summary`` recomputes it. A missing label or sentiment is stored as "".
    """

    __tablename__ = "trend_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    sentiment: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    documents: Mapped[int] = mapped_column(Integer, default=0)
    risk: Mapped[int] = mapped_column(Integer, default=0)


class TrendPlaceDaily(Base):
    """Roll-up of ``trend_member_places`` × ``trend_members``: the same breakdown per place (place filters, rankings).

    The day is the document's (``TrendMember.day``). Keyed by place first (a place filter reads one
    range); the (day, place, source, documents) index answers the place ranking without the rows.
    """

    __tablename__ = "trend_place_daily"
    __table_args__ = (Index("ix_trend_place_daily_day_place", "day", "place", "source", "documents"),)

    place: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    sentiment: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    documents: Mapped[int] = mapped_column(Integer, default=0)
    risk: Mapped[int] = mapped_column(Integer, default=0)


class TrendTopicKey(Base):
    """Inverted index key -> topic, used to find candidate topics for a new document in O(1)."""

    __tablename__ = "trend_topic_keys"
    __table_args__ = (Index("ix_trend_topic_keys_key_last_seen", "key", "last_seen"),)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("trend_topics.id", ondelete="CASCADE"), primary_key=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrendCount(Base):
    """Hourly document counts per (scope, key): the history a surge is measured against."""

    __tablename__ = "trend_counts"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # label | place | topic
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # hours since the Unix epoch (UTC)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TrendAlert(Base):
    """A surge episode or a risk item. One row per surge, escalated in place, never raised twice."""

    __tablename__ = "trend_alerts"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_trend_alerts_dedupe_key"),
        Index("ix_trend_alerts_scope_key_last", "scope", "key", "last_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), index=True)  # surge | risk
    scope: Mapped[str] = mapped_column(String(8))  # label | place | topic | document
    key: Mapped[str] = mapped_column(String(120))
    level: Mapped[int] = mapped_column(Integer, default=1, index=True)  # 1 关注 2 预警 3 紧急
    title: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("trend_topics.id"), nullable=True, index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)  # event time that raised it
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # wall-clock time
    documents_seen: Mapped[int] = mapped_column(Integer, default=0)  # docs of the key when first raised
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Briefing(Base):
    """A generated daily or weekly briefing (舆情日报 / 周报); ``data`` renders as HTML and Excel."""

    __tablename__ = "trend_briefings"
    __table_args__ = (UniqueConstraint("kind", "period_start", name="uq_trend_briefings_kind_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # daily | weekly
    period_start: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (Asia/Shanghai)
    period_end: Mapped[str] = mapped_column(String(10))  # inclusive
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(64), default="schedule")


class TrendSetting(Base):
    """Editable configuration (heat weights, surge thresholds) as JSON under a name."""

    __tablename__ = "trend_settings"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


# Roll-up maintenance (session events) is registered when the models are: every writer of trend_members
# and trend_member_places, wherever it lives, keeps trend_daily and trend_place_daily in step.
from search.trends import summary as _summary  # noqa: E402,F401  (import for its side effect)
