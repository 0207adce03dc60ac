"""On real messages of the shared corpus: an injected new incident becomes one hot topic and raises a surge.

The full checks (whole corpus, top 10, all 30 injected complaints) are ``bench/trends_corpus.py``;
this test runs a small slice of the same on SQLite so a regression shows in the suite.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from core.database import session_scope
from core.ingest import IncomingDocument, add_document
from search.trends.models import TrendAlert, TrendMember
from search.trends.stages import trends_stage

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "bench" / "trends_corpus.py"


def _bench():
    spec = importlib.util.spec_from_file_location("trends_corpus_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_injected_incident_is_one_topic_with_a_surge(shared_data, sqlite_url, monkeypatch):
    from core.database import engine_for
    bench = _bench()
    rows = [json.loads(line) for line in (shared_data / "unlabeled.jsonl").open(encoding="utf-8") if '"likes"' in line]
    rows = sorted(rows, key=lambda r: r["time"])[-150:]
    rng = random.Random(3)
    base = bench.parse_time(rows[75]["time"])
    incident = [dict(id=f"inc{i}", user=f"U{i}", title=t, text=rng.choice(bench.BODIES).format(t=t),
                     at=base + dt.timedelta(minutes=23 * i)) for i, t in enumerate(bench.INCIDENT[:15])]
    stream = sorted([dict(r, at=bench.parse_time(r["time"])) for r in rows] + incident, key=lambda r: r["at"])
    engine = engine_for(sqlite_url)
    with session_scope(engine) as s:
        injected = set()
        for r in stream:
            doc = add_document(s, IncomingDocument(source="test", external_id=str(r["id"]), title=r["title"],
                                                   body=r.get("text") or "", author=r.get("user"), published_at=r["at"]))
            if str(r["id"]).startswith("inc"):
                injected.add(doc.id)
            trends_stage(s, doc)
        topic_of = dict(s.execute(select(TrendMember.document_id, TrendMember.topic_id)
                                  .where(TrendMember.document_id.in_(injected))).all())
        main, got = Counter(topic_of.values()).most_common(1)[0]
        members = set(s.scalars(select(TrendMember.document_id).where(TrendMember.topic_id == main)))
        assert got / len(injected) >= 0.8, Counter(topic_of.values())
        assert len(members & injected) / len(members) >= 0.9
        alert = s.scalars(select(TrendAlert).where(TrendAlert.topic_id == main, TrendAlert.kind == "surge")).first()
        assert alert is not None and alert.documents_seen <= 5
