"""Run bookkeeping: the per-site lock that keeps runs from overlapping, run rows, errors, the registry.

The lock is a database row (``crawl_locks``) so it holds across processes and machines that
share the database. A run refreshes its heartbeat while it works; a lock whose heartbeat is
older than ``LOCK_TTL`` belongs to a process that died and is taken over, and its run is
marked ``abandoned``.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.database import session_scope, utcnow
from crawlers.config import SiteConfig
from crawlers.models import ABANDONED, RUNNING, SKIPPED, CrawlError, CrawlLock, CrawlRun, CrawlSite

LOCK_TTL = dt.timedelta(minutes=10)
HEARTBEAT_SECONDS = 30.0
MAX_ERRORS_PER_RUN = 500  # keep the table small when a whole site breaks


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_site(session: Session, site: SiteConfig) -> CrawlSite:
    """Insert or refresh the registry row of a configured site."""
    row = session.get(CrawlSite, site.name)
    if row is None:
        row = CrawlSite(name=site.name, kind=site.kind)
        session.add(row)
    row.title = site.display_title[:200]
    row.kind = site.kind
    row.config_path = (site.path or "")[:1000]
    row.config_digest = site.digest or ""
    row.schedule = site.schedule
    row.enabled = site.enabled
    row.start_url = site.start_urls[0][:2000]
    session.flush()
    return row


def _lock_held(session: Session, site: str, now: dt.datetime) -> CrawlLock | None:
    query = select(CrawlLock).where(CrawlLock.site == site)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def begin(site: SiteConfig, trigger: str, owner: str | None = None) -> tuple[int, bool]:
    """Record a run and take the site's lock. Returns ``(run_id, acquired)``; a run that finds the
    lock held is recorded as ``skipped`` and must not crawl."""
    owner = owner or owner_name()
    now = utcnow()
    try:
        with session_scope() as session:
            sync_site(session, site)
            run = CrawlRun(site=site.name, trigger=trigger, owner=owner, status=RUNNING, started_at=now)
            session.add(run)
            session.flush()
            lock = _lock_held(session, site.name, now)
            if lock is not None and lock.heartbeat_at > now - LOCK_TTL:
                run.status = SKIPPED
                run.finished_at = now
                run.message = f"上一次运行（#{lock.run_id}，{lock.owner}）仍在进行，本次跳过"
                return run.id, False
            if lock is not None:  # a dead process's lock: take it over
                session.execute(
                    update(CrawlRun).where(CrawlRun.id == lock.run_id, CrawlRun.status == RUNNING)
                    .values(status=ABANDONED, finished_at=now, message="运行进程中断（心跳超时），锁被接管")
                )
                lock.run_id, lock.owner, lock.acquired_at, lock.heartbeat_at = run.id, owner, now, now
            else:
                session.add(CrawlLock(site=site.name, run_id=run.id, owner=owner, acquired_at=now, heartbeat_at=now))
            session.flush()
            return run.id, True
    except IntegrityError:  # another process inserted the lock row between our read and insert
        with session_scope() as session:
            run = CrawlRun(site=site.name, trigger=trigger, owner=owner, status=SKIPPED, started_at=now,
                           finished_at=utcnow(), message="另一进程同时启动了该站点的抓取，本次跳过")
            session.add(run)
            session.flush()
            return run.id, False


def heartbeat(site: str, run_id: int) -> None:
    with session_scope() as session:
        session.execute(
            update(CrawlLock).where(CrawlLock.site == site, CrawlLock.run_id == run_id).values(heartbeat_at=utcnow())
        )


def record_error(run_id: int, site: str, url: str, kind: str, message: str, field: str | None = None,
                 status: int | None = None) -> None:
    """Store one failed page (bounded per run) and count it on the run."""
    with session_scope() as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            return
        run.errors = (run.errors or 0) + 1
        if run.errors <= MAX_ERRORS_PER_RUN:
            session.add(CrawlError(run_id=run_id, site=site, url=url[:2000], kind=kind, field=field,
                                   status=status, message=message[:4000]))


def finish(run_id: int, site: str, status: str, counters: dict[str, int], stats: dict[str, Any],
           message: str | None = None) -> None:
    """Write the run's outcome and release the site's lock."""
    with session_scope() as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            return
        run.status = status
        run.finished_at = utcnow()
        for key in ("pages", "list_pages", "entries_found", "items_new", "items_updated", "items_unchanged", "duplicates"):
            setattr(run, key, int(counters.get(key, 0)))
        run.stats = stats
        if message:
            run.message = message[:4000]
        session.execute(delete(CrawlLock).where(CrawlLock.site == site, CrawlLock.run_id == run_id))


def get_run(run_id: int) -> CrawlRun | None:
    """A detached copy of a run row."""
    with session_scope(readonly=True) as session:
        run = session.get(CrawlRun, run_id)
        if run is not None:
            session.expunge(run)
        return run


def errors_of(run_id: int) -> list[CrawlError]:
    with session_scope(readonly=True) as session:
        rows = list(session.scalars(select(CrawlError).where(CrawlError.run_id == run_id).order_by(CrawlError.id)))
        session.expunge_all()
        return rows
