"""Search API (``GET /api/v1/search``), the analyst search page, exports and saved searches."""
from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core import audit
from core.models import User
from core.web import csrf_protect, get_session, render, require_roles
from core.web.templating import local_time
from search import export, saved
from search.backend import BackendUnavailable
from search.backends import get_backend
from search.histogram import auto_interval, spanning, svg_bars
from search.schema import FACET_FIELDS
from search.service import (
    FACET_LABELS, FILTER_PARAMS, SEARCH_ROLES, SORT_LABELS, SearchInputError, SearchParams, label, parse_size, run,
    title_html, to_json,
)
from search.highlight import snippet

log = logging.getLogger("minsheng.search")
router = APIRouter()
searcher = require_roles(*SEARCH_ROLES)
UNAVAILABLE = "检索服务暂时不可用，请稍后重试（索引正在重建或检索集群无法连接）。"


def _mapping(request: Request) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        data.setdefault(key, []).append(value)
    return data


def _params(request: Request) -> SearchParams:
    try:
        return SearchParams.from_mapping(_mapping(request))
    except SearchInputError as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None


@router.get("/api/v1/search", tags=["search"])
def api_search(
    request: Request,
    q: str | None = Query(None, description="检索式：词语之间为“且”；\"短语\"；OR；-排除；title: / place: 字段前缀"),
    topic: list[str] | None = Query(None), sentiment: list[str] | None = Query(None),
    appeal: list[str] | None = Query(None), risk: list[str] | None = Query(None),
    source: list[str] | None = Query(None), department: list[str] | None = Query(None),
    status: list[str] | None = Query(None), place: list[str] | None = Query(None),
    from_: str | None = Query(None, alias="from", description="起始日期 YYYY-MM-DD（含）"),
    to: str | None = Query(None, description="结束日期 YYYY-MM-DD（含当天）"),
    sort: str | None = Query(None, description="relevance | time | heat"),
    size: str | None = Query(None, description="每页条数 1–100，默认 20"),
    after: str | None = Query(None, description="上一页返回的 next"),
    histogram: str | None = Query(None, description="可选：day | week | month 时间分布"),
    user: User = Depends(searcher),
):
    """Search documents. Hits are masked; whistleblower reports only reach the supervisor role.

    Answers ``{"total", "hits": [{"id", "title", "snippet", "source", "time", "topic", "sentiment",
    "appeal", "risk", "case"}], "facets": {field: [{"value", "count"}]}, "next"}``; ``snippet``
    is HTML-escaped text with the matches in ``<mark>``.
    """
    params = _params(request)
    try:
        page = run(params, user, size=parse_size(size), after=after, facets=FACET_FIELDS, histogram=histogram)
    except SearchInputError as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
    except BackendUnavailable as exc:
        log.warning("search unavailable: %s", exc)
        raise HTTPException(status_code=503, detail=UNAVAILABLE, headers={"Retry-After": "10"}) from None
    return to_json(page)


# --- the page -----------------------------------------------------------------------------------------

def _page_error(request: Request, status: int, message: str):
    """An error page rendered here (raising HTTPException would roll back the session the
    signed-in user was loaded in, before the error page renders)."""
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _url(path: str, pairs: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _department_names(session: Session) -> dict[str, str]:
    from sqlalchemy import select

    from core.models import Department

    return dict(session.execute(select(Department.code, Department.name)).all())


def _facet_links(params: SearchParams, page, departments: dict[str, str]) -> list[dict]:
    base = params.query_string()
    groups = []
    for field_name, buckets in page.result.facets.items():
        param = "place" if field_name == "places" else field_name
        chosen = set(params.filters.get(param, []))
        items = []
        for b in buckets:
            if b.key in chosen:
                pairs = [(k, v) for k, v in base if not (k == param and v == b.key)]
            else:
                pairs = base + [(param, b.key)]
            shown = departments.get(b.key, b.key) if field_name == "department" else label(field_name, b.key)
            items.append({"value": b.key, "label": shown, "count": b.count,
                          "active": b.key in chosen, "url": _url("/search", pairs)})
        for value in chosen - {b.key for b in buckets}:  # a chosen value with no hits stays removable
            pairs = [(k, v) for k, v in base if not (k == param and v == value)]
            items.append({"value": value, "label": label(field_name, value), "count": 0, "active": True,
                          "url": _url("/search", pairs)})
        if items:
            groups.append({"name": FACET_LABELS.get(field_name, field_name), "items": items})
    return groups


def _local(value: str | None) -> str:
    if not value:
        return ""
    try:
        return local_time(dt.datetime.fromisoformat(value))
    except ValueError:
        return value


def _saved_links(session: Session, user: User) -> list[dict]:
    return [{"id": s.id, "name": s.name, "alert": s.alert, "url": saved.link(s.params, default_sort=False)}
            for s in saved.list_for(session, user)]


@router.get("/search", include_in_schema=False)
def search_page(request: Request, session: Session = Depends(get_session), user: User = Depends(searcher)):
    raw = _mapping(request)
    context: dict = {"sort_labels": SORT_LABELS, "saved": _saved_links(session, user), "error": None,
                     "page": None, "params": SearchParams(), "filter_params": FILTER_PARAMS}
    status = 200
    try:
        params = SearchParams.from_mapping(raw)
        context["params"] = params
        after = (raw.get("after") or [None])[0]
        size = parse_size((raw.get("size") or [None])[0])
        interval = auto_interval(params)
        departments = _department_names(session)
        page = run(params, user, size=size, after=after, facets=FACET_FIELDS, histogram=interval)
        significant = []
        if not after and page.result.total and (params.q.strip() or params.filters or params.date_from or params.date_to):
            significant = [
                {"key": b.key, "url": _url("/search", [(k, v) for k, v in params.query_string() if k != "q"]
                                           + [("q", f"{params.q} {b.key}".strip())])}
                for b in get_backend().significant_terms(page.request, "keywords", 12)
            ]
        context.update(
            page=page, interval=interval, significant=significant,
            hits=[{"doc": h.doc, "title": title_html(h.doc, page.terms), "snippet": snippet(h.doc.get("body"), page.terms),
                   "time": _local(h.doc.get("time")), "risk": [label("risk", r) for r in h.doc.get("risk") or []]}
                  for h in page.result.hits],
            facets=_facet_links(params, page, departments),
            departments=departments,
            histogram_svg=svg_bars(spanning(page.result.histogram, interval, params), interval),
            next_url=_url("/search", params.query_string() + [("size", str(size)), ("after", page.result.next.encode())])
            if page.result.next else None,
            export_csv=_url("/search/export.csv", params.query_string()),
            export_xlsx=_url("/search/export.xlsx", params.query_string()),
            label=label,
        )
    except SearchInputError as exc:
        context["error"] = exc.message
        status = 400
    except BackendUnavailable as exc:
        log.warning("search unavailable: %s", exc)
        context["error"] = UNAVAILABLE
        status = 503
    return render(request, "search/search.html", context, status_code=status)


@router.get("/search/documents/{doc_id}", include_in_schema=False)
def document_page(request: Request, doc_id: int = Path(ge=1, le=2**63 - 1), user: User = Depends(searcher)):
    try:
        doc = get_backend().get(doc_id)
    except BackendUnavailable:
        return _page_error(request, 503, UNAVAILABLE)
    if doc is None or (doc.get("protected") and user.role != "supervisor"):
        return _page_error(request, 404, "没有找到该文档（可能已删除，或您无权查看）。")
    return render(request, "search/document.html", {"doc": doc, "label": label, "time_local": _local(doc.get("time"))})


# --- exports --------------------------------------------------------------------------------------------

def _export(request: Request, session: Session, user: User, kind: str) -> Response:
    try:
        params = SearchParams.from_mapping(_mapping(request))
        rows = list(export.rows(params, user))
    except SearchInputError as exc:
        return _page_error(request, 400, exc.message)
    except BackendUnavailable:
        return _page_error(request, 503, UNAVAILABLE)
    audit.append(session, f"user:{user.id}", "search.export", "search",
                 {"format": kind, "params": params.to_dict(), "rows": len(rows)})
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    if kind == "csv":
        return StreamingResponse(export.csv_chunks(rows), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="minsheng-search-{stamp}.csv"'})
    return Response(export.xlsx_bytes(rows), media_type=export.XLSX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="minsheng-search-{stamp}.xlsx"'})


@router.get("/search/export.csv", tags=["search"], response_class=Response,
            responses={200: {"description": "CSV (UTF-8 with BOM)", "content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_csv(request: Request, session: Session = Depends(get_session), user: User = Depends(searcher)):
    """The whole result set (up to 50,000 rows, newest first) as CSV (UTF-8 with BOM, for Excel)."""
    return _export(request, session, user, "csv")


@router.get("/search/export.xlsx", tags=["search"], response_class=Response,
            responses={200: {"description": "Excel workbook", "content": {export.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
def export_xlsx(request: Request, session: Session = Depends(get_session), user: User = Depends(searcher)):
    """The whole result set (up to 50,000 rows, newest first) as an Excel workbook."""
    return _export(request, session, user, "xlsx")


# --- saved searches -------------------------------------------------------------------------------------

class SavedSearchIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=100)
    params: dict = Field(default_factory=dict, description="与 /api/v1/search 相同的参数，如 {\"q\": \"物业\", \"topic\": [\"城乡建设\"]}")
    alert: bool = True


def _saved_json(item) -> dict:
    return {"id": item.id, "name": item.name, "params": item.params, "alert": item.alert,
            "created_at": item.created_at.isoformat(),
            "last_alert_at": item.last_alert_at.isoformat() if item.last_alert_at else None}


@router.get("/api/v1/search/saved", tags=["search"])
def api_saved_list(session: Session = Depends(get_session), user: User = Depends(searcher)):
    """The signed-in user's saved searches."""
    return [_saved_json(s) for s in saved.list_for(session, user)]


@router.post("/api/v1/search/saved", tags=["search"], status_code=201, dependencies=[Depends(csrf_protect)])
def api_saved_create(body: SavedSearchIn, session: Session = Depends(get_session), user: User = Depends(searcher)):
    """Save a search; with ``alert`` the user gets an in-app notice when new documents match."""
    try:
        item = saved.create(session, user, body.name, body.params, body.alert)
    except SearchInputError as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
    return _saved_json(item)


@router.delete("/api/v1/search/saved/{saved_id}", tags=["search"], status_code=204,
               dependencies=[Depends(csrf_protect)])
def api_saved_delete(saved_id: int, session: Session = Depends(get_session), user: User = Depends(searcher)):
    if not saved.delete(session, user, saved_id):
        raise HTTPException(status_code=404, detail="没有找到该保存的检索。")
    return Response(status_code=204)


@router.post("/search/saved", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def saved_create_form(request: Request, name: str = Form(""), query: str = Form(""), alert: str | None = Form(None),
                      session: Session = Depends(get_session), user: User = Depends(searcher)):
    from urllib.parse import parse_qs

    params = {k: v for k, v in parse_qs(query[:4000]).items() if k not in ("after", "size")}
    try:
        if not name.strip():
            raise SearchInputError("请为保存的检索填写名称。", "name")
        if len(name.strip()) > 100:
            raise SearchInputError("名称最多 100 个字。", "name")
        saved.create(session, user, name.strip(), params, bool(alert))
    except SearchInputError as exc:
        return _page_error(request, 400, exc.message)
    return RedirectResponse(_url("/search", [(k, x) for k, v in params.items() for x in v]), status_code=303)


@router.post("/search/saved/{saved_id}/delete", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def saved_delete_form(saved_id: int, request: Request, session: Session = Depends(get_session),
                      user: User = Depends(searcher)):
    if not saved.delete(session, user, saved_id):
        return _page_error(request, 404, "没有找到该保存的检索。")
    return RedirectResponse("/search", status_code=303)
