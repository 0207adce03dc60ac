"""A spider's run record: takes the site lock at start, counts pages and items, logs failed pages,
keeps the lock's heartbeat, and writes the outcome when the spider closes."""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from scrapy.crawler import Crawler

from crawlers import runs
from crawlers.config import SiteConfig
from crawlers.models import FAILED, OK, PARTIAL

log = logging.getLogger(__name__)

_STAT_KEYS = ("downloader/request_count", "downloader/response_count", "retry/count", "retry/max_reached",
              "robotstxt/forbidden", "elapsed_time_seconds", "item_scraped_count", "item_dropped_count",
              "minsheng/backoff_seconds", "log_count/ERROR")


class RunRecorder:
    def __init__(self, site: SiteConfig, trigger: str):
        self.site = site
        self.trigger = trigger
        self.run_id: int | None = None
        self.acquired = False
        self.counters: Counter[str] = Counter()
        self.timers: Counter[str] = Counter()
        self._heartbeat: Any = None
        self._last_beat = 0.0

    # --- lifecycle ------------------------------------------------------------------------------
    def begin(self) -> bool:
        """Record the run and take the lock; ``False`` when another run of the site is in progress."""
        self.run_id, self.acquired = runs.begin(self.site, self.trigger)
        if not self.acquired:
            log.warning("站点 %s 已有运行中的抓取，本次（#%s）跳过", self.site.name, self.run_id)
            return False
        from twisted.internet import task

        self._heartbeat = task.LoopingCall(self.beat)
        self._heartbeat.start(runs.HEARTBEAT_SECONDS, now=False)
        log.info("抓取开始：站点 %s，运行 #%s", self.site.name, self.run_id)
        return True

    def beat(self) -> None:
        if self.run_id is not None and self.acquired:
            try:
                runs.heartbeat(self.site.name, self.run_id)
            except Exception:  # a busy database must not kill the crawl; the next beat retries
                log.exception("心跳写入失败")

    def close(self, crawler: Crawler, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        if not self.acquired or self.run_id is None:
            return
        run = runs.get_run(self.run_id)
        errors = run.errors if run is not None else 0
        if self.counters["pages"] == 0 and (errors or reason != "finished"):
            status = FAILED
        elif errors or reason != "finished":
            status = PARTIAL
        else:
            status = OK
        stats = {k: v for k, v in (crawler.stats.get_stats() or {}).items()
                 if k in _STAT_KEYS or k.startswith("downloader/response_status_count/")}
        stats = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in stats.items()}
        stats.update({k: v for k, v in self.counters.items() if k not in _COUNTER_COLUMNS})
        stats.update({f"{k}_seconds": round(v, 4) for k, v in self.timers.items()})
        stats["close_reason"] = reason
        message = None if reason == "finished" else f"抓取提前结束：{reason}"
        runs.finish(self.run_id, self.site.name, status, dict(self.counters), stats, message)
        log.info("抓取结束：站点 %s，运行 #%s，%s；页面 %d，新增 %d，更新 %d，错误 %d", self.site.name, self.run_id,
                 status, self.counters["pages"], self.counters["items_new"], self.counters["items_updated"], errors)

    # --- what happened --------------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def timed(self, key: str, started: float) -> None:
        self.timers[key] += time.perf_counter() - started

    def error(self, url: str, kind: str, message: str, field: str | None = None, status: int | None = None) -> None:
        """A page that failed: logged with its URL (and the missing field), stored, and the crawl goes on."""
        log.error("页面失败 [%s]%s %s：%s", kind, f"（字段 {field}）" if field else "", url, message)
        if self.run_id is None or not self.acquired:
            return
        try:
            runs.record_error(self.run_id, self.site.name, url, kind, message, field, status)
        except Exception:
            log.exception("错误记录写入失败")


_COUNTER_COLUMNS = {"pages", "list_pages", "entries_found", "items_new", "items_updated", "items_unchanged", "duplicates"}
