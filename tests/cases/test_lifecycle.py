"""The state machine end to end, on SQLite and PostgreSQL: every transition, its checks and records."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from cases import clocks, public, service, state
from cases.errors import InvalidInput, InvalidTransition, NotAllowed
from cases.models import CaseMeta, Clock, Extension, Rating
from core import audit
from core.models import AuditEntry, Case, CaseEvent, Notice
from tests.cases.conftest import local


def events(world, case_id) -> list[str]:
    with world.session(readonly=True) as s:
        return [e.kind for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))]


def test_happy_path_is_audited_and_timed(world):
    t0 = local(2026, 11, 23, 9)
    case_id, code = world.file()
    world.act(case_id, "accept", "disp", now=t0)
    world.act(case_id, "assign", "disp", now=t0, department_code="housing")
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.due_at == local(2026, 12, 11, 0, 0)  # 13 working days (投诉) from Tue 11-24: end of Thu 12-10
        assert case.due_estimated is False
        sign = s.scalar(select(Clock).where(Clock.case_id == case_id, Clock.kind == "sign"))
        assert sign.due_at == local(2026, 11, 25, 0, 0)
    world.act(case_id, "sign", "housing1", now=t0 + dt.timedelta(hours=2))
    world.act(case_id, "start", "housing1", now=t0 + dt.timedelta(hours=3))
    with world.session() as s:
        service.answer(s, s.get(Case, case_id), world.actors["housing1"],
                       "<p>经核查，已责令烧烤店<strong>22 点</strong>后停止营业。</p>", [], now=local(2026, 11, 26, 15))
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case.status == "answered" and "22 点" in case.answer_body and "<" not in case.answer_body
        public.rate(s, case, "satisfied", None, "谢谢", now=local(2026, 11, 27))
    assert world.status(case_id) == "closed"
    assert events(world, case_id) == ["submitted", "accepted", "assigned", "signed", "in_progress", "answered",
                                      "rated", "closed"]
    with world.session(readonly=True) as s:
        got = {c.kind: (c.state, c.on_time) for c in s.scalars(select(Clock).where(Clock.case_id == case_id))}
        assert got == {"sign": ("stopped", True), "answer": ("stopped", True), "rating": ("cancelled", None)}
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.subject == f"case:{case_id}")
                                                .order_by(AuditEntry.seq))]
        assert actions == ["case.file", "case.accept", "case.assign", "case.sign", "case.start", "case.answer",
                           "case.rate", "case.close"]
        assert audit.verify(s).ok


def test_department_cannot_act_on_another_departments_case(world):
    case_id = world.assigned("housing")
    with pytest.raises(NotAllowed) as err:
        world.act(case_id, "sign", "ecology1")
    assert err.value.status == 403
    with world.session(readonly=True) as s:
        with pytest.raises(NotAllowed):
            service.get_case(s, case_id, world.actors["ecology1"])
    assert world.status(case_id) == "assigned"


def test_forbidden_transition_is_409_with_the_allowed_ones(world):
    case_id = world.assigned("housing")
    with pytest.raises(InvalidTransition) as err:
        world.act(case_id, "answer", "housing1", body="已经处理完毕，谢谢您的反映。")
    assert err.value.status == 409
    assert sorted(err.value.allowed) == ["return", "sign"]
    assert "已交办" in err.value.message
    with pytest.raises(NotAllowed):  # a dispatcher may not sign for a department
        world.act(case_id, "sign", "disp")


def test_invalid_input_leaves_nothing_half_stored(world):
    case_id, _ = world.file()
    with world.session(readonly=True) as s:
        before = (s.scalar(select(func.count()).select_from(CaseEvent)), s.scalar(select(func.count()).select_from(AuditEntry)))
    with pytest.raises(InvalidInput):
        world.act(case_id, "reject", "disp", reason="  ")
    world.act(case_id, "accept", "disp")
    with pytest.raises(InvalidInput):
        world.act(case_id, "assign", "disp", department_code="nope")
    with world.session(readonly=True) as s:
        assert s.get(Case, case_id).status == "accepted"
        assert s.scalar(select(func.count()).select_from(Clock).where(Clock.case_id == case_id)) == 0
        after = (s.scalar(select(func.count()).select_from(CaseEvent)), s.scalar(select(func.count()).select_from(AuditEntry)))
    assert after == (before[0] + 1, before[1] + 1)  # only the accept


def test_reject_with_public_reason(world):
    case_id, _ = world.file()
    world.act(case_id, "reject", "disp", reason="属于司法程序，请通过诉讼途径解决")
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "rejected" and case.rejection_reason.startswith("属于司法")
        assert case.events[-1].public_note == "不予受理：属于司法程序，请通过诉讼途径解决"


def test_return_and_reassign(world):
    case_id = world.assigned("housing")
    with pytest.raises(InvalidInput):
        world.act(case_id, "return", "housing1", reason="")
    world.act(case_id, "return", "housing1", reason="油烟排放属于生态环境部门职责")
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "returned" and case.department_code is None
        assert case.events[-1].department_code == "housing"
        assert not clocks.open_clocks(s, case_id)
        with pytest.raises(NotAllowed):
            service.get_case(s, case_id, world.actors["housing1"])
    world.act(case_id, "assign", "disp", department_code="ecology")
    world.act(case_id, "sign", "ecology1")
    assert world.status(case_id) == "signed"


def test_waiting_on_the_citizen_pauses_the_clock(world):
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    with world.session(readonly=True) as s:
        due0 = s.get(Case, case_id).due_at
    world.act(case_id, "request_material", "housing1", now=local(2026, 11, 25, 0, 0), note="请提供噪音发生时段的录音")
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "waiting_citizen" and case.due_at is None
        assert public.public_deadline(case) == (None, False)
        assert public.citizen_actions(case, s).can_supply_material
    with world.session() as s:  # the citizen answers two working days later
        public.supply_material(s, s.get(Case, case_id), "录音已上传，每晚 23 点到 3 点", now=local(2026, 11, 27, 0, 0))
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "in_progress"
        assert due0 == local(2026, 12, 11, 0, 0)  # end of Thu 12-10
        assert case.due_at == local(2026, 12, 15, 0, 0)  # Wed+Thu paused: two working days later, end of Mon 12-14
        assert s.get(CaseMeta, case_id).material_reply.startswith("录音")


def test_extension_needs_a_supervisor_and_has_limits(world):
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    with world.session() as s:
        case = s.get(Case, case_id)
        due0 = case.due_at
        with pytest.raises(InvalidInput) as err:
            service.request_extension(s, case, world.actors["housing1"], 31, "需要第三方检测")
        assert "30" in err.value.message
        with pytest.raises(NotAllowed):
            service.request_extension(s, case, world.actors["ecology1"], 5, "需要第三方检测")
        ext = service.request_extension(s, case, world.actors["housing1"], 5, "需要第三方噪声检测", now=t0)
        ext_id = ext.id
    with world.session() as s:
        with pytest.raises(InvalidTransition):
            service.request_extension(s, s.get(Case, case_id), world.actors["housing1"], 2, "再延两天")
        with pytest.raises(NotAllowed):
            service.decide_extension(s, ext_id, world.actors["housing1"], True, None)
    with world.session() as s:
        service.decide_extension(s, ext_id, world.actors["sup"], True, "同意", now=t0)
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.due_at == local(2026, 12, 18, 0, 0) and due0 == local(2026, 12, 11, 0, 0)
        assert s.get(Extension, ext_id).status == "approved"
        assert case.events[-1].kind == "extended" and "5 个工作日" in case.events[-1].public_note
    with world.session() as s:
        with pytest.raises(InvalidTransition):
            service.decide_extension(s, ext_id, world.actors["sup"], False, None)


def test_merge_sends_the_masters_answer_to_every_citizen(world):
    master = world.assigned("housing")
    child, _ = world.file(title="同一家烧烤店深夜噪音", phone="13700000000")
    with pytest.raises(InvalidInput):
        world.act(child, "merge", "disp", master="MS00000000-99999")
    with pytest.raises(InvalidInput):
        world.act(child, "merge", "disp", master=child)
    with world.session(readonly=True) as s:
        number = s.get(Case, master).tracking_number
    world.act(child, "merge", "disp", master=number)
    assert world.status(child) == "merged"
    world.act(master, "sign", "housing1")
    world.act(master, "answer", "housing1", body="已责令该烧烤店整改，夜间停止营业。")
    with world.session(readonly=True) as s:
        c = s.get(Case, child)
        assert c.status == "answered" and c.answer_body == "已责令该烧烤店整改，夜间停止营业。"
        assert c.department_code == "housing"
        assert public.citizen_actions(c, s).can_rate


def test_merged_cases_follow_their_master_when_it_is_merged_or_rejected(world):
    a = world.assigned("housing")
    b, _ = world.file(title="烧烤店凌晨噪音", phone="13700000001")
    c, _ = world.file(title="烧烤店油烟和噪音", phone="13700000002")
    with world.session(readonly=True) as s:
        number = {i: s.get(Case, i).tracking_number for i in (a, b)}
    world.act(c, "merge", "disp", master=number[b])
    world.act(b, "merge", "disp", master=number[a])  # b's merged case moves with it to a
    with world.session(readonly=True) as s:
        assert s.get(Case, c).master_case_id == a and s.get(Case, b).master_case_id == a
        assert number[a] in s.get(Case, c).events[-1].public_note
    world.act(a, "sign", "housing1")
    world.act(a, "answer", "housing1", body="已责令该烧烤店整改，夜间停止营业。")
    with world.session(readonly=True) as s:
        for child in (b, c):  # every merged citizen gets the answer and may rate it
            case = s.get(Case, child)
            assert case.status == "answered" and case.answer_body == "已责令该烧烤店整改，夜间停止营业。"
            assert public.citizen_actions(case, s).can_rate

    d, _ = world.file(title="测试主件", phone="13700000003")
    e, _ = world.file(title="测试并件", phone="13700000004")
    world.act(e, "merge", "disp", master=d)
    world.act(d, "reject", "disp", reason="属于民事纠纷，请通过诉讼途径解决")
    with world.session(readonly=True) as s:
        child = s.get(Case, e)
        assert child.status == "rejected" and child.rejection_reason == "属于民事纠纷，请通过诉讼途径解决"
        assert "不予受理" in child.events[-1].public_note and child.events[-1].public
        assert audit.verify(s).ok


def test_unsatisfied_reopens_once_then_goes_to_a_supervisor(world):
    case_id = world.assigned("housing")
    world.act(case_id, "sign", "housing1")
    world.act(case_id, "answer", "housing1", body="已处理，噪音源已关停。")
    with world.session() as s:
        with pytest.raises(InvalidInput):
            public.rate(s, s.get(Case, case_id), "unsatisfied", None, None)  # reason required
        public.rate(s, s.get(Case, case_id), "unsatisfied", "not_solved", "噪音依旧")
    assert world.status(case_id) == "reopened"
    with world.session(readonly=True) as s:
        kinds = {(c.kind, c.reason, c.state) for c in s.scalars(select(Clock).where(Clock.case_id == case_id))}
        assert ("answer", "reopened", "running") in kinds and ("sign", "reopened", "running") in kinds
    world.act(case_id, "sign", "housing1")
    world.act(case_id, "answer", "housing1", body="已再次现场检查并处罚。")
    with world.session() as s:
        public.rate(s, s.get(Case, case_id), "unsatisfied", "slow", None)
    assert world.status(case_id) == "appealed"
    with world.session(readonly=True) as s:  # the second 不满意 reaches the supervisors, with a review clock
        assert s.scalar(select(func.count()).select_from(Notice).where(
            Notice.recipient_role == "supervisor", Notice.dedupe_key.like(f"case:{case_id}:review:%"))) == 1
        assert [c.kind for c in clocks.open_clocks(s, case_id)] == ["review"]
    with pytest.raises(NotAllowed):
        world.act(case_id, "uphold", "housing1", note="维持")
    world.act(case_id, "uphold", "sup", note="经复查，处理符合规定。")
    assert world.status(case_id) == "closed"
    with world.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Rating).where(Rating.case_id == case_id)) == 2


def test_rating_twice_or_late_is_refused(world):
    t0 = local(2026, 11, 23, 9)
    case_id = world.assigned("housing", now=t0)
    world.act(case_id, "sign", "housing1", now=t0)
    world.act(case_id, "answer", "housing1", now=t0, body="已督促整改完毕，谢谢。")
    with world.session() as s:
        with pytest.raises(InvalidTransition) as err:
            public.rate(s, s.get(Case, case_id), "satisfied", None, None, now=t0 + dt.timedelta(days=15, minutes=1))
        assert "15 日" in err.value.message
    with world.session() as s:
        public.rate(s, s.get(Case, case_id), "basic", None, None, now=t0 + dt.timedelta(days=14))
    with world.session() as s:
        with pytest.raises(InvalidTransition) as err:
            public.rate(s, s.get(Case, case_id), "satisfied", None, None, now=t0 + dt.timedelta(days=14))
        assert "已经评价" in err.value.message


def test_appeal_within_thirty_days_once(world):
    t0 = local(2026, 11, 23, 9)
    late = world.assigned("housing", now=t0)
    world.act(late, "sign", "housing1", now=t0)
    world.act(late, "answer", "housing1", now=t0, body="已督促整改完毕，谢谢。")
    with world.session() as s:
        with pytest.raises(InvalidTransition) as err:
            public.appeal(s, s.get(Case, late), "不服", now=t0 + dt.timedelta(days=31))
        assert "30 日" in err.value.message
    with world.session() as s:
        public.appeal(s, s.get(Case, late), "答复与事实不符", now=t0 + dt.timedelta(days=20))
    assert world.status(late) == "appealed"
    world.act(late, "redo", "sup", note="请重新核实", now=t0 + dt.timedelta(days=21))
    assert world.status(late) == "reopened"
    world.act(late, "sign", "housing1")
    world.act(late, "answer", "housing1", body="重新核实后已整改完毕。")
    with world.session() as s:
        with pytest.raises(InvalidTransition):
            public.appeal(s, s.get(Case, late), "再次申请")


def test_held_case_is_released_or_rejected(world):
    case_id, _ = world.file()
    with world.session() as s:  # as screening would have held it
        s.get(Case, case_id).status = "held"
    world.act(case_id, "release", "disp")
    assert world.status(case_id) == "submitted"
    assert state.allowed_actions(Case(status="held"), world.actors["disp"]) == ["release", "reject"]


def test_audit_chain_detects_an_edited_transition(world):
    from typer.testing import CliRunner

    from api.cli import app
    case_id = world.assigned("housing")
    world.act(case_id, "sign", "housing1")
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
    with world.session() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "case.assign"))
        row.details = {**row.details, "department": "ecology"}  # someone rewrites who got the case
        seq = row.seq
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and f"row {seq}" in result.output


def test_the_sweep_is_scheduled_every_minute(env):
    from apscheduler.schedulers.background import BackgroundScheduler

    from cases import jobs
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    jobs.register(scheduler, env)
    job = scheduler.get_job("cases-sweep")
    assert job is not None and job.trigger.interval.total_seconds() == 60 and job.max_instances == 1
