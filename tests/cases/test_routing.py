"""Routing: rules on topic, appeal type, keywords and place; NLP labels over the citizen's category;
the default table; high-risk cases jump the queue and notify a supervisor once; SLA policy choice."""
from __future__ import annotations

from sqlalchemy import func, select

from cases import policies, routing, service
from cases.errors import InvalidInput
from cases.models import CaseMeta, Clock
from cases.stages import route
from core.models import Case, Notice
from tests.cases.conftest import local


def routed(world, case_id):
    with world.session() as s:
        case = s.get(Case, case_id)
        route(s, case.document)
    with world.session(readonly=True) as s:
        meta = s.get(CaseMeta, case_id)
        return meta.suggested_department_code, meta.suggestion_reason


def test_default_table_from_the_citizens_category(world):
    case_id, _ = world.file(category="labour", title="公司拖欠工资三个月", phone="13500000001",
                            description="我在某建筑公司打工，公司已经拖欠我们三个月工资，多次讨要无果，请求帮助。")
    dept, reason = routed(world, case_id)
    assert dept == "hrss" and "劳动和社会保障" in reason and "群众选择的类别" in reason


def test_nlp_topic_wins_and_rules_match_keywords_and_place(world):
    with world.session() as s:
        routing.save_rule(s, "user:1", rule_id=None, name="油烟噪音", position=10, topic="环境保护", appeal_type=None,
                          keywords="油烟,噪音", place=None, department_code="ecology")
        routing.save_rule(s, "user:1", rule_id=None, name="A2区城管", position=20, topic=None, appeal_type="投诉",
                          keywords=[], place="A2区", department_code="urban_management")
    case_id, _ = world.file()  # category 城乡建设, place A2区, text mentions 噪音 and 油烟
    dept, reason = routed(world, case_id)
    assert dept == "urban_management" and "A2区" in reason  # topic rule does not match the citizen's 城乡建设
    with world.session() as s:
        doc = s.get(Case, case_id).document
        doc.topic, doc.appeal = "环境保护", "投诉"  # what the NLP stage wrote
    dept, reason = routed(world, case_id)
    assert dept == "ecology" and "规则“油烟噪音”" in reason and "油烟" in reason


def test_high_risk_jumps_the_queue_and_notifies_a_supervisor_once(world):
    calm, _ = world.file(phone="13500000002")
    risky, _ = world.file(phone="13500000003", title="小区燃气泄漏无人处理",
                          description="我们小区地下室燃气泄漏好几天了，味道很大，随时可能爆炸，物业不管，请马上处理。")
    with world.session() as s:
        s.get(Case, risky).document.risk = ["safety_hazard"]
    routed(world, calm)
    routed(world, risky)
    routed(world, risky)  # the stage is idempotent
    with world.session(readonly=True) as s:
        case = s.get(Case, risky)
        assert case.priority == "urgent" and case.risk == ["safety_hazard"] and s.get(CaseMeta, risky).urgent
        alerts = list(s.scalars(select(Notice).where(Notice.kind == "risk")))
        assert len(alerts) == 1 and alerts[0].recipient_role == "supervisor" and alerts[0].level == "urgent"
        queue = service.dispatcher_queues(s)["new"]
        assert queue[0].case.id == risky
    world.act(risky, "accept", "disp", now=local(2026, 11, 23, 9))
    world.act(risky, "assign", "disp", now=local(2026, 11, 23, 9), department_code="housing")
    with world.session(readonly=True) as s:  # urgent policy: hours, not working days
        sign = s.scalar(select(Clock).where(Clock.case_id == risky, Clock.kind == "sign"))
        answer = s.scalar(select(Clock).where(Clock.case_id == risky, Clock.kind == "answer"))
        assert (sign.unit, sign.amount, sign.due_at) == ("hour", 2, local(2026, 11, 23, 11))
        assert answer.due_at == local(2026, 11, 24, 9)


def test_sla_policy_specificity_and_validation(world):
    with world.session() as s:
        policies.save_policy(s, "user:1", policy_id=None, name="环保投诉", appeal_type="投诉", topic="环境保护",
                             priority=None, clocks=[{"kind": "answer", "amount": 5, "unit": "workday"}])
        env_case = Case(appeal_type="投诉", topic="环境保护", priority="normal")
        assert policies.clock_for(s, env_case, "answer").amount == 5
        assert policies.clock_for(s, env_case, "sign").amount == 1  # from the default policy
        assert policies.clock_for(s, Case(appeal_type="咨询", topic=None, priority="normal"), "answer").amount == 3
        assert policies.clock_for(s, Case(appeal_type="投诉", topic="环境保护", priority="urgent"), "answer").unit == "hour"
        for clocks, message in (([], "至少"), ([{"kind": "answer", "amount": 0}], "大于 0"),
                                ([{"kind": "nap", "amount": 1}], "类型"), ([{"kind": "sign", "amount": 1, "unit": "week"}], "单位"),
                                ([{"kind": "sign", "amount": 1}, {"kind": "sign", "amount": 2}], "重复")):
            try:
                policies.save_policy(s, "user:1", policy_id=None, name="坏规则", appeal_type=None, topic=None,
                                     priority=None, clocks=clocks)
            except InvalidInput as exc:
                assert message in exc.message
            else:
                raise AssertionError(f"accepted {clocks}")
        assert s.scalar(select(func.count()).select_from(policies.SlaPolicy).where(policies.SlaPolicy.name == "坏规则")) == 0
