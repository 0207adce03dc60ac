"""Surge detection: each key's current window against its own history (Poisson tail), three levels.

Keys are a topic label (城乡建设 …), a place and a hot topic. Counts are kept per hour
(``trend_counts``), so a check reads at most ``window + history`` hourly rows per key: the cost
does not grow with the corpus. The baseline is the mean count per window over the history,
floored so that a brand-new key still needs several documents to look unusual.

Levels (thresholds in ``config.SURGE_DEFAULTS``): 1 关注, 2 预警, 3 紧急 — each needs a minimum
count and a Poisson tail probability P(X >= count | baseline) below its bound. One surge is one
``TrendAlert`` row (an episode): later triggers update it and may escalate its level, and a
notice goes out once per level reached, so the same surge is never raised twice.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.database import utcnow
from core.masking import mask_personal_data
from core.notices import notify
from search.trends.dbutil import insert_for, upsert, upsert_many
from search.trends.features import DocFeatures, is_admin_area, is_generic_place
from search.trends.models import ALERT_LEVELS, TrendAlert, TrendCount

NOTICE_LEVEL = {1: "info", 2: "warning", 3: "urgent"}
SCOPE_LABELS = {"label": "话题类别", "place": "地点", "topic": "热点问题", "document": "单条信息"}
RISK_LABELS = {
    "group_action": "群体性事件苗头", "self_harm": "轻生倾向", "violence": "暴力威胁",
    "safety_hazard": "重大安全隐患", "minor": "未成年人风险", "repeat": "重复反映未解决",
}
_CITY = re.compile(r"^(?:[A-Z]\d{0,3}市|.{1,4}[省市])$")


@dataclass
class SurgeStat:
    scope: str
    key: str
    current: int
    baseline: float
    rate: float
    p_value: float
    z: float
    level: int


def hour_of(at: dt.datetime) -> int:
    return int(at.timestamp() // 3600)


def poisson_tail(count: int, lam: float) -> float:
    """P(X >= count) for X ~ Poisson(lam), summed in log space (stable for large counts)."""
    if count <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    if count <= lam:
        # the lower tail is the short sum here
        below = sum(math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1)) for k in range(count))
        return max(0.0, 1.0 - below)
    total = 0.0
    k = count
    while True:
        term = math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))
        total += term
        if term < total * 1e-12 or k > count + 1000:
            break
        k += 1
    return min(1.0, total)


def keys_of(f: DocFeatures, topic_id: int) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if f.label:
        keys.append(("label", f.label))
    # districts surge as well as estates; a common noun or a fragment (家里, 空气里, 垃圾站) is no place to watch
    keys += [("place", p[:120]) for p in f.places[:6] if not _CITY.match(p) and (is_admin_area(p) or not is_generic_place(p))][:4]
    keys.append(("topic", str(topic_id)))
    return keys


def count(session: Session, scope: str, key: str, hour: int) -> None:
    upsert(session, TrendCount, {"scope": scope, "key": key, "hour": hour, "count": 1}, ["scope", "key", "hour"],
           lambda ex: {"count": TrendCount.count + 1})


def measure(session: Session, scope: str, key: str, hour: int, cfg: dict[str, float]) -> SurgeStat:
    """The key's count in the current window, its baseline and level."""
    return measure_many(session, [(scope, key)], hour, cfg)[0]


def _describe(scope: str, key: str, topic_title: str | None) -> str:
    if scope == "topic":
        return f"热点问题“{topic_title or key}”"
    return f"{SCOPE_LABELS[scope]}“{key}”"


def raise_surge(session: Session, stat: SurgeStat, f: DocFeatures, topic_id: int | None, topic_title: str | None,
                cfg: dict[str, float]) -> TrendAlert | None:
    """Open a surge episode or update/escalate the running one; notify analysts once per level."""
    quiet = dt.timedelta(hours=cfg["quiet_hours"])
    alert = session.scalars(
        select(TrendAlert).where(TrendAlert.kind == "surge", TrendAlert.scope == stat.scope, TrendAlert.key == stat.key,
                                 TrendAlert.last_at >= f.at - quiet)
        .order_by(TrendAlert.id.desc()).limit(1)
    ).first()
    evidence = {
        "window_hours": int(cfg["window_hours"]), "count": stat.current, "baseline": stat.baseline,
        "rate_used": round(stat.rate, 3), "p_value": float(f"{stat.p_value:.3g}"), "z": stat.z,
        "history_days": int(cfg["history_days"]),
    }
    if alert is None:
        values = dict(
            dedupe_key=f"surge:{stat.scope}:{stat.key}:{hour_of(f.at)}"[:200], kind="surge", scope=stat.scope,
            key=stat.key, level=stat.level, title="", evidence={**evidence, "document_ids": [f.document_id], "peak": stat.current},
            topic_id=topic_id, document_id=f.document_id, first_at=f.at, last_at=f.at, raised_at=utcnow(),
            documents_seen=stat.current,
        )
        values["title"] = f"{ALERT_LEVELS[stat.level]}：{_describe(stat.scope, stat.key, topic_title)}{int(cfg['window_hours'])}小时内{stat.current}条，显著高于常态（每窗口 {stat.baseline} 条）"[:300]
        session.execute(insert_for(session)(TrendAlert).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
        alert = session.scalars(select(TrendAlert).where(TrendAlert.dedupe_key == values["dedupe_key"])).one()
        _notify(session, alert)
        return alert
    ids = list((alert.evidence or {}).get("document_ids", []))
    if f.document_id not in ids:
        ids = (ids + [f.document_id])[-20:]
    peak = max(int((alert.evidence or {}).get("peak", 0)), stat.current)
    alert.evidence = {**evidence, "document_ids": ids, "peak": peak}
    alert.last_at = max(alert.last_at, f.at)
    if stat.level > alert.level:
        alert.level = stat.level
        alert.title = f"{ALERT_LEVELS[stat.level]}：{_describe(stat.scope, stat.key, topic_title)}{int(cfg['window_hours'])}小时内{stat.current}条，显著高于常态（每窗口 {stat.baseline} 条）"[:300]
        alert.acknowledged_at = None  # an escalation needs a fresh acknowledgement
        alert.acknowledged_by = None
        session.flush()
        _notify(session, alert)
    return alert


def raise_risk(session: Session, f: DocFeatures, topic_id: int | None) -> TrendAlert:
    """A risk-flagged document is an urgent alert the moment it is processed (one per document)."""
    key = f"risk:document:{f.document_id}"
    flags = "、".join(RISK_LABELS.get(r, r) for r in f.risk_flags) or "风险"
    values = dict(
        dedupe_key=key, kind="risk", scope="document", key=str(f.document_id), level=3,
        title=f"紧急：{flags}——{mask_personal_data(f.title)}"[:300], evidence={"flags": f.risk_flags, "document_ids": [f.document_id]},
        topic_id=topic_id, document_id=f.document_id, first_at=f.at, last_at=f.at, raised_at=utcnow(), documents_seen=1,
    )
    session.execute(insert_for(session)(TrendAlert).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    alert = session.scalars(select(TrendAlert).where(TrendAlert.dedupe_key == key)).one()
    _notify(session, alert)
    return alert


def _notify(session: Session, alert: TrendAlert) -> None:
    notify(
        session, f"trends:alert:{alert.id}:L{alert.level}", alert.title, kind="alert" if alert.kind == "surge" else "risk",
        body=_body(alert), level=NOTICE_LEVEL[alert.level], link=f"/alerts#alert-{alert.id}", role="analyst",
    )


def _body(alert: TrendAlert) -> str:
    ev = alert.evidence or {}
    if alert.kind == "risk":
        return f"风险标记：{'、'.join(RISK_LABELS.get(r, r) for r in ev.get('flags', []))}。请立即核实处置。"
    return (f"{ev.get('window_hours')}小时内 {ev.get('count')} 条，过去{ev.get('history_days')}天平均每窗口 "
            f"{ev.get('baseline')} 条（泊松检验 p={ev.get('p_value')}，z={ev.get('z')}）。")


def observe(session: Session, f: DocFeatures, topic_id: int, topic_title: str | None,
            cfg: dict[str, float]) -> list[TrendAlert]:
    """Count the document under each of its keys and raise what surges now (two statements in all)."""
    hour = hour_of(f.at)
    keys = list(dict.fromkeys(keys_of(f, topic_id)))
    table = TrendCount.__table__
    upsert_many(session, TrendCount, [{"scope": sc, "key": k, "hour": hour, "count": 1} for sc, k in keys],
                ["scope", "key", "hour"], lambda ex: {"count": table.c.count + 1})
    raised = []
    for stat in measure_many(session, keys, hour, cfg):
        if stat.level:
            alert = raise_surge(session, stat, f, topic_id if stat.scope == "topic" else None, topic_title, cfg)
            if alert is not None:
                raised.append(alert)
    return raised


def measure_many(session: Session, keys: list[tuple[str, str]], hour: int, cfg: dict[str, float]) -> list[SurgeStat]:
    """``measure`` for several keys in one grouped read."""
    window = max(1, int(cfg["window_hours"]))
    history = max(window, int(cfg["history_days"] * 24))
    start = hour - window + 1
    table = TrendCount.__table__
    # ``scope IN … AND key IN …`` (not a row-value IN, which SQLite answers with a full scan) seeks the
    # primary key (scope, key, hour); the few cross pairs it also reads are dropped below.
    wanted = set(keys)
    found = {(sc, k): (int(cur or 0), int(past or 0)) for sc, k, cur, past in session.execute(
        select(table.c.scope, table.c.key,
               func.sum(case((table.c.hour >= start, table.c.count), else_=0)),
               func.sum(case((table.c.hour < start, table.c.count), else_=0)))
        .where(table.c.scope.in_(sorted({sc for sc, _ in keys})), table.c.key.in_(sorted({k for _, k in keys})),
               table.c.hour >= start - history, table.c.hour <= hour)
        .group_by(table.c.scope, table.c.key)).all() if (sc, k) in wanted}
    return [_stat(sc, k, *found.get((sc, k), (0, 0)), window, history, cfg) for sc, k in keys]


def _stat(scope: str, key: str, current: int, past: int, window: int, history: int, cfg: dict[str, float]) -> SurgeStat:
    baseline = past * window / history
    rate = max(baseline, cfg.get(f"floor_{scope}", 0.2))
    p = poisson_tail(current, rate)
    z = (current - rate) / math.sqrt(rate)
    level = 0
    for lv in (1, 2, 3):
        if current >= cfg[f"min_count_{lv}"] and p < cfg[f"p_{lv}"]:
            level = lv
    return SurgeStat(scope, key, current, round(baseline, 3), rate, p, round(z, 2), level)
