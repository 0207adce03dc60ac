"""Open311 GeoReport v2 (JSON) for existing civic apps: services are topics, requests are cases.

Reports of misconduct (举报 under 纪检监察) never appear in any public listing.
"""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Case, Topic
from core.settings import Settings, get_settings
from core.web import get_session
from core.web.ratelimit import client_ip, enforce
from intake.codes import format_query_code
from intake.forms import validate
from intake.public import OPEN_STATUSES, department_names, public_view
from intake.service import file_case

router = APIRouter(prefix="/open311/v2", tags=["open311"])


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = ""
    group: str = "民声"


class CreatedRequest(BaseModel):
    service_request_id: str
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None
    query_code: str | None = Field(None, description="Secret query code, shown once; needed to track and rate the case.")


class ServiceRequest(BaseModel):
    service_request_id: str
    status: str
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    lat: float | None = None
    long: float | None = None


class Open311Error(BaseModel):
    code: int
    description: str


@router.get("/services.json", response_model=list[Service])
def services(session: Session = Depends(get_session)):
    """One service per topic; ``service_code`` is the topic code."""
    return [Service(service_code=t.code, service_name=t.name, description=f"{t.name}类诉求", keywords=t.name)
            for t in session.scalars(select(Topic).order_by(Topic.position))]


@router.post("/requests.json", response_model=list[CreatedRequest], status_code=201,
             responses={400: {"model": list[Open311Error]}, 429: {"description": "提交过于频繁"}})
async def create_request(request: Request, session: Session = Depends(get_session)):
    """File a request (form or JSON fields: service_code, description, title, address_string, first_name,
    last_name, phone, appeal_type, anonymous). Answers the tracking number and the query code."""
    settings = get_settings()
    enforce(request, "file", settings.intake_rate_limit, settings.intake_rate_window)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            payload = await request.json()
        except ValueError:
            raise HTTPException(400, "请求体不是有效的 JSON。")
        if not isinstance(payload, dict):
            raise HTTPException(400, "请求体应为 JSON 对象。")
    else:
        payload = dict(await request.form())
    data = {k: (v if isinstance(v, str) else str(v) if isinstance(v, (int, float, bool)) else None)
            for k, v in payload.items()}
    # The body is read on the event loop; the filing itself (writes that may wait on a database lock,
    # argon2 hashing) runs in the thread pool, so one slow filing never stalls every other request.
    return await run_in_threadpool(_file_request, session, data, client_ip(request), settings)


def _file_request(session: Session, data: dict[str, str | None], ip: str | None, settings: Settings) -> JSONResponse:
    service_code = data.get("service_code") or ""
    topics = {t.code for t in session.scalars(select(Topic))}
    if service_code not in topics:
        return JSONResponse([{"code": 400, "description": "service_code 无效：请使用 services.json 中的代码。"}], status_code=400)
    description = data.get("description") or ""
    name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    filing = validate({
        "appeal_type": data.get("appeal_type") or "投诉",
        "category": service_code,
        "title": data.get("title") or description[:30].replace("\n", " "),
        "description": description,
        "place_text": data.get("address_string") or "",
        "name": name,
        "phone": data.get("phone") or "",
        "anonymous": data.get("anonymous") or "",
        "consent": "1",
        "channel": "open311",
    }, topics)
    if filing.errors:
        return JSONResponse([{"code": 400, "description": f"{field}：{message}"} for field, message in filing.errors.items()],
                            status_code=400)
    result = file_case(session, filing, [], ip, settings)
    session.commit()
    return JSONResponse([CreatedRequest(
        service_request_id=result.case.tracking_number,
        token=None,
        service_notice="已存在 24 小时内内容相同的诉求，未重复登记。" if result.duplicate else "诉求已登记，请妥善保存查询码。",
        query_code=format_query_code(result.query_code) if result.query_code else None,
    ).model_dump()], status_code=200 if result.duplicate else 201)


def _public_cases():
    return select(Case).where(Case.protected.is_(False), Case.status.notin_(("held", "rejected")))


def _as_request(session: Session, case: Case, names: dict[str, str], topics: dict[str, Topic]) -> ServiceRequest:
    view = public_view(session, case, names)
    topic = topics.get(case.category_topic) if case.category_topic else None
    last = case.events[-1] if case.events else None
    return ServiceRequest(
        service_request_id=case.tracking_number,
        status="open" if view.is_open else "closed",
        status_notes=view.status_label,
        service_name=topic.name if topic else case.topic,
        service_code=topic.code if topic else None,
        description=view.description,
        agency_responsible=view.department,
        requested_datetime=case.created_at.isoformat(),
        updated_datetime=(last.at if last else case.updated_at).isoformat(),
        expected_datetime=case.due_at.isoformat() if case.due_at else None,
        address=view.place or None,
    )


def _parse_date(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name} 格式不正确，应为 ISO 8601 日期时间，如 2026-11-23T08:00:00+08:00。")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


@router.get("/requests.json", response_model=list[ServiceRequest])
def list_requests(
    session: Session = Depends(get_session),
    start_date: str | None = Query(None, max_length=40),
    end_date: str | None = Query(None, max_length=40),
    status: str | None = Query(None, pattern="^(open|closed)$"),
    service_code: str | None = Query(None, max_length=200),
    service_request_id: str | None = Query(None, max_length=400),
    limit: int = Query(50, ge=1, le=200),
):
    """Public, masked list of requests; never protected reports."""
    stmt = _public_cases()
    start, end = _parse_date(start_date, "start_date"), _parse_date(end_date, "end_date")
    if start:
        stmt = stmt.where(Case.created_at >= start)
    if end:
        stmt = stmt.where(Case.created_at <= end)
    if status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif status == "closed":
        stmt = stmt.where(Case.status.notin_(OPEN_STATUSES))
    if service_code:
        stmt = stmt.where(Case.category_topic.in_([c.strip() for c in service_code.split(",")]))
    if service_request_id:
        stmt = stmt.where(Case.tracking_number.in_([c.strip() for c in service_request_id.split(",")]))
    names = department_names(session)
    topics = {t.code: t for t in session.scalars(select(Topic))}
    cases = session.scalars(stmt.order_by(Case.created_at.desc()).limit(limit)).unique().all()
    return [_as_request(session, c, names, topics) for c in cases]


@router.get("/requests/{request_id}.json", response_model=list[ServiceRequest],
            responses={404: {"model": list[Open311Error]}})
def get_request(request_id: str, session: Session = Depends(get_session)):
    """One request by tracking number (public, masked)."""
    case = session.scalar(_public_cases().where(Case.tracking_number == request_id[:40]))
    if case is None:
        return JSONResponse([{"code": 404, "description": "未找到该诉求（或该诉求不公开）。"}], status_code=404)
    names = department_names(session)
    topics = {t.code: t for t in session.scalars(select(Topic))}
    return [_as_request(session, case, names, topics)]
