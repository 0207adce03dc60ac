"""The case state machine: the single place that validates and applies every status change.

Every path (web form, JSON API, citizen page, sweep, worker stage) calls :func:`apply`. It
locks the case row, checks the actor's role and department (403), checks that the action is
allowed from the current status (409 with the allowed actions), validates the parameters
(422) before touching anything, then changes status and clocks, appends a public timeline
event and a hash-chained audit row, all in the caller's transaction.

    submitted → accepted | rejected;  accepted → assigned → signed → in_progress → answered → closed
    answered → reopened (不满意, same department) → signed …;  assigned → returned → assigned (elsewhere)
    signed | in_progress → waiting_citizen (clock paused) → in_progress
    answered | closed → appealed (复查, supervisor) → closed | reopened;  * → merged (并单) → answered
    (or → rejected with its master; merging a master moves its merged cases to the new master)
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import clocks, options, policies
from cases.actors import SYSTEM, Actor
from cases.errors import InvalidInput, InvalidTransition, NotAllowed
from cases.models import CaseMeta
from cases.workcal import load_calendar
from core import audit, notices
from core.calendar import WorkCalendar
from core.database import utcnow
from core.models import Case, CaseEvent, Department
from core.models.cases import STATUS_LABELS

STATES = tuple(STATUS_LABELS)
#: Statuses in which a department is working on the case (its clocks run).
WORKING = ("assigned", "signed", "in_progress", "waiting_citizen", "reopened")
OPEN = ("held", "submitted", "accepted", "returned", *WORKING, "appealed")

DISPATCH = frozenset({"dispatcher", "admin"})
SUPERVISE = frozenset({"supervisor", "admin"})
DEPARTMENT = frozenset({"department"})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    label: str
    own_department: bool = False  # department staff may act only on their department's cases


def _t(action: str, sources: set[str], target: str, roles: frozenset[str] | set[str], label: str,
       own: bool = False) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), label, own)


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    _t("release", {"held"}, "submitted", DISPATCH, "审核放行"),
    _t("accept", {"submitted"}, "accepted", DISPATCH, "受理"),
    _t("reject", {"submitted", "held", "accepted"}, "rejected", DISPATCH, "不予受理"),
    _t("assign", {"accepted", "returned", "assigned"}, "assigned", DISPATCH, "分派"),
    _t("merge", {"submitted", "accepted", "assigned", "returned"}, "merged", DISPATCH, "并案"),
    _t("sign", {"assigned", "reopened"}, "signed", DEPARTMENT, "签收", own=True),
    _t("start", {"signed"}, "in_progress", DEPARTMENT, "开始办理", own=True),
    _t("return", {"assigned"}, "returned", DEPARTMENT, "退回", own=True),
    _t("request_material", {"signed", "in_progress"}, "waiting_citizen", DEPARTMENT, "请群众补充材料", own=True),
    _t("resume", {"waiting_citizen"}, "in_progress", DEPARTMENT | {"citizen"}, "恢复办理", own=True),
    _t("answer", {"signed", "in_progress"}, "answered", DEPARTMENT, "答复", own=True),
    _t("close", {"answered"}, "closed", {"citizen", "system"}, "办结"),
    _t("reopen", {"answered"}, "reopened", {"citizen"}, "不满意，发回重办"),
    _t("appeal", {"answered", "closed"}, "appealed", {"citizen"}, "申请复查"),
    _t("refer_review", {"answered"}, "appealed", {"citizen"}, "再次不满意，提交督办"),
    _t("uphold", {"appealed"}, "closed", SUPERVISE, "复查：维持原答复"),
    _t("redo", {"appealed"}, "reopened", SUPERVISE, "复查：发回重办"),
    _t("master_answered", {"merged"}, "answered", {"system"}, "主件答复同步"),
    _t("master_rejected", {"merged"}, "rejected", {"system"}, "主件不予受理同步"),
)}
ACTION_LABELS = {a: t.label for a, t in TRANSITIONS.items()}
#: Timeline event kind written for each action (the names the tracking page labels).
EVENT_KINDS = {
    "release": "released", "accept": "accepted", "reject": "rejected", "assign": "assigned", "merge": "merged",
    "sign": "signed", "start": "in_progress", "return": "returned", "request_material": "waiting_citizen",
    "resume": "material_received", "answer": "answered", "master_answered": "answered",
    "master_rejected": "rejected", "close": "closed",
    "reopen": "reopened", "appeal": "appealed", "refer_review": "appealed", "uphold": "appeal_decided",
    "redo": "appeal_decided",
}


@dataclass
class Ctx:
    session: Session
    case: Case
    actor: Actor
    now: dt.datetime
    params: dict[str, Any]
    public_note: str | None = None
    internal_note: str | None = None
    kind: str | None = None
    event_department: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    _calendar: WorkCalendar | None = None

    @property
    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = load_calendar(self.session)
        return self._calendar

    @property
    def meta(self) -> CaseMeta:
        return get_meta(self.session, self.case)


def get_meta(session: Session, case: Case) -> CaseMeta:
    meta = session.get(CaseMeta, case.id)
    if meta is None:
        meta = CaseMeta(case_id=case.id, urgent=False, reopen_count=0, unsatisfied_count=0, appeal_count=0, unrated=False)
        session.add(meta)
        session.flush()
    return meta


# --- permission and state checks ----------------------------------------------------------------

def permitted(case: Case, actor: Actor, t: Transition) -> bool:
    if actor.role not in t.roles:
        return False
    if t.own_department and actor.role == "department":
        return bool(actor.department_code) and case.department_code == actor.department_code
    return True


def allowed_actions(case: Case, actor: Actor) -> list[str]:
    """The actions this actor may take on the case now (for buttons and 409 answers)."""
    return [a for a, t in TRANSITIONS.items() if case.status in t.sources and permitted(case, actor, t)]


def check(case: Case, actor: Actor, action: str) -> Transition:
    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidInput(f"未知的操作：{action}。")
    if actor.role == "department" and case.department_code != actor.department_code:
        raise NotAllowed("该诉求不属于本部门，无权查看或办理。")
    if actor.role not in t.roles:
        raise NotAllowed(f"您的角色无权执行“{t.label}”。")
    if case.status not in t.sources:
        allowed = allowed_actions(case, actor)
        names = "、".join(ACTION_LABELS[a] for a in allowed) or "无"
        raise InvalidTransition(
            f"诉求当前状态为“{STATUS_LABELS.get(case.status, case.status)}”，不能执行“{t.label}”。当前可执行：{names}。",
            allowed=allowed, status=case.status,
        )
    return t


def _lock(session: Session, case: Case) -> None:
    """Re-read the case under a row lock so two clerks never both move it (SQLite: the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    session.refresh(case)


# --- the one entry point -------------------------------------------------------------------------

def apply(session: Session, case: Case, action: str, actor: Actor, *, now: dt.datetime | None = None,
          **params: Any) -> CaseEvent:
    """Validate and apply ``action`` to ``case`` in the caller's transaction; returns the new event."""
    now = now or utcnow()
    _lock(session, case)
    t = check(case, actor, action)
    ctx = Ctx(session, case, actor, now, params)
    before = case.status
    _EFFECTS[action](ctx)
    case.status = t.target
    case.updated_at = now
    clocks.sync_case(session, case)
    event = CaseEvent(
        case_id=case.id, at=now, kind=ctx.kind or EVENT_KINDS[action], status_after=t.target,
        department_code=ctx.event_department or case.department_code, public=ctx.public_note is not None,
        public_note=ctx.public_note, internal_note=ctx.internal_note, actor_role=actor.role, actor_id=actor.user_id,
    )
    session.add(event)
    session.flush()
    audit.append(session, actor.audit_name, f"case.{action}", f"case:{case.id}",
                 {"from": before, "to": t.target, "department": case.department_code, **ctx.details})
    return event


# --- helpers for effects ------------------------------------------------------------------------

def _text(ctx: Ctx, name: str, label: str, *, required: bool = True, max_len: int = 1000) -> str | None:
    value = ctx.params.get(name)
    value = value.strip() if isinstance(value, str) else None
    if not value:
        if required:
            raise InvalidInput(f"请填写{label}。", field=name)
        return None
    if len(value) > max_len:
        raise InvalidInput(f"{label}过长（最多 {max_len} 字）。", field=name)
    return value


def _department_name(session: Session, code: str | None) -> str:
    dept = session.get(Department, code) if code else None
    return dept.name if dept else "承办部门"


def _cancel(ctx: Ctx, kinds: tuple[str, ...] | None = None) -> None:
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, kinds):
        clocks.cancel(clock, ctx.now)


def _start_work_clocks(ctx: Ctx, department_code: str, reason: str, round_: int) -> None:
    for kind in ("sign", "answer"):
        spec = policies.clock_for(ctx.session, ctx.case, kind)
        clocks.start(ctx.session, ctx.case, kind, amount=spec.amount, unit=spec.unit, now=ctx.now,
                     department_code=department_code, reason=reason, round_=round_, policy_id=spec.policy_id,
                     calendar=ctx.calendar)


def _notify_department(ctx: Ctx, key: str, title: str, level: str = "info") -> None:
    case = ctx.case
    notices.notify(ctx.session, f"case:{case.id}:{key}", f"{title}：{case.tracking_number}", kind="case",
                   level=level, department=case.department_code, link=f"/console/cases/{case.id}",
                   body=case.title)


def _notify_role(ctx: Ctx, role: str, key: str, title: str, level: str = "info") -> None:
    case = ctx.case
    notices.notify(ctx.session, f"case:{case.id}:{key}:{role}", f"{title}：{case.tracking_number}", kind="case",
                   level=level, role=role, link=f"/console/cases/{case.id}", body=case.title)


def _start_rating(ctx: Ctx) -> None:
    days = options.get(ctx.session, "rating_window_days")
    clocks.start(ctx.session, ctx.case, "rating", amount=days, unit="day", now=ctx.now,
                 department_code=ctx.case.department_code, reason="answered", round_=ctx.meta.reopen_count,
                 calendar=ctx.calendar)


# --- effects: validate first, then change -------------------------------------------------------

def _release(ctx: Ctx) -> None:
    ctx.case.held_reason = None
    ctx.public_note = "诉求已通过审核，等待受理"


def _accept(ctx: Ctx) -> None:
    ctx.public_note = "诉求已受理"


def _merged_children(ctx: Ctx) -> list[Case]:
    return list(ctx.session.scalars(select(Case).where(Case.master_case_id == ctx.case.id, Case.status == "merged")
                                    .order_by(Case.id)))


def _reject(ctx: Ctx) -> None:
    reason = _text(ctx, "reason", "不予受理的理由（群众可见）", max_len=500)
    _cancel(ctx)
    ctx.case.rejection_reason = reason
    ctx.public_note = f"不予受理：{reason}"
    ctx.details["reason"] = reason
    # A merged case waits for its master; if the master is rejected, so are they (else they would wait forever).
    children = _merged_children(ctx)
    for child in children:
        apply(ctx.session, child, "master_rejected", SYSTEM, now=ctx.now, reason=reason,
              master_number=ctx.case.tracking_number)
    if children:
        ctx.details["merged_children"] = [c.id for c in children]


def _master_rejected(ctx: Ctx) -> None:
    reason = _text(ctx, "reason", "不予受理的理由", max_len=500)
    ctx.case.rejection_reason = reason
    ctx.public_note = f"并案主件（{ctx.params.get('master_number')}）不予受理，本件一并不予受理：{reason}"


def _assign(ctx: Ctx) -> None:
    code = ctx.params.get("department_code")
    dept = ctx.session.get(Department, code) if isinstance(code, str) and code else None
    if dept is None or not dept.active:
        raise InvalidInput("请选择有效的承办部门。", field="department_code")
    note = _text(ctx, "note", "分派说明", required=False, max_len=500)
    previous = ctx.case.department_code if ctx.case.status == "assigned" else None
    _cancel(ctx, ("sign", "answer"))
    ctx.case.department_code = dept.code
    _start_work_clocks(ctx, dept.code, "assigned", ctx.meta.reopen_count)
    _notify_department(ctx, f"assigned:{ctx.now.timestamp():.0f}:{dept.code}", "新诉求待签收")
    ctx.kind = "transferred" if previous else "assigned"
    ctx.public_note = f"已转交{dept.name}办理"
    ctx.internal_note = note
    ctx.details.update(department=dept.code, previous=previous)


def _merge(ctx: Ctx) -> None:
    ref = ctx.params.get("master")
    master = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        master = ctx.session.get(Case, int(ref))
    elif isinstance(ref, str) and ref.strip():
        master = ctx.session.scalar(select(Case).where(Case.tracking_number == ref.strip()))
    if master is None:
        raise InvalidInput("请填写要并入的主件（编号或受理号）。", field="master")
    if master.id == ctx.case.id:
        raise InvalidInput("不能与自身并案。", field="master")
    if master.master_case_id is not None or master.status not in (
            "submitted", "accepted", "assigned", "signed", "in_progress", "waiting_citizen", "reopened", "returned"):
        raise InvalidInput(f"主件 {master.tracking_number} 当前状态为“{STATUS_LABELS.get(master.status)}”，不能作为并案主件。",
                           field="master")
    _cancel(ctx)
    ctx.case.master_case_id = master.id
    # Cases already merged into this one follow it to the new master, so the final answer reaches them too.
    children = _merged_children(ctx)
    for child in children:
        child.master_case_id = master.id
        ctx.session.add(CaseEvent(
            case_id=child.id, at=ctx.now, kind="merged", status_after=child.status, department_code=None, public=True,
            public_note=f"主件已并入 {master.tracking_number}，答复将同步送达", actor_role=ctx.actor.role,
            actor_id=ctx.actor.user_id))
    ctx.public_note = f"与同类诉求合并办理（主件受理号 {master.tracking_number}），答复将同步送达"
    ctx.details["master"] = master.id
    if children:
        ctx.details["moved_children"] = [c.id for c in children]


def _sign(ctx: Ctx) -> None:
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, ("sign",)):
        clocks.stop(clock, ctx.now, ctx.calendar)
    ctx.public_note = f"{_department_name(ctx.session, ctx.case.department_code)}已签收"


def _start(ctx: Ctx) -> None:
    ctx.public_note = "正在办理"


def _return(ctx: Ctx) -> None:
    reason = _text(ctx, "reason", "退回理由", max_len=500)
    dept = ctx.case.department_code
    _cancel(ctx, ("sign", "answer"))
    ctx.event_department = dept
    ctx.case.department_code = None
    ctx.public_note = f"{_department_name(ctx.session, dept)}认为不属于本部门职责（{reason}），正在重新分派"
    ctx.details.update(reason=reason, returned_by=dept)
    _notify_role(ctx, "dispatcher", f"returned:{ctx.now.timestamp():.0f}", "部门退回，请重新分派", "warning")


def _request_material(ctx: Ctx) -> None:
    note = _text(ctx, "note", "需要群众补充的材料说明")
    red = options.get(ctx.session, "red_after_workdays")
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, ("sign", "answer")):
        clocks.pause(clock, ctx.now, ctx.calendar, red)
    ctx.meta.material_request = note
    ctx.public_note = f"需要您补充材料：{note}（补充期间暂停计时）"


def _resume(ctx: Ctx) -> None:
    material = _text(ctx, "material", "补充材料", required=ctx.actor.role == "citizen", max_len=5000)
    red = options.get(ctx.session, "red_after_workdays")
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, ("sign", "answer")):
        clocks.resume(clock, ctx.now, ctx.calendar, red)
    if material:
        ctx.meta.material_reply = material
        _notify_department(ctx, f"material:{ctx.now.timestamp():.0f}", "群众已补充材料")
    ctx.public_note = "已收到补充材料，恢复办理计时" if material else "恢复办理计时"
    ctx.internal_note = material


def _answer(ctx: Ctx) -> None:
    body = _text(ctx, "body", "答复内容", max_len=20000)
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, ("sign", "answer")):
        clocks.stop(clock, ctx.now, ctx.calendar)
    ctx.case.answer_body = body
    ctx.case.answered_at = ctx.now
    ctx.meta.answered_by = ctx.case.department_code
    _start_rating(ctx)
    ctx.public_note = f"{_department_name(ctx.session, ctx.case.department_code)}已答复，请查看答复内容并评价"
    children = _merged_children(ctx)
    for child in children:
        apply(ctx.session, child, "master_answered", SYSTEM, now=ctx.now, body=body,
              department_code=ctx.case.department_code, master_number=ctx.case.tracking_number)
    ctx.details["merged_children"] = [c.id for c in children]


def _master_answered(ctx: Ctx) -> None:
    body = _text(ctx, "body", "答复内容", max_len=20000)
    ctx.case.answer_body = body
    ctx.case.answered_at = ctx.now
    ctx.case.department_code = ctx.params.get("department_code")
    ctx.meta.answered_by = ctx.case.department_code
    _start_rating(ctx)
    ctx.public_note = f"并案主件（{ctx.params.get('master_number')}）已答复，答复同步送达，请查看并评价"


def _close(ctx: Ctx) -> None:
    unrated = bool(ctx.params.get("unrated"))
    _cancel(ctx, ("rating",))
    ctx.meta.unrated = unrated
    if unrated:
        days = options.get(ctx.session, "rating_window_days")
        ctx.public_note = f"答复后 {days} 日内未评价，自动办结（计为未评价）"
    else:
        ctx.public_note = "已办结"
    ctx.details["unrated"] = unrated


def _reopen(ctx: Ctx) -> None:
    if not ctx.case.department_code:
        raise InvalidInput("诉求没有承办部门，无法发回重办。")
    _cancel(ctx, ("rating",))
    meta = ctx.meta
    meta.reopen_count += 1
    meta.card = None
    _start_work_clocks(ctx, ctx.case.department_code, "reopened", meta.reopen_count)
    _notify_department(ctx, f"reopened:{meta.reopen_count}", "群众不满意，发回重办", "warning")
    ctx.public_note = f"您对答复不满意，已发回{_department_name(ctx.session, ctx.case.department_code)}重新办理"


def _start_review(ctx: Ctx, reason: str) -> None:
    _cancel(ctx, ("rating",))
    spec = policies.clock_for(ctx.session, ctx.case, "review")
    clocks.start(ctx.session, ctx.case, "review", amount=spec.amount, unit=spec.unit, now=ctx.now,
                 department_code=None, reason=reason, round_=ctx.meta.reopen_count, policy_id=spec.policy_id,
                 calendar=ctx.calendar)
    _notify_role(ctx, "supervisor", f"review:{ctx.meta.appeal_count}:{ctx.meta.unsatisfied_count}",
                 "待复查诉求", "warning")


def _appeal(ctx: Ctx) -> None:
    reason = _text(ctx, "reason", "申请复查的理由", max_len=2000)
    window = options.get(ctx.session, "appeal_window_days")
    answered = ctx.case.answered_at
    if answered is None or ctx.now > answered + dt.timedelta(days=window):
        raise InvalidTransition(f"复查申请须在答复后 {window} 日内提出，已超过期限。", allowed=[], status=ctx.case.status)
    if ctx.meta.appeal_count >= 1:
        raise InvalidTransition("每件诉求只能申请一次复查。", allowed=[], status=ctx.case.status)
    ctx.meta.appeal_count += 1
    _start_review(ctx, "appeal")
    ctx.public_note = "已申请复查，由督办部门审查"
    ctx.internal_note = reason
    ctx.details["reason"] = reason


def _refer_review(ctx: Ctx) -> None:
    _start_review(ctx, "unsatisfied")
    ctx.public_note = "您再次对答复表示不满意，已提交督办部门审查"


def _stop_review(ctx: Ctx) -> None:
    for clock in clocks.open_clocks(ctx.session, ctx.case.id, ("review",)):
        clocks.stop(clock, ctx.now, ctx.calendar)


def _uphold(ctx: Ctx) -> None:
    note = _text(ctx, "note", "复查意见（群众可见）", max_len=2000)
    _stop_review(ctx)
    ctx.public_note = f"复查结论：维持原答复。{note}"


def _redo(ctx: Ctx) -> None:
    note = _text(ctx, "note", "复查意见（群众可见）", max_len=2000)
    if not ctx.case.department_code:
        raise InvalidInput("诉求没有承办部门，无法发回重办。")
    _stop_review(ctx)
    meta = ctx.meta
    meta.reopen_count += 1
    meta.card = None
    _start_work_clocks(ctx, ctx.case.department_code, "redo", meta.reopen_count)
    _notify_department(ctx, f"redo:{meta.reopen_count}", "督办复查发回重办", "warning")
    ctx.public_note = f"复查结论：发回{_department_name(ctx.session, ctx.case.department_code)}重新办理。{note}"


_EFFECTS: dict[str, Callable[[Ctx], None]] = {
    "release": _release, "accept": _accept, "reject": _reject, "assign": _assign, "merge": _merge,
    "sign": _sign, "start": _start, "return": _return, "request_material": _request_material,
    "resume": _resume, "answer": _answer, "master_answered": _master_answered,
    "master_rejected": _master_rejected, "close": _close,
    "reopen": _reopen, "appeal": _appeal, "refer_review": _refer_review, "uphold": _uphold, "redo": _redo,
}
assert set(_EFFECTS) == set(TRANSITIONS), "every transition needs an effect"
