"""Analyst console: JSON API (/api/v1/hot-topics, /api/v1/trends/…) and the server-rendered pages.

Reads are open to analysts, dispatchers and supervisors (admins always); edits to analysts and
supervisors; configuration to admins. Charts get their data from the JSON endpoints through
static scripts (no inline script: the CSP allows only 'self').
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.database import utcnow
from core.masking import mask_personal_data
from core.models import Department, Document, User
from core.web import csrf_protect, get_session, render, require_roles
from search.trends import briefing, config, dashboard, queries, service
from search.trends.features import SHANGHAI
from search.trends.models import ALERT_LEVELS, Briefing, HotTopic, TrendAlert, TrendMember
from search.trends.surge import RISK_LABELS, SCOPE_LABELS

router = APIRouter()
READERS = require_roles("analyst", "dispatcher", "supervisor")
EDITORS = require_roles("analyst", "supervisor")
ADMINS = require_roles()
CASE_ACTORS = require_roles("analyst", "dispatcher", "supervisor")
MAX_DAYS = 1100
DEFAULT_DAYS = 30


# --- periods ------------------------------------------------------------------------------------

def _parse_day(value: str | None, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"参数 {name} 的日期格式应为 YYYY-MM-DD（收到“{value[:20]}”）。") from None


def latest_activity(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(TrendMember.at)))


def heat_reference(session: Session) -> dt.datetime:
    """Heat is shown as of the newest document the console has seen (now, on a live system)."""
    latest = latest_activity(session)
    return min(latest, utcnow()) if latest else utcnow()


def period(session: Session, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """[from, to] as whole days in Asia/Shanghai; by default the 30 days up to the latest document."""
    first, last = _parse_day(start, "from"), _parse_day(end, "to")
    if last is None:
        anchor = latest_activity(session) or utcnow()
        last = anchor.astimezone(SHANGHAI).date() if first is None else max(first, anchor.astimezone(SHANGHAI).date())
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise HTTPException(400, f"开始日期（{first}）晚于结束日期（{last}），请调换后重试。")
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(400, f"统计区间过长（{(last - first).days + 1} 天），最多 {MAX_DAYS} 天。")
    return briefing._bounds(first, last)


def _trends_error(exc: service.TrendsError) -> HTTPException:
    return HTTPException(exc.status, exc.message)


# --- JSON API -----------------------------------------------------------------------------------

class HotTopicOut(BaseModel):
    id: int
    title: str
    heat: float
    size: int
    places: list[str]
    keywords: list[str]
    first_seen: str | None
    last_seen: str | None
    document_ids: list[int]
    reporters: int = 0
    likes: int = 0
    label: str | None = None
    pinned: bool = False


@router.get("/api/v1/hot-topics", response_model=list[HotTopicOut], tags=["trends"])
def api_hot_topics(
    start: str | None = Query(None, alias="from", description="First day, YYYY-MM-DD (Asia/Shanghai)."),
    end: str | None = Query(None, alias="to", description="Last day, inclusive."),
    limit: int = Query(20, ge=1, le=200),
    source: str | None = Query(None, max_length=64),
    place: str | None = Query(None, max_length=100),
    session: Session = Depends(get_session), _user: User = Depends(READERS),
):
    """Hot topics with documents in the period, ordered by heat (pinned first)."""
    a, b = period(session, start, end)
    return queries.hot_topics(session, a, b, limit=limit, source=source or None, place=place or None)


def topic_payload(session: Session, topic: HotTopic, reference: dt.datetime) -> dict[str, Any]:
    result = service.heat_breakdown(session, topic, reference)
    cases = service.case_summary(session, topic)
    for row in cases["cases"]:
        for k in ("due_at", "answered_at"):
            row[k] = row[k].isoformat() if row[k] else None
    master = cases.pop("master")
    return {
        "id": topic.id, "title": topic.title, "label": topic.label, "pinned": topic.pinned,
        "places": topic.places, "keywords": topic.keywords, "size": topic.size, "reporters": topic.reporters,
        "likes": topic.likes, "negative": topic.negative, "risk": topic.risk,
        "first_seen": topic.first_seen.isoformat() if topic.first_seen else None,
        "last_seen": topic.last_seen.isoformat() if topic.last_seen else None,
        "heat": result.heat, "heat_points": result.points, "decay": result.decay, "factors": result.factors,
        "representative_ids": topic.representative_ids, "daily": service.daily_counts(session, topic.id),
        "master_case": master, "cases": cases,
    }


@router.get("/api/v1/hot-topics/{topic_id}", tags=["trends"])
def api_hot_topic(topic_id: int, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    """One hot topic: heat with each factor's contribution, daily counts, member cases and their answers."""
    try:
        topic = service.get_topic(session, topic_id)
    except service.TrendsError as exc:
        raise _trends_error(exc) from None
    return topic_payload(session, topic, heat_reference(session))


class RenameIn(BaseModel):
    title: str = Field(..., max_length=500)


class PinIn(BaseModel):
    pinned: bool = True


class MergeIn(BaseModel):
    topic_ids: list[int] = Field(..., max_length=100)


class SplitIn(BaseModel):
    document_ids: list[int] = Field(..., max_length=5000)
    title: str | None = Field(None, max_length=100)


class CaseRefIn(BaseModel):
    case: str = Field(..., max_length=40, description="Tracking number or case id of the master case.")


class AssignIn(BaseModel):
    department_code: str = Field(..., max_length=48)


class AckIn(BaseModel):
    note: str | None = Field(None, max_length=500)


def _run(fn, *args):
    try:
        return fn(*args)
    except service.TrendsError as exc:
        raise _trends_error(exc) from None


@router.post("/api/v1/hot-topics/{topic_id}/rename", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_rename(topic_id: int, body: RenameIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    topic = _run(service.rename, session, topic_id, body.title, user)
    return {"id": topic.id, "title": topic.title}


@router.post("/api/v1/hot-topics/{topic_id}/pin", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_pin(topic_id: int, body: PinIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    topic = _run(service.pin, session, topic_id, body.pinned, user)
    return {"id": topic.id, "pinned": topic.pinned}


@router.post("/api/v1/hot-topics/{topic_id}/merge", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_merge(topic_id: int, body: MergeIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    topic = _run(service.merge, session, topic_id, body.topic_ids, user)
    return {"id": topic.id, "size": topic.size, "title": topic.title}


@router.post("/api/v1/hot-topics/{topic_id}/split", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_split(topic_id: int, body: SplitIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    new = _run(service.split, session, topic_id, body.document_ids, user, body.title)
    return {"id": new.id, "size": new.size, "title": new.title, "from": topic_id}


@router.post("/api/v1/hot-topics/{topic_id}/master-case", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_master_case(topic_id: int, body: CaseRefIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    case = _run(service.link_master, session, topic_id, body.case, user)
    return {"id": topic_id, "master_case": {"id": case.id, "tracking_number": case.tracking_number, "status": case.status}}


@router.post("/api/v1/hot-topics/{topic_id}/merge-cases", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_merge_cases(topic_id: int, session: Session = Depends(get_session),
                    user: User = Depends(CASE_ACTORS)):
    return _run(service.merge_member_cases, session, topic_id, user)


@router.post("/api/v1/hot-topics/{topic_id}/assign", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_assign(topic_id: int, body: AssignIn, session: Session = Depends(get_session),
               user: User = Depends(CASE_ACTORS)):
    case = _run(service.assign_master, session, topic_id, body.department_code, user)
    return {"id": topic_id, "master_case": {"id": case.id, "status": case.status, "department_code": case.department_code}}


def alert_payload(a: TrendAlert) -> dict[str, Any]:
    return {
        "id": a.id, "kind": a.kind, "scope": a.scope, "key": a.key, "level": a.level, "level_label": ALERT_LEVELS[a.level],
        "title": a.title, "evidence": a.evidence, "topic_id": a.topic_id, "document_id": a.document_id,
        "first_at": a.first_at.isoformat(), "last_at": a.last_at.isoformat(), "raised_at": a.raised_at.isoformat(),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by, "ack_note": a.ack_note,
    }


def list_alerts(session: Session, state: str, level: int | None, limit: int = 200) -> list[TrendAlert]:
    stmt = select(TrendAlert)
    if state == "open":
        stmt = stmt.where(TrendAlert.acknowledged_at.is_(None))
    elif state == "acknowledged":
        stmt = stmt.where(TrendAlert.acknowledged_at.is_not(None))
    if level:
        stmt = stmt.where(TrendAlert.level >= level)
    return list(session.scalars(stmt.order_by(TrendAlert.acknowledged_at.is_(None).desc(), TrendAlert.level.desc(),
                                              TrendAlert.last_at.desc()).limit(limit)))


@router.get("/api/v1/trends/alerts", tags=["trends"])
def api_alerts(state: str = Query("open", pattern="^(open|acknowledged|all)$"), level: int | None = Query(None, ge=1, le=3),
               limit: int = Query(100, ge=1, le=500),
               session: Session = Depends(get_session), _user: User = Depends(READERS)):
    """Surge and risk alerts, unacknowledged and most severe first."""
    return [alert_payload(a) for a in list_alerts(session, state, level, limit)]


@router.post("/api/v1/trends/alerts/{alert_id}/ack", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_ack(alert_id: int, body: AckIn | None = Body(None), session: Session = Depends(get_session),
            user: User = Depends(EDITORS)):
    alert = _run(service.acknowledge, session, alert_id, user, body.note if body else None)
    return alert_payload(alert)


@router.get("/api/v1/trends/dashboard", tags=["trends"])
def api_dashboard(start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                  source: str | None = Query(None, max_length=64), place: str | None = Query(None, max_length=100),
                  session: Session = Depends(get_session), _user: User = Depends(READERS)):
    """Every aggregate of the dashboard for the period, source and place filters."""
    a, b = period(session, start, end)
    return dashboard.overview(session, dashboard.Filters(a, b, source or None, place or None))


@router.get("/api/v1/trends/config/{name}", tags=["trends"])
def api_config(name: str, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    """The heat formula's weights (heat), surge thresholds (surge) or clustering thresholds (cluster)."""
    if name not in config.DEFAULTS:
        raise HTTPException(404, f"未知的配置项“{name[:20]}”，可选：heat、surge、cluster。")
    return config.load(session, name)


@router.put("/api/v1/trends/config/{name}", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_config_put(name: str, changes: dict[str, Any] = Body(...), session: Session = Depends(get_session),
                   user: User = Depends(ADMINS)):
    try:
        return config.save(session, name, changes, service.actor_name(user))
    except config.ConfigError as exc:
        raise HTTPException(400, str(exc)) from None


class BriefingIn(BaseModel):
    kind: str = Field("daily", pattern="^(daily|weekly)$")
    date: dt.date | None = None


@router.get("/api/v1/trends/briefings", tags=["trends"])
def api_briefings(session: Session = Depends(get_session), _user: User = Depends(READERS)):
    rows = session.scalars(select(Briefing).order_by(Briefing.period_end.desc(), Briefing.kind).limit(100)).all()
    return [{"id": b.id, "kind": b.kind, "title": b.title, "period_start": b.period_start, "period_end": b.period_end,
             "generated_at": b.generated_at.isoformat(), "generated_by": b.generated_by} for b in rows]


@router.post("/api/v1/trends/briefings", tags=["trends"], dependencies=[Depends(csrf_protect)])
def api_briefing_generate(body: BriefingIn, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    day = body.date or (utcnow().astimezone(SHANGHAI).date() - dt.timedelta(days=1))
    row = _run(briefing.generate, session, body.kind, day, service.actor_name(user))
    return {"id": row.id, "title": row.title, "data": row.data}


@router.get("/api/v1/trends/briefings/{briefing_id}", tags=["trends"])
def api_briefing(briefing_id: int, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    row = session.get(Briefing, briefing_id)
    if row is None:
        raise HTTPException(404, f"简报 #{briefing_id} 不存在。")
    return {"id": row.id, "title": row.title, "data": row.data}


@router.get("/briefings/{briefing_id}.xlsx", tags=["trends"], response_class=Response,
            responses={200: {"description": "Excel workbook", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}}})
def briefing_xlsx(briefing_id: int, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    row = session.get(Briefing, briefing_id)
    if row is None:
        raise HTTPException(404, f"简报 #{briefing_id} 不存在。")
    name = f"briefing-{row.kind}-{row.period_end}.xlsx"
    return Response(briefing.to_xlsx(row.data), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- pages --------------------------------------------------------------------------------------

def _filters_context(session: Session, start: str | None, end: str | None, source: str | None, place: str | None):
    a, b = period(session, start, end)
    f = dashboard.Filters(a, b, source or None, place or None)
    query = {"from": a.astimezone(SHANGHAI).date().isoformat(),
             "to": (b - dt.timedelta(seconds=1)).astimezone(SHANGHAI).date().isoformat()}
    if f.source:
        query["source"] = f.source
    if f.place:
        query["place"] = f.place
    return f, query


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(request: Request, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                   source: str | None = Query(None, max_length=64), place: str | None = Query(None, max_length=100),
                   session: Session = Depends(get_session), _user: User = Depends(READERS)):
    try:
        f, query = _filters_context(session, start, end, source, place)
    except HTTPException as exc:
        return render(request, "trends/dashboard.html", {"error": exc.detail, "data": None, "query": {},
                                                           "sources": dashboard.available_sources(session)}, status_code=400)
    data = dashboard.overview(session, f)
    return render(request, "trends/dashboard.html", {
        "data": data, "query": query, "qs": urlencode(query), "error": None,
        "sources": dashboard.available_sources(session), "source_labels": dashboard.SOURCE_LABELS,
        "risk_labels": RISK_LABELS, "api_url": "/api/v1/trends/dashboard?" + urlencode(query),
    })


@router.get("/hot-topics", include_in_schema=False)
def hot_topics_page(request: Request, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                    source: str | None = Query(None, max_length=64), place: str | None = Query(None, max_length=100),
                    session: Session = Depends(get_session), _user: User = Depends(READERS)):
    try:
        f, query = _filters_context(session, start, end, source, place)
    except HTTPException as exc:
        return render(request, "trends/hot_topics.html", {"error": exc.detail, "topics": [], "query": {}}, status_code=400)
    topics = queries.hot_topics(session, f.start, f.end, limit=100, source=f.source, place=f.place)
    return render(request, "trends/hot_topics.html", {"topics": topics, "query": query, "qs": urlencode(query), "error": None})


def _topic_page(request: Request, session: Session, topic_id: int, message: str | None = None, error: str | None = None,
                status_code: int = 200):
    try:
        topic = service.get_topic(session, topic_id)
    except service.TrendsError as exc:
        raise _trends_error(exc) from None
    if topic.id != topic_id:
        return RedirectResponse(f"/hot-topics/{topic.id}", status_code=303)
    payload = topic_payload(session, topic, heat_reference(session))
    members = session.execute(
        select(Document.id, Document.title, Document.body, Document.source, TrendMember.at, Document.likes,
               TrendMember.sentiment, TrendMember.risk, TrendMember.manual)
        .join(TrendMember, TrendMember.document_id == Document.id).where(TrendMember.topic_id == topic.id)
        .order_by(TrendMember.at.desc()).limit(200)).all()
    reps = {r.id: r for r in session.execute(select(Document.id, Document.title, Document.body)
                                            .where(Document.id.in_(topic.representative_ids or []))).all()}
    alerts = session.scalars(select(TrendAlert).where(TrendAlert.topic_id == topic.id).order_by(TrendAlert.id.desc()).limit(20)).all()
    departments = session.execute(select(Department.code, Department.name).where(Department.active.is_(True))
                                  .order_by(Department.name)).all()
    return render(request, "trends/topic.html", {
        "topic": topic, "t": payload, "members": members, "mask": mask_personal_data,
        "representatives": [reps[i] for i in (topic.representative_ids or []) if i in reps],
        "alerts": alerts, "levels": ALERT_LEVELS, "message": message, "error": error, "departments": departments,
        "daily_json": {"days": [d for d, _ in payload["daily"]], "counts": [n for _, n in payload["daily"]]},
        "factors_json": payload["factors"],
    }, status_code=status_code)


@router.get("/hot-topics/{topic_id}", include_in_schema=False)
def topic_page(request: Request, topic_id: int, msg: str | None = Query(None, max_length=200),
               session: Session = Depends(get_session), _user: User = Depends(READERS)):
    return _topic_page(request, session, topic_id, message=msg)


def _form_action(request: Request, session: Session, topic_id: int, fn, *args, ok: str, goto: int | None = None):
    try:
        result = fn(*args)
    except service.TrendsError as exc:
        session.rollback()
        if exc.status == 404 and "热点问题" in exc.message:
            raise _trends_error(exc) from None
        return _topic_page(request, session, topic_id, error=exc.message, status_code=exc.status)
    target = goto(result) if callable(goto) else topic_id
    return RedirectResponse(f"/hot-topics/{target}?" + urlencode({"msg": ok}), status_code=303)


def _ids(text: str, what: str) -> list[int]:
    parts = [p for p in text.replace("，", ",").replace(" ", ",").split(",") if p.strip()]
    bad = [p for p in parts if not p.strip().isdigit()]
    if bad:
        raise service.TrendsError(f"{what}应为数字编号，用逗号分隔（无法识别“{bad[0][:20]}”）。")
    return [int(p) for p in parts]


@router.post("/hot-topics/{topic_id}/rename", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_rename(request: Request, topic_id: int, title: str = Form(""), session: Session = Depends(get_session),
                user: User = Depends(EDITORS)):
    return _form_action(request, session, topic_id, service.rename, session, topic_id, title[:500], user, ok="已重命名。")


@router.post("/hot-topics/{topic_id}/pin", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_pin(request: Request, topic_id: int, pinned: str = Form("1"), session: Session = Depends(get_session),
             user: User = Depends(EDITORS)):
    on = pinned == "1"
    return _form_action(request, session, topic_id, service.pin, session, topic_id, on, user,
                        ok="已置顶。" if on else "已取消置顶。")


@router.post("/hot-topics/{topic_id}/merge", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_merge(request: Request, topic_id: int, topic_ids: str = Form(""), session: Session = Depends(get_session),
               user: User = Depends(EDITORS)):
    def go():
        return service.merge(session, topic_id, _ids(topic_ids[:2000], "热点问题编号"), user)
    return _form_action(request, session, topic_id, go, ok="已合并。")


@router.post("/hot-topics/{topic_id}/split", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def form_split(request: Request, topic_id: int, session: Session = Depends(get_session), user: User = Depends(EDITORS)):
    form = await request.form()
    ids = [str(v) for v in form.getlist("document_ids")]
    title = str(form.get("title") or "")[:100]

    def go():
        return service.split(session, topic_id, _ids(",".join(ids), "信息编号"), user, title)
    # the form is read here; the split (a database write) runs in the thread pool, off the event loop
    return await run_in_threadpool(_form_action, request, session, topic_id, go, ok="已拆分为新的热点问题。",
                                   goto=lambda new: new.id)


@router.post("/hot-topics/{topic_id}/master-case", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_master(request: Request, topic_id: int, case: str = Form(""), session: Session = Depends(get_session),
                user: User = Depends(EDITORS)):
    return _form_action(request, session, topic_id, service.link_master, session, topic_id, case[:40], user,
                        ok="已指定主件。")


@router.post("/hot-topics/{topic_id}/merge-cases", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_merge_cases(request: Request, topic_id: int, session: Session = Depends(get_session),
                     user: User = Depends(CASE_ACTORS)):
    def go():
        out = service.merge_member_cases(session, topic_id, user)
        return out
    return _form_action(request, session, topic_id, go, ok="已并单。")


@router.post("/hot-topics/{topic_id}/assign", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_assign(request: Request, topic_id: int, department_code: str = Form(""), session: Session = Depends(get_session),
                user: User = Depends(CASE_ACTORS)):
    return _form_action(request, session, topic_id, service.assign_master, session, topic_id, department_code[:48], user,
                        ok="主件已交办。")


@router.get("/alerts", include_in_schema=False)
def alerts_page(request: Request, state: str = Query("open", pattern="^(open|acknowledged|all)$"),
                session: Session = Depends(get_session), _user: User = Depends(READERS)):
    alerts = list_alerts(session, state, None, 300)
    return render(request, "trends/alerts.html", {"alerts": alerts, "state": state, "levels": ALERT_LEVELS,
                                                  "scopes": SCOPE_LABELS, "risk_labels": RISK_LABELS})


@router.post("/alerts/{alert_id}/ack", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_ack(request: Request, alert_id: int, note: str = Form(""), session: Session = Depends(get_session),
             user: User = Depends(EDITORS)):
    try:
        service.acknowledge(session, alert_id, user, note[:1000])
    except service.TrendsError as exc:
        session.rollback()
        alerts = list_alerts(session, "open", None, 300)
        return render(request, "trends/alerts.html", {"alerts": alerts, "state": "open", "levels": ALERT_LEVELS,
                                                      "scopes": SCOPE_LABELS, "risk_labels": RISK_LABELS,
                                                      "error": exc.message}, status_code=exc.status)
    return RedirectResponse("/alerts", status_code=303)


@router.get("/briefings", include_in_schema=False)
def briefings_page(request: Request, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    rows = session.scalars(select(Briefing).order_by(Briefing.period_end.desc(), Briefing.kind).limit(100)).all()
    default_day = (latest_activity(session) or utcnow()).astimezone(SHANGHAI).date()
    return render(request, "trends/briefings.html", {"rows": rows, "default_day": default_day.isoformat()})


@router.post("/briefings/generate", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def form_briefing(request: Request, kind: str = Form("daily"), date: str = Form(""), session: Session = Depends(get_session),
                  user: User = Depends(EDITORS)):
    try:
        day = _parse_day(date, "date") or (utcnow().astimezone(SHANGHAI).date() - dt.timedelta(days=1))
        row = briefing.generate(session, kind, day, service.actor_name(user))
    except (service.TrendsError, HTTPException) as exc:
        session.rollback()
        rows = session.scalars(select(Briefing).order_by(Briefing.period_end.desc()).limit(100)).all()
        message = exc.message if isinstance(exc, service.TrendsError) else exc.detail
        return render(request, "trends/briefings.html", {"rows": rows, "default_day": date, "error": message},
                      status_code=400)
    return RedirectResponse(f"/briefings/{row.id}", status_code=303)


@router.get("/briefings/{briefing_id}", include_in_schema=False)
def briefing_page(request: Request, briefing_id: int, session: Session = Depends(get_session), _user: User = Depends(READERS)):
    row = session.get(Briefing, briefing_id)
    if row is None:
        raise HTTPException(404, f"简报 #{briefing_id} 不存在。")
    return render(request, "trends/briefing.html", {"b": row, "d": row.data})
