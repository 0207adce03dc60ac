"""Analyst actions on hot topics and alerts: rename, pin, merge, split, master case, acknowledge.

Every action validates its input first (a ``TrendsError`` with a Chinese message, nothing
stored), then changes the rows and appends an audit entry, all in the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.database import utcnow
from core.models import Case, CaseEvent, User
from core.models.cases import STATUS_LABELS
from search.trends import actions, cluster, config, engine, heat
from search.trends.models import HotTopic, TrendAlert, TrendMember

#: Case states that still wait for an answer (anything else is answered, closed or out of the flow).
OPEN_STATES = frozenset({"held", "submitted", "accepted", "assigned", "signed", "in_progress", "waiting_citizen",
                         "returned", "reopened", "appealed"})
ANSWERED_STATES = frozenset({"answered", "closed"})
RATING_NOTES = (("评价：不满意", "unsatisfied"), ("评价：基本满意", "basic"), ("评价：满意", "satisfied"))
RATING_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


class TrendsError(ValueError):
    """Refused input; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def actor_name(user: User | None) -> str:
    return f"user:{user.id}" if user is not None else "system"


def get_topic(session: Session, topic_id: int, follow: bool = True) -> HotTopic:
    topic = session.get(HotTopic, topic_id)
    if topic is None:
        raise TrendsError(f"热点问题 #{topic_id} 不存在。", 404)
    if follow and topic.status == "merged" and topic.merged_into_id:
        resolved = cluster._resolve(session, topic)
        if resolved is not None:
            return resolved
    return topic


# --- analyst edits ------------------------------------------------------------------------------

def rename(session: Session, topic_id: int, title: str, user: User | None) -> HotTopic:
    title = re.sub(r"\s+", " ", title or "").strip()
    if not title:
        raise TrendsError("请填写热点问题的标题。")
    if len(title) > 100:
        raise TrendsError(f"标题过长（{len(title)} 字），最多 100 字。")
    topic = get_topic(session, topic_id)
    old = topic.title
    topic.title, topic.title_locked = title, True
    audit.append(session, actor_name(user), "trends.rename", f"hot_topic:{topic.id}", {"from": old, "to": title})
    return topic


def pin(session: Session, topic_id: int, pinned: bool, user: User | None) -> HotTopic:
    topic = get_topic(session, topic_id)
    topic.pinned = bool(pinned)
    audit.append(session, actor_name(user), "trends.pin" if pinned else "trends.unpin", f"hot_topic:{topic.id}", {})
    return topic


def merge(session: Session, keep_id: int, other_ids: list[int], user: User | None) -> HotTopic:
    """Merge other topics into ``keep_id`` (analyst's 合并)."""
    ids = [i for i in dict.fromkeys(other_ids or []) if i != keep_id]
    if not ids:
        raise TrendsError("请至少选择一个要并入的其他热点问题。")
    keep = get_topic(session, keep_id, follow=False)
    if keep.status != "active":
        raise TrendsError(f"热点问题 #{keep_id} 已并入 #{keep.merged_into_id}，请在该问题上操作。", 409)
    others = []
    for i in ids:
        other = get_topic(session, i, follow=False)
        if other.status != "active":
            raise TrendsError(f"热点问题 #{i} 已并入其他问题，无法再次合并。", 409)
        others.append(other)
    for other in others:
        cluster.merge_topics(session, keep, other)
    engine.refresh_heat(session, keep, config.load(session, "heat"), keep.last_seen or utcnow())
    audit.append(session, actor_name(user), "trends.merge", f"hot_topic:{keep.id}", {"merged": ids})
    return keep


def split(session: Session, topic_id: int, document_ids: list[int], user: User | None,
          title: str | None = None) -> HotTopic:
    """Move the given member documents into a new topic (analyst's 拆分); both topics are rebuilt."""
    topic = get_topic(session, topic_id, follow=False)
    if topic.status != "active":
        raise TrendsError(f"热点问题 #{topic_id} 已并入其他问题，无法拆分。", 409)
    wanted = list(dict.fromkeys(int(i) for i in document_ids or []))
    if not wanted:
        raise TrendsError("请选择要拆分出去的信息。")
    members = set(session.scalars(select(TrendMember.document_id).where(
        TrendMember.topic_id == topic.id, TrendMember.document_id.in_(wanted))))
    strangers = [i for i in wanted if i not in members]
    if strangers:
        raise TrendsError(f"信息 {', '.join(map(str, strangers[:10]))} 不属于热点问题 #{topic_id}。")
    if len(members) >= (topic.size or 0):
        raise TrendsError("不能把全部信息拆分出去：请至少保留一条，或直接重命名该问题。")
    new = HotTopic(title=(title or "").strip()[:100] or "拆分出的问题", title_locked=bool((title or "").strip()),
                   terms={}, place_counts={}, label_counts={}, places=[], keywords=[], representative_ids=[], size=0)
    session.add(new)
    session.flush()
    session.execute(update(TrendMember).where(TrendMember.document_id.in_(wanted))
                    .values(topic_id=new.id, manual=True))
    rebuild(session, topic)
    rebuild(session, new)
    audit.append(session, actor_name(user), "trends.split", f"hot_topic:{topic.id}",
                 {"new_topic": new.id, "documents": wanted[:200], "count": len(wanted)})
    return new


def rebuild(session: Session, topic: HotTopic) -> None:
    """Recompute a topic from its members (``cluster.rebuild``), then its heat."""
    cluster.rebuild(session, topic)
    engine.refresh_heat(session, topic, config.load(session, "heat"), topic.last_seen or utcnow())


# --- cases --------------------------------------------------------------------------------------

def _find_case(session: Session, ref: str | int | None) -> Case:
    ref = str(ref or "").strip()
    if not ref:
        raise TrendsError("请填写主件的受理号或编号。")
    case = session.get(Case, int(ref)) if ref.isdigit() and len(ref) < 12 else None
    if case is None:
        case = session.scalar(select(Case).where(Case.tracking_number == ref))
    if case is None:
        raise TrendsError(f"未找到受理号为“{ref[:40]}”的诉求。", 404)
    return case


def member_cases(session: Session, topic: HotTopic) -> list[Case]:
    member_docs = select(TrendMember.document_id).where(TrendMember.topic_id == topic.id)
    return list(session.scalars(select(Case).where(Case.document_id.in_(member_docs)).order_by(Case.id)))


def latest_ratings(session: Session, case_ids: list[int]) -> dict[int, str]:
    """The citizen's latest rating per case, read from the public ``rated`` timeline events."""
    if not case_ids:
        return {}
    out: dict[int, str] = {}
    rows = session.execute(select(CaseEvent.case_id, CaseEvent.public_note).where(
        CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "rated").order_by(CaseEvent.id)).all()
    for case_id, note in rows:
        for prefix, value in RATING_NOTES:
            if (note or "").startswith(prefix):
                out[case_id] = value
                break
    return out


def link_master(session: Session, topic_id: int, ref: str | int | None, user: User | None) -> Case:
    topic = get_topic(session, topic_id)
    case = _find_case(session, ref)
    if case.master_case_id is not None:
        raise TrendsError(f"诉求 {case.tracking_number} 已并入其他主件，不能作为主件。", 409)
    if case.status in ("rejected", "merged"):
        raise TrendsError(f"诉求 {case.tracking_number} 当前状态为“{STATUS_LABELS.get(case.status, case.status)}”，"
                          "不能作为主件。", 409)
    topic.master_case_id = case.id
    audit.append(session, actor_name(user), "trends.link_case", f"hot_topic:{topic.id}",
                 {"case": case.id, "tracking_number": case.tracking_number})
    return case


def merge_member_cases(session: Session, topic_id: int, user: User) -> dict[str, Any]:
    """并单: every open member case goes under the topic's master case, through the cases module."""
    topic = get_topic(session, topic_id)
    if topic.master_case_id is None:
        raise TrendsError("请先为该热点问题指定主件，再并单。", 409)
    impl = actions.current()
    if impl is None:
        raise TrendsError("案件模块未接入，无法在此并单；请到分派台按主件受理号并案。", 503)
    master = session.get(Case, topic.master_case_id)
    merged, skipped = [], []
    for case in member_cases(session, topic):
        if case.id == master.id or case.master_case_id == master.id:
            continue
        if case.status not in ("submitted", "accepted", "assigned", "returned"):
            skipped.append({"case": case.tracking_number, "reason": f"状态为“{STATUS_LABELS.get(case.status, case.status)}”"})
            continue
        try:
            impl.merge(session, case, master, user)
        except actions.CaseActionError as exc:
            skipped.append({"case": case.tracking_number, "reason": str(exc)})
            continue
        merged.append(case.tracking_number)
    audit.append(session, actor_name(user), "trends.merge_cases", f"hot_topic:{topic.id}",
                 {"master": master.id, "merged": merged, "skipped": len(skipped)})
    return {"master": master.tracking_number, "merged": merged, "skipped": skipped}


def assign_master(session: Session, topic_id: int, department_code: str, user: User) -> Case:
    topic = get_topic(session, topic_id)
    if topic.master_case_id is None:
        raise TrendsError("请先为该热点问题指定主件。", 409)
    if not (department_code or "").strip():
        raise TrendsError("请选择承办部门。")
    impl = actions.current()
    if impl is None:
        raise TrendsError("案件模块未接入，无法在此分派；请到分派台处理主件。", 503)
    master = session.get(Case, topic.master_case_id)
    try:
        impl.assign(session, master, department_code.strip(), user)
    except actions.CaseActionError as exc:
        raise TrendsError(str(exc), 409) from exc
    return master


def case_summary(session: Session, topic: HotTopic) -> dict[str, Any]:
    """Member cases with status and rating; whether every one is answered; satisfaction among rated."""
    cases = member_cases(session, topic)
    master = session.get(Case, topic.master_case_id) if topic.master_case_id else None
    if master is not None and master.id not in {c.id for c in cases}:
        cases = [master] + cases
    ratings = latest_ratings(session, [c.id for c in cases])
    now = utcnow()
    rows = []
    for c in cases:
        effective = master if (master is not None and c.master_case_id == master.id) else c
        rows.append({
            "id": c.id, "tracking_number": c.tracking_number, "title": c.title, "status": c.status,
            "status_label": STATUS_LABELS.get(c.status, c.status), "department_code": c.department_code,
            "due_at": c.due_at, "answered_at": c.answered_at or (effective.answered_at if effective is not c else None),
            "overdue": c.status in OPEN_STATES and c.due_at is not None and c.due_at < now,
            "rating": ratings.get(c.id), "rating_label": RATING_LABELS.get(ratings.get(c.id, ""), ""),
            "is_master": master is not None and c.id == master.id,
        })
    answered = sum(1 for r, c in zip(rows, cases) if c.status in ANSWERED_STATES
                   or (c.status == "merged" and master is not None and master.status in ANSWERED_STATES))
    rated = [v for v in ratings.values()]
    satisfied = sum(1 for v in rated if v in ("satisfied", "basic"))
    return {
        "cases": rows, "total": len(rows), "answered": answered, "all_answered": bool(rows) and answered == len(rows),
        "rated": len(rated), "satisfied": satisfied,
        "satisfaction": round(satisfied / len(rated), 3) if rated else None,
        "master": rows[0] if rows and rows[0]["is_master"] else next((r for r in rows if r["is_master"]), None),
    }


# --- alerts -------------------------------------------------------------------------------------

def acknowledge(session: Session, alert_id: int, user: User, note: str | None = None) -> TrendAlert:
    alert = session.get(TrendAlert, alert_id)
    if alert is None:
        raise TrendsError(f"预警 #{alert_id} 不存在。", 404)
    note = (note or "").strip()
    if len(note) > 500:
        raise TrendsError("处置说明最多 500 字。")
    if alert.acknowledged_at is not None:
        raise TrendsError(f"预警 #{alert_id} 已于此前被确认。", 409)
    alert.acknowledged_at, alert.acknowledged_by, alert.ack_note = utcnow(), user.id, note or None
    audit.append(session, actor_name(user), "trends.ack_alert", f"trend_alert:{alert.id}", {"note": note[:200]})
    return alert


def heat_breakdown(session: Session, topic: HotTopic, reference: dt.datetime) -> heat.HeatResult:
    cfg = config.load(session, "heat")
    recent, previous = engine.window_counts(session, topic.id, reference, cfg["growth_window_days"])
    return heat.compute(heat.HeatInputs(topic.size or 0, topic.reporters or 0, topic.likes or 0, recent, previous,
                                        topic.negative or 0, topic.risk or 0, topic.last_seen), cfg, reference)


def daily_counts(session: Session, topic_id: int) -> list[tuple[str, int]]:
    return [(d, n) for d, n in session.execute(
        select(TrendMember.day, func.count()).where(TrendMember.topic_id == topic_id)
        .group_by(TrendMember.day).order_by(TrendMember.day)).all()]
