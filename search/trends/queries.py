"""Read side: hot topics of a period ranked by heat, with the same formula the stage stores."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.database import utcnow
from search.trends import config, heat
from search.trends.models import HotTopic, TrendMember, TrendMemberPlace

MAX_IDS = 500


def member_filter(start: dt.datetime | None, end: dt.datetime | None, source: str | None = None,
                  place: str | None = None) -> list:
    clauses = []
    if start is not None:
        clauses.append(TrendMember.at >= start)
    if end is not None:
        clauses.append(TrendMember.at < end)
    if source:
        clauses.append(TrendMember.source == source)
    if place:
        clauses.append(TrendMember.document_id.in_(select(TrendMemberPlace.document_id).where(TrendMemberPlace.place == place)))
    return clauses


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def hot_topics(session: Session, start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int = 20,
               source: str | None = None, place: str | None = None, min_size: int = 2,
               heat_cfg: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Topics with documents in [start, end), heat computed on those documents, highest first.

    Pinned topics with documents in the period come first. A single document counts as a hot
    topic only when the public voted for it (likes >= 10).
    """
    cfg = dict(heat_cfg or config.load(session, "heat"))
    reference = end or utcnow()
    if start is not None and cfg.get("half_life_days"):
        # a long period is ranked as a whole: the half-life stretches to half the period
        cfg["half_life_days"] = max(cfg["half_life_days"], (reference - start).total_seconds() / 86400 / 2)
    window = dt.timedelta(days=cfg["growth_window_days"])
    recent_from, previous_from = reference - window, reference - 2 * window
    clauses = member_filter(start, end, source, place)
    rows = session.execute(
        select(
            TrendMember.topic_id,
            func.count().label("n"),
            func.count(func.distinct(TrendMember.reporter)).label("reporters"),
            func.coalesce(func.sum(TrendMember.likes), 0).label("likes"),
            func.sum(case((TrendMember.sentiment == "negative", 1), else_=0)).label("negative"),
            func.sum(case((TrendMember.risk.is_(True), 1), else_=0)).label("risk"),
            func.sum(case((TrendMember.at >= recent_from, 1), else_=0)).label("recent"),
            func.sum(case((and_(TrendMember.at >= previous_from, TrendMember.at < recent_from), 1), else_=0)).label("previous"),
            func.min(TrendMember.at).label("first"),
            func.max(TrendMember.at).label("last"),
        ).where(*clauses).group_by(TrendMember.topic_id)
        .having(or_(func.count() >= min_size, func.coalesce(func.sum(TrendMember.likes), 0) >= 10))
    ).all()
    score = heat.fast_scorer(cfg, reference)
    scored = []
    for r in rows:
        last = r.last if r.last.tzinfo else r.last.replace(tzinfo=dt.timezone.utc)
        scored.append((r, score(r.n, r.reporters, int(r.likes or 0), int(r.recent or 0), int(r.previous or 0),
                                int(r.negative or 0), int(r.risk or 0), last)))
    pinned = set(session.scalars(select(HotTopic.id).where(HotTopic.pinned.is_(True))))
    scored.sort(key=lambda rr: (rr[0].topic_id not in pinned, -rr[1], -rr[0].n, rr[0].topic_id))
    scored = scored[:limit]
    topics = {t.id: t for t in session.scalars(select(HotTopic).where(HotTopic.id.in_([r.topic_id for r, _ in scored])))} if scored else {}
    out = []
    for r, _ in scored:
        topic = topics[r.topic_id]
        last = r.last if r.last.tzinfo else r.last.replace(tzinfo=dt.timezone.utc)
        result = heat.compute(heat.HeatInputs(r.n, r.reporters, int(r.likes or 0), int(r.recent or 0),
                                              int(r.previous or 0), int(r.negative or 0), int(r.risk or 0), last),
                              cfg, reference)
        ids = session.scalars(select(TrendMember.document_id).where(TrendMember.topic_id == topic.id, *clauses)
                              .order_by(TrendMember.at, TrendMember.document_id).limit(MAX_IDS)).all()
        first = r.first if r.first.tzinfo else r.first.replace(tzinfo=dt.timezone.utc)
        last = r.last if r.last.tzinfo else r.last.replace(tzinfo=dt.timezone.utc)
        out.append({
            "id": topic.id, "title": topic.title, "heat": result.heat, "size": r.n, "reporters": r.reporters,
            "likes": int(r.likes or 0), "places": list(topic.places or []), "keywords": list(topic.keywords or []),
            "label": topic.label, "pinned": topic.pinned, "first_seen": _iso(first), "last_seen": _iso(last),
            "document_ids": list(ids), "factors": result.factors, "decay": result.decay,
        })
    return out
