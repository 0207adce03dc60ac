"""Configuration of the heat index and surge detection, editable at run time (``trend_settings``).

Defaults live here; an administrator's changes are stored as JSON and merged over them, so
a new default reaches every site that did not override it.
"""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from search.trends.models import TrendSetting

HEAT_DEFAULTS: dict[str, float] = {
    "w_documents": 10.0,    # x ln(1 + documents)
    "w_reporters": 15.0,    # x ln(1 + distinct reporters)
    "w_likes": 4.0,         # x ln(1 + public votes)
    "w_growth": 8.0,        # x max(0, ln((1 + last window) / (1 + window before)))
    "w_negative": 10.0,     # x share of negative documents
    "w_risk": 8.0,          # x min(risk documents, 3)
    "growth_window_days": 7.0,
    "half_life_days": 30.0,  # recency decay: heat halves every half-life since the last document; 0 = off
}

SURGE_DEFAULTS: dict[str, float] = {
    "window_hours": 24.0,        # the current window
    "history_days": 28.0,        # the baseline before it
    "floor_label": 0.5,          # smallest baseline rate per window, by scope
    "floor_place": 0.2,
    "floor_topic": 0.1,
    "min_count_1": 3, "p_1": 1e-2,    # 关注
    "min_count_2": 5, "p_2": 1e-4,    # 预警
    "min_count_3": 10, "p_3": 1e-7,   # 紧急
    "quiet_hours": 48.0,         # a surge episode ends after this long without a new trigger
}

CLUSTER_DEFAULTS: dict[str, float] = {
    "join_threshold": 0.45,      # score needed to join an existing topic
    "place_bonus": 0.3,          # sharing a specific place (estate, road, school), if the problem words agree
    "place_conflict": 0.4,       # different districts; a topic about a place and a document naming none (half)
    "named_conflict": 1.0,       # the document and the topic name different estates / businesses: never joins
    "problem_min": 0.15,         # problem-word similarity below which a shared place or organisation adds nothing
    "same_place_merge": 0.15,    # problem-word similarity at which two topics of one home place and label merge
    "family_weight": 0.5,        # same estate: a shared problem family (building quality and handover) counts as
                                 # this times the smaller share of problem words in it; 0 = off
    "core_share": 0.7,           # no shared place: a topic's core words weigh at least this share of its heaviest word
    "core_weight": 1.5,          # ... and a document loses this times the share of the core's weight it lacks
    "core_min_size": 3,          # ... once the topic has this many members (its core is settled); 0 = off
    "label_penalty": 0.1,        # different topic labels
    "merge_threshold": 0.55,     # centroid similarity at which two topics bridged by a document merge
    "split_threshold": 0.3,      # a member scoring below this against the rest of its grown topic is split out
    "window_days": 90.0,         # topics idle for longer are not candidates any more
    "named_window_days": 365.0,  # ... except through a shared specific place or organisation
    "near_duplicate_bits": 3,    # simhash Hamming distance that counts as the same text
}

DEFAULTS = {"heat": HEAT_DEFAULTS, "surge": SURGE_DEFAULTS, "cluster": CLUSTER_DEFAULTS}


class ConfigError(ValueError):
    """A configuration change that cannot be applied (message in Chinese for the analyst)."""


_CACHE: dict[tuple[str, str], tuple[float, dict[str, dict[str, float]]]] = {}
CACHE_SECONDS = 10.0


def load_all(session: Session) -> dict[str, dict[str, float]]:
    """Every section, cached for a few seconds per database (the stage reads it for each document)."""
    key = (str(session.get_bind().url), "all")
    hit = _CACHE.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    values = {name: load(session, name) for name in DEFAULTS}
    _CACHE[key] = (now + CACHE_SECONDS, values)
    return values


def load(session: Session, name: str) -> dict[str, float]:
    """Defaults merged with the stored overrides of ``name`` (heat | surge | cluster)."""
    values = dict(DEFAULTS[name])
    row = session.get(TrendSetting, name)
    if row is not None:
        values.update({k: v for k, v in (row.value or {}).items() if k in values})
    return values


def save(session: Session, name: str, changes: dict[str, Any], actor: str) -> dict[str, float]:
    """Validate and store overrides; unknown keys and negative or non-numeric values are refused."""
    if name not in DEFAULTS:
        raise ConfigError(f"未知的配置项“{name}”，可选：heat、surge、cluster。")
    unknown = sorted(set(changes) - set(DEFAULTS[name]))
    if unknown:
        raise ConfigError(f"未知的参数：{'、'.join(unknown)}。可用参数：{'、'.join(DEFAULTS[name])}。")
    clean: dict[str, float] = {}
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"参数 {key} 必须是数字。")
        if value < 0 or value != value or value in (float("inf"),):
            raise ConfigError(f"参数 {key} 必须是非负的有限数字。")
        clean[key] = float(value)
    row = session.get(TrendSetting, name)
    if row is None:
        row = TrendSetting(name=name, value={})
        session.add(row)
    row.value = {**(row.value or {}), **clean}
    row.updated_by = actor[:64]
    session.flush()
    _CACHE.clear()
    return load(session, name)
