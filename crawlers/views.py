"""Source health for admins and analysts: the ``/sources`` pages and ``/api/v1/sources`` JSON."""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.models import User
from core.web import csrf_protect, get_read_session, get_session, render, require_roles
from crawlers.health import SourceHealth, source_health
from crawlers.models import CrawlRun

router = APIRouter()
staff = require_roles("analyst")  # admin always passes
STATE_LABELS = {"ok": "正常", "warning": "注意", "error": "异常", "never": "未运行", "disabled": "已停用", "unknown": "未知"}
STATUS_LABELS = {"running": "运行中", "ok": "成功", "partial": "部分失败", "failed": "失败", "skipped": "跳过（上次未结束）",
                 "abandoned": "中断"}
KIND_LABELS = {"board": "留言板", "news": "新闻列表", "feed": "RSS/Atom", "json": "JSON 接口"}


class RunOut(BaseModel):
    id: int
    status: str
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    pages: int
    entries_found: int
    items_new: int
    items_updated: int
    errors: int
    message: str | None


class ErrorOut(BaseModel):
    at: dt.datetime
    run_id: int
    kind: str
    url: str
    field: str | None
    status: int | None
    message: str


class DayOut(BaseModel):
    day: str
    items: int


class SourceOut(BaseModel):
    name: str
    title: str
    kind: str
    enabled: bool
    schedule: str | None
    state: str
    running: bool
    last_run: RunOut | None
    last_success_at: dt.datetime | None
    items_per_day: list[DayOut]
    items_total_14d: int
    pages_7d: int
    errors_7d: int
    error_rate: float | None
    last_errors: list[ErrorOut]
    warnings: list[str]
    config_problem: str | None


class SourceDetailOut(SourceOut):
    runs: list[RunOut]


def _out(h: SourceHealth) -> dict:
    data = h.to_json()
    data.pop("config_path", None)  # server paths are not the API's business
    return data


def _find(session: Session, name: str) -> SourceHealth:
    for health in source_health(session, sync=False):
        if health.name == name:
            return health
    raise HTTPException(status_code=404, detail=f"没有名为 {name} 的数据源。")


def _runs(session: Session, name: str, limit: int = 30) -> list[CrawlRun]:
    return list(session.scalars(select(CrawlRun).where(CrawlRun.site == name)
                                .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit)))


@router.get("/api/v1/sources", response_model=list[SourceOut], tags=["sources"])
def sources_json(session: Session = Depends(get_read_session), _user: User = Depends(staff)):
    """Every crawled source with its health: last success, items per day, error rate, last errors, warnings."""
    return [_out(h) for h in source_health(session, sync=False)]


@router.get("/api/v1/sources/{name}", response_model=SourceDetailOut, tags=["sources"])
def source_json(name: str, session: Session = Depends(get_read_session), _user: User = Depends(staff)):
    """One source's health and its last 30 runs."""
    data = _out(_find(session, name))
    data["runs"] = [RunOut.model_validate(r, from_attributes=True) for r in _runs(session, name)]
    return data


def _bars(h: SourceHealth) -> list[dict]:
    """SVG bar geometry for the items-per-day sparkline (attributes, not inline CSS: the CSP forbids it)."""
    top = max((n for _, n in h.items_per_day), default=0) or 1
    return [{"x": i * 9, "h": max(1, round(26 * n / top)) if n else 0, "day": d, "n": n}
            for i, (d, n) in enumerate(h.items_per_day)]


@router.get("/sources", include_in_schema=False)
def sources_page(request: Request, session: Session = Depends(get_read_session), user: User = Depends(staff)):
    sources = source_health(session, sync=False)
    return render(request, "crawlers/sources.html", {
        "sources": sources, "bars": {h.name: _bars(h) for h in sources}, "state_labels": STATE_LABELS,
        "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS, "can_run": user.role == "admin",
        "notice": request.query_params.get("started"),
    })


@router.get("/sources/{name}", include_in_schema=False)
def source_page(name: str, request: Request, session: Session = Depends(get_read_session), user: User = Depends(staff)):
    health = _find(session, name)
    return render(request, "crawlers/source.html", {
        "s": health, "runs": _runs(session, name), "bars": _bars(health), "state_labels": STATE_LABELS,
        "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS, "can_run": user.role == "admin",
    })


@router.post("/sources/{name}/run", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def source_run(name: str, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    """Start a crawl now, in a subprocess like the scheduled ones."""
    from crawlers.config import ConfigError, load_site, resolve
    from crawlers.jobs import launch

    try:
        path = resolve(name)
        site = load_site(path)
    except ConfigError as exc:
        reasons = "；".join(f"{field or '文件'}：{reason}" for field, reason in exc.problems)
        raise HTTPException(status_code=422, detail=f"无法启动 {name} 的抓取，配置有误：{reasons}") from None
    proc = launch(site.name, str(path), trigger="manual")
    audit.append(session, f"user:{user.id}", "crawl.start", f"source:{site.name}", {"started": proc is not None})
    return RedirectResponse(f"/sources?started={site.name if proc else ''}", status_code=303)
