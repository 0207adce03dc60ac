"""Replay stored documents in time order and report the alerts the console would have raised.

The replay runs on a scratch SQLite database (a copy of the documents' analysed fields), so
the live hot topics, alerts and inboxes are never touched. It uses the live configuration.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import plugins
from core.database import Base, make_engine, session_factory
from core.models import Document
from search.trends import config, engine
from search.trends.features import features_of
from search.trends.models import ALERT_LEVELS, TrendAlert

COPIED = ("id", "source", "external_id", "title", "body", "author", "published_at", "created_at", "updated_at", "likes",
          "content_hash", "duplicate_of_id", "tokens", "title_tokens", "topic", "sentiment", "risk", "has_risk", "keywords",
          "places", "organisations", "simhash", "sim_band0", "sim_band1", "sim_band2", "sim_band3")


@dataclass
class Raised:
    at: dt.datetime          # event time of the document that raised or escalated it
    document_number: int     # position of that document in the replay (1-based)
    alert_id: int
    level: int
    kind: str
    scope: str
    title: str
    escalation: bool


def _documents(live: Session, start: dt.datetime, end: dt.datetime, source: str | None) -> Iterator[Document]:
    when = func.coalesce(Document.published_at, Document.created_at)
    stmt = select(Document).where(when >= start, when < end, Document.duplicate_of_id.is_(None)).order_by(when, Document.id)
    if source:
        stmt = stmt.where(Document.source == source)
    yield from live.scalars(stmt.execution_options(yield_per=500))


def replay(live: Session, start: dt.datetime, end: dt.datetime, source: str | None = None,
           on_alert: Callable[[Raised], None] | None = None, scratch: Path | None = None) -> tuple[int, list[Raised]]:
    """Returns (documents replayed, alerts raised or escalated in order)."""
    cfgs = {name: config.load(live, name) for name in ("cluster", "surge", "heat")}
    plugins.load("models")
    folder = Path(tempfile.mkdtemp(prefix="minsheng-backtest-")) if scratch is None else scratch
    eng = make_engine(f"sqlite:///{folder / 'backtest.db'}")
    Base.metadata.create_all(eng)
    Scratch = session_factory(eng)
    seen: dict[int, int] = {}
    raised: list[Raised] = []
    n = 0
    session = Scratch()
    try:
        for doc in _documents(live, start, end, source):
            n += 1
            copy = Document(**{c: getattr(doc, c) for c in COPIED})
            copy.raw = {}
            session.add(copy)
            session.flush()
            outcome = engine.process(session, features_of(copy), cfgs)
            for alert in outcome.alerts:
                if seen.get(alert.id, 0) >= alert.level:
                    continue
                event = Raised(copy.published_at or copy.created_at, n, alert.id, alert.level, alert.kind, alert.scope,
                               alert.title, alert.id in seen)
                seen[alert.id] = alert.level
                raised.append(event)
                if on_alert:
                    on_alert(event)
            if n % 200 == 0:
                session.commit()
        session.commit()
    finally:
        session.close()
        eng.dispose()
    return n, raised


def describe(event: Raised) -> str:
    from search.trends.features import SHANGHAI
    when = event.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    what = "升级" if event.escalation else "新增"
    return f"{when}  第{event.document_number}条后  [{ALERT_LEVELS[event.level]}] {what} #{event.alert_id}  {event.title}"


__all__ = ["Raised", "replay", "describe", "TrendAlert"]
