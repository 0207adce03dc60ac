"""Scheduled crawls: one APScheduler cron job per enabled site with a ``schedule``.

Each firing starts ``python -m crawlers.runner`` in a subprocess, so Scrapy's Twisted reactor
never enters the server process. Runs of one site never overlap: a job skips while its previous
subprocess is alive, and the run itself takes the site's database lock (which also holds
across servers sharing the database). Every run, skipped ones included, is recorded in
``crawl_runs``; the subprocess's log goes to ``$MINSHENG_HOME/logs/crawl-NAME.log``.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from crawlers.config import ConfigError, discover, load_site

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]

_running: dict[str, subprocess.Popen] = {}
_guard = threading.Lock()


def register(scheduler, settings) -> None:
    """Add a cron job for every enabled, scheduled site configuration (bad files are logged and skipped)."""
    for path in discover():
        try:
            site = load_site(path)
        except ConfigError as exc:
            log.error("%s", exc)
            continue
        if not site.enabled or not site.schedule:
            continue
        scheduler.add_job(
            launch, CronTrigger.from_crontab(site.schedule, timezone=site.zone), args=[site.name, str(path)],
            id=f"crawl:{site.name}", name=f"抓取 {site.display_title}", replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=600,
        )


def launch(name: str, path: str, extra_args: list[str] | None = None, trigger: str = "schedule") -> subprocess.Popen | None:
    """Start one site's crawl in a subprocess unless the previous one is still running."""
    with _guard:
        previous = _running.get(name)
        if previous is not None and previous.poll() is None:
            log.warning("站点 %s 的上一次抓取（pid %s）仍在运行，本次跳过", name, previous.pid)
            return None
        from core.settings import get_settings

        logs = get_settings().resolved_home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        with open(logs / f"crawl-{name}.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "crawlers.runner", path, "--trigger", trigger, *(extra_args or [])],
                cwd=str(ROOT), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        _running[name] = proc
        return proc
