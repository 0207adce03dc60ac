"""The heat index (热度指数): a documented, configurable sum of factor points times a recency decay.

    points  = w_documents * ln(1 + documents)
            + w_reporters * ln(1 + distinct reporters)
            + w_likes     * ln(1 + public votes)
            + w_growth    * max(0, ln((1 + documents in the last growth window)
                                      / (1 + documents in the window before)))
            + w_negative  * share of negative documents
            + w_risk      * min(risk-flagged documents, 3)
    heat    = points * 0.5 ** (days since the last document / half_life_days)

Logarithms keep one huge cluster from drowning every other signal; each factor's points are
shown on the topic page so an analyst can see why a topic ranks where it does.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

FACTOR_LABELS = {
    "documents": "诉求数量", "reporters": "反映人数", "likes": "公众点赞", "growth": "近期增长",
    "negative": "负面情绪", "risk": "风险标记",
}


@dataclass
class HeatInputs:
    documents: int
    reporters: int
    likes: int
    recent: int
    previous: int
    negative: int
    risk: int
    last_seen: dt.datetime | None


@dataclass
class HeatResult:
    heat: float
    points: float
    decay: float
    factors: list[dict]  # [{"factor", "label", "value", "points"}]


def compute(inputs: HeatInputs, cfg: dict[str, float], reference: dt.datetime) -> HeatResult:
    n = max(inputs.documents, 0)
    growth = max(0.0, math.log((1 + inputs.recent) / (1 + inputs.previous)))
    negative_share = inputs.negative / n if n else 0.0
    parts = [
        ("documents", n, cfg["w_documents"] * math.log1p(n)),
        ("reporters", inputs.reporters, cfg["w_reporters"] * math.log1p(max(inputs.reporters, 0))),
        ("likes", inputs.likes, cfg["w_likes"] * math.log1p(max(inputs.likes, 0))),
        ("growth", round(growth, 3), cfg["w_growth"] * growth),
        ("negative", round(negative_share, 3), cfg["w_negative"] * negative_share),
        ("risk", inputs.risk, cfg["w_risk"] * min(max(inputs.risk, 0), 3)),
    ]
    points = sum(p for _, _, p in parts)
    decay = 1.0
    half_life = cfg.get("half_life_days", 0.0)
    if half_life and inputs.last_seen is not None:
        age_days = max(0.0, (reference - inputs.last_seen).total_seconds() / 86400)
        decay = 0.5 ** (age_days / half_life)
    factors = [{"factor": name, "label": FACTOR_LABELS[name], "value": value, "points": round(p, 2)}
               for name, value, p in parts]
    return HeatResult(heat=round(points * decay, 2), points=round(points, 2), decay=round(decay, 4), factors=factors)


def fast_scorer(cfg: dict[str, float], reference: dt.datetime):
    """``compute(...).heat`` without the breakdown, for ranking thousands of groups quickly."""
    wd, wr, wl, wg, wn, wk = (cfg["w_documents"], cfg["w_reporters"], cfg["w_likes"], cfg["w_growth"],
                              cfg["w_negative"], cfg["w_risk"])
    half_life = cfg.get("half_life_days", 0.0)
    ref = reference.timestamp()
    log1p, log = math.log1p, math.log

    def score(n: int, reporters: int, likes: int, recent: int, previous: int, negative: int, risk: int,
              last_seen: dt.datetime | None) -> float:
        growth = log((1 + recent) / (1 + previous))
        points = (wd * log1p(n) + wr * log1p(reporters) + wl * log1p(likes) + (wg * growth if growth > 0 else 0.0)
                  + (wn * negative / n if n else 0.0) + wk * (risk if risk < 3 else 3))
        if half_life and last_seen is not None:
            age = (ref - last_seen.timestamp()) / 86400
            points *= 0.5 ** ((age if age > 0 else 0.0) / half_life)
        return round(points, 2)

    return score
