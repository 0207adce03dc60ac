"""The one spider: reads a site configuration and crawls it incrementally.

``scrapy crawl site -a config=sites/NAME.yaml [-a full=1]``

List pages (or a feed, or a JSON listing) give entries; entries not in the seen-URL table are
fetched, paging stops at the first page holding nothing new, and a message board's most recent
pages are re-read so that replies posted later update their documents.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.settings import Settings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from core.database import session_scope, utcnow
from crawlers import store
from crawlers.config import FieldSpec, SiteConfig, load_site, resolve
from crawlers.extract import (
    apply_regex, canonical_url, clean_text, element_text, extract, external_id_for, json_path, parse_count, parse_time, select,
)
from crawlers.items import PageItem
from crawlers.recorder import RunRecorder

FIELD_LABELS = {"title": "标题", "body": "正文", "published": "发布时间", "author": "作者", "reply_body": "回复内容",
                "reply_time": "回复时间", "reply_department": "回复单位", "likes": "点赞数", "id": "编号", "url": "网址"}


@dataclass
class Entry:
    """One entry of a list page: where its detail is and what the list itself said about it."""

    link: str | None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def canonical(self) -> str | None:
        """The seen-URL key: the canonical link, or the entry's id where a listing gives no link."""
        if self.link:
            return canonical_url(self.link)
        return f"id:{self.values['id']}" if self.values.get("id") else None


def apply_site_settings(settings: Settings, site: SiteConfig) -> None:
    """A site's politeness, user agent and proxy, above project defaults and below ``-s`` options."""
    p = site.politeness
    for name, value in (("DOWNLOAD_DELAY", p.delay), ("CONCURRENT_REQUESTS_PER_DOMAIN", p.concurrency),
                        ("AUTOTHROTTLE_ENABLED", p.autothrottle), ("RETRY_TIMES", p.retries),
                        ("DOWNLOAD_TIMEOUT", p.timeout), ("USER_AGENT", site.user_agent),
                        ("MINSHENG_PROXY", site.proxy)):
        if value is not None:
            settings.set(name, value, priority="spider")


class SiteSpider(Spider):
    name = "site"

    def __init__(self, site: SiteConfig, trigger: str = "scrapy", full: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.site = site
        self.full = full
        self.allowed_domains = site.allowed_domains or sorted({urlsplit(u).hostname for u in site.start_urls})
        self.recorder = RunRecorder(site, trigger)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, config: str | None = None, trigger: str = "scrapy",
                     full: str | bool = False, **kwargs: Any) -> "SiteSpider":
        if not config:
            raise ValueError("缺少站点配置：scrapy crawl site -a config=sites/NAME.yaml")
        site = load_site(resolve(config))
        apply_site_settings(crawler.settings, site)
        spider = cls(*args, site=site, trigger=trigger, full=str(full).lower() in ("1", "true", "yes"), **kwargs)
        spider._set_crawler(crawler)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._callback_failed, signal=signals.spider_error)
        return spider

    # --- start and signals ----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        if not self.recorder.begin():
            return
        for url in self.site.start_urls:
            yield self._list_request(url, 1, url, dont_filter=True)

    def _closed(self, spider: Spider, reason: str) -> None:
        self.recorder.close(self.crawler, reason)

    def _callback_failed(self, failure: Failure, response: Response, spider: Spider) -> None:
        self.recorder.error(response.url, "exception", f"解析出错：{failure.type.__name__}: {failure.value}")

    # --- requests -------------------------------------------------------------------------------
    def _list_request(self, url: str, page_no: int, start_url: str, dont_filter: bool = False) -> Request:
        callback = {"feed": self.parse_feed, "json": self.parse_json}.get(self.site.kind, self.parse_list)
        return Request(url, callback=callback, errback=self.on_error, dont_filter=dont_filter,
                       meta={"role": "list", "page_no": page_no, "start_url": start_url})

    def _detail_request(self, entry: Entry, referer: str) -> Request:
        return Request(entry.link, callback=self.parse_detail, errback=self.on_error, headers={"Referer": referer},
                       meta={"role": "detail", "list_values": entry.values})

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        role = request.meta.get("role", "page")
        if failure.check(HttpError):
            status = failure.value.response.status
            retried = request.meta.get("retry_times", 0)
            note = f"（已重试 {retried} 次）" if retried else ""
            self.recorder.error(request.url, "http", f"{'列表页' if role == 'list' else '页面'}返回 HTTP {status}{note}",
                                status=status)
            self._failed(request)
        elif failure.check(IgnoreRequest):
            if "robots.txt" in str(failure.value):
                self.recorder.count("robots_blocked")
                if role == "list":
                    self.recorder.error(request.url, "robots", "列表页被该网站的 robots.txt 禁止抓取")
                elif role == "detail":
                    with session_scope() as session:
                        store.mark_blocked(session, self.site.name, canonical_url(request.url))
            else:
                self.recorder.count("ignored")
        else:
            self.recorder.error(request.url, "network", f"请求失败：{failure.type.__name__}: {failure.getErrorMessage()}")
            self._failed(request)

    def _failed(self, request: Request) -> None:
        if request.meta.get("role") == "detail":
            self._mark_failed(canonical_url(request.url))

    def _mark_failed(self, canonical: str) -> None:
        with session_scope() as session:
            store.mark_failed(session, self.site.name, canonical)

    # --- list pages -----------------------------------------------------------------------------
    def parse_list(self, response: Response) -> list[Any]:
        started = time.perf_counter()
        response = self._decoded(response)
        entries = self._html_entries(response)
        self.recorder.timed("parse", started)
        return self._after_list(response, entries, self._next_html(response))

    def parse_feed(self, response: Response) -> list[Any]:
        started = time.perf_counter()
        response = self._decoded(response)
        sel = Selector(text=response.text, type="xml")
        sel.remove_namespaces()
        entries = []
        for node in sel.xpath("//item | //entry"):
            link = (node.xpath("./link/@href").get() or node.xpath("./link/text()").get() or "").strip()
            values = {
                "title": clean_text(node.xpath("string(./title)").get() or ""),
                "body": _html_to_text(node.xpath("string(./encoded)").get() or node.xpath("string(./content)").get()
                                      or node.xpath("string(./description)").get() or node.xpath("string(./summary)").get() or ""),
                "published": clean_text(node.xpath("string(./pubDate)").get() or node.xpath("string(./published)").get()
                                        or node.xpath("string(./updated)").get() or node.xpath("string(./date)").get() or ""),
                "author": clean_text(node.xpath("string(./author/name)").get() or node.xpath("string(./author)").get()
                                     or node.xpath("string(./creator)").get() or ""),
                "id": clean_text(node.xpath("string(./guid)").get() or node.xpath("string(./id)").get() or ""),
            }
            entries.append(Entry(urljoin(response.url, link) if link else None, {k: v for k, v in values.items() if v}))
        self.recorder.timed("parse", started)
        return self._after_list(response, entries, None)

    def parse_json(self, response: Response) -> list[Any]:
        started = time.perf_counter()
        try:
            data = json.loads(response.body.decode(self.site.encoding or "utf-8"))
        except ValueError as exc:
            self.recorder.count("pages")
            self.recorder.error(response.url, "parse", f"不是有效的 JSON：{exc}")
            return []
        rows = json_path(data, self.site.listing.item.path or "")
        entries = []
        for row in rows if isinstance(rows, list) else []:
            values = {}
            for name, spec in self.site.listing.fields.items():
                value = extract(row, spec, response.url)
                if value:
                    values[name] = value
            link = extract(row, self.site.listing.link, response.url) if self.site.listing.link else values.get("url")
            entries.append(Entry(urljoin(response.url, link) if link else None, values))
        self.recorder.timed("parse", started)
        return self._after_list(response, entries, None)

    def _html_entries(self, response: TextResponse) -> list[Entry]:
        listing = self.site.listing
        entries = []
        if listing.item is not None:
            for scope in select(response.selector, listing.item):
                links = _links(scope, listing.link)
                if not links:  # a header row, an advert, a notice without a page
                    self.recorder.count("entries_without_link")
                    continue
                values = {n: v for n, s in listing.fields.items() if (v := extract(scope, s, response.url))}
                entries.append(Entry(urljoin(response.url, links[0]), values))
        else:
            entries = [Entry(urljoin(response.url, link)) for link in _links(response.selector, listing.link)]
        return entries

    def _next_html(self, response: TextResponse) -> str | None:
        spec = self.site.pagination.next
        if spec is None:
            return None
        links = _links(response.selector, spec)
        return urljoin(response.url, links[0]) if links else None

    def _after_list(self, response: Response, entries: list[Entry], next_url: str | None) -> list[Any]:
        """Request what is new (and a board's unanswered recent messages); page on while there is news."""
        page_no = response.meta.get("page_no", 1)
        self.recorder.count("pages")
        self.recorder.count("list_pages")
        self.recorder.count("entries_found", len(entries))
        if not entries:
            if page_no == 1:
                self.recorder.error(response.url, "empty_list",
                                    "列表页没有解析出任何条目：页面可能改版、被拦截或需要登录，请检查 list 选择器")
            return []
        started = time.perf_counter()
        unique: dict[str, Entry] = {}
        for entry in entries:
            key = entry.canonical or f"noid:{len(unique)}"
            unique.setdefault(key, entry)
        with session_scope(readonly=True) as session:
            seen = store.seen_lookup(session, self.site.name, [k for k in unique if not k.startswith("noid:")])
        self.recorder.timed("seen", started)
        out: list[Any] = []
        new = 0
        horizon = utcnow() - dt.timedelta(days=self.site.revisit_days)
        revisiting = self.site.expects_replies and page_no <= self.site.revisit_pages
        for key, entry in unique.items():
            known = seen.get(key)
            if known is None or self.full:
                new += known is None
            elif known.retry_failed:
                self.recorder.count("retries_of_failed")
            elif revisiting and known.status == "ok" and not known.has_reply and known.first_seen_at >= horizon:
                self.recorder.count("revisits")
            else:
                continue
            target = self._follow_or_item(response, entry)
            if target is not None:
                out.append(target)
        self.recorder.count("entries_new", new)
        if page_no < self.site.pagination.max_pages and (new or self.full or (self.site.expects_replies and page_no < self.site.revisit_pages)):
            url = next_url or self._param_page(response, page_no + 1)
            if url:
                out.append(self._list_request(url, page_no + 1, response.meta.get("start_url", response.url)))
        return out

    def _param_page(self, response: Response, page_no: int) -> str | None:
        pag = self.site.pagination
        if not pag.param:
            return None
        parts = urlsplit(response.meta.get("start_url", response.url))
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != pag.param]
        query.append((pag.param, str(pag.start + (page_no - 1) * pag.step)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def _follow_or_item(self, response: Response, entry: Entry) -> Any:
        if self.site.detail and entry.link:
            return self._detail_request(entry, response.url)
        if not entry.link and not entry.values.get("id"):
            self.recorder.error(response.url, "missing_field", "列表条目既没有链接也没有编号，无法识别", field="url")
            return None
        return self._item(entry.values, entry.link, response.url)

    # --- detail pages ---------------------------------------------------------------------------
    def parse_detail(self, response: Response) -> list[Any]:
        started = time.perf_counter()
        self.recorder.count("pages")
        response = self._decoded(response)
        values = dict(response.meta.get("list_values") or {})
        for name, spec in self.site.detail.items():
            value = extract(response.selector, spec, response.url)
            if value:
                values[name] = value
        item = self._item(values, response.url, response.url)
        self.recorder.timed("parse", started)
        return [item] if item is not None else []

    def _item(self, values: dict[str, str], link: str | None, page_url: str) -> PageItem | None:
        """Build an item, or report the first missing required field (with the page URL) and skip."""
        zone = self.site.zone
        link = values.get("url") or link
        url = urljoin(page_url, link) if link else None
        canonical = canonical_url(url) if url else None
        seen_key = canonical or f"id:{values.get('id')}"
        times: dict[str, dt.datetime | None] = {}
        for name in ("published", "reply_time"):
            text = values.get(name)
            spec: FieldSpec | None = self.site.detail.get(name) or self.site.listing.fields.get(name)
            times[name] = parse_time(text, spec.format if spec else None, zone) if text else None
            if text and times[name] is None:
                fmt = f"（格式 {spec.format}）" if spec and spec.format else ""
                if name in self.site.required_fields:
                    self.recorder.error(page_url, "parse", f"{FIELD_LABELS[name]}“{text[:40]}”无法解析{fmt}", field=name)
                    self._mark_failed(seen_key)
                    return None
                self.recorder.count(f"unparsed_{name}")
        for name in self.site.required_fields:
            present = times.get(name) if name in times else values.get(name)
            if not present:
                self.recorder.error(page_url, "missing_field", f"缺少必需字段：{FIELD_LABELS.get(name, name)}", field=name)
                self._mark_failed(seen_key)
                return None
        reply_body = values.get("reply_body")
        return PageItem(
            site=self.site.name, url=url, canonical_url=canonical, seen_key=seen_key,
            external_id=external_id_for(canonical or "", values.get("id")),
            title=values.get("title") or "", body=values.get("body") or values.get("title") or "",
            author=values.get("author"), published_at=times["published"], likes=parse_count(values.get("likes")),
            reply_body=reply_body, reply_at=times["reply_time"] if reply_body else None,
            reply_department=values.get("reply_department") if reply_body else None,
            raw={k: v for k, v in (("published_text", values.get("published")), ("reply_time_text", values.get("reply_time")))
                 if v},
        )

    # --- helpers --------------------------------------------------------------------------------
    def _decoded(self, response: Response) -> TextResponse:
        """Apply the configured encoding (GBK / GB18030 sites that mislabel their pages)."""
        if self.site.encoding:
            if isinstance(response, TextResponse):
                return response.replace(encoding=self.site.encoding)
            return HtmlResponse(url=response.url, status=response.status, headers=response.headers, body=response.body,
                                encoding=self.site.encoding, request=response.request)
        if not isinstance(response, TextResponse):
            return HtmlResponse(url=response.url, status=response.status, headers=response.headers, body=response.body,
                                request=response.request)
        return response


def _links(scope: Selector, spec: FieldSpec | None) -> list[str]:
    """hrefs selected by ``spec``: attribute strings as they are, elements by their ``href``."""
    if spec is None:
        return []
    if spec.source == "url" or spec.path is not None:
        value = extract(scope, spec)
        return [value] if value else []
    links = []
    for node in select(scope, spec):
        root = node.root
        value = root if isinstance(root, str) else node.attrib.get("href")
        if value and spec.regex:
            value = apply_regex(value, spec.regex)
        if value and not value.strip().lower().startswith(("javascript:", "#", "mailto:")):
            links.append(value.strip())
    return links


def _html_to_text(text: str) -> str:
    if "<" in text and ">" in text:
        body = Selector(text=f"<div>{text}</div>").xpath("//body/div")
        return element_text(body[0].root) if body else clean_text(text)
    return clean_text(text)


__all__ = ("SiteSpider", "apply_site_settings")
