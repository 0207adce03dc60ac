"""Background work inside ``minsheng serve``: outbox worker threads and the APScheduler jobs."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core import plugins
from core.outbox.worker import Worker, start_threads
from core.settings import Settings

log = logging.getLogger("minsheng.runtime")


@dataclass
class Background:
    workers: list = field(default_factory=list)
    scheduler: object | None = None


def start_background(settings: Settings) -> Background:
    handles = Background()
    if settings.worker_threads > 0:
        handles.workers = start_threads(settings.worker_threads)
    if settings.scheduler:
        from apscheduler.schedulers.background import BackgroundScheduler
        scheduler = BackgroundScheduler(timezone="Asia/Shanghai", job_defaults={"coalesce": True, "max_instances": 1})
        for module in plugins.load("jobs"):
            try:
                module.register(scheduler, settings)
            except Exception:  # noqa: BLE001 - one broken job must not stop the server
                log.exception("could not register jobs of %s", module.__name__)
        scheduler.start()
        handles.scheduler = scheduler
    return handles


def stop_background(handles: Background) -> None:
    for worker, _thread in handles.workers:
        worker.stop()
    for _worker, thread in handles.workers:
        thread.join(timeout=10)
    if handles.scheduler is not None:
        handles.scheduler.shutdown(wait=False)


__all__ = ["Background", "Worker", "start_background", "stop_background"]
