"""Routing: which department should answer a case, and why.

Rules (admin-edited, first by position wins) match on topic, appeal type, keywords and place.
The topic and appeal type come from the NLP stage when it has run, else from the citizen's
category and choice. Without a matching rule, the topic's default department decides.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput
from cases.models import RoutingRule
from core import audit
from core.models import Case, Department, Document, Topic
from core.models.cases import APPEAL_TYPES

#: Risk flags that make a case urgent (hour clocks); any other flag makes it high priority.
URGENT_FLAGS = {"self_harm", "safety_hazard", "violence", "minor"}


@dataclass(frozen=True)
class Suggestion:
    department_code: str | None
    reason: str
    rule_id: int | None = None


@dataclass(frozen=True)
class Facts:
    topic: str | None
    appeal: str | None
    text: str
    places: tuple[str, ...]
    topic_source: str


def facts(session: Session, case: Case, document: Document | None = None) -> Facts:
    document = document or case.document
    topic, source = None, "未知"
    if document is not None and document.topic:
        topic, source = document.topic, "智能分类"
    elif case.topic:
        topic, source = case.topic, "群众选择的类别"
    elif case.category_topic:
        t = session.get(Topic, case.category_topic)
        topic, source = (t.name, "群众选择的类别") if t else (None, "未知")
    appeal = (document.appeal if document is not None and document.appeal else None) or case.appeal_type
    text = f"{case.title}\n{document.body if document is not None else ''}"
    places = [p for p in (case.place_district, case.place_street, case.place_community, case.place_text) if p]
    if document is not None and document.places:
        places.extend(document.places)
    return Facts(topic, appeal, text, tuple(places), source)


def rule_matches(rule: RoutingRule, f: Facts) -> list[str] | None:
    """The reasons a rule matches, or None."""
    why = []
    if rule.topic:
        if rule.topic != f.topic:
            return None
        why.append(f"主题为{rule.topic}")
    if rule.appeal_type:
        if rule.appeal_type != f.appeal:
            return None
        why.append(f"诉求类型为{rule.appeal_type}")
    if rule.keywords:
        hits = [k for k in rule.keywords if k and k in f.text]
        if not hits:
            return None
        why.append(f"含关键词“{'、'.join(hits[:3])}”")
    if rule.place:
        if not any(rule.place in p for p in f.places):
            return None
        why.append(f"地点含“{rule.place}”")
    return why


def suggest(session: Session, case: Case, document: Document | None = None) -> Suggestion:
    f = facts(session, case, document)
    rules = session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True))
                            .order_by(RoutingRule.position, RoutingRule.id))
    for rule in rules:
        why = rule_matches(rule, f)
        if why is not None:
            dept = session.get(Department, rule.department_code)
            if dept is not None and dept.active:
                return Suggestion(dept.code, f"规则“{rule.name}”：{'，'.join(why) or '无条件'}", rule.id)
    if f.topic:
        topic = session.scalar(select(Topic).where(Topic.name == f.topic))
        if topic is not None and topic.default_department_code:
            dept = session.get(Department, topic.default_department_code)
            if dept is not None and dept.active:
                return Suggestion(dept.code, f"主题“{f.topic}”（{f.topic_source}）的默认承办部门")
    return Suggestion(None, "无法判断主题，请人工分派")


def priority_for(risk: list[str] | None, current: str) -> str:
    if not risk:
        return current
    if URGENT_FLAGS & set(risk):
        return "urgent"
    return "high" if current == "normal" else current


def save_rule(session: Session, actor: str, *, rule_id: int | None, name: str, position: int, topic: str | None,
              appeal_type: str | None, keywords: list[str] | str | None, place: str | None,
              department_code: str, active: bool = True) -> RoutingRule:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写规则名称（不超过 100 字）。")
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.replace("，", ",").split(",")]
    keywords = [k for k in (keywords or []) if k][:50]
    if any(len(k) > 30 for k in keywords):
        raise InvalidInput("关键词每个不超过 30 字。")
    topic, appeal_type, place = (topic or None), (appeal_type or None), ((place or "").strip() or None)
    if topic and session.scalar(select(Topic).where(Topic.name == topic)) is None:
        raise InvalidInput(f"没有名为“{topic}”的主题。")
    if appeal_type and appeal_type not in APPEAL_TYPES:
        raise InvalidInput(f"诉求类型应为 {'、'.join(APPEAL_TYPES)} 之一。")
    dept = session.get(Department, department_code) if department_code else None
    if dept is None:
        raise InvalidInput("请选择有效的承办部门。")
    if not (topic or appeal_type or keywords or place):
        raise InvalidInput("规则至少要有一个条件（主题、诉求类型、关键词或地点）。")
    rule = session.get(RoutingRule, rule_id) if rule_id else RoutingRule()
    if rule is None:
        raise InvalidInput("没有这条分派规则。")
    rule.name, rule.position, rule.topic, rule.appeal_type = name, int(position), topic, appeal_type
    rule.keywords, rule.place, rule.department_code, rule.active = keywords, place, dept.code, bool(active)
    session.add(rule)
    session.flush()
    audit.append(session, actor, "cases.routing_rule", f"routing_rule:{rule.id}",
                 {"name": name, "topic": topic, "appeal_type": appeal_type, "keywords": keywords, "place": place,
                  "department": dept.code, "active": bool(active)})
    return rule
