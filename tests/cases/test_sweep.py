"""The sweep: reminders, yellow and red cards, escalation, unrated closing, the 2027 calendar warning,
and exactly-once notices with concurrent sweepers."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cases import holidays, public
from cases.models import CaseMeta, Clock
from cases.sweep import sweep
from core.models import AuditEntry, Case, CaseEvent, Notice
from tests.cases.conftest import local


def notices(world) -> list[tuple[str, str | None, str | None]]:
    with world.session(readonly=True) as s:
        return [(n.kind, n.recipient_role, n.recipient_department)
                for n in s.scalars(select(Notice).where(Notice.kind != "case").order_by(Notice.id))]


def test_milestones_fire_once_each_in_order(world):
    t0 = local(2026, 11, 23, 9)  # Monday; 投诉: sign by end of Tue 11-24, answer by end of Thu 12-10
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0 + dt.timedelta(hours=1))
    with world.session(readonly=True) as s:
        answer = s.scalar(select(Clock).where(Clock.case_id == case_id, Clock.kind == "answer"))
        ms = {k: dt.datetime.fromisoformat(v) for k, v in answer.milestones.items()}
        answer_id = answer.id
    # 13 working days from Tue 11-24: 6.5 → Wed 12-02 noon; 10.4 → Tue 12-08 09:36; due end of Thu 12-10; red +3 → end of Tue 12-15
    assert ms["remind50"] == local(2026, 12, 2, 12) and ms["remind80"] == local(2026, 12, 8, 9, 36)
    assert ms["yellow"] == local(2026, 12, 11, 0) and ms["red"] == local(2026, 12, 16, 0)

    assert sweep(local(2026, 12, 2, 11), world.engine).notices == 0
    r = sweep(local(2026, 12, 2, 13), world.engine)
    assert (r.clocks, r.notices) == (1, 1)
    assert sweep(local(2026, 12, 2, 14), world.engine).notices == 0  # never twice
    sweep(local(2026, 12, 11, 8), world.engine)
    assert [k for k, _, _ in notices(world)] == ["remind50", "remind80", "yellow"]
    with world.session(readonly=True) as s:
        assert s.get(CaseMeta, case_id).card == "yellow"
    r = sweep(local(2026, 12, 16, 1), world.engine)
    assert r.escalated == 1
    assert notices(world)[-2:] == [("red_card", None, "housing"), ("escalation", "supervisor", None)]
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.events[-1].kind == "escalated" and case.events[-1].public
        assert s.get(CaseMeta, case_id).card == "red"
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.escalate")) == 1
        assert s.scalar(select(Clock.next_notice_at).where(Clock.id == answer_id)) is None
    assert sweep(local(2027, 3, 1), world.engine).notices == 0


def test_answered_clock_sends_nothing_more(world):
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    world.act(case_id, "answer", "housing1", now=t0 + dt.timedelta(days=1), body="已经现场处理完毕，谢谢。")
    r = sweep(local(2026, 12, 5), world.engine)
    assert r.notices == 0 and r.closed_unrated == 0


def test_no_rating_in_fifteen_days_closes_as_unrated(world):
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    world.act(case_id, "answer", "housing1", now=t0, body="已经现场处理完毕，谢谢。")
    assert sweep(t0 + dt.timedelta(days=14, hours=23), world.engine).closed_unrated == 0
    r = sweep(t0 + dt.timedelta(days=15, minutes=1), world.engine)
    assert r.closed_unrated == 1
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "closed" and s.get(CaseMeta, case_id).unrated
        assert "未评价" in case.events[-1].public_note
        assert not public.citizen_actions(case, s, now=t0 + dt.timedelta(days=16)).can_rate
    assert sweep(t0 + dt.timedelta(days=20), world.engine).closed_unrated == 0


def test_deadline_into_2027_is_estimated_flagged_and_recomputed(world):
    t0 = local(2026, 12, 25, 10)  # Friday; 13 working days reach into January 2027
    case_id = world.assigned("housing", now=t0)
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.due_estimated and case.due_at == local(2027, 1, 14, 0)  # Mon–Fri: 2027-01-01 counted
        assert public.public_deadline(case) == (case.due_at, True)
        alert = s.scalar(select(Notice).where(Notice.dedupe_key == "calendar:missing:2027"))
        assert alert.recipient_role == "admin" and "2027" in alert.title
    report = sweep(t0 + dt.timedelta(minutes=1), world.engine)
    assert report.estimated_open == 1 and report.missing_years == [2027] and "2027" in report.warning

    from cases.cli import app
    result = CliRunner().invoke(app, ["sweep", "--now", "2026-12-25T10:05:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "2027 年法定节假日安排尚未录入" in result.output

    schedule = "2027-01-01..2027-01-03, 休, 元旦\n2027-02-06..2027-02-12, 休, 春节\n2027-02-14, 班, 春节调休\n"
    with world.session() as s:
        moved = holidays.enter_schedule(s, 2027, holidays.parse_schedule(schedule, 2027), "user:1")
    assert moved >= 1
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert not case.due_estimated and case.due_at == local(2027, 1, 15, 0)
        assert not s.scalar(select(func.count()).select_from(Clock).where(Clock.estimated.is_(True)))
    assert sweep(t0 + dt.timedelta(minutes=2), world.engine).warning is None


@pytest.mark.parametrize("text, message", [
    ("2027-13-01, 休, 错", "格式不正确"),
    ("2026-12-31, 休, 跨年", "不在 2027 年内"),
    ("2027-01-01, 休, 元旦\n2027-01-01, 班, 冲突", "同时被设为放假和上班"),
    ("2027-01-01, 上, 元旦", "第二项"),
    ("# nothing\n", "没有读到任何日期"),
])
def test_bad_holiday_schedules_are_refused(text, message):
    from cases.errors import InvalidInput
    with pytest.raises(InvalidInput) as err:
        holidays.parse_schedule(text, 2027)
    assert message in err.value.message


@pytest.mark.postgres
def test_concurrent_sweepers_on_postgresql_notify_once(world):
    if world.engine.dialect.name != "postgresql":
        pytest.skip("concurrency of sweepers is a PostgreSQL property (SQLite has one writer)")
    t0 = local(2026, 11, 23, 9)
    ids = [world.assigned("housing" if i % 2 else "ecology", now=t0, phone=f"1380013{i:04d}") for i in range(24)]
    now = local(2026, 12, 20)
    barrier = threading.Barrier(4)
    reports, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(sweep(now, world.engine, batch=5, deliver=False))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = len(ids) * 2 * 5  # sign and answer clock: 50 %, 80 %, yellow, red to the department and supervisors
    assert sum(r.notices for r in reports) == expected
    assert sum(r.clocks for r in reports) == len(ids) * 2
    assert sum(r.escalated for r in reports) == len(ids) * 2
    with world.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Notice).where(Notice.dedupe_key.like("clock:%"))) == expected
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "escalated")) == len(ids) * 2
        assert all(sorted(c.sent) == ["red", "remind50", "remind80", "yellow"] for c in s.scalars(select(Clock)))
        from core import audit
        assert audit.verify(s).ok


def test_small_batches_reach_every_due_clock(world):
    t0 = local(2026, 11, 23, 9)
    for i in range(5):
        world.assigned("housing", now=t0, phone=f"1390013{i:04d}")
    report = sweep(local(2026, 11, 25, 12), world.engine, batch=2)  # sign clocks: 50 %, 80 %, yellow due
    assert (report.clocks, report.notices, report.failed) == (5, 15, 0)  # the 5 sign clocks: 50 %, 80 %, yellow


def test_sweep_reads_only_due_clocks_through_the_index(world):
    """Thousands of clocks that are not due yet: the sweep's read is an index range scan on
    ``next_notice_at`` (never a table scan), in every batch of the keyset walk."""
    from sqlalchemy import event, insert, text
    t0 = local(2026, 11, 23, 9)
    ids = [world.assigned("housing", now=t0, phone=f"1370013{i:04d}") for i in range(2)]
    later = local(2027, 6, 1)
    with world.session() as s:
        s.execute(insert(Clock), [dict(
            case_id=ids[0], kind="answer", reason="assigned", round=0, department_code="housing", unit="workday",
            amount=13.0, extension_days=0, started_at=t0, pauses=[], state="running", due_at=later, due_estimated=False,
            estimated=False, milestones={"remind50": later.isoformat()}, sent=[], next_notice_at=later)
            for _ in range(3000)])
    sqlite = world.engine.dialect.name == "sqlite"
    with world.engine.begin() as con:
        con.execute(text("ANALYZE" if sqlite else "ANALYZE cases_clocks"))
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY cases_clocks.next_notice_at" in statement:
            cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
            plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))

    event.listen(world.engine, "before_cursor_execute", explain)
    try:
        report = sweep(local(2026, 11, 25, 12), world.engine, batch=1, deliver=False)  # the two sign clocks
    finally:
        event.remove(world.engine, "before_cursor_execute", explain)
    assert (report.clocks, report.notices, report.failed) == (2, 6, 0)
    assert len(plans) == 3  # batch 1 with a cursor: three reads
    for plan in plans:
        assert "ix_cases_clocks_next_notice_at" in plan, plan
        assert "SCAN cases_clocks" not in plan and "Seq Scan" not in plan, plan


def test_extension_into_an_unscheduled_year_alerts_the_admins_at_the_next_sweep(world):
    from cases import service
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    calendar_alerts = select(func.count()).select_from(Notice).where(Notice.kind == "calendar")
    with world.session() as s:
        assert s.scalar(calendar_alerts) == 0  # due 2026-12-10, red card 12-15: all in 2026
        ext = service.request_extension(s, s.get(Case, case_id), world.actors["housing1"], 30, "需要第三方检测", now=t0)
        service.decide_extension(s, ext.id, world.actors["sup"], True, "同意", now=t0)
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.due_estimated and case.due_at.astimezone(local(2027, 1, 1).tzinfo).year == 2027
        assert s.scalar(calendar_alerts) == 0
    report = sweep(t0 + dt.timedelta(hours=1), world.engine, deliver=False)
    assert report.missing_years == [2027]
    sweep(t0 + dt.timedelta(hours=2), world.engine, deliver=False)
    with world.session(readonly=True) as s:
        [alert] = s.scalars(select(Notice).where(Notice.kind == "calendar")).all()  # once, however many sweeps
        assert alert.recipient_role == "admin" and alert.dedupe_key == "calendar:missing:2027"


def test_holidays_import_command_recomputes_estimated_deadlines(world, tmp_path):
    from cases.cli import app
    case_id = world.assigned("housing", now=local(2026, 12, 25, 10))
    schedule = tmp_path / "2027.txt"
    schedule.write_text("# 国务院办公厅 2027 年部分节假日安排\n2027-01-01..2027-01-03, 休, 元旦\n", encoding="utf-8")
    runner = CliRunner()
    bad = runner.invoke(app, ["holidays", "import", str(schedule), "--year", "2028"])
    assert bad.exit_code == 1 and "不在 2028 年内" in bad.output
    result = runner.invoke(app, ["holidays", "import", str(schedule), "--year", "2027"])
    assert result.exit_code == 0, result.output
    assert "2027: 3 holidays, 0 make-up working days entered" in result.output
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert not case.due_estimated and case.due_at == local(2027, 1, 15, 0)
    status = runner.invoke(app, ["holidays", "status"])
    assert "2027: entered" in status.output


def test_sweep_recomputes_estimated_deadlines_once_the_calendar_knows_the_year(world, monkeypatch):
    """A newer chinese-calendar that knows 2027 (modelled here): the sweep recomputes instead of warning."""
    import chinese_calendar

    from core import calendar as core_calendar
    t0 = local(2026, 12, 25, 10)
    case_id = world.assigned("housing", now=t0)
    assert sweep(t0 + dt.timedelta(minutes=1), world.engine, deliver=False).missing_years == [2027]
    real_is_workday = chinese_calendar.is_workday

    def is_workday(day: dt.date) -> bool:
        if day.year == 2027:
            return day.weekday() < 5 and day != dt.date(2027, 1, 1)
        return real_is_workday(day)

    monkeypatch.setattr(core_calendar, "builtin_knows", lambda year: year <= 2027)
    monkeypatch.setattr(core_calendar.chinese_calendar, "is_workday", is_workday)
    report = sweep(t0 + dt.timedelta(minutes=2), world.engine, deliver=False)
    assert (report.estimated_open, report.missing_years, report.warning) == (0, [], None)
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert not case.due_estimated and case.due_at == local(2027, 1, 15, 0)
