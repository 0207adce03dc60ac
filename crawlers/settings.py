"""Scrapy settings of the Minsheng crawlers: polite by default.

Precedence, lowest first: these defaults (overridable by ``MINSHENG_CRAWL_*`` environment
variables), then a site's own ``politeness`` / ``user_agent`` / ``proxy`` block, then ``-s``
options given on the command line. The database is the one of ``core.settings``
(``MINSHENG_DATABASE_URL`` or the SQLite file under ``MINSHENG_HOME``), so ``scrapy crawl`` and
``minsheng crawl`` write to the same place.
"""
from __future__ import annotations

import os


def _env(name: str, default: str) -> str:
    return os.environ.get(f"MINSHENG_CRAWL_{name}", default)


def _flag(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


BOT_NAME = "minsheng"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = _env("USER_AGENT", "Mozilla/5.0 (compatible; MinshengBot/0.1; public-opinion monitoring)")
#: Default proxy for every request (a site's ``proxy`` overrides it); empty means none.
MINSHENG_PROXY = _env("PROXY", "")

ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = None  # judge robots.txt by the USER_AGENT above

CONCURRENT_REQUESTS = int(_env("CONCURRENT_REQUESTS", "16"))
CONCURRENT_REQUESTS_PER_DOMAIN = int(_env("CONCURRENCY_PER_DOMAIN", "2"))
DOWNLOAD_DELAY = float(_env("DOWNLOAD_DELAY", "1.0"))
DOWNLOAD_TIMEOUT = float(_env("TIMEOUT", "30"))

AUTOTHROTTLE_ENABLED = _flag("AUTOTHROTTLE", True)
AUTOTHROTTLE_START_DELAY = float(_env("AUTOTHROTTLE_START_DELAY", "2.0"))
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

RETRY_ENABLED = True
RETRY_TIMES = int(_env("RETRY_TIMES", "3"))
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Exponential backoff before each retry: base * 2**(attempt-1), capped, with jitter.
RETRY_BACKOFF_BASE = float(_env("RETRY_BACKOFF", "2.0"))
RETRY_BACKOFF_MAX = 120.0

#: Fingerprint new documents (nlp.simhash) and link near-duplicates at ingestion. Loading the NLP
#: resources costs a few seconds once per crawl process.
MINSHENG_NEAR_DUPLICATES = _flag("NEAR_DUPLICATES", True)

COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = _env("LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.SiteRequestMiddleware": 350,  # headers and proxy, before HttpProxyMiddleware (750)
    "crawlers.middlewares.BackoffMiddleware": 560,  # waits before requests the RetryMiddleware (550) re-queued
}
ITEM_PIPELINES = {
    "crawlers.pipelines.IngestPipeline": 300,
}
