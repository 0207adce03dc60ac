"""What the citizen can do on the public tracking page: rate the answer, appeal, supply material.

The tracking page (intake) calls these; the citizen has already proven the query code there
(or, for the routes in ``cases.views``, through :func:`verify_code`).

* ``rate``: 满意 / 基本满意 / 不满意 (+ reason code, optional comment) within 15 days of the
  answer; 不满意 reopens the case once (发回重办), a second 不满意 goes to a supervisor.
* ``appeal``: 复查 within 30 days of the answer, once.
* ``public_deadline``: the deadline to show, and whether it is an estimate.
"""
from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from cases import clocks, options, state
from cases.actors import CITIZEN
from cases.errors import InvalidInput, InvalidTransition
from cases.models import Rating
from core import audit
from core.database import utcnow
from core.models import Case, CaseEvent

RATINGS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
REASON_CODES = {
    "not_solved": "问题没有解决", "slow": "办理不及时", "unclear": "答复不清楚、不具体",
    "attitude": "工作态度不好", "shirking": "推诿扯皮", "other": "其他",
}


@dataclass
class CitizenActions:
    can_rate: bool = False
    rate_until: dt.datetime | None = None
    rating: Rating | None = None  # the rating of the current answer, once given
    can_appeal: bool = False
    appeal_until: dt.datetime | None = None
    can_supply_material: bool = False
    material_request: str | None = None
    unsatisfied_before: int = 0
    ratings: dict[str, str] = field(default_factory=lambda: dict(RATINGS))
    reason_codes: dict[str, str] = field(default_factory=lambda: dict(REASON_CODES))


def verify_code(case: Case, code: str | None) -> bool:
    """The query code check lives in intake (it owns the codes); looked up at call time."""
    codes = importlib.import_module("intake.codes")
    return bool(codes.verify_query_code(case, code))


def public_deadline(case: Case) -> tuple[dt.datetime | None, bool]:
    """``(due_at, estimated)``: the answer (or review) deadline; none while paused or finished."""
    if case.status not in state.OPEN or case.status == "waiting_citizen":
        return None, False
    return case.due_at, bool(case.due_estimated)


def _round(session: Session, case: Case) -> int:
    return state.get_meta(session, case).reopen_count


def citizen_actions(case: Case, session: Session | None = None, now: dt.datetime | None = None) -> CitizenActions:
    session = session or object_session(case)
    now = now or utcnow()
    out = CitizenActions()
    if session is None:
        return out
    meta = state.get_meta(session, case)
    out.unsatisfied_before = meta.unsatisfied_count
    if case.status == "answered":
        out.rating = session.scalar(select(Rating).where(Rating.case_id == case.id, Rating.round == meta.reopen_count))
        rating_clock = next(iter(clocks.open_clocks(session, case.id, ("rating",))), None)
        out.rate_until = rating_clock.due_at if rating_clock else None
        out.can_rate = out.rating is None and out.rate_until is not None and now <= out.rate_until
    if case.status in ("answered", "closed") and case.answered_at and meta.appeal_count == 0:
        out.appeal_until = case.answered_at + dt.timedelta(days=options.get(session, "appeal_window_days"))
        out.can_appeal = now <= out.appeal_until
    if case.status == "waiting_citizen":
        out.can_supply_material = True
        out.material_request = meta.material_request
    return out


def rate(session: Session, case: Case, rating: str | None, reason_code: str | None, comment: str | None,
         now: dt.datetime | None = None) -> Rating:
    """Record the citizen's rating of the current answer and move the case on (close, reopen or review)."""
    now = now or utcnow()
    if rating not in RATINGS:
        raise InvalidInput("请选择评价：满意、基本满意或不满意。", field="rating")
    reason_code = reason_code or None
    if rating == "unsatisfied" and reason_code not in REASON_CODES:
        raise InvalidInput("请选择不满意的原因。", field="reason_code")
    if reason_code is not None and reason_code not in REASON_CODES:
        raise InvalidInput("不满意原因不正确。", field="reason_code")
    comment = (comment or "").strip() or None
    if comment and len(comment) > 500:
        raise InvalidInput("评价留言最多 500 字。", field="comment")
    state._lock(session, case)
    meta = state.get_meta(session, case)
    round_ = meta.reopen_count
    if session.scalar(select(Rating.id).where(Rating.case_id == case.id, Rating.round == round_)) is not None:
        raise InvalidTransition("您已经评价过本次答复，不能重复评价。", allowed=[], status=case.status)
    if case.status != "answered":
        raise InvalidTransition(
            f"诉求当前状态为“{state.STATUS_LABELS.get(case.status)}”，只有已答复的诉求可以评价。", allowed=[], status=case.status)
    actions = citizen_actions(case, session, now)
    if not actions.can_rate:
        days = options.get(session, "rating_window_days")
        raise InvalidTransition(f"评价须在答复后 {days} 日内进行，已超过评价期限。", allowed=[], status=case.status)
    record = Rating(case_id=case.id, round=round_, department_code=meta.answered_by or case.department_code,
                    rating=rating, reason_code=reason_code if rating == "unsatisfied" else None,
                    comment=comment, rated_at=now)
    session.add(record)
    session.flush()
    note = f"评价：{RATINGS[rating]}" + (f"（{REASON_CODES[reason_code]}）" if rating == "unsatisfied" else "")
    session.add(CaseEvent(case_id=case.id, at=now, kind="rated", status_after=case.status,
                          department_code=record.department_code, public=True, public_note=note,
                          internal_note=comment, actor_role="citizen"))
    audit.append(session, "citizen", "case.rate", f"case:{case.id}",
                 {"rating": rating, "reason_code": record.reason_code, "round": round_,
                  "department": record.department_code})
    if rating == "unsatisfied":
        meta.unsatisfied_count += 1
        state.apply(session, case, "reopen" if meta.unsatisfied_count == 1 else "refer_review", CITIZEN, now=now)
    else:
        state.apply(session, case, "close", CITIZEN, now=now)
    return record


def appeal(session: Session, case: Case, reason: str | None, now: dt.datetime | None = None) -> CaseEvent:
    """Ask for a review (复查) of the answer, within the window, once."""
    return state.apply(session, case, "appeal", CITIZEN, now=now, reason=reason)


def supply_material(session: Session, case: Case, material: str | None, now: dt.datetime | None = None) -> CaseEvent:
    """The citizen answers a request for material; the department's clock runs again."""
    return state.apply(session, case, "resume", CITIZEN, now=now, material=material)
