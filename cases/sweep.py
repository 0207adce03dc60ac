"""The sweep: send every milestone that is due, exactly once, however many sweepers run.

It reads only clocks whose ``next_notice_at`` has passed (an index range scan), so its cost
follows the number of notices due, not the number of open cases. Each clock is handled in
its own transaction under row locks (``FOR UPDATE SKIP LOCKED`` for the clock on PostgreSQL):
two sweepers never both handle a clock, and the clock's ``sent`` list, its notices (unique
dedupe keys) and any status change commit together.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, lazyload

from cases import clocks, state
from cases.actors import SYSTEM
from cases.models import Clock
from cases.policies import KIND_LABELS
from cases.workcal import load_calendar
from core import audit, notices
from core.calendar import local_date
from core.database import UTCDateTime, get_engine, session_factory, utcnow
from core.masking import mask_personal_data
from core.models import Case, CaseEvent
from core.web.templating import local_time

log = logging.getLogger("minsheng.cases.sweep")


@dataclass
class SweepReport:
    now: dt.datetime
    clocks: int = 0
    notices: int = 0
    closed_unrated: int = 0
    escalated: int = 0
    failed: int = 0
    delivered: int = 0
    estimated_open: int = 0
    missing_years: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def warning(self) -> str | None:
        if not self.estimated_open:
            return None
        years = "、".join(str(y) for y in self.missing_years) or "次年"
        return (f"警告：{years} 年法定节假日安排尚未录入，{self.estimated_open} 个办理期限按周一至周五估算（标注“预估”）。"
                f"请管理员在“节假日设置”中录入（或 minsheng cases holidays import FILE），系统将重新计算这些期限。")


def _title(case: Case) -> str:
    return mask_personal_data(case.title)


def _send(session: Session, clock: Clock, case: Case, name: str, title: str, level: str, report: SweepReport,
          department: bool = True, supervisors: bool = False) -> None:
    key = f"clock:{clock.id}:x{clock.extension_days}:{name}"
    link = f"/console/cases/{case.id}"
    body = f"{_title(case)}（截止 {local_time(clock.due_at)}{'，预估' if clock.due_estimated else ''}）"
    if department and clock.department_code:
        report.notices += notices.notify(session, f"{key}:dept", title, kind=name if name != "red" else "red_card",
                                         level=level, department=clock.department_code, link=link, body=body)
    if supervisors or not clock.department_code:
        report.notices += notices.notify(session, f"{key}:supervisor", title, kind="escalation" if name == "red" else name,
                                         level=level, role="supervisor", link=link, body=body)


def _fire(session: Session, clock: Clock, name: str, now: dt.datetime, report: SweepReport) -> None:
    case = session.get(Case, clock.case_id, options=[lazyload(Case.document)])
    what = KIND_LABELS.get(clock.kind, clock.kind)
    number = case.tracking_number
    if name == "expire":
        if case.status == "answered":
            state.apply(session, case, "close", SYSTEM, now=now, unrated=True)
            report.closed_unrated += 1
        return
    if name in ("remind50", "remind80"):
        share = "一半" if name == "remind50" else "80%"
        _send(session, clock, case, name, f"【提醒】{number} {what}时限已过{share}", "info", report)
        return
    meta = state.get_meta(session, case)
    if name == "yellow":
        clock.card = "yellow"
        if meta.card != "red":
            meta.card = "yellow"
        _send(session, clock, case, name, f"【黄牌】{number} 已超过{what}期限", "warning", report)
        session.add(CaseEvent(case_id=case.id, at=now, kind="yellow_card", status_after=case.status,
                              department_code=clock.department_code, public=False,
                              internal_note=f"超过{what}期限（{local_time(clock.due_at)}），黄牌警示", actor_role="system"))
        return
    if name == "red":
        clock.card = "red"
        meta.card = "red"
        meta.escalated_at = meta.escalated_at or now
        _send(session, clock, case, name, f"【红牌·督办】{number} {what}超期未办", "urgent", report, supervisors=True)
        session.add(CaseEvent(case_id=case.id, at=now, kind="escalated", status_after=case.status,
                              department_code=clock.department_code, public=True,
                              public_note=f"{what}超期，已亮红牌并提请督办", actor_role="system"))
        audit.append(session, "system", "case.escalate", f"case:{case.id}",
                     {"clock": clock.id, "kind": clock.kind, "department": clock.department_code})
        report.escalated += 1


def process_clock(session: Session, clock: Clock, now: dt.datetime, report: SweepReport) -> None:
    due = sorted(((clocks.milestone_at(clock, n), n) for n in (clock.milestones or {})
                  if n not in (clock.sent or [])), key=lambda p: (p[0] is None, p[0]))
    for at, name in due:
        if at is None or at > now or clock.state != "running":
            break
        clocks.mark_sent(clock, name)
        _fire(session, clock, name, now, report)
    if clock.state == "running":
        clocks._set_next(clock)  # noqa: SLF001 - recomputed after the milestones were marked
    report.clocks += 1


def _process_one(Session, clock_id: int, case_id: int, now: dt.datetime, report: SweepReport, postgres: bool) -> bool:
    """One clock in its own transaction. Locks are taken in the order every writer uses (case row,
    then clock row, then the audit chain), so sweepers and clerks never deadlock; a clock another
    sweeper holds is skipped, and the re-check under the lock makes a repeat a no-op."""
    with Session() as session:
        try:
            if postgres:
                session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
            stmt = select(Clock).where(Clock.id == clock_id, Clock.next_notice_at <= now)
            if postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            clock = session.scalar(stmt)
            if clock is None:
                session.rollback()
                return False
            process_clock(session, clock, now, report)
            session.commit()
            return True
        except Exception:  # noqa: BLE001 - one broken case must not stop the others
            session.rollback()
            log.exception("sweep: clock %s failed", clock_id)
            report.failed += 1
            return False


def sweep(now: dt.datetime | None = None, engine: Engine | None = None, batch: int = 200,
          deliver: bool = True) -> SweepReport:
    """Run every due milestone up to ``now``; safe to run concurrently and repeatedly."""
    started = time.perf_counter()
    now = now or utcnow()
    engine = engine or get_engine()
    Session = session_factory(engine)
    report = SweepReport(now)
    postgres = engine.dialect.name == "postgresql"
    cursor: tuple[dt.datetime, int] | None = None  # keyset: handled clocks leave the range anyway
    while True:
        with Session() as session:
            stmt = (select(Clock.id, Clock.case_id, Clock.next_notice_at).where(Clock.next_notice_at <= now)
                    .order_by(Clock.next_notice_at, Clock.id).limit(batch))
            if cursor is not None:
                stmt = stmt.where(tuple_(Clock.next_notice_at, Clock.id) > tuple_(literal(cursor[0], UTCDateTime()),
                                                                                    literal(cursor[1])))
            candidates = session.execute(stmt).all()
        for clock_id, case_id, _at in candidates:
            _process_one(Session, clock_id, case_id, now, report, postgres)
        if len(candidates) < batch:
            break
        cursor = (candidates[-1][2], candidates[-1][0])
    with Session() as session:  # the “estimated deadline” warning (index on ``estimated``)
        estimated_open = (select(func.count(), func.min(Clock.started_at), func.max(Clock.due_at))
                          .where(clocks.ESTIMATED, Clock.state.in_(clocks.OPEN_STATES)))
        count, first, latest = session.execute(estimated_open).one()
        report.estimated_open = count or 0
        if report.estimated_open:
            calendar = load_calendar(session)
            start = local_date(min(first or now, now))
            end = local_date(max(latest or now, now)) + dt.timedelta(days=14)  # reminders and red cards after it
            report.missing_years = calendar.missing_years(start, end)
            if not report.missing_years:
                # Every year they reach is known now (a newer chinese-calendar, or a restored holiday
                # table): recompute them instead of warning about a schedule nobody needs to enter.
                try:
                    clocks.recompute_estimated(session, calendar)
                    session.commit()
                except Exception:  # noqa: BLE001 - e.g. a deadlock with a clerk; the next sweep tries again
                    session.rollback()
                    log.exception("sweep: recomputing estimated deadlines failed")
                report.estimated_open = session.execute(estimated_open).one()[0] or 0
            # Clocks that only became estimated later (an extension or a pause pushed them into the
            # year) were never announced when they started: the admins hear of every such year here.
            for year in report.missing_years:
                clocks.notify_missing_year(session, year)
            session.commit()
    if deliver:
        from cases import delivery
        report.delivered = delivery.deliver_pending(engine, now=now)
    report.seconds = time.perf_counter() - started
    return report
