"""Reading values out of pages: selectors to text, Chinese date formats to UTC, counts, canonical URLs.

Pure functions over parsel selectors and strings, so the spider stays a thin driver and every
rule here is unit-testable without a network.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from parsel import Selector, SelectorList
from w3lib.url import canonicalize_url

from crawlers.config import FieldSpec

_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table", "ul", "ol", "dd", "dt", "blockquote", "pre"}
_SKIP_TAGS = {"script", "style", "noscript", "template"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\n\s*\n+")
_TRACKING = re.compile(r"^(utm_\w+|spm|from|source|share_token|isappinstalled|wd|eqid)$", re.I)


def clean_text(text: str) -> str:
    """Collapse runs of spaces (also full-width ones) and blank lines; strip each line."""
    lines = [_SPACES.sub(" ", line).strip() for line in (text or "").split("\n")]
    return _NEWLINES.sub("\n", "\n".join(line for line in lines if line) if lines else "").strip()


def element_text(node: Any) -> str:
    """Visible text of an lxml element with block elements on their own lines."""
    parts: list[str] = []

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.rsplit("}", 1)[-1].lower()
        if tag in _SKIP_TAGS:
            if el.tail:
                parts.append(el.tail)
            return
        block = tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if el.text and tag:
            parts.append(el.text)
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        if el.tail:
            parts.append(el.tail)

    if isinstance(node, str):
        return clean_text(node)
    tail = node.tail
    node.tail = None
    try:
        walk(node)
    finally:
        node.tail = tail
    return clean_text("".join(parts))


def _selected_texts(selected: SelectorList) -> list[str]:
    texts = []
    for sel in selected:
        root = sel.root
        if isinstance(root, (str, bytes)):
            texts.append(clean_text(root.decode() if isinstance(root, bytes) else root))
        elif isinstance(root, (dict, list, int, float, bool)) or root is None:
            texts.append("" if root is None else str(root))
        else:
            texts.append(element_text(root))
    return [t for t in texts if t]


def select(scope: Selector, spec: FieldSpec) -> SelectorList:
    """The nodes a spec points at inside ``scope`` (CSS or XPath)."""
    if spec.css is not None:
        return scope.css(spec.css)
    if spec.xpath is not None:
        return scope.xpath(spec.xpath)
    return SelectorList([])


def json_path(data: Any, path: str) -> Any:
    """``data.list.0.title``: dict keys and list indexes; ``None`` when any step is missing."""
    current = data
    for step in path.split(".") if path else []:
        if isinstance(current, dict):
            current = current.get(step)
        elif isinstance(current, list) and step.lstrip("-").isdigit() and -len(current) <= int(step) < len(current):
            current = current[int(step)]
        else:
            return None
        if current is None:
            return None
    return current


def apply_regex(text: str, regex: str | None) -> str | None:
    if not regex:
        return text
    match = re.search(regex, text, re.S)
    if match is None:
        return None
    if match.groupdict().get("value") is not None:
        return match.group("value")
    return match.group(1) if match.groups() else match.group(0)


def extract(scope: Selector | Any, spec: FieldSpec, url: str = "") -> str | None:
    """One field's text: selector → text → regex → default; ``None`` when absent or blank."""
    if spec.source == "url":
        value = apply_regex(url, spec.regex)
    elif spec.path is not None:
        raw = json_path(scope, spec.path)
        if isinstance(raw, list):
            raw = spec.join.join(str(v) for v in raw if v is not None)
        value = None if raw is None else clean_text(str(raw))
        value = apply_regex(value, spec.regex) if value is not None else None
    elif spec.css is None and spec.xpath is None:
        value = None
    else:
        texts = _selected_texts(select(scope, spec))
        value = clean_text(spec.join.join(texts)) if texts else None
        if value is not None:
            value = apply_regex(value, spec.regex)
    if value is not None:
        value = value.strip()
    if not value:
        value = spec.default
    return value or None


# --- times --------------------------------------------------------------------------------------

_DEFAULT_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M", "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日",
    "%Y%m%d%H%M%S", "%Y%m%d",
)
_RELATIVE = re.compile(r"(\d+)\s*(秒|分钟|小时|天|周)前")
_DAYWORD = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/月](\d{1,2})日?\s+(\d{1,2}):(\d{2})$")
_STAMP = re.compile(r"^\d{10}(\d{3})?$")
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days", "周": "weeks"}


def parse_time(text: str | None, fmt: str | None, zone: ZoneInfo, now: dt.datetime | None = None) -> dt.datetime | None:
    """A site's time text as an aware UTC datetime, or ``None`` when it cannot be read.

    Tries the configured format, then ISO 8601 / RFC 822 (feeds), Unix timestamps (JSON APIs),
    the common Chinese layouts, and relative forms (``3小时前``, ``昨天 10:20``, ``05-06 10:20``).
    """
    if not text:
        return None
    text = clean_text(text).replace("：", ":")
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(zone)
    if fmt:
        try:
            return _aware(dt.datetime.strptime(text, fmt), zone)
        except ValueError:
            pass
    if _STAMP.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    try:
        return _aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")), zone)
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return _aware(parsedate_to_datetime(text), zone)
    except (TypeError, ValueError, IndexError):
        pass
    for candidate in _DEFAULT_FORMATS:
        try:
            return _aware(dt.datetime.strptime(text, candidate), zone)
        except ValueError:
            continue
    if text == "刚刚":
        return now.astimezone(dt.timezone.utc)
    if m := _RELATIVE.search(text):
        return (now - dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})).astimezone(dt.timezone.utc)
    if m := _DAYWORD.match(text):
        back = {"今天": 0, "昨天": 1, "前天": 2}[m.group(1)]
        day = (now - dt.timedelta(days=back)).date()
        local = dt.datetime(day.year, day.month, day.day, int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))
        return _aware(local, zone)
    if m := _MONTH_DAY.match(text):
        local = dt.datetime(now.year, int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)))
        if local > now.replace(tzinfo=None) + dt.timedelta(days=1):  # "12-30" read in January
            local = local.replace(year=now.year - 1)
        return _aware(local, zone)
    return None


def _aware(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.timezone.utc)


# --- counts and URLs ----------------------------------------------------------------------------

_COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([万wWkK千]?)")


def parse_count(text: str | None) -> int | None:
    """``"点赞(12)"`` → 12, ``"1.2万"`` → 12000; ``None`` when there is no number."""
    if not text:
        return None
    m = _COUNT.search(text.replace(",", ""))
    if m is None:
        return None
    factor = {"万": 10000, "w": 10000, "W": 10000, "k": 1000, "K": 1000, "千": 1000}.get(m.group(2), 1)
    return int(float(m.group(1)) * factor)


def canonical_url(url: str) -> str:
    """One spelling per page: sorted query, no fragment, no tracking parameters, lower-case host."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    rebuilt = urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def url_key(url: str) -> str:
    """Fixed-length key of a canonical URL for the seen-URL table."""
    return hashlib.sha1(url.encode()).hexdigest()


def external_id_for(canonical: str, message_id: str | None) -> str:
    """The board's message id when it has one, else the canonical URL (hashed beyond 200 chars)."""
    if message_id:
        return f"id:{message_id}"[:200]
    return canonical if len(canonical) <= 200 else f"url-sha1:{url_key(canonical)}"
