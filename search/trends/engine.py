"""One document through the console: hot topic, surge counts, risk alert, stored heat.

Used by the worker stage and by the backtest replay alike, so both raise the same alerts.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from search.trends import cluster, config, heat, surge
from search.trends.features import DocFeatures
from search.trends.models import HotTopic, TrendAlert, TrendCount


@dataclass
class Outcome:
    topic_id: int
    created: bool
    new_member: bool
    merged: list[int] = field(default_factory=list)
    alerts: list[TrendAlert] = field(default_factory=list)


def process(session: Session, f: DocFeatures, cfgs: dict[str, dict[str, float]] | None = None) -> Outcome:
    """Idempotent: a document seen before only refreshes its votes and raises nothing new."""
    cfgs = cfgs or config.load_all(session)
    result = cluster.assign(session, f, cfgs["cluster"])
    topic = result.topic
    alerts: list[TrendAlert] = []
    if result.new_member:
        alerts += surge.observe(session, f, topic.id, topic.title, cfgs["surge"])
        if f.risk:
            alerts.append(surge.raise_risk(session, f, topic.id))
    refresh_heat(session, topic, cfgs["heat"], f.at)
    for other_id in set(result.moved.values()) - {topic.id}:
        other = session.get(HotTopic, other_id)
        if other is not None:
            refresh_heat(session, other, cfgs["heat"], f.at)
    session.flush()
    return Outcome(topic.id, result.created, result.new_member, result.merged, alerts)


def window_counts(session: Session, topic_id: int, reference: dt.datetime, days: float) -> tuple[int, int]:
    """Documents of the topic in the last ``days`` before ``reference`` and in the ``days`` before that (one read)."""
    hours = max(1, int(days * 24))
    end = surge.hour_of(reference)
    table = TrendCount.__table__
    row = session.execute(select(
        func.coalesce(func.sum(case((table.c.hour > end - hours, table.c.count), else_=0)), 0),
        func.coalesce(func.sum(case((table.c.hour <= end - hours, table.c.count), else_=0)), 0),
    ).where(table.c.scope == "topic", table.c.key == str(topic_id), table.c.hour > end - 2 * hours,
            table.c.hour <= end)).one()
    return int(row[0] or 0), int(row[1] or 0)


def refresh_heat(session: Session, topic: HotTopic, cfg: dict[str, float], reference: dt.datetime) -> heat.HeatResult:
    recent, previous = window_counts(session, topic.id, reference, cfg["growth_window_days"])
    result = heat.compute(heat.HeatInputs(
        documents=topic.size or 0, reporters=topic.reporters or 0, likes=topic.likes or 0, recent=recent,
        previous=previous, negative=topic.negative or 0, risk=topic.risk or 0, last_seen=topic.last_seen,
    ), cfg, reference)
    topic.heat = result.heat
    return result
