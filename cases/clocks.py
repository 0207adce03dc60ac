"""Deadline clocks: start, pause (waiting on the citizen), resume, extend, stop, and their milestones.

A clock's deadline and reminders are a pure function of its stored fields and the calendar,
so any clock can be recomputed (after an extension, a pause, or when the holiday table grows).
Milestones: reminders at 50 % and 80 % of the time, a yellow card at the deadline, a red card
(and escalation) some working days after it. A rating clock has a single ``expire`` milestone.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import options
from cases.models import Clock
from cases.workcal import load_calendar
from core import notices
from core.calendar import DAY_SECONDS, WorkCalendar, active_intervals, local_date, next_local_midnight, points_in_time
from core.models import Case

UNIT_SECONDS = {"workday": DAY_SECONDS, "day": DAY_SECONDS, "hour": 3600}
DEADLINE_MILESTONES = ("remind50", "remind80", "yellow", "red")
OPEN_STATES = ("running", "paused")
#: Written ``estimated = 1`` / ``= true`` so the planner uses the partial index ix_cases_clocks_estimated_due.
ESTIMATED = Clock.estimated == True  # noqa: E712


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).isoformat()


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def pauses_of(clock: Clock) -> list[tuple[dt.datetime, dt.datetime | None]]:
    return [(_parse(a), _parse(b)) for a, b in (clock.pauses or [])]


def milestone_at(clock: Clock, name: str) -> dt.datetime | None:
    return _parse((clock.milestones or {}).get(name))


def compute(clock: Clock, calendar: WorkCalendar, red_after_workdays: int = 3) -> None:
    """(Re)derive deadline, milestones and the next notice time from the clock's fields."""
    wall = clock.unit != "workday"
    begin = clock.started_at if wall else next_local_midnight(clock.started_at)
    intervals = active_intervals(begin, pauses_of(clock))
    total = clock.amount * UNIT_SECONDS[clock.unit] + clock.extension_days * DAY_SECONDS
    if clock.kind == "rating":
        names, targets = ["expire"], [total]
    elif wall:
        names, targets = ["remind50", "remind80", "yellow"], [0.5 * total, 0.8 * total, total]
    else:
        names = list(DEADLINE_MILESTONES)
        targets = [0.5 * total, 0.8 * total, total, total + red_after_workdays * DAY_SECONDS]
    points = dict(zip(names, points_in_time(calendar, intervals, targets, wall_clock=wall)))
    if wall and clock.kind != "rating":
        due = points["yellow"][0]
        points["red"] = calendar.advance(due, red_after_workdays * DAY_SECONDS) if due else (None, False)
    deadline_name = "expire" if clock.kind == "rating" else "yellow"
    clock.due_at, clock.due_estimated = points[deadline_name]
    clock.estimated = any(est for _point, est in points.values())
    clock.milestones = {name: _iso(point) for name, (point, _est) in points.items() if point is not None}
    _set_next(clock)


def _set_next(clock: Clock) -> None:
    if clock.state != "running":
        clock.next_notice_at = None
        return
    pending = [milestone_at(clock, n) for n in (clock.milestones or {}) if n not in (clock.sent or [])]
    pending = [p for p in pending if p is not None]
    clock.next_notice_at = min(pending) if pending else None


def mark_sent(clock: Clock, name: str) -> None:
    clock.sent = [*(clock.sent or []), name]
    _set_next(clock)


def start(session: Session, case: Case, kind: str, *, amount: float, unit: str, now: dt.datetime,
          department_code: str | None, reason: str, round_: int = 0, policy_id: int | None = None,
          calendar: WorkCalendar | None = None) -> Clock:
    calendar = calendar or load_calendar(session)
    clock = Clock(case_id=case.id, kind=kind, reason=reason, round=round_, department_code=department_code,
                  policy_id=policy_id, unit=unit, amount=float(amount), extension_days=0, started_at=now,
                  pauses=[], state="running", sent=[], milestones={})
    compute(clock, calendar, options.get(session, "red_after_workdays"))
    session.add(clock)
    session.flush()
    if clock.estimated:
        alert_missing_years(session, calendar, clock)
    return clock


def open_clocks(session: Session, case_id: int, kinds: tuple[str, ...] | None = None) -> list[Clock]:
    stmt = select(Clock).where(Clock.case_id == case_id, Clock.state.in_(OPEN_STATES)).order_by(Clock.id)
    if kinds:
        stmt = stmt.where(Clock.kind.in_(kinds))
    return list(session.scalars(stmt))


def latest(session: Session, case_id: int, kind: str) -> Clock | None:
    return session.scalar(select(Clock).where(Clock.case_id == case_id, Clock.kind == kind)
                          .order_by(Clock.id.desc()).limit(1))


def work_days_used(clock: Clock, calendar: WorkCalendar, until: dt.datetime) -> float:
    total = 0.0
    for s, e in active_intervals(clock.started_at, pauses_of(clock)):
        end = until if e is None or e > until else e
        if end > s:
            total += calendar.working_seconds(s, end)[0]
        if e is None or e >= until:
            break
    return round(total / DAY_SECONDS, 3)


def stop(clock: Clock, now: dt.datetime, calendar: WorkCalendar) -> None:
    """The clock's goal was reached (signed, answered, reviewed)."""
    if clock.state == "paused":
        resume(clock, now, calendar)
    clock.state = "stopped"
    clock.stopped_at = now
    clock.on_time = clock.due_at is not None and now <= clock.due_at
    clock.work_days_used = work_days_used(clock, calendar, now)
    clock.next_notice_at = None


def cancel(clock: Clock, now: dt.datetime) -> None:
    """The clock no longer applies (case returned, reassigned, merged, rejected)."""
    clock.state = "cancelled"
    clock.stopped_at = now
    clock.on_time = None
    clock.next_notice_at = None


def pause(clock: Clock, now: dt.datetime, calendar: WorkCalendar, red_after_workdays: int = 3) -> None:
    if clock.state != "running":
        return
    clock.pauses = [*(clock.pauses or []), [_iso(now), None]]
    clock.state = "paused"
    compute(clock, calendar, red_after_workdays)


def resume(clock: Clock, now: dt.datetime, calendar: WorkCalendar, red_after_workdays: int = 3) -> None:
    if clock.state != "paused":
        return
    pauses = [list(p) for p in (clock.pauses or [])]
    if pauses and pauses[-1][1] is None:
        pauses[-1][1] = _iso(max(now, _parse(pauses[-1][0])))
    clock.pauses = pauses
    clock.state = "running"
    compute(clock, calendar, red_after_workdays)


def extend(clock: Clock, days: int, now: dt.datetime, calendar: WorkCalendar, red_after_workdays: int = 3) -> None:
    """Add working days. Milestones that move into the future are armed again (new dedupe keys)."""
    clock.extension_days += days
    compute(clock, calendar, red_after_workdays)
    keep = []
    for name in clock.sent or []:
        at = milestone_at(clock, name)
        if at is not None and at <= now:
            keep.append(name)
    clock.sent = keep
    if "yellow" not in keep:
        clock.card = None
    _set_next(clock)


def sync_case(session: Session, case: Case) -> None:
    """Mirror the governing clock's deadline onto the case (what the tracking page shows)."""
    governing = None
    for clock in open_clocks(session, case.id, ("answer", "review")):
        governing = clock
    if governing is None:
        case.due_at, case.due_estimated = None, False
    else:
        case.due_at, case.due_estimated = governing.due_at, governing.due_estimated


def notify_missing_year(session: Session, year: int) -> bool:
    """Tell admins (once per year: one dedupe key) that deadlines reaching ``year`` are estimated."""
    return notices.notify(
        session, f"calendar:missing:{year}", f"请录入 {year} 年法定节假日安排",
        kind="calendar", level="warning", role="admin", link="/console/admin/holidays",
        body=(f"有办理期限跨入 {year} 年，而系统尚无该年的节假日和调休安排，暂按周一至周五计算并标注为“预估”。"
              f"国务院办公厅公布安排后，请在“节假日设置”中录入，系统将自动重新计算所有预估期限。"),
    )


def alert_missing_years(session: Session, calendar: WorkCalendar, clock: Clock) -> list[int]:
    """Alert the admins about every year without a schedule that this clock's milestones reach."""
    points = [p for p in (milestone_at(clock, n) for n in clock.milestones or {}) if p is not None]
    if not points:
        return []
    years = calendar.missing_years(local_date(clock.started_at), local_date(max(points)))
    for year in years:
        notify_missing_year(session, year)
    return years


def recompute_estimated(session: Session, calendar: WorkCalendar | None = None) -> int:
    """Recompute every clock whose milestones were estimated; returns how many changed deadline."""
    calendar = calendar or load_calendar(session)
    red = options.get(session, "red_after_workdays")
    changed = 0
    rows = list(session.scalars(select(Clock).where(ESTIMATED, Clock.state != "cancelled")))
    touched_cases: set[int] = set()
    for clock in rows:
        before = clock.due_at
        if clock.state == "stopped":
            state, stopped = clock.state, clock.stopped_at
            clock.state = "running"
            compute(clock, calendar, red)
            clock.state = state
            clock.next_notice_at = None
            clock.on_time = clock.due_at is not None and stopped <= clock.due_at
            clock.work_days_used = work_days_used(clock, calendar, stopped)
        else:
            compute(clock, calendar, red)
        changed += before != clock.due_at
        touched_cases.add(clock.case_id)
    session.flush()
    for case_id in touched_cases:
        case = session.get(Case, case_id)
        if case is not None:
            sync_case(session, case)
    return changed
