"""Outbox and worker: stages in order, retries with backoff, dead letters, leases, crash safety."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from core.database import session_scope, utcnow
from core.ingest import IncomingDocument, add_document, upsert_document
from core.models import Document, OutboxItem
from core.outbox import service
from core.outbox.stages import register_stage, unregister_stage
from core.outbox.worker import Worker


@pytest.fixture
def stages():
    """Replace the registered stages with test stages for the duration of a test."""
    from core.outbox import stages as registry
    saved = dict(registry._STAGES)
    registry._STAGES.clear()
    yield registry
    registry._STAGES.clear()
    registry._STAGES.update(saved)


def add_docs(engine, n: int) -> list[int]:
    with session_scope(engine) as s:
        return [add_document(s, IncomingDocument(source="test", title=f"标题{i}", body=f"正文{i}")).id for i in range(n)]


def test_document_commit_adds_exactly_one_outbox_row(engine):
    ids = add_docs(engine, 3)
    with session_scope(engine, readonly=True) as s:
        rows = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert [r.document_id for r in rows] == ids and all(r.status == "pending" for r in rows)


def test_rolled_back_document_leaves_no_outbox_row(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            add_document(s, IncomingDocument(source="test", title="t", body="b"))
            raise RuntimeError("caller failed after staging")
    with session_scope(engine, readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_stages_run_in_order_and_progress_is_recorded(engine, stages):
    seen: list[tuple[str, int]] = []
    register_stage("b", 20)(lambda s, d: seen.append(("b", d.id)))
    register_stage("a", 10)(lambda s, d: seen.append(("a", d.id)))
    (doc_id,) = add_docs(engine, 1)
    stats = Worker(engine).drain(timeout=30)
    assert stats.processed == 1 and seen == [("a", doc_id), ("b", doc_id)]
    with session_scope(engine, readonly=True) as s:
        item = s.scalar(select(OutboxItem))
        assert item.status == "done" and item.stages_done == ["a", "b"]
        assert s.get(Document, doc_id).processed_at is not None


def test_failure_retries_with_backoff_then_dead_letter_then_admin_retry(engine, stages, monkeypatch):
    calls = {"n": 0}

    def flaky(session, doc):
        calls["n"] += 1
        raise ValueError("classifier exploded")

    register_stage("flaky", 10)(flaky)
    add_docs(engine, 1)
    worker = Worker(engine)
    worker.settings = worker.settings.model_copy(update={"max_attempts": 3, "backoff_seconds": 0.01})
    worker.run_once()
    with session_scope(engine, readonly=True) as s:
        item = s.scalar(select(OutboxItem))
        assert item.status == "pending" and item.attempts == 1 and "classifier exploded" in item.last_error
        assert item.available_at > utcnow() - dt.timedelta(seconds=1)
    worker.drain(timeout=30)
    with session_scope(engine, readonly=True) as s:
        item = s.scalar(select(OutboxItem))
        assert item.status == "dead" and item.attempts == 3 and calls["n"] == 3
    unregister_stage("flaky")
    register_stage("fixed", 10)(lambda s, d: None)
    with session_scope(engine) as s:
        assert service.retry_dead(s) == 1
    worker.drain(timeout=30)
    with session_scope(engine, readonly=True) as s:
        assert s.scalar(select(OutboxItem)).status == "done"


def test_failed_stage_keeps_earlier_stage_and_does_not_repeat_it(engine, stages):
    runs = {"a": 0, "b": 0}

    def a(session, doc):
        runs["a"] += 1

    def b(session, doc):
        runs["b"] += 1
        if runs["b"] == 1:
            raise RuntimeError("first try fails")

    register_stage("a", 10)(a)
    register_stage("b", 20)(b)
    add_docs(engine, 1)
    worker = Worker(engine)
    worker.settings = worker.settings.model_copy(update={"backoff_seconds": 0.01})
    worker.drain(timeout=30)
    assert runs == {"a": 1, "b": 2}


def test_stage_effects_and_progress_commit_together(engine, stages):
    """A stage whose transaction fails leaves neither its effect nor its progress marker."""
    def writes_then_fails(session, doc):
        doc.topic = "城乡建设"
        raise RuntimeError("boom")

    register_stage("w", 10)(writes_then_fails)
    (doc_id,) = add_docs(engine, 1)
    Worker(engine).run_once()
    with session_scope(engine, readonly=True) as s:
        assert s.get(Document, doc_id).topic is None
        assert s.scalar(select(OutboxItem)).stages_done == []


def test_two_workers_never_claim_the_same_row(engine, stages):
    add_docs(engine, 20)
    with session_scope(engine) as s1, session_scope(engine) as s2:
        a = service.claim(s1, "w1", 15, 60)
        b = service.claim(s2, "w2", 15, 60)
        ids_a, ids_b = {i.id for i in a}, {i.id for i in b}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 20


def test_expired_lease_is_taken_over(engine, stages):
    register_stage("ok", 10)(lambda s, d: None)
    add_docs(engine, 1)
    with session_scope(engine) as s:
        (item,) = service.claim(s, "crashed-worker", 1, 60)
        item_id = item.id
    with session_scope(engine) as s:
        s.get(OutboxItem, item_id).lease_until = utcnow() - dt.timedelta(seconds=1)
    Worker(engine).drain(timeout=30)
    with session_scope(engine, readonly=True) as s:
        assert s.get(OutboxItem, item_id).status == "done"


def test_upsert_updates_and_requeues_only_on_change(engine):
    with session_scope(engine) as s:
        doc, state = upsert_document(s, IncomingDocument(source="board", external_id="42", title="t", body="b"))
        assert state == "new"
    with session_scope(engine) as s:
        _, state = upsert_document(s, IncomingDocument(source="board", external_id="42", title="t", body="b"))
        assert state == "unchanged"
        _, state = upsert_document(s, IncomingDocument(source="board", external_id="42", title="t", body="b",
                                                       reply_body="已处理"))
        assert state == "updated"
    with session_scope(engine, readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 2
        assert s.scalar(select(func.count()).select_from(Document)) == 1
