"""What staff do with cases, on top of the state machine: answers with rich text and files,
extensions, identity of protected reporters, and the queries behind every page.

Every status change goes through :func:`cases.state.apply`; these functions only add the
checks and records that are not a status change.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

import nh3
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cases import attachments as answer_files
from cases import clocks, options, state
from cases.actors import Actor
from cases.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from cases.models import CaseMeta, Clock, Extension
from cases.workcal import load_calendar
from core import audit, notices
from core.crypto import decrypt
from core.database import utcnow
from core.masking import mask_name, mask_personal_data, mask_phone_number
from core.models import Attachment, Case, CaseEvent, Department, Document
from core.settings import Settings, get_settings

STAFF_READERS = ("admin", "supervisor", "dispatcher", "analyst", "department")
ANSWER_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "blockquote", "h3", "h4", "table",
               "thead", "tbody", "tr", "th", "td"}


# --- access ---------------------------------------------------------------------------------------

def can_read(case: Case, actor: Actor) -> bool:
    if case.protected and actor.role == "analyst":
        return False  # a whistleblower report is not public opinion: like search, analysts never see it
    if actor.role == "department":
        return bool(actor.department_code) and case.department_code == actor.department_code
    return actor.role in STAFF_READERS


def get_case(session: Session, case_id: int, actor: Actor) -> Case:
    """The case, if this actor may see it: 404 when it does not exist, 403 when it is another department's."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("没有这件诉求。")
    if not can_read(case, actor):
        raise NotAllowed("该诉求受保护，您无权查看。" if case.protected and actor.role != "department"
                         else "该诉求不属于本部门，无权查看或办理。")
    return case


def act(session: Session, case: Case, action: str, actor: Actor, now: dt.datetime | None = None,
        **params: object) -> CaseEvent:
    """Any plain transition (everything except answering, which has its own checks)."""
    if action == "answer":
        return answer(session, case, actor, str(params.get("body") or ""), [], now=now)
    return state.apply(session, case, action, actor, now=now, **params)


# --- answers --------------------------------------------------------------------------------------

def sanitise_answer(body: str) -> tuple[str, str]:
    """Clean rich text (no scripts, no attributes, no links) and its plain-text rendering."""
    clean = nh3.clean(body or "", tags=ANSWER_TAGS, attributes={}, url_schemes=set(), strip_comments=True)
    text = re.sub(r"(?i)<br\s*/?>", "\n", clean)
    text = re.sub(r"(?i)</(p|li|h3|h4|tr|blockquote)>", "\n", text)
    text = html.unescape(nh3.clean(text, tags=set()))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return clean.strip(), text


def answer(session: Session, case: Case, actor: Actor, body: str, files: list[tuple[str | None, bytes]],
           now: dt.datetime | None = None, settings: Settings | None = None) -> CaseEvent:
    """Answer a case: sanitise, check every file, then apply the transition and store the files."""
    settings = settings or get_settings()
    if not isinstance(body, str) or len(body) > 100_000:
        raise InvalidInput("答复内容过长（最多 20000 字）。", field="body")
    rich, text = sanitise_answer(body)
    if len(text) < 5:
        raise InvalidInput("请填写答复内容（至少 5 个字；不支持脚本等不安全内容）。", field="body")
    checked = answer_files.check(files, settings)
    event = state.apply(session, case, "answer", actor, now=now, body=text)
    state.get_meta(session, case).answer_html = rich
    for file in checked:
        path = answer_files.store(file, settings)
        session.add(Attachment(case_id=case.id, purpose="answer", filename=file.filename, content_type=file.content_type,
                               size=len(file.data), sha256=file.sha256, storage_path=path))
    session.flush()
    return event


# --- extensions -----------------------------------------------------------------------------------

def request_extension(session: Session, case: Case, actor: Actor, days: object, reason: str | None,
                      now: dt.datetime | None = None) -> Extension:
    """A department asks for more time; a supervisor decides. At most one (by default) per case."""
    now = now or utcnow()
    if actor.role != "department":
        raise NotAllowed("只有承办部门可以申请延期。")
    state._lock(session, case)  # noqa: SLF001 - same lock order as every transition
    if case.department_code != actor.department_code:
        raise NotAllowed("该诉求不属于本部门，无权查看或办理。")
    limit = options.get(session, "extension_max_days")
    try:
        days = int(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput("请填写延期天数（整数，工作日）。", field="days") from None
    if days < 1 or days > limit:
        raise InvalidInput(f"延期天数应为 1 到 {limit} 个工作日。", field="days")
    reason = (reason or "").strip()
    if len(reason) < 2 or len(reason) > 1000:
        raise InvalidInput("请填写延期理由（群众可见，不超过 1000 字）。", field="reason")
    if case.status not in ("signed", "in_progress", "waiting_citizen"):
        raise InvalidTransition(
            f"诉求当前状态为“{state.STATUS_LABELS.get(case.status)}”，签收后、答复前才能申请延期。",
            allowed=state.allowed_actions(case, actor), status=case.status)
    used = session.scalar(select(func.count()).select_from(Extension).where(
        Extension.case_id == case.id, Extension.status.in_(("pending", "approved")))) or 0
    if used >= options.get(session, "max_extensions"):
        raise InvalidTransition("每件诉求最多申请延期一次（已申请或已批准过）。", allowed=[], status=case.status)
    answer_clock = next(iter(clocks.open_clocks(session, case.id, ("answer",))), None)
    if answer_clock is None:
        raise InvalidTransition("没有正在计时的答复期限，无法延期。", allowed=[], status=case.status)
    ext = Extension(case_id=case.id, clock_id=answer_clock.id, department_code=case.department_code, days=days,
                    reason=reason, status="pending", requested_by=actor.user_id, requested_at=now)
    session.add(ext)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=now, kind="extension_requested", status_after=case.status,
                          department_code=case.department_code, public=False, internal_note=f"申请延期 {days} 个工作日：{reason}",
                          actor_role=actor.role, actor_id=actor.user_id))
    notices.notify(session, f"extension:{ext.id}:requested", f"延期申请待审批：{case.tracking_number}", kind="extension",
                   level="warning", role="supervisor", link="/console/supervise",
                   body=f"{mask_personal_data(case.title)}（申请 {days} 个工作日）")
    audit.append(session, actor.audit_name, "case.extension_request", f"case:{case.id}",
                 {"extension": ext.id, "days": days})
    return ext


def decide_extension(session: Session, extension_id: int, actor: Actor, approve: bool, note: str | None,
                     now: dt.datetime | None = None) -> Extension:
    now = now or utcnow()
    if actor.role not in ("supervisor", "admin"):
        raise NotAllowed("只有督办人员可以审批延期。")
    ext = session.get(Extension, extension_id)
    if ext is None:
        raise NotFound("没有这条延期申请。")
    if ext.status != "pending":
        raise InvalidTransition("这条延期申请已经处理过。", allowed=[], status=ext.status)
    case = session.get(Case, ext.case_id)
    state._lock(session, case)  # noqa: SLF001
    session.refresh(ext)
    if ext.status != "pending":
        raise InvalidTransition("这条延期申请已经处理过。", allowed=[], status=ext.status)
    note = (note or "").strip()[:1000] or None
    ext.status, ext.decided_by, ext.decided_at, ext.decision_note = (
        "approved" if approve else "denied"), actor.user_id, now, note
    clock = session.get(Clock, ext.clock_id)
    if approve and clock is not None and clock.state in clocks.OPEN_STATES:
        clocks.extend(clock, ext.days, now, load_calendar(session), options.get(session, "red_after_workdays"))
        clocks.sync_case(session, case)
        meta = state.get_meta(session, case)
        if meta.card and clock.card is None:
            meta.card = None
    session.add(CaseEvent(
        case_id=case.id, at=now, kind="extended" if approve else "extension_denied", status_after=case.status,
        department_code=case.department_code, public=approve,
        public_note=f"经批准，办理期限延长 {ext.days} 个工作日。原因：{ext.reason}" if approve else None,
        internal_note=note, actor_role=actor.role, actor_id=actor.user_id))
    notices.notify(session, f"extension:{ext.id}:decided", f"延期申请{'已批准' if approve else '未获批准'}：{case.tracking_number}",
                   kind="extension", level="info", department=ext.department_code, link=f"/console/cases/{case.id}",
                   body=note or "")
    audit.append(session, actor.audit_name, "case.extension_decide", f"case:{case.id}",
                 {"extension": ext.id, "approved": approve, "days": ext.days})
    return ext


# --- identity of the citizen ----------------------------------------------------------------------

@dataclass
class Contact:
    name: str | None
    phone: str | None
    masked: bool
    hidden_reason: str | None = None


def contact_for(case: Case, actor: Actor) -> Contact:
    """What a staff member may see of the citizen's contact data on the case page.

    Protected reports (举报 about officials): nothing, for everyone; a supervisor uses
    :func:`reveal_identity`, which is audited. Others: the department holding the case and
    dispatchers see it in full (they call back); other roles see it masked.
    """
    if case.protected:
        return Contact(None, None, True, "举报人身份受保护，仅督办人员可经审计后查看。")
    if case.anonymous:
        return Contact(None, None, True, "群众选择匿名。")
    name, phone = decrypt(case.contact_name_enc), decrypt(case.contact_phone_enc)
    if actor.role in ("department", "dispatcher"):
        return Contact(name, phone, False)
    return Contact(mask_name(name) or None, mask_phone_number(phone) or None, True)


def reveal_identity(session: Session, case: Case, actor: Actor, purpose: str | None) -> Contact:
    """A supervisor opens a protected reporter's identity; the view itself is audited."""
    if actor.role != "supervisor":
        raise NotAllowed("举报人身份仅督办人员可以查看。")
    purpose = (purpose or "").strip()
    if len(purpose) < 2 or len(purpose) > 200:
        raise InvalidInput("请填写查看举报人身份的事由（将记入审计日志）。", field="purpose")
    audit.append(session, actor.audit_name, "case.identity_view", f"case:{case.id}",
                 {"purpose": purpose, "protected": case.protected})
    return Contact(decrypt(case.contact_name_enc), decrypt(case.contact_phone_enc), False)


# --- queries for pages ----------------------------------------------------------------------------

@dataclass
class Row:
    case: Case
    meta: CaseMeta | None
    clock: Clock | None
    due_at: dt.datetime | None
    seconds_left: float | None
    card: str | None
    department: str | None = None


def _rows(session: Session, cases: list[Case], now: dt.datetime) -> list[Row]:
    if not cases:
        return []
    ids = [c.id for c in cases]
    metas = {m.case_id: m for m in session.scalars(select(CaseMeta).where(CaseMeta.case_id.in_(ids)))}
    open_ = session.scalars(select(Clock).where(Clock.case_id.in_(ids), Clock.state.in_(clocks.OPEN_STATES),
                                                Clock.kind.in_(("sign", "answer", "review"))).order_by(Clock.id))
    by_case: dict[int, list[Clock]] = {}
    for clock in open_:
        by_case.setdefault(clock.case_id, []).append(clock)
    names = dict(session.execute(select(Department.code, Department.name)).all())
    rows = []
    for case in cases:
        running = [c for c in by_case.get(case.id, []) if c.due_at is not None]
        clock = min(running, key=lambda c: c.due_at) if running else None
        due = clock.due_at if clock else None
        card = None
        if clock is not None:
            card = "red" if "red" in (clock.sent or []) else "yellow" if "yellow" in (clock.sent or []) else None
            if card is None and due is not None and due <= now:
                card = "yellow"
        rows.append(Row(case, metas.get(case.id), clock, due, (due - now).total_seconds() if due else None, card,
                        names.get(case.department_code)))
    return rows


def department_inbox(session: Session, actor: Actor, now: dt.datetime | None = None,
                     department_code: str | None = None) -> list[Row]:
    """The department's open cases, least time left first (paused ones last)."""
    now = now or utcnow()
    code = actor.department_code if actor.role == "department" else department_code
    if not code:
        return []
    cases = list(session.scalars(select(Case).where(Case.department_code == code, Case.status.in_(state.WORKING))
                                 .order_by(Case.id).limit(2000)))
    rows = _rows(session, cases, now)
    return sorted(rows, key=lambda r: (not (r.meta and r.meta.urgent), r.seconds_left is None,
                                       r.seconds_left if r.seconds_left is not None else 0, r.case.id))


def dispatcher_queues(session: Session, now: dt.datetime | None = None) -> dict[str, list[Row]]:
    now = now or utcnow()
    out = {}
    for name, statuses in (("new", ("submitted", "accepted")), ("returned", ("returned",)), ("held", ("held",))):
        cases = list(session.scalars(select(Case).where(Case.status.in_(statuses)).order_by(Case.created_at).limit(500)))
        rows = _rows(session, cases, now)
        out[name] = sorted(rows, key=lambda r: (not (r.meta and r.meta.urgent), r.case.created_at))
    return out


def supervisor_overview(session: Session, now: dt.datetime | None = None) -> dict[str, object]:
    now = now or utcnow()
    escalated = list(session.scalars(
        select(Case).join(CaseMeta, CaseMeta.case_id == Case.id)
        .where(CaseMeta.card == "red", Case.status.in_(state.WORKING)).order_by(CaseMeta.escalated_at).limit(500)))
    appealed = list(session.scalars(select(Case).where(Case.status == "appealed").order_by(Case.updated_at).limit(500)))
    reopened = list(session.scalars(select(Case).where(Case.status == "reopened").order_by(Case.updated_at).limit(500)))
    urgent = list(session.scalars(
        select(Case).join(CaseMeta, CaseMeta.case_id == Case.id)
        .where(CaseMeta.urgent.is_(True), Case.status.in_(state.OPEN)).order_by(Case.created_at).limit(200)))
    pending = list(session.scalars(select(Extension).where(Extension.status == "pending").order_by(Extension.requested_at)))
    ext_cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_([e.case_id for e in pending])))} if pending else {}
    return {"escalated": _rows(session, escalated, now), "appealed": _rows(session, appealed, now),
            "reopened": _rows(session, reopened, now),
            "urgent": _rows(session, urgent, now), "extensions": [(e, ext_cases.get(e.case_id)) for e in pending]}


def similar_cases(session: Session, case: Case, limit: int = 5) -> list[Case]:
    """Answered cases like this one: same near-duplicate band first, then the same topic."""
    doc = case.document
    found: list[Case] = []
    base = select(Case).join(Document, Document.id == Case.document_id).where(
        Case.id != case.id, Case.answer_body.is_not(None), Case.protected.is_(False))
    if doc is not None and doc.simhash is not None:
        bands = [getattr(Document, f"sim_band{i}") == getattr(doc, f"sim_band{i}") for i in range(4)
                 if getattr(doc, f"sim_band{i}") is not None]
        if bands:
            found = list(session.scalars(base.where(or_(*bands)).order_by(Case.answered_at.desc()).limit(limit)))
    if len(found) < limit and case.topic:
        seen = [c.id for c in found] or [0]
        found += list(session.scalars(base.where(and_(Case.topic == case.topic, Case.id.notin_(seen)))
                                      .order_by(Case.answered_at.desc()).limit(limit - len(found))))
    return found
