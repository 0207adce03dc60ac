"""Scheduled jobs of ``minsheng serve``: drain the index queue, follow case changes, saved-search alerts."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from core.database import session_scope, utcnow
from core.models import Case
from core.settings import Settings
from search.indexer import enqueue, flush
from search.models import SearchState

log = logging.getLogger("minsheng.search.jobs")
CASE_SYNC = "case_sync"


def drain_job() -> None:
    """Backstop for the event-driven drainers (rows left by a crashed process)."""
    flush()


def case_sync_job() -> None:
    """Re-index documents whose case changed (status, department) even if nobody re-queued them."""
    now = utcnow()
    with session_scope() as session:
        state = session.get(SearchState, CASE_SYNC)
        if state is None:
            session.add(SearchState(name=CASE_SYNC, value=now.isoformat()))
            return
        since = dt.datetime.fromisoformat(state.value) - dt.timedelta(seconds=2)
        ids = list(session.scalars(select(Case.document_id).where(Case.updated_at >= since)))
        enqueue(session, ids)
        state.value = now.isoformat()
    if ids:
        flush()


def alerts_job() -> None:
    from search.saved import check

    with session_scope() as session:
        written = check(session)
    if written:
        log.info("saved-search alerts: %d notices", written)


def register(scheduler, settings: Settings) -> None:
    scheduler.add_job(drain_job, "interval", seconds=15, id="search-drain", replace_existing=True)
    scheduler.add_job(case_sync_job, "interval", seconds=30, id="search-case-sync", replace_existing=True)
    scheduler.add_job(alerts_job, "interval", minutes=1, id="search-alerts", replace_existing=True)
