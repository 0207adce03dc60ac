"""Downloader middlewares: a site's headers and proxy on every request, and backoff between retries."""
from __future__ import annotations

import random
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater


class SiteRequestMiddleware:
    """Adds the site's configured request headers and proxy (unless a request sets its own)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.default_proxy = crawler.settings.get("MINSHENG_PROXY", "")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SiteRequestMiddleware":
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        site = getattr(self.crawler.spider, "site", None)
        if site is not None:
            for name, value in site.headers.items():
                request.headers.setdefault(name, value)
        proxy = (site.proxy if site is not None else None) or self.default_proxy
        if proxy and "proxy" not in request.meta:
            request.meta["proxy"] = proxy
        return None


class BackoffMiddleware:
    """Delays a retried request by ``RETRY_BACKOFF_BASE * 2**(n-1)`` seconds (capped, ±25 % jitter),
    so a struggling server gets room instead of an immediate second hit."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.base = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.cap = crawler.settings.getfloat("RETRY_BACKOFF_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "BackoffMiddleware":
        return cls(crawler)

    def delay_for(self, attempt: int) -> float:
        if attempt <= 0 or self.base <= 0:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (attempt - 1))
        return delay * random.uniform(0.75, 1.25)

    async def process_request(self, request: Request) -> Any:
        delay = self.delay_for(int(request.meta.get("retry_times", 0)))
        if delay > 0:
            from twisted.internet import reactor

            self.crawler.stats.inc_value("minsheng/backoff_seconds", delay)
            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return None
