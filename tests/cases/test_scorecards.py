"""Scorecards: the figures per department and period, ranking with a minimum of rated cases, exports."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from cases import public, scorecards, service
from cases.errors import InvalidInput
from core.models import Case
from tests.cases.conftest import local


def answer(world, case_id, when, who="housing1"):
    world.act(case_id, "sign", who, now=when)
    world.act(case_id, "answer", who, now=when, body="经核查已处理完毕，感谢您的监督。")


def rate(world, case_id, rating, when, reason=None):
    with world.session() as s:
        public.rate(s, s.get(Case, case_id), rating, reason, None, now=when)


def build(world):
    t0 = local(2026, 11, 2, 9)  # Monday
    ids = [world.assigned("housing", now=t0, phone=f"1350013{i:04d}") for i in range(7)]
    for n, case_id in enumerate(ids[:6]):
        answer(world, case_id, t0 + dt.timedelta(days=1 + n // 3))  # Tue or Wed: 1 or 2 working days
    for case_id in ids[:4]:
        rate(world, case_id, "satisfied", local(2026, 11, 5))
    rate(world, ids[4], "basic", local(2026, 11, 5))
    rate(world, ids[5], "unsatisfied", local(2026, 11, 5), "not_solved")  # reopened: a new answer clock
    eco = world.assigned("ecology", now=t0, phone="13600000001")
    answer(world, eco, t0 + dt.timedelta(hours=3), "ecology1")
    rate(world, eco, "satisfied", local(2026, 11, 3))
    ret = world.assigned("ecology", now=t0, phone="13600000002")
    world.act(ret, "return", "ecology1", now=t0, reason="不属于本部门职责")
    return ids


def test_figures_and_ranking(world):
    build(world)
    with world.session() as s:
        cards = {c.department_code: c for c in scorecards.compute(s, scorecards.parse_period("2026-11"),
                                                                  now=local(2026, 11, 30, 12))}
    h = cards["housing"]
    assert h.received == 7
    # signed Tue (3, in time) or Wed (3, late); the 7th never signed; the reopened case's new sign clock is overdue
    assert (h.signed_on_time, h.signed_late) == (3, 5)
    assert (h.answered_on_time, h.answered_late) == (6, 2)  # the 7th (due 11-19) and the reopened one (due 11-24)
    assert (h.median_days_to_answer, h.p90_days_to_answer) == (1.5, 2.0)
    assert (h.rated, h.satisfied, h.satisfaction_pct) == (6, 5, 83.3)
    assert (h.answers, h.reopened, h.reopen_rate_pct) == (6, 1, 16.7)
    assert h.overdue_now == 2  # the 7th's sign clock; the reopened case's new sign clock (due 11-06)
    assert h.rankable and h.rank == 1
    e = cards["ecology"]
    assert (e.received, e.rated, e.satisfaction_pct, e.returns) == (2, 1, 100.0, 1)
    assert not e.rankable and e.rank is None  # one rated case cannot top the table


def test_exports_and_period_validation(world):
    build(world)
    with world.session() as s:
        period = scorecards.parse_period("2026-11")
        cards = scorecards.compute(s, period, now=local(2026, 11, 30, 12))
    text = scorecards.to_csv(cards).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("排名,部门,受理件数")
    assert "住房和城乡建设局" in text and "样本不足" in text
    wb = load_workbook(io.BytesIO(scorecards.to_xlsx(cards, period)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][1] == "部门" and rows[1][1] == "住房和城乡建设局" and rows[1][0] == 1
    for bad in ("2026-13", "26-11", "2026/11", "abc"):
        with pytest.raises(InvalidInput):
            scorecards.parse_period(bad)
    assert scorecards.parse_period("2026").end == scorecards.parse_period("2027-01").start


def test_drilldown_lists_the_cases_behind_the_figures(world):
    ids = build(world)
    with world.session() as s:
        d = scorecards.drilldown(s, "housing", scorecards.parse_period("2026-11"), now=local(2026, 11, 30, 12))
        assert {c.id for c in d.overdue} == {ids[5], ids[6]}
        assert [c.id for c, _r in d.unsatisfied] == [ids[5]]
        d = scorecards.drilldown(s, "ecology", scorecards.parse_period("2026-11"))
        assert len(d.returns) == 1 and d.returns[0][1].department_code == "ecology"
        assert service.department_inbox(s, world.actors["ecology1"]) == []


def test_unrated_closes_are_counted_apart_and_never_as_satisfied(world, client):
    from cases.sweep import sweep
    t0 = local(2026, 11, 2, 9)
    rated, silent = (world.assigned("housing", now=t0, phone=f"1350014{i:04d}") for i in range(2))
    for case_id in (rated, silent):
        answer(world, case_id, t0 + dt.timedelta(hours=2))
    rate(world, rated, "unsatisfied", local(2026, 11, 3), "slow")
    report = sweep(t0 + dt.timedelta(days=15, hours=3), world.engine, deliver=False)
    assert report.closed_unrated == 1
    with world.session() as s:
        h = next(c for c in scorecards.compute(s, scorecards.parse_period("2026-11"), now=local(2026, 11, 30))
                 if c.department_code == "housing")
    assert (h.unrated, h.rated, h.satisfied, h.satisfaction_pct) == (1, 1, 0, 0.0)
    figures = client.get("/api/v1/scorecards?period=2026-11").json()
    housing = next(d for d in figures["departments"] if d["department_code"] == "housing")
    assert (housing["unrated"], housing["rated"], housing["satisfaction_pct"]) == (1, 1, 0.0)
    assert housing["rank"] is None and housing["rankable"] is False  # 1 rated < 5: too few to rank
    assert "未评价办结" in scorecards.to_csv([h]).decode("utf-8-sig").splitlines()[0]
