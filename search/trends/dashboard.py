"""The dashboard's aggregates: daily roll-ups for whole days, ``trend_members`` otherwise.

Every aggregate takes the same filters (period, source, place), so the charts always agree. The
dashboard's periods are whole days in Asia/Shanghai: then the per-day series, totals (documents,
negative, risk, the previous period), label shares and the place ranking read the daily roll-ups
(``trend_daily``, or ``trend_place_daily`` under a place filter; see ``summary``), a few thousand rows
instead of every document. A period that does not start and end at midnight in Shanghai takes the raw
path, which gives the same numbers. Distinct topics, the top topics' sparklines and the risk queue read
``trend_members`` through indexes (day, topic_id), (topic_id, day) and (risk, at).
Department figures come from core tables only (``Case``, ``CaseEvent``): they work with or
without the cases package's own tables.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core.database import utcnow
from core.masking import mask_personal_data
from core.models import Case, Department, Document
from search.trends import queries
from search.trends.features import SHANGHAI, is_generic_place
from search.trends.models import TrendAlert, TrendDaily, TrendMember, TrendMemberPlace, TrendPlaceDaily
from search.trends.service import ANSWERED_STATES, OPEN_STATES, latest_ratings

SOURCE_LABELS = {"form": "网上信访", "open311": "Open311", "gov_messages": "问政平台"}


@dataclass
class Filters:
    start: dt.datetime
    end: dt.datetime
    source: str | None = None
    place: str | None = None
    #: False: every aggregate from trend_members (the reference the roll-ups are tested and measured against)
    rollups: bool = True

    @property
    def days(self) -> list[str]:
        first = self.start.astimezone(SHANGHAI).date()
        last = (self.end - dt.timedelta(seconds=1)).astimezone(SHANGHAI).date()
        n = (last - first).days + 1
        return [(first + dt.timedelta(days=i)).isoformat() for i in range(max(0, min(n, 800)))]


def _clauses(f: Filters) -> list:
    if use_rollups(f):  # the same documents by their Shanghai day: the (day, …) indexes serve it
        clauses = [TrendMember.day >= _day(f.start), TrendMember.day < _day(f.end)]
        if f.source:
            clauses.append(TrendMember.source == f.source)
        if f.place:
            clauses.append(TrendMember.document_id.in_(select(TrendMemberPlace.document_id)
                                                       .where(TrendMemberPlace.place == f.place)))
        return clauses
    return queries.member_filter(f.start, f.end, f.source, f.place)


def _day(value: dt.datetime) -> str:
    return value.astimezone(SHANGHAI).date().isoformat()


def whole_days(f: Filters) -> bool:
    """True when the period starts and ends at midnight in Shanghai (every dashboard and briefing period)."""
    def midnight(value: dt.datetime) -> bool:
        return value.tzinfo is not None and value.astimezone(SHANGHAI).time() == dt.time(0)
    return f.end > f.start and midnight(f.start) and midnight(f.end)


def use_rollups(f: Filters) -> bool:
    return f.rollups and whole_days(f)


def rollup(f: Filters, table=None) -> tuple[Any, list]:
    """The roll-up table answering ``f`` (per place under a place filter) and its WHERE clauses.

    Only when ``use_rollups(f)``: day >= the first day and day < the day ``f.end`` starts.
    """
    table = table or (TrendPlaceDaily if f.place else TrendDaily)
    clauses = [table.day >= _day(f.start), table.day < _day(f.end), table.documents != 0]
    if f.source:
        clauses.append(table.source == f.source)
    if f.place:
        clauses.append(table.place == f.place)
    return table, clauses


def _series(rows, days: list[str]) -> dict[str, list[int]]:
    index = {d: i for i, d in enumerate(days)}
    out: dict[str, list[int]] = {}
    for day, key, n in rows:
        if day in index:
            out.setdefault(key or "未分类", [0] * len(days))[index[day]] += int(n)
    return dict(sorted(out.items(), key=lambda kv: (-sum(kv[1]), kv[0])))


def per_day(session: Session, f: Filters, column) -> dict[str, list[int]]:
    """Documents per day and value of ``column`` (``TrendMember.source``, ``.label`` or ``.sentiment``)."""
    if use_rollups(f):
        table, clauses = rollup(f)
        key = getattr(table, column.key)
        rows = session.execute(select(table.day, key, func.sum(table.documents)).where(*clauses)
                               .group_by(table.day, key)).all()
    else:
        rows = session.execute(select(TrendMember.day, column, func.count()).where(*_clauses(f))
                               .group_by(TrendMember.day, column)).all()
    return _series(rows, f.days)


def _documents(session: Session, f: Filters) -> tuple[int, int, int]:
    """(documents, negative, risk) of the filters."""
    if use_rollups(f):
        table, clauses = rollup(f)
        row = session.execute(select(
            func.sum(table.documents), func.sum(case((table.sentiment == "negative", table.documents), else_=0)),
            func.sum(table.risk)).where(*clauses)).one()
    else:
        row = session.execute(select(
            func.count(), func.sum(case((TrendMember.sentiment == "negative", 1), else_=0)),
            func.sum(case((TrendMember.risk.is_(True), 1), else_=0))).where(*_clauses(f))).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def totals(session: Session, f: Filters) -> dict[str, Any]:
    n, negative, risk = _documents(session, f)
    topics = 0
    if n:
        topics = session.scalar(select(func.count(func.distinct(TrendMember.topic_id))).where(*_clauses(f))) or 0
    length = f.end - f.start
    before = _documents(session, Filters(f.start - length, f.start, f.source, f.place, f.rollups))[0]
    return {"documents": n, "negative": negative, "risk": risk, "topics": int(topics),
            "previous_documents": before, "change": round((n - before) / before, 3) if before else None}


def label_shares(session: Session, f: Filters) -> list[dict[str, Any]]:
    if use_rollups(f):
        table, clauses = rollup(f)
        n = func.sum(table.documents)
        rows = session.execute(select(table.label, n).where(*clauses).group_by(table.label).having(n > 0)).all()
    else:
        rows = session.execute(select(TrendMember.label, func.count()).where(*_clauses(f))
                               .group_by(TrendMember.label)).all()
    shares: dict[str, int] = {}
    for label, n in rows:
        shares[label or "未分类"] = shares.get(label or "未分类", 0) + int(n)
    return [{"name": k, "value": v} for k, v in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))]


def places(session: Session, f: Filters, limit: int = 15, growth_days: int = 7) -> list[dict[str, Any]]:
    """Places ranked by volume in the period, with growth of the last week against the week before."""
    recent_from = f.end - dt.timedelta(days=growth_days)
    previous_from = f.end - dt.timedelta(days=2 * growth_days)
    if use_rollups(f) and not f.place:
        # (under a place filter the ranking is of the places named together with it: the raw join,
        # over that one place's documents only)
        table, clauses = rollup(f, TrendPlaceDaily)
        n = func.sum(table.documents)
        rows = session.execute(
            select(table.place, n, func.sum(case((table.day >= _day(recent_from), table.documents), else_=0)),
                   func.sum(case((and_(table.day >= _day(previous_from), table.day < _day(recent_from)), table.documents),
                                 else_=0)))
            .where(*clauses).group_by(table.place).having(n > 0).order_by(n.desc(), table.place).limit(limit * 4)
        ).all()
    else:
        rows = session.execute(
            select(TrendMemberPlace.place, func.count(),
                   func.sum(case((TrendMember.at >= recent_from, 1), else_=0)),
                   func.sum(case((and_(TrendMember.at >= previous_from, TrendMember.at < recent_from), 1), else_=0)))
            .join(TrendMember, TrendMember.document_id == TrendMemberPlace.document_id)
            .where(*_clauses(f)).group_by(TrendMemberPlace.place)
            .order_by(func.count().desc(), TrendMemberPlace.place).limit(limit * 4)
        ).all()
    out = []
    for place, n, recent, previous in rows:
        if is_generic_place(place) and not place.endswith(("区", "县")):
            continue  # the whole city says nothing about where
        recent, previous = int(recent or 0), int(previous or 0)
        growth = round((recent - previous) / previous, 2) if previous else (None if not recent else float(recent))
        out.append({"place": place, "count": int(n), "recent": recent, "previous": previous, "growth": growth})
    return out[:limit]


def sparklines(session: Session, f: Filters, topic_ids: list[int]) -> dict[int, list[int]]:
    if not topic_ids:
        return {}
    days = f.days
    index = {d: i for i, d in enumerate(days)}
    out = {tid: [0] * len(days) for tid in topic_ids}
    for tid, day, n in session.execute(select(TrendMember.topic_id, TrendMember.day, func.count())
                                       .where(TrendMember.topic_id.in_(topic_ids), *_clauses(f))
                                       .group_by(TrendMember.topic_id, TrendMember.day)).all():
        if day in index:
            out[tid][index[day]] += n
    return out


def risk_queue(session: Session, f: Filters, limit: int = 20) -> list[dict[str, Any]]:
    """Unacknowledged risk alerts first, then the period's risk-flagged documents."""
    rows = session.execute(
        select(TrendMember.document_id, TrendMember.at, TrendMember.topic_id, Document.title, Document.risk,
               TrendAlert.id, TrendAlert.acknowledged_at)
        .join(Document, Document.id == TrendMember.document_id)
        .outerjoin(TrendAlert, and_(TrendAlert.kind == "risk", TrendAlert.document_id == TrendMember.document_id))
        .where(TrendMember.risk.is_(True), *_clauses(f))
        .order_by(TrendAlert.acknowledged_at.is_(None).desc(), TrendMember.at.desc()).limit(limit)
    ).all()
    return [{"document_id": d, "at": at.isoformat() if at else None, "topic_id": t, "title": mask_personal_data(title),
             "flags": risk or [],
             "alert_id": aid, "acknowledged": ack is not None} for d, at, t, title, risk, aid, ack in rows]


def departments(session: Session, f: Filters, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per department: cases, open, overdue now, answered on time %, satisfaction among rated."""
    now = now or utcnow()
    clauses = [Case.created_at >= f.start, Case.created_at < f.end, Case.department_code.is_not(None)]
    if f.source or f.place:
        clauses.append(Case.document_id.in_(select(TrendMember.document_id).where(*_clauses(f))))
    rows = session.execute(select(Case.id, Case.department_code, Case.status, Case.due_at, Case.answered_at)
                           .where(*clauses)).all()
    names = dict(session.execute(select(Department.code, Department.name)).all())
    ratings = latest_ratings(session, [r.id for r in rows])
    stats: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = stats.setdefault(r.department_code, {"code": r.department_code, "name": names.get(r.department_code, r.department_code),
                                                 "cases": 0, "open": 0, "overdue": 0, "answered": 0, "on_time": 0,
                                                 "rated": 0, "satisfied": 0})
        s["cases"] += 1
        if r.status in OPEN_STATES:
            s["open"] += 1
            if r.due_at is not None and r.due_at < now:
                s["overdue"] += 1
        if r.answered_at is not None and (r.status in ANSWERED_STATES or r.status in ("reopened", "appealed")):
            s["answered"] += 1
            if r.due_at is None or r.answered_at <= r.due_at:
                s["on_time"] += 1
        if r.id in ratings:
            s["rated"] += 1
            s["satisfied"] += ratings[r.id] in ("satisfied", "basic")
    out = []
    for s in stats.values():
        s["on_time_rate"] = round(s["on_time"] / s["answered"], 3) if s["answered"] else None
        s["satisfaction"] = round(s["satisfied"] / s["rated"], 3) if s["rated"] else None
        out.append(s)
    return sorted(out, key=lambda s: (-s["overdue"], -(s["on_time_rate"] or 0), s["code"]))


def overview(session: Session, f: Filters, top: int = 10) -> dict[str, Any]:
    """Everything the dashboard draws, as one JSON-able dict."""
    hot = queries.hot_topics(session, f.start, f.end, limit=top, source=f.source, place=f.place)
    lines = sparklines(session, f, [t["id"] for t in hot])
    for t in hot:
        t["sparkline"] = lines.get(t["id"], [])
        t.pop("document_ids", None)
    sources = per_day(session, f, TrendMember.source)
    return {
        "filters": {"from": f.start.astimezone(SHANGHAI).date().isoformat(),
                    "to": (f.end - dt.timedelta(seconds=1)).astimezone(SHANGHAI).date().isoformat(),
                    "source": f.source, "place": f.place},
        "days": f.days,
        "totals": totals(session, f),
        "by_source": {SOURCE_LABELS.get(k, k): v for k, v in sources.items()},
        "by_label": per_day(session, f, TrendMember.label),
        "sentiment": per_day(session, f, TrendMember.sentiment),
        "label_shares": label_shares(session, f),
        "hot_topics": hot,
        "risk_queue": risk_queue(session, f),
        "places": places(session, f),
        "departments": departments(session, f),
    }


def available_sources(session: Session) -> list[str]:
    return list(session.scalars(select(TrendDaily.source).where(TrendDaily.documents != 0).distinct()
                                .order_by(TrendDaily.source).limit(50)))
