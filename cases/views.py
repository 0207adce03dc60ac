"""Web pages and JSON API of the case lifecycle.

Pages (server-rendered, Chinese): department inbox, case page with actions, dispatcher console,
supervisor view, scorecards (staff drill-down, exports, public league table), admin settings
(SLA policies, holiday table, routing rules, options), and the citizen's rating / appeal /
material forms on the tracking page. JSON under ``/api/v1``. Every status change goes through
``cases.state``; errors come back as 403 / 404 / 409 (with the allowed actions) / 413 / 422
with a Chinese message, never a 500.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import holidays, options, policies, public, routing, scorecards, service, state
from cases.actors import Actor
from cases.errors import CaseError, InvalidInput, NotFound
from cases.models import Clock, Extension, Rating, ReplyTemplate, RoutingRule, SlaPolicy
from core.calendar import SHANGHAI
from core.database import utcnow
from core.masking import mask_personal_data
from core.models import Attachment, Case, CaseEvent, Department, Topic, User
from core.models.cases import APPEAL_TYPES, STATUS_LABELS
from core.settings import get_settings
from core.web import csrf_protect, current_user, get_session, optional_user, render, require_roles
from core.web.ratelimit import client_ip, enforce, limiter
from core.web.templating import templates

router = APIRouter()

STAFF = ("supervisor", "dispatcher", "analyst", "department")
KIND_LABELS = {**policies.KIND_LABELS}
UNIT_LABELS = policies.UNIT_LABELS


# --- template helpers ----------------------------------------------------------------------------

def countdown(seconds: float | None) -> str:
    """剩余 2 天 3 小时 / 已超期 5 小时: what the inbox shows without JavaScript."""
    if seconds is None:
        return "暂停计时"
    late = seconds < 0
    s = int(abs(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    text = f"{days} 天 {hours} 小时" if days else f"{hours} 小时 {minutes} 分" if hours else f"{minutes} 分钟"
    return f"已超期 {text}" if late else f"剩余 {text}"


def _deadline(value: dt.datetime | None) -> str:
    """Deadlines that end a day are shown as that day 24:00 → 'YYYY-MM-DD 23:59'."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    if local.hour == 0 and local.minute == 0:
        local -= dt.timedelta(minutes=1)
    return local.strftime("%Y-%m-%d %H:%M")


templates.env.filters["countdown"] = countdown
templates.env.filters["deadline"] = _deadline
templates.env.globals["cases_citizen_actions"] = lambda case: public.citizen_actions(case)
templates.env.globals["cases_status_labels"] = STATUS_LABELS
#: Timeline kinds as staff read them.
EVENT_LABELS = {
    "submitted": "提交", "held": "筛查暂缓", "released": "审核放行", "accepted": "受理", "rejected": "不予受理",
    "assigned": "交办", "transferred": "改派", "signed": "签收", "in_progress": "开始办理", "returned": "退回",
    "waiting_citizen": "请求补充材料", "material_received": "恢复办理", "answered": "答复", "rated": "评价",
    "reopened": "发回重办", "appealed": "复查", "appeal_decided": "复查结论", "merged": "并案", "closed": "办结",
    "extension_requested": "申请延期", "extended": "延期", "extension_denied": "延期未获批准",
    "yellow_card": "黄牌", "escalated": "红牌督办",
}
templates.env.globals["cases_event_labels"] = EVENT_LABELS
templates.env.globals["cases_public_deadline"] = public.public_deadline


def _actor(user: User) -> Actor:
    return Actor.from_user(user)


def _json_error(exc: CaseError) -> JSONResponse:
    return JSONResponse(exc.payload(), status_code=exc.status)


def _error_page(request: Request, exc: CaseError):
    """Answer a refused page request with the error page (returned, not raised, so the session
    closes normally and the signed-in user stays usable by the layout)."""
    return render(request, "error.html", {"status": exc.status, "message": exc.message}, status_code=exc.status)


def _names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


# --- department inbox ----------------------------------------------------------------------------

@router.get("/console/department", include_in_schema=False)
def department_inbox(request: Request, department: str | None = None, session: Session = Depends(get_session),
                     user: User = Depends(require_roles("department", "supervisor"))):
    actor = _actor(user)
    rows = service.department_inbox(session, actor, department_code=department)
    code = actor.department_code or department
    return render(request, "cases/inbox.html", {
        "rows": rows, "department": _names(session).get(code or "", ""), "code": code,
        "departments": session.scalars(select(Department).order_by(Department.code)).all() if not actor.department_code else [],
        "now": utcnow()})


# --- the case page -------------------------------------------------------------------------------

def _case_context(session: Session, case: Case, user: User, *, error: str | None = None,
                  identity: service.Contact | None = None, template_id: int | None = None,
                  form: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = _actor(user)
    meta = state.get_meta(session, case)
    names = _names(session)
    allowed = state.allowed_actions(case, actor)
    if case.status == "submitted" and "accept" in allowed:
        allowed.append("assign")
    reply = None
    if template_id:
        t = session.get(ReplyTemplate, template_id)
        reply = t.body if t is not None and t.active else None
    ext_rows = list(session.scalars(select(Extension).where(Extension.case_id == case.id).order_by(Extension.id)))
    return {
        "case": case, "meta": meta, "doc": case.document, "names": names, "allowed": allowed,
        "labels": state.ACTION_LABELS, "status_label": STATUS_LABELS.get(case.status, case.status),
        "events": list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))),
        "clocks": list(session.scalars(select(Clock).where(Clock.case_id == case.id).order_by(Clock.id))),
        "kind_labels": KIND_LABELS, "unit_labels": UNIT_LABELS,
        "extensions": ext_rows,
        "can_extend": actor.role == "department" and case.status in ("signed", "in_progress", "waiting_citizen")
        and not any(e.status in ("pending", "approved") for e in ext_rows),
        "extension_max": options.get(session, "extension_max_days"),
        "ratings": list(session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id))),
        "rating_labels": public.RATINGS, "reason_labels": public.REASON_CODES,
        "attachments": list(session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))),
        "contact": identity or service.contact_for(case, actor), "revealed": identity is not None,
        "similar": service.similar_cases(session, case),
        "suggestion": _suggestion(session, case, meta),
        "departments": session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)).all(),
        "reply_templates": session.scalars(select(ReplyTemplate).where(
            ReplyTemplate.active.is_(True), (ReplyTemplate.topic.is_(None)) | (ReplyTemplate.topic == case.topic))).all(),
        "reply": reply, "error": error, "form": form or {}, "now": utcnow(),
        "is_supervisor": actor.role == "supervisor", "actor": actor,
        "master": session.get(Case, case.master_case_id) if case.master_case_id else None,
        "mask": mask_personal_data,
    }


def _suggestion(session: Session, case: Case, meta) -> tuple[str | None, str]:
    if meta.suggested_department_code:
        return meta.suggested_department_code, meta.suggestion_reason or ""
    s = routing.suggest(session, case)
    return s.department_code, s.reason


@router.get("/console/cases/{case_id}", include_in_schema=False)
def case_page(request: Request, case_id: int, template: int | None = None, session: Session = Depends(get_session),
              user: User = Depends(require_roles(*STAFF))):
    try:
        case = service.get_case(session, case_id, _actor(user))
    except CaseError as exc:
        return _error_page(request, exc)
    return render(request, "cases/case.html", _case_context(session, case, user, template_id=template))


async def _read_files(form) -> list[tuple[str | None, bytes]]:
    limit = get_settings().max_upload_mb * 1024 * 1024
    out = []
    for upload in form.getlist("attachments"):
        if isinstance(upload, str) or upload is None:
            continue
        data = await upload.read(limit + 1)
        if upload.filename or data:
            out.append((upload.filename, data))
    return out


@router.post("/console/cases/{case_id}/act", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def case_act(request: Request, case_id: int, session: Session = Depends(get_session),
                   user: User = Depends(require_roles(*STAFF))):
    # The body (and an answer's attachments) is read here; the database work runs in the thread pool.
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    uploads = await _read_files(form) if values.get("action") == "answer" else []
    return await run_in_threadpool(_case_act, request, case_id, session, user, values, uploads)


def _case_act(request: Request, case_id: int, session: Session, user: User, values: dict[str, str],
              uploads: list[tuple[str | None, bytes]]):
    action = values.pop("action", "")
    actor = _actor(user)
    back = values.pop("back", "")
    try:
        case = service.get_case(session, case_id, actor)
        if action == "answer":
            service.answer(session, case, actor, values.get("body", ""), uploads)
        elif action == "extension":
            service.request_extension(session, case, actor, values.get("days"), values.get("reason"))
        else:
            if action == "assign" and case.status == "submitted":
                state.apply(session, case, "accept", actor)
            service.act(session, case, action, actor, **values)
    except CaseError as exc:
        session.rollback()
        case = session.get(Case, case_id)
        if case is None or not service.can_read(case, actor):
            return _error_page(request, exc)
        return render(request, "cases/case.html", _case_context(session, case, user, error=exc.message, form=values),
                      status_code=exc.status)
    session.commit()
    target = back if back in ("/console/dispatch", "/console/supervise", "/console/department") else f"/console/cases/{case_id}"
    if not service.can_read(case, actor):  # returned or reassigned away from this department
        target = "/console/department"
    return RedirectResponse(target, status_code=303)


@router.post("/console/cases/{case_id}/identity", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def reveal_identity(request: Request, case_id: int, session: Session = Depends(get_session),
                          user: User = Depends(require_roles("supervisor"))):
    purpose = str((await request.form()).get("purpose", ""))
    return await run_in_threadpool(_reveal_identity, request, case_id, session, user, purpose)


def _reveal_identity(request: Request, case_id: int, session: Session, user: User, purpose: str):
    actor = _actor(user)
    try:
        case = service.get_case(session, case_id, actor)
        contact = service.reveal_identity(session, case, actor, purpose)
    except CaseError as exc:
        session.rollback()
        case = session.get(Case, case_id)
        if case is None:
            return _error_page(request, exc)
        return render(request, "cases/case.html", _case_context(session, case, user, error=exc.message),
                      status_code=exc.status)
    session.commit()
    return render(request, "cases/case.html", _case_context(session, case, user, identity=contact))


@router.get("/console/cases/{case_id}/attachments/{attachment_id}", include_in_schema=False)
def attachment(request: Request, case_id: int, attachment_id: int, session: Session = Depends(get_session),
               user: User = Depends(require_roles(*STAFF))):
    try:
        service.get_case(session, case_id, _actor(user))
    except CaseError as exc:
        return _error_page(request, exc)
    att = session.get(Attachment, attachment_id)
    if att is None or att.case_id != case_id:
        return _error_page(request, NotFound("没有这个附件。"))
    root = get_settings().attachments_dir.resolve()
    path = (root / att.storage_path).resolve()
    if root not in path.parents or not path.is_file():
        return _error_page(request, NotFound("附件文件不存在。"))
    return FileResponse(path, media_type=att.content_type, filename=att.filename)


# --- dispatcher and supervisor -------------------------------------------------------------------

@router.get("/console/dispatch", include_in_schema=False)
def dispatch_console(request: Request, session: Session = Depends(get_session),
                     user: User = Depends(require_roles("dispatcher"))):
    queues = service.dispatcher_queues(session)
    suggestions = {}
    for row in queues["new"] + queues["returned"] + queues["held"]:
        suggestions[row.case.id] = _suggestion(session, row.case, row.meta or state.get_meta(session, row.case))
    last_return = {}
    for row in queues["returned"]:
        last_return[row.case.id] = session.scalar(select(CaseEvent).where(
            CaseEvent.case_id == row.case.id, CaseEvent.kind == "returned").order_by(CaseEvent.id.desc()).limit(1))
    return render(request, "cases/dispatch.html", {
        "queues": queues, "suggestions": suggestions, "last_return": last_return, "names": _names(session),
        "departments": session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)).all(),
        "mask": mask_personal_data})


@router.get("/console/supervise", include_in_schema=False)
def supervise(request: Request, session: Session = Depends(get_session),
              user: User = Depends(require_roles("supervisor"))):
    return render(request, "cases/supervise.html", {**service.supervisor_overview(session), "names": _names(session),
                                                    "mask": mask_personal_data, "now": utcnow()})


@router.post("/console/extensions/{extension_id}/decide", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def extension_decide(request: Request, extension_id: int, session: Session = Depends(get_session),
                           user: User = Depends(require_roles("supervisor"))):
    form = await request.form()
    return await run_in_threadpool(_extension_decide, request, extension_id, session, user,
                                   form.get("approve") == "1", str(form.get("note", "")))


def _extension_decide(request: Request, extension_id: int, session: Session, user: User, approve: bool, note: str):
    try:
        service.decide_extension(session, extension_id, _actor(user), approve, note)
    except CaseError as exc:
        session.rollback()
        return _error_page(request, exc)
    return RedirectResponse("/console/supervise", status_code=303)


# --- scorecards ----------------------------------------------------------------------------------

def _period(period: str | None) -> scorecards.Period | CaseError:
    try:
        return scorecards.parse_period(period)
    except CaseError as exc:
        return exc


@router.get("/console/scorecards", include_in_schema=False)
def scorecards_page(request: Request, period: str | None = None, session: Session = Depends(get_session),
                    user: User = Depends(require_roles("supervisor", "dispatcher"))):
    p = _period(period)
    if isinstance(p, CaseError):
        return _error_page(request, p)
    return render(request, "cases/scorecards.html", {
        "period": p, "cards": scorecards.compute(session, p), "columns": scorecards.COLUMNS, "staff": True,
        "public_on": options.get(session, "public_scorecards"),
        "minimum": options.get(session, "min_rated_to_rank")})


@router.get("/console/scorecards/export.{fmt}", include_in_schema=False)
def scorecards_export(request: Request, fmt: str, period: str | None = None, session: Session = Depends(get_session),
                      user: User = Depends(require_roles("supervisor", "dispatcher"))):
    p = _period(period)
    if isinstance(p, CaseError):
        return _error_page(request, p)
    cards = scorecards.compute(session, p)
    if fmt == "csv":
        return Response(scorecards.to_csv(cards), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="scorecards-{p.label}.csv"'})
    if fmt == "xlsx":
        return Response(scorecards.to_xlsx(cards, p),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="scorecards-{p.label}.xlsx"'})
    return _error_page(request, NotFound("导出格式只支持 csv 或 xlsx。"))


@router.get("/console/scorecards/{department_code}", include_in_schema=False)
def scorecard_detail(request: Request, department_code: str, period: str | None = None,
                     session: Session = Depends(get_session), user: User = Depends(require_roles("supervisor"))):
    dept = session.get(Department, department_code)
    if dept is None:
        return _error_page(request, NotFound("没有这个部门。"))
    p = _period(period)
    if isinstance(p, CaseError):
        return _error_page(request, p)
    card = next(c for c in scorecards.compute(session, p) if c.department_code == department_code) \
        if dept.active else None
    return render(request, "cases/scorecard_detail.html", {
        "dept": dept, "period": p, "card": card, "d": scorecards.drilldown(session, department_code, p),
        "columns": scorecards.COLUMNS, "rating_labels": public.RATINGS, "reason_labels": public.REASON_CODES,
        "mask": mask_personal_data})


@router.get("/scorecards", include_in_schema=False)
def league_table(request: Request, period: str | None = None, session: Session = Depends(get_session),
                 user: User | None = Depends(optional_user)):
    if not options.get(session, "public_scorecards"):
        return _error_page(request, NotFound("部门考评排行榜暂未公开。"))
    p = _period(period)
    if isinstance(p, CaseError):
        return _error_page(request, p)
    return render(request, "cases/scorecards.html", {
        "period": p, "cards": scorecards.compute(session, p), "columns": scorecards.COLUMNS, "staff": False,
        "minimum": options.get(session, "min_rated_to_rank")})


# --- admin settings ------------------------------------------------------------------------------

@router.get("/console/admin/sla", include_in_schema=False)
def sla_page(request: Request, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    return _sla_render(request, session)


def _sla_render(request: Request, session: Session, error: str | None = None, status_code: int = 200):
    return render(request, "cases/admin_sla.html", {
        "policies": session.scalars(select(SlaPolicy).order_by(SlaPolicy.id)).all(), "appeal_types": APPEAL_TYPES,
        "topics": session.scalars(select(Topic).order_by(Topic.position)).all(), "describe": policies.describe,
        "kinds": policies.CLOCK_KINDS, "units": policies.UNITS, "kind_labels": KIND_LABELS, "unit_labels": UNIT_LABELS,
        "options": options.all_options(session), "option_help": options.DEFAULTS, "error": error},
        status_code=status_code)


def _clocks_from_form(values: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for kind in policies.CLOCK_KINDS:
        amount = values.get(f"{kind}_amount", "").strip()
        if amount:
            out.append({"kind": kind, "amount": amount, "unit": values.get(f"{kind}_unit", "workday")})
    return out


@router.post("/console/admin/sla", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def sla_save(request: Request, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return await run_in_threadpool(_sla_save, request, session, user, values)


def _sla_save(request: Request, session: Session, user: User, values: dict[str, str]):
    try:
        if values.get("form") == "options":
            for key in options.DEFAULTS:
                if options.DEFAULTS[key][2] is bool:
                    options.set_option(session, key, values.get(key) == "1", f"user:{user.id}")
                elif key in values:
                    options.set_option(session, key, values[key], f"user:{user.id}")
        else:
            policy_id = int(values["policy_id"]) if values.get("policy_id", "").isdigit() else None
            policies.save_policy(session, f"user:{user.id}", policy_id=policy_id, name=values.get("name", ""),
                                 appeal_type=values.get("appeal_type"), topic=values.get("topic"),
                                 priority=values.get("priority"), clocks=_clocks_from_form(values),
                                 active=values.get("active") == "1")
    except CaseError as exc:
        session.rollback()
        return _sla_render(request, session, error=exc.message, status_code=exc.status)
    return RedirectResponse("/console/admin/sla", status_code=303)


@router.get("/console/admin/holidays", include_in_schema=False)
def holidays_page(request: Request, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    return _holidays_render(request, session)


def _holidays_render(request: Request, session: Session, error: str | None = None, message: str | None = None,
                     text: str = "", status_code: int = 200):
    this = utcnow().astimezone(SHANGHAI).year
    years = [this, this + 1, this + 2]
    return render(request, "cases/admin_holidays.html", {
        "years": holidays.year_status(session, years), "entries": {y: holidays.entries_for(session, y) for y in years},
        "error": error, "message": message, "text": text, "next_year": this + 1,
        "estimated": session.query(Clock).filter(Clock.estimated.is_(True), Clock.state.in_(("running", "paused"))).count()},
        status_code=status_code)


@router.post("/console/admin/holidays", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def holidays_save(request: Request, session: Session = Depends(get_session),
                        user: User = Depends(require_roles("admin"))):
    form = await request.form()
    return await run_in_threadpool(_holidays_save, request, session, user, str(form.get("schedule", "")),
                                   str(form.get("year", "")))


def _holidays_save(request: Request, session: Session, user: User, text: str, year: str):
    try:
        if not year.isdigit():
            raise InvalidInput("请选择年份。")
        entries = holidays.parse_schedule(text, int(year))
        moved = holidays.enter_schedule(session, int(year), entries, f"user:{user.id}")
    except CaseError as exc:
        session.rollback()
        return _holidays_render(request, session, error=exc.message, text=text, status_code=exc.status)
    session.commit()
    return _holidays_render(request, session, message=f"{year} 年安排已录入：{len(entries)} 天；{moved} 个预估期限已重新计算。")


@router.get("/console/admin/routing", include_in_schema=False)
def routing_page(request: Request, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    return _routing_render(request, session)


def _routing_render(request: Request, session: Session, error: str | None = None, status_code: int = 200):
    return render(request, "cases/admin_routing.html", {
        "rules": session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)).all(),
        "topics": session.scalars(select(Topic).order_by(Topic.position)).all(), "appeal_types": APPEAL_TYPES,
        "departments": session.scalars(select(Department).order_by(Department.code)).all(), "names": _names(session),
        "error": error}, status_code=status_code)


@router.post("/console/admin/routing", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def routing_save(request: Request, session: Session = Depends(get_session),
                       user: User = Depends(require_roles("admin"))):
    v = {k: x for k, x in (await request.form()).items() if isinstance(x, str)}
    return await run_in_threadpool(_routing_save, request, session, user, v)


def _routing_save(request: Request, session: Session, user: User, v: dict[str, str]):
    try:
        routing.save_rule(session, f"user:{user.id}", rule_id=int(v["rule_id"]) if v.get("rule_id", "").isdigit() else None,
                          name=v.get("name", ""), position=int(v["position"]) if v.get("position", "").isdigit() else 100,
                          topic=v.get("topic"), appeal_type=v.get("appeal_type"), keywords=v.get("keywords", ""),
                          place=v.get("place"), department_code=v.get("department_code", ""),
                          active=v.get("active") == "1")
    except CaseError as exc:
        session.rollback()
        return _routing_render(request, session, error=exc.message, status_code=exc.status)
    return RedirectResponse("/console/admin/routing", status_code=303)


# --- the citizen on the tracking page ------------------------------------------------------------

def _citizen_case(request: Request, session: Session, number: str, code: str) -> Case:
    """Same answer for an unknown number and a wrong code; repeated failures back off (shared with /track)."""
    settings = get_settings()
    enforce(request, "track-action", 60, 900)
    if limiter.count(f"track-fail:{client_ip(request)}", 900) >= settings.tracking_max_failures * 2:
        enforce(request, "track-backoff", 1, 60)
    number = number.strip().upper()[:40]
    case = session.scalar(select(Case).where(Case.tracking_number == number)) if number else None
    if case is None or not public.verify_code(case, code[:40]):
        limiter.hit(f"track-fail:{client_ip(request)}", 10_000, 900)
        raise HTTPException(403, "受理编号或查询码不正确，请核对回执后重试。")
    return case


async def _citizen_form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _citizen_done(request: Request, case: Case, code: str, message: str, ok: bool = True, status_code: int = 200):
    return render(request, "cases/citizen_result.html", {"case": case, "code": code, "message": message, "ok": ok},
                  status_code=status_code)


def _rate(session: Session, case: Case, f: dict[str, str]) -> str:
    rating = public.rate(session, case, f.get("rating"), f.get("reason_code"), f.get("comment"))
    after = {"closed": "诉求已办结。", "reopened": "已发回承办部门重新办理。", "appealed": "已提交督办部门复查。"}
    return f"感谢您的评价（{public.RATINGS[rating.rating]}）。{after.get(case.status, '')}"


def _appeal(session: Session, case: Case, f: dict[str, str]) -> str:
    public.appeal(session, case, f.get("reason"))
    return "复查申请已提交，督办部门将进行审查。"


def _material(session: Session, case: Case, f: dict[str, str]) -> str:
    public.supply_material(session, case, f.get("material"))
    return "补充材料已提交，承办部门恢复办理计时。"


def _citizen_action(request: Request, session: Session, number: str, f: dict[str, str], act) -> Response:
    """The query-code check (argon2) and the database work of one citizen action; runs in the thread pool."""
    code = f.get("code", "")
    case = _citizen_case(request, session, number, code)
    try:
        message = act(session, case, f)
    except CaseError as exc:
        session.rollback()
        return _citizen_done(request, case, code, exc.message, ok=False, status_code=exc.status)
    session.commit()
    return _citizen_done(request, case, code, message)


async def _citizen_post(request: Request, session: Session, number: str, act) -> Response:
    # Reading the body is async; argon2 and a write that may wait on a lock must not stall the event loop.
    return await run_in_threadpool(_citizen_action, request, session, number, await _citizen_form(request), act)


@router.post("/track/{number}/rate", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def citizen_rate(request: Request, number: str, session: Session = Depends(get_session)):
    return await _citizen_post(request, session, number, _rate)


@router.post("/track/{number}/appeal", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def citizen_appeal(request: Request, number: str, session: Session = Depends(get_session)):
    return await _citizen_post(request, session, number, _appeal)


@router.post("/track/{number}/material", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def citizen_material(request: Request, number: str, session: Session = Depends(get_session)):
    return await _citizen_post(request, session, number, _material)


# --- JSON API ------------------------------------------------------------------------------------

class ClockOut(BaseModel):
    kind: str
    round: int
    department_code: str | None
    state: str
    started_at: dt.datetime
    due_at: dt.datetime | None
    due_estimated: bool
    on_time: bool | None
    card: str | None


class CaseOut(BaseModel):
    id: int
    tracking_number: str
    title: str
    appeal_type: str
    topic: str | None
    status: str
    status_label: str
    department_code: str | None
    priority: str
    risk: list[str] | None
    due_at: dt.datetime | None
    due_estimated: bool
    created_at: dt.datetime
    answered_at: dt.datetime | None
    protected: bool
    allowed_actions: list[str]


class CaseDetail(CaseOut):
    body: str
    answer: str | None
    master_case_id: int | None
    suggested_department_code: str | None
    suggestion_reason: str | None
    contact_name: str | None
    contact_phone: str | None
    contact_hidden_reason: str | None
    clocks: list[ClockOut]
    events: list[dict[str, Any]]


def _case_out(case: Case, actor: Actor) -> dict[str, Any]:
    return dict(id=case.id, tracking_number=case.tracking_number, title=case.title, appeal_type=case.appeal_type,
                topic=case.topic, status=case.status, status_label=STATUS_LABELS.get(case.status, case.status),
                department_code=case.department_code, priority=case.priority, risk=case.risk, due_at=case.due_at,
                due_estimated=case.due_estimated, created_at=case.created_at, answered_at=case.answered_at,
                protected=case.protected, allowed_actions=state.allowed_actions(case, actor))


def _case_detail(session: Session, case: Case, actor: Actor) -> CaseDetail:
    meta = state.get_meta(session, case)
    contact = service.contact_for(case, actor)
    return CaseDetail(
        **_case_out(case, actor), body=case.document.body if case.document else "", answer=case.answer_body,
        master_case_id=case.master_case_id, suggested_department_code=meta.suggested_department_code,
        suggestion_reason=meta.suggestion_reason, contact_name=contact.name, contact_phone=contact.phone,
        contact_hidden_reason=contact.hidden_reason,
        clocks=[ClockOut.model_validate(c, from_attributes=True)
                for c in session.scalars(select(Clock).where(Clock.case_id == case.id).order_by(Clock.id))],
        events=[{"at": e.at, "kind": e.kind, "status_after": e.status_after, "department_code": e.department_code,
                 "public": e.public, "public_note": e.public_note, "internal_note": e.internal_note,
                 "actor_role": e.actor_role}
                for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))])


@router.get("/api/v1/cases", response_model=list[CaseOut], tags=["cases"])
def api_cases(status: str | None = Query(None, max_length=24), department: str | None = Query(None, max_length=48),
              limit: int = Query(100, ge=1, le=1000), session: Session = Depends(get_session),
              user: User = Depends(require_roles(*STAFF))):
    """Cases the caller may see (a department: its own), newest first."""
    actor = _actor(user)
    stmt = select(Case).order_by(Case.id.desc()).limit(limit)
    if actor.role == "department":
        stmt = stmt.where(Case.department_code == actor.department_code)
    elif actor.role == "analyst":
        stmt = stmt.where(Case.protected.is_(False))  # as service.can_read: no whistleblower reports
    if department and actor.role != "department":
        stmt = stmt.where(Case.department_code == department)
    if status:
        stmt = stmt.where(Case.status == status)
    return [CaseOut(**_case_out(c, actor)) for c in session.scalars(stmt)]


@router.get("/api/v1/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
def api_case(case_id: int, session: Session = Depends(get_session), user: User = Depends(require_roles(*STAFF))):
    """One case with its clocks and full timeline (contact data only where the role may see it)."""
    actor = _actor(user)
    try:
        return _case_detail(session, service.get_case(session, case_id, actor), actor)
    except CaseError as exc:
        return _json_error(exc)


@router.post("/api/v1/cases/{case_id}/actions/{action}", response_model=CaseDetail, tags=["cases"],
             dependencies=[Depends(csrf_protect)],
             responses={403: {"description": "not your role or department"},
                        409: {"description": "not allowed in this status; `allowed` lists what is"},
                        422: {"description": "a missing or wrong field"}})
def api_act(case_id: int, action: str, params: dict[str, Any] | None = Body(None),
            session: Session = Depends(get_session), user: User = Depends(require_roles(*STAFF))):
    """Apply a transition: accept, reject(reason), assign(department_code), merge(master), sign, start,
    return(reason), request_material(note), resume, answer(body), uphold(note), redo(note)."""
    actor = _actor(user)
    try:
        case = service.get_case(session, case_id, actor)
        params = {k: v for k, v in (params or {}).items() if isinstance(v, (str, int, bool)) and k != "action"}
        service.act(session, case, action, actor, **params)
        session.flush()
        return _case_detail(session, case, actor)
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)


class ExtensionIn(BaseModel):
    days: int = Field(ge=1, le=365)
    reason: str = Field(min_length=2, max_length=1000)


class DecisionIn(BaseModel):
    approve: bool
    note: str | None = Field(None, max_length=1000)


class ExtensionOut(BaseModel):
    id: int
    case_id: int
    days: int
    reason: str
    status: str


@router.post("/api/v1/cases/{case_id}/extensions", response_model=ExtensionOut, status_code=201, tags=["cases"],
             dependencies=[Depends(csrf_protect)])
def api_extension(case_id: int, body: ExtensionIn, session: Session = Depends(get_session),
                  user: User = Depends(require_roles("department"))):
    """Ask for more working days (at most one extension; a supervisor approves)."""
    actor = _actor(user)
    try:
        ext = service.request_extension(session, service.get_case(session, case_id, actor), actor, body.days, body.reason)
        return ExtensionOut.model_validate(ext, from_attributes=True)
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)


@router.post("/api/v1/extensions/{extension_id}/decision", response_model=ExtensionOut, tags=["cases"],
             dependencies=[Depends(csrf_protect)])
def api_extension_decide(extension_id: int, body: DecisionIn, session: Session = Depends(get_session),
                         user: User = Depends(require_roles("supervisor"))):
    try:
        ext = service.decide_extension(session, extension_id, _actor(user), body.approve, body.note)
        return ExtensionOut.model_validate(ext, from_attributes=True)
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)


class ScorecardOut(BaseModel):
    period: str
    minimum_rated_to_rank: int
    departments: list[dict[str, Any]]


@router.get("/api/v1/scorecards", response_model=ScorecardOut, tags=["scorecards"])
def api_scorecards(period: str | None = Query(None, max_length=7, description="YYYY-MM or YYYY"),
                   session: Session = Depends(get_session), user: User | None = Depends(optional_user)):
    """Per-department figures for a period (public when the league table is public; staff otherwise)."""
    if not options.get(session, "public_scorecards") and (user is None or user.role not in ("admin", *STAFF)):
        return JSONResponse({"detail": "需要登录或有效的访问令牌。"}, status_code=401)
    try:
        p = scorecards.parse_period(period)
    except CaseError as exc:
        return _json_error(exc)
    return ScorecardOut(period=p.label, minimum_rated_to_rank=options.get(session, "min_rated_to_rank"),
                        departments=[c.as_dict() for c in scorecards.compute(session, p)])


class PolicyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    appeal_type: str | None = None
    topic: str | None = None
    priority: str | None = None
    clocks: list[dict[str, Any]]
    active: bool = True


class PolicyOut(PolicyIn):
    id: int


@router.get("/api/v1/sla-policies", response_model=list[PolicyOut], tags=["admin"])
def api_policies(session: Session = Depends(get_session), user: User = Depends(require_roles("supervisor", "dispatcher"))):
    return [PolicyOut.model_validate(p, from_attributes=True) for p in session.scalars(select(SlaPolicy).order_by(SlaPolicy.id))]


@router.post("/api/v1/sla-policies", response_model=PolicyOut, status_code=201, tags=["admin"],
             dependencies=[Depends(csrf_protect)])
def api_policy_create(body: PolicyIn, session: Session = Depends(get_session), user: User = Depends(require_roles("admin"))):
    return _save_policy(session, user, None, body)


@router.put("/api/v1/sla-policies/{policy_id}", response_model=PolicyOut, tags=["admin"],
            dependencies=[Depends(csrf_protect)])
def api_policy_update(policy_id: int, body: PolicyIn, session: Session = Depends(get_session),
                      user: User = Depends(require_roles("admin"))):
    return _save_policy(session, user, policy_id, body)


def _save_policy(session: Session, user: User, policy_id: int | None, body: PolicyIn):
    try:
        p = policies.save_policy(session, f"user:{user.id}", policy_id=policy_id, **body.model_dump())
        return PolicyOut.model_validate(p, from_attributes=True)
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)


class ScheduleIn(BaseModel):
    schedule: str = Field(min_length=1, max_length=20000, description="lines 'YYYY-MM-DD[..YYYY-MM-DD], 休|班, name'")


@router.get("/api/v1/holidays/{year}", tags=["admin"])
def api_holidays(year: int = Path(ge=1900, le=2200), session: Session = Depends(get_session), user: User = Depends(require_roles(*STAFF))):
    status = holidays.year_status(session, [year])[0]
    return {**status, "days": [{"day": d.day.isoformat(), "workday": d.workday, "name": d.name}
                               for d in holidays.entries_for(session, year)]}


@router.put("/api/v1/holidays/{year}", tags=["admin"], dependencies=[Depends(csrf_protect)])
def api_holidays_put(body: ScheduleIn, year: int = Path(ge=1900, le=2200), session: Session = Depends(get_session),
                     user: User = Depends(require_roles("admin"))):
    """Enter a year's official schedule; every estimated deadline is recomputed."""
    try:
        entries = holidays.parse_schedule(body.schedule, year)
        moved = holidays.enter_schedule(session, year, entries, f"user:{user.id}")
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)
    return {"year": year, "entries": len(entries), "recomputed": moved}


class RatingIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    rating: str = Field(description="satisfied | basic | unsatisfied")
    reason_code: str | None = Field(None, max_length=32)
    comment: str | None = Field(None, max_length=500)


@router.post("/api/v1/track/{number}/rating", status_code=201, tags=["citizen"])
def api_rate(request: Request, number: str, body: RatingIn, session: Session = Depends(get_session)):
    """A citizen app rates the answer with the tracking number and query code."""
    case = _citizen_case(request, session, number, body.code)
    try:
        rating = public.rate(session, case, body.rating, body.reason_code, body.comment)
    except CaseError as exc:
        session.rollback()
        return _json_error(exc)
    return {"tracking_number": case.tracking_number, "rating": rating.rating, "status": case.status}


class TemplateIn(BaseModel):
    topic: str | None = Field(None, max_length=32, description="topic name; empty = every topic")
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=5, max_length=20000)
    active: bool = True


class TemplateOut(TemplateIn):
    id: int


@router.get("/api/v1/reply-templates", response_model=list[TemplateOut], tags=["admin"])
def api_templates(session: Session = Depends(get_session), user: User = Depends(require_roles(*STAFF))):
    """Reply templates per topic, offered on the answer form."""
    return [TemplateOut.model_validate(t, from_attributes=True)
            for t in session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.id))]


@router.post("/api/v1/reply-templates", response_model=TemplateOut, status_code=201, tags=["admin"],
             dependencies=[Depends(csrf_protect)])
def api_template_create(body: TemplateIn, session: Session = Depends(get_session),
                        user: User = Depends(require_roles("admin"))):
    if body.topic and session.scalar(select(Topic).where(Topic.name == body.topic)) is None:
        return _json_error(InvalidInput(f"没有名为“{body.topic}”的主题。", field="topic"))
    template = ReplyTemplate(**body.model_dump())
    session.add(template)
    session.flush()
    from core import audit
    audit.append(session, f"user:{user.id}", "cases.reply_template", f"reply_template:{template.id}",
                 {"title": body.title, "topic": body.topic})
    return TemplateOut.model_validate(template, from_attributes=True)
