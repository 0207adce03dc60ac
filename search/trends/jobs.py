"""Scheduled briefings in ``minsheng serve``: the daily one at 07:00, the weekly one Mondays at 07:30.

Generation is idempotent per (kind, period) — a second scheduler refreshes the same row — so
two servers firing the same job never produce two briefings.
"""
from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger("minsheng.trends")


def _generate(kind: str) -> None:
    from core.database import session_scope, utcnow
    from search.trends.briefing import generate
    from search.trends.features import SHANGHAI
    day = utcnow().astimezone(SHANGHAI).date() - dt.timedelta(days=1)
    try:
        with session_scope() as session:
            row = generate(session, kind, day, by="schedule")
            log.info("briefing %s generated: %s", kind, row.title)
    except Exception:  # noqa: BLE001 - a failed briefing must not stop the scheduler; the next run retries
        log.exception("briefing %s for %s failed", kind, day)


def register(scheduler, settings) -> None:
    scheduler.add_job(_generate, "cron", args=["daily"], hour=7, minute=0, id="trends-daily-briefing", replace_existing=True)
    scheduler.add_job(_generate, "cron", args=["weekly"], day_of_week="mon", hour=7, minute=30,
                      id="trends-weekly-briefing", replace_existing=True)
