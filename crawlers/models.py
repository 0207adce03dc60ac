"""The crawlers' own tables: the site registry, runs with their errors, the seen-URL table, run locks."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.database import BigId, Base, UTCDateTime, utcnow

RUNNING, OK, PARTIAL, FAILED, SKIPPED, ABANDONED = "running", "ok", "partial", "failed", "skipped", "abandoned"
RUN_STATUSES = (RUNNING, OK, PARTIAL, FAILED, SKIPPED, ABANDONED)


class CrawlSite(Base):
    """One configured source as last seen by a run or the health page (configs live in YAML files)."""

    __tablename__ = "crawl_sites"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    config_path: Mapped[str] = mapped_column(String(1000), default="")
    config_digest: Mapped[str] = mapped_column(String(64), default="")
    schedule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    start_url: Mapped[str] = mapped_column(String(2000), default="")
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CrawlRun(Base):
    """One crawl of one site: when, how it ended, and what it did."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_site_started", "site", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | schedule | cli | scrapy
    owner: Mapped[str] = mapped_column(String(200), default="")  # host:pid
    status: Mapped[str] = mapped_column(String(16), default=RUNNING, index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    list_pages: Mapped[int] = mapped_column(Integer, default=0)
    entries_found: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CrawlError(Base):
    """A page that failed (HTTP error, network error, a missing field, an exception), kept for the health page."""

    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    url: Mapped[str] = mapped_column(String(2000), default="")
    kind: Mapped[str] = mapped_column(String(32))  # http | network | robots | missing_field | empty_list | parse | exception | store
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")


class SeenUrl(Base):
    """A detail URL already fetched for a site; shared by every crawler process through the database."""

    __tablename__ = "crawl_seen_urls"
    __table_args__ = (UniqueConstraint("site", "url_key", name="uq_crawl_seen_urls_site_url_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    url_key: Mapped[str] = mapped_column(String(40))  # sha1 of the canonical URL
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | duplicate | blocked
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), nullable=True, index=True)
    has_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    fetches: Mapped[int] = mapped_column(Integer, default=1)


class CrawlLock(Base):
    """Held by the one run of a site in progress; a heartbeat older than the TTL may be taken over."""

    __tablename__ = "crawl_locks"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
