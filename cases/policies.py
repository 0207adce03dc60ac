"""SLA policies: which clocks a case gets, chosen by priority, topic and appeal type."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput
from cases.models import SlaPolicy
from core import audit
from core.models import Case
from core.models.cases import APPEAL_TYPES

CLOCK_KINDS = ("sign", "answer", "review")
UNITS = ("workday", "hour", "day")
PRIORITIES = ("normal", "high", "urgent")
UNIT_LABELS = {"workday": "个工作日", "hour": "小时", "day": "个自然日"}
KIND_LABELS = {"sign": "签收", "answer": "答复", "review": "复查", "rating": "评价"}

#: Fallbacks when no policy names a clock.
FALLBACK = {"sign": (1.0, "workday"), "answer": (15.0, "workday"), "review": (15.0, "workday")}

@dataclass(frozen=True)
class ClockSpec:
    kind: str
    amount: float
    unit: str
    policy_id: int | None


def validate_clocks(clocks: Any) -> list[dict[str, Any]]:
    """Check an admin's clock list; raise with a message naming the wrong entry."""
    if not isinstance(clocks, list) or not clocks:
        raise InvalidInput("时限设置至少要包含一个计时（如签收、答复）。")
    out, seen = [], set()
    for n, clock in enumerate(clocks, 1):
        if not isinstance(clock, dict):
            raise InvalidInput(f"第 {n} 个计时格式不正确。")
        kind, unit = clock.get("kind"), clock.get("unit", "workday")
        if kind not in CLOCK_KINDS:
            raise InvalidInput(f"第 {n} 个计时的类型应为 {'、'.join(CLOCK_KINDS)} 之一。")
        if kind in seen:
            raise InvalidInput(f"计时类型 {kind} 重复。")
        if unit not in UNITS:
            raise InvalidInput(f"第 {n} 个计时的单位应为 workday（工作日）、hour（小时）或 day（自然日）。")
        try:
            amount = float(clock.get("amount"))
        except (TypeError, ValueError):
            amount = -1
        limit = {"workday": 250, "day": 365, "hour": 2000}[unit]
        if not 0 < amount <= limit:
            raise InvalidInput(f"第 {n} 个计时的时长应大于 0 且不超过 {limit}{UNIT_LABELS[unit]}。")
        seen.add(kind)
        out.append({"kind": kind, "amount": amount, "unit": unit})
    return out


def _score(policy: SlaPolicy, case: Case) -> int | None:
    score = 0
    for field, weight, value in (("priority", 4, case.priority), ("topic", 2, case.topic), ("appeal_type", 1, case.appeal_type)):
        wanted = getattr(policy, field)
        if wanted is None:
            continue
        if wanted != value:
            return None
        score += weight
    return score


def match(session: Session, case: Case) -> SlaPolicy | None:
    best: tuple[int, int, SlaPolicy] | None = None
    for policy in session.scalars(select(SlaPolicy).where(SlaPolicy.active.is_(True))):
        score = _score(policy, case)
        if score is None:
            continue
        key = (score, -policy.id, policy)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def clock_for(session: Session, case: Case, kind: str) -> ClockSpec:
    """The clock of ``kind`` for this case: from the best policy that has it, else the fallback."""
    policy = match(session, case)
    candidates = [policy] if policy else []
    default = session.scalar(select(SlaPolicy).where(SlaPolicy.active.is_(True), SlaPolicy.appeal_type.is_(None),
                                                     SlaPolicy.topic.is_(None), SlaPolicy.priority.is_(None))
                             .order_by(SlaPolicy.id).limit(1))
    if default is not None:
        candidates.append(default)
    for candidate in candidates:
        for clock in candidate.clocks or []:
            if clock.get("kind") == kind:
                return ClockSpec(kind, float(clock["amount"]), clock.get("unit", "workday"), candidate.id)
    amount, unit = FALLBACK[kind]
    return ClockSpec(kind, amount, unit, None)


def save_policy(session: Session, actor: str, *, policy_id: int | None, name: str, appeal_type: str | None,
                topic: str | None, priority: str | None, clocks: Any, active: bool = True) -> SlaPolicy:
    """Create or edit a policy. Running clocks keep their deadlines; new clocks use the new values."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写时限规则名称（不超过 100 字）。")
    appeal_type, topic, priority = (appeal_type or None), (topic or None), (priority or None)
    if appeal_type and appeal_type not in APPEAL_TYPES:
        raise InvalidInput(f"诉求类型应为 {'、'.join(APPEAL_TYPES)} 之一。")
    if priority and priority not in PRIORITIES:
        raise InvalidInput("优先级应为 normal、high 或 urgent。")
    if topic and len(topic) > 32:
        raise InvalidInput("主题名称过长。")
    clocks = validate_clocks(clocks)
    if policy_id is None:
        policy = SlaPolicy(name=name)
        session.add(policy)
    else:
        policy = session.get(SlaPolicy, policy_id)
        if policy is None:
            raise InvalidInput("没有这条时限规则。")
    policy.name, policy.appeal_type, policy.topic, policy.priority = name, appeal_type, topic, priority
    policy.clocks, policy.active = clocks, bool(active)
    session.flush()
    audit.append(session, actor, "cases.sla_policy", f"sla_policy:{policy.id}",
                 {"name": name, "appeal_type": appeal_type, "topic": topic, "priority": priority,
                  "clocks": clocks, "active": bool(active)})
    return policy


def describe(clocks: list[dict[str, Any]]) -> str:
    return "，".join(f"{KIND_LABELS.get(c['kind'], c['kind'])} {c['amount']:g}{UNIT_LABELS.get(c['unit'], c['unit'])}"
                    for c in clocks)
