"""Item pipeline: every crawled page through ``core.ingest`` into a committed Document + outbox row."""
from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from core.database import session_scope
from crawlers import dedup, store
from crawlers.items import PageItem

log = logging.getLogger(__name__)
_COUNTERS = {store.NEW: "items_new", store.UPDATED: "items_updated", store.UNCHANGED: "items_unchanged",
             store.DUPLICATE: "duplicates"}


class IngestPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.near_duplicates = crawler.settings.getbool("MINSHENG_NEAR_DUPLICATES", True)
        self._warm = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "IngestPipeline":
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        spider = self.crawler.spider
        recorder = getattr(spider, "recorder", None)
        if self.near_duplicates and not self._warm:
            self._warm_up(recorder)
        started = time.perf_counter()
        try:
            with session_scope() as session:
                outcome = store.ingest(session, item, spider.site.display_title if spider else None, self.near_duplicates)
        except Exception as exc:
            if recorder is not None:
                recorder.timed("ingest", started)
                recorder.error(item.url or item.seen_key, "store", f"写入数据库失败：{type(exc).__name__}: {exc}")
            raise DropItem(f"写入失败：{item.url or item.seen_key}") from exc
        if recorder is not None:
            recorder.timed("ingest", started)
            recorder.count(_COUNTERS[outcome.status])
            if outcome.status == store.NEW and outcome.duplicate_of:
                recorder.count("near_duplicates")
            if outcome.reply_found:
                recorder.count("replies_found")
        return item

    def _warm_up(self, recorder: Any) -> None:
        """Load the NLP resources once, timed apart from ingestion (the figures say what is one-off)."""
        self._warm = True
        started = time.perf_counter()
        if not dedup.available():
            log.warning("nlp 包不可用：本次抓取只按网址去重，不做近似重复（simhash）关联")
            self.near_duplicates = False
            return
        dedup.warm()
        if recorder is not None:
            recorder.timed("nlp_load", started)
