"""Analyst search: request parameters → a backend request → the API's answer.

Shared by ``GET /api/v1/search``, the search page, exports and saved-search alerts, so every
path validates the same way (a ``SearchInputError`` is a 400 with a Chinese message) and masks
the same way.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.models import User
from core.models.cases import STATUS_LABELS
from search.backend import SHANGHAI, SearchBackend
from search.backends import get_backend
from search.highlight import highlight, snippet
from search.query import QuerySyntaxError, parse
from search.schema import FACET_FIELDS
from search.types import (
    INTERVALS, MAX_RELEVANCE_OFFSET, MAX_SIZE, SORTS, BadCursor, Cursor, SearchRequest, SearchResult,
)

#: API parameter → index field.
FILTER_PARAMS = {
    "source": "source", "topic": "topic", "sentiment": "sentiment", "appeal": "appeal", "risk": "risk",
    "department": "department", "status": "status", "place": "places",
}
MAX_FILTER_VALUES = 20
MAX_VALUE_CHARS = 100
SEARCH_ROLES = ("analyst", "dispatcher", "supervisor", "admin")
#: Only the supervising role finds whistleblower-protected reports (DESIGN: reporter protection).
PROTECTED_ROLES = ("supervisor",)

FACET_LABELS = {
    "source": "来源", "topic": "主题", "sentiment": "情感", "appeal": "诉求类型", "risk": "风险",
    "department": "承办部门", "status": "案件状态", "places": "地点",
}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "sentiment": {"negative": "负面", "neutral": "中性", "positive": "正面"},
    "risk": {"group_action": "群体性事件", "self_harm": "自伤倾向", "violence": "暴力威胁",
             "safety_hazard": "安全隐患", "minor": "涉及未成年人", "repeat": "重复反映"},
    "status": dict(STATUS_LABELS),
    "source": {"form": "网上信访表单", "open311": "Open311"},
}
SORT_LABELS = {"relevance": "相关度", "time": "时间", "heat": "热度"}


class SearchInputError(ValueError):
    """Bad search parameters: answered with 400 and this Chinese message."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def label(field_name: str, value: str) -> str:
    return VALUE_LABELS.get(field_name, {}).get(value, value)


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out: list[str] = []
    for item in items:
        for piece in re.split(r"[,，]", str(item)):
            piece = piece.strip()
            if piece:
                if len(piece) > MAX_VALUE_CHARS:
                    raise SearchInputError(f"参数 {name} 的取值过长（最多 {MAX_VALUE_CHARS} 个字符）。", name)
                out.append(piece)
    if len(out) > MAX_FILTER_VALUES:
        raise SearchInputError(f"参数 {name} 的取值过多（最多 {MAX_FILTER_VALUES} 个）。", name)
    return list(dict.fromkeys(out))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: str | None, name: str, end: bool = False) -> dt.datetime | None:
    """``YYYY-MM-DD`` (a day in Asia/Shanghai; ``to`` includes that whole day) or an ISO datetime."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), SHANGHAI)
            return start + dt.timedelta(days=1) if end else start
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SearchInputError(
            f"参数 {name} 的日期格式不正确：“{text[:30]}”。请使用 YYYY-MM-DD，例如 2024-05-01。", name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment


def _first(params: Mapping[str, Any], name: str) -> str | None:
    raw = params.get(name)
    if isinstance(raw, (list, tuple)):
        raw = raw[0] if raw else None
    return None if raw is None else str(raw)


@dataclass
class SearchParams:
    """Validated, normalised search parameters (also what a saved search stores)."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # API parameter names
    date_from: str | None = None
    date_to: str | None = None
    sort: str | None = None

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "SearchParams":
        q = _first(params, "q") or ""
        filters = {name: vals for name in FILTER_PARAMS if (vals := _values(params, name))}
        out = cls(q=q, filters=filters, date_from=_first(params, "from") or None,
                  date_to=_first(params, "to") or None, sort=_first(params, "sort") or None)
        out.request()  # validate now
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"q": self.q} if self.q else {}
        data.update({k: list(v) for k, v in self.filters.items()})
        if self.date_from:
            data["from"] = self.date_from
        if self.date_to:
            data["to"] = self.date_to
        if self.sort:
            data["sort"] = self.sort
        return data

    def query_string(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for key, value in self.to_dict().items():
            for v in value if isinstance(value, list) else [value]:
                pairs.append((key, v))
        return pairs

    def request(self, user: User | None = None, size: int = 20, after: str | None = None,
                facets: tuple[str, ...] = (), histogram: str | None = None) -> SearchRequest:
        try:
            query = parse(self.q)
        except QuerySyntaxError as exc:
            raise SearchInputError(f"检索式有误：{exc.message}", "q") from None
        sort = self.sort or ("relevance" if self.q.strip() else "time")
        if sort not in SORTS:
            raise SearchInputError("参数 sort 只能是 relevance（相关度）、time（时间）或 heat（热度）。", "sort")
        if not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise SearchInputError(f"参数 size 应在 1 到 {MAX_SIZE} 之间；需要更多结果请用 next 翻页或导出。", "size")
        if histogram is not None and histogram not in INTERVALS:
            raise SearchInputError("参数 histogram 只能是 day、week 或 month。", "histogram")
        date_from = parse_date(self.date_from, "from")
        date_to = parse_date(self.date_to, "to", end=True)
        if date_from and date_to and date_from >= date_to:
            raise SearchInputError("起始日期 from 不能晚于结束日期 to。", "from")
        cursor = None
        if after:
            try:
                cursor = Cursor.decode(after, sort)
            except BadCursor as exc:
                raise SearchInputError(str(exc), "after") from None
            if sort == "relevance" and cursor.offset > MAX_RELEVANCE_OFFSET:
                raise SearchInputError("按相关度最多翻到第 10000 条；请改按时间排序后继续翻页。", "after")
        return SearchRequest(
            query=query,
            filters={FILTER_PARAMS[k]: v for k, v in self.filters.items()},
            date_from=date_from, date_to=date_to, sort=sort, size=size, after=cursor,
            facets=facets, histogram=histogram,
            include_protected=bool(user is not None and user.role in PROTECTED_ROLES),
        )


def parse_size(raw: Any, default: int = 20) -> int:
    if raw is None or raw == "":
        return default
    try:
        size = int(str(raw).strip())
    except ValueError:
        raise SearchInputError("参数 size 应为整数。", "size") from None
    if not 1 <= size <= MAX_SIZE:
        raise SearchInputError(f"参数 size 应在 1 到 {MAX_SIZE} 之间；需要更多结果请用 next 翻页或导出。", "size")
    return size


@dataclass
class SearchPage:
    params: SearchParams
    request: SearchRequest
    result: SearchResult
    terms: list[str]
    notice: str | None = None


def run(params: SearchParams, user: User | None, size: int = 20, after: str | None = None,
        facets: tuple[str, ...] = FACET_FIELDS, histogram: str | None = None,
        backend: SearchBackend | None = None) -> SearchPage:
    request = params.request(user, size=size, after=after, facets=facets, histogram=histogram)
    notice = None
    if request.query.empty:
        notice = "检索式中只有停用词或标点，没有可检索的词语，请换用更具体的词。"
        return SearchPage(params, request, SearchResult(total=0, hits=[]), [], notice)
    backend = backend or get_backend()
    result = backend.search(request)
    return SearchPage(params, request, result, request.query.highlight_terms(), notice)


def hit_json(hit_doc: dict[str, Any], terms: list[str]) -> dict[str, Any]:
    return {
        "id": hit_doc["id"],
        "title": hit_doc.get("title") or "",
        "snippet": str(snippet(hit_doc.get("body"), terms)),
        "source": hit_doc.get("source"),
        "time": hit_doc.get("time"),
        "topic": hit_doc.get("topic"),
        "sentiment": hit_doc.get("sentiment"),
        "appeal": hit_doc.get("appeal"),
        "risk": hit_doc.get("risk") or [],
        "case": hit_doc.get("case"),
    }


def to_json(page: SearchPage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "total": page.result.total,
        "hits": [hit_json(h.doc, page.terms) for h in page.result.hits],
        "facets": {
            ("place" if name == "places" else name): [{"value": b.key, "count": b.count} for b in buckets]
            for name, buckets in page.result.facets.items()
        },
        "next": page.result.next.encode() if page.result.next else None,
    }
    if page.request.histogram:
        out["histogram"] = [{"date": b.key, "count": b.count} for b in page.result.histogram]
    if page.notice:
        out["notice"] = page.notice
    return out


def title_html(doc: dict[str, Any], terms: list[str]):
    return highlight(doc.get("title"), terms)


def iterate(params: SearchParams, user: User | None, limit: int, backend: SearchBackend | None = None
            ) -> Iterator[dict[str, Any]]:
    """Every hit of a search, page by page with ``search_after`` (exports); at most ``limit``."""
    sort = params.sort if params.sort in ("time", "heat") else "time"
    walk = SearchParams(params.q, params.filters, params.date_from, params.date_to, sort)
    after: str | None = None
    seen = 0
    backend = backend or get_backend()
    while seen < limit:
        page = run(walk, user, size=min(MAX_SIZE, limit - seen), after=after, facets=(), backend=backend)
        for hit in page.result.hits:
            yield hit.doc
            seen += 1
        if page.result.next is None or not page.result.hits:
            return
        after = page.result.next.encode()


__all__ = [
    "FACET_LABELS", "SearchInputError", "SearchPage", "SearchParams", "iterate",
    "label", "parse_size", "run", "to_json",
]
