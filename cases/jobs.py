"""Scheduled jobs in ``minsheng serve``: the sweep, every minute."""
from __future__ import annotations

import logging

from core.settings import Settings

log = logging.getLogger("minsheng.cases.jobs")


def run_sweep() -> None:
    from cases.sweep import sweep
    report = sweep()
    if report.warning:
        log.warning(report.warning)
    if report.notices or report.closed_unrated or report.failed:
        log.info("sweep: %d clocks, %d notices, %d closed unrated, %d escalated, %d failed in %.3fs",
                 report.clocks, report.notices, report.closed_unrated, report.escalated, report.failed, report.seconds)


def register(scheduler, settings: Settings) -> None:
    scheduler.add_job(run_sweep, "interval", minutes=1, id="cases-sweep", replace_existing=True,
                      coalesce=True, max_instances=1, misfire_grace_time=50)
