"""Registry of worker stages. Domain packages register theirs at import time.

A stage receives the session and the document. It runs in its own transaction together with
the outbox row's progress marker, so a crash repeats the stage and never records it twice.
Effects outside the database (the search index) must be idempotent by document id.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.models import Document

StageFn = Callable[[Session, Document], None]


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    run: StageFn
    pipelines: frozenset[str] = field(default_factory=lambda: frozenset({"document"}))


_STAGES: dict[str, Stage] = {}


def register_stage(name: str, order: int, pipelines: tuple[str, ...] = ("document",)) -> Callable[[StageFn], StageFn]:
    """Decorator: ``@register_stage("nlp", 100)``. Lower ``order`` runs first; re-registering replaces."""

    def decorate(fn: StageFn) -> StageFn:
        _STAGES[name] = Stage(name, order, fn, frozenset(pipelines))
        return fn

    return decorate


def unregister_stage(name: str) -> None:
    _STAGES.pop(name, None)


def stages_for(pipeline: str) -> list[Stage]:
    return sorted((s for s in _STAGES.values() if pipeline in s.pipelines), key=lambda s: (s.order, s.name))


def registered() -> list[Stage]:
    return sorted(_STAGES.values(), key=lambda s: (s.order, s.name))
