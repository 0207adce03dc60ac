"""From the database to the index: the queue, the stage, case fields, masking, concurrency, CLI."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import threading
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.database import session_scope
from core.ingest import IncomingDocument, add_document
from core.models import Case, Document, OutboxItem
from search import indexer
from search.backends import forget_backends, get_backend
from search.models import SearchPending
from search.query import parse
from search.types import SearchRequest

UTC = dt.timezone.utc


@pytest.fixture
def db(engine, initialised):
    """A migrated database with the default topics and departments."""
    return engine


@pytest.fixture(autouse=True)
def _isolate():
    yield
    indexer.stop_all(final_flush=False)
    forget_backends()


def add(engine, title: str, body: str, source: str = "gov_board", **fields) -> int:
    with session_scope(engine) as session:
        doc = add_document(session, IncomingDocument(
            source=source, title=title, body=body, external_id=fields.pop("external_id", None),
            author=fields.pop("author", None), published_at=fields.pop("published_at", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        ))
        for key, value in fields.items():
            setattr(doc, key, value)
        return doc.id


def add_case(engine, doc_id: int, number: str, **fields) -> None:
    with session_scope(engine) as session:
        session.add(Case(tracking_number=number, query_code_hash="x", document_id=doc_id, appeal_type="投诉",
                         title="t", text_fingerprint="f", contact_name_enc=b"secret-name", contact_phone_enc=b"secret",
                         **fields))


def queue_and_flush(engine, ids) -> indexer.FlushStats:
    with session_scope(engine) as session:
        indexer.enqueue(session, ids)
    return indexer.flush(engine)


def search(q: str = "", **kw):
    return get_backend().search(SearchRequest(query=parse(q), **kw))


def test_queue_flush_case_fields_masking_and_protection(db):
    engine = db
    a = add(engine, "小区物业乱收费", "物业乱收停车费，联系电话13812345678，身份证430102199001011234，住3栋402室。",
            author="张三", topic="城乡建设", sentiment="negative", appeal="投诉", risk=["repeat"],
            places=["丽发新城"], keywords=["停车费"], likes=7)
    b = add(engine, "举报干部收红包", "某局干部收受红包。", source="form")
    add_case(engine, a, "MS20240501-00001", status="assigned", department_code="housing",
             place_district="A2区", place_text="丽发新城3栋402室")
    add_case(engine, b, "MS20240501-00002", status="submitted", protected=True)
    stats = queue_and_flush(engine, [a, b])
    assert stats.indexed == 2 and stats.failed == 0
    with session_scope(engine) as session:
        assert session.scalar(select(SearchPending.document_id)) is None  # queue drained

    doc = get_backend().get(a)
    assert doc["case"] == "MS20240501-00001" and doc["status"] == "assigned" and doc["department"] == "housing"
    assert doc["topic"] == "城乡建设" and doc["heat"] == 7 and set(doc["places"]) == {"丽发新城", "A2区"}
    assert "13812345678" not in doc["body"] and "138****5678" in doc["body"]
    assert "430102199001011234" not in doc["body"] and "402室" not in doc["body"]
    stored = json.dumps(doc, ensure_ascii=False)
    assert "张三" not in stored and "secret" not in stored and "丽发新城3栋402室" not in stored
    assert search("13812345678").total == 0 and search("430102199001011234").total == 0
    assert search("物业", filters={"status": ["assigned"]}).total == 1
    assert search("红包").total == 0 and search("红包", include_protected=True).total == 1


def test_requeue_after_update_reindexes(db):
    engine = db
    a = add(engine, "垃圾清运不及时", "小区垃圾三天没人清运。", topic="城乡建设")
    add_case(engine, a, "MS20240501-00003", status="assigned", department_code="housing")
    queue_and_flush(engine, [a])
    with session_scope(engine) as session:
        case = session.scalar(select(Case).where(Case.document_id == a))
        case.status = "answered"
        session.get(Document, a).topic = "环境保护"
        indexer.enqueue(session, a)
        indexer.enqueue(session, a)  # twice: one row, idempotent
        assert session.query(SearchPending).count() == 1
    indexer.flush(engine)
    assert get_backend().get(a)["status"] == "answered"
    assert search(filters={"topic": ["环境保护"]}).total == 1 and search(filters={"topic": ["城乡建设"]}).total == 0


def test_deleted_document_leaves_the_index(db):
    engine = db
    a = add(engine, "测试删除", "这条文档稍后删除。")
    queue_and_flush(engine, [a])
    assert search("删除").total == 1
    with session_scope(engine) as session:
        session.execute(OutboxItem.__table__.delete().where(OutboxItem.document_id == a))
        session.execute(Document.__table__.delete().where(Document.id == a))
    queue_and_flush(engine, [a])
    assert search("删除").total == 0


def test_failed_index_write_keeps_the_rows(db, monkeypatch):
    engine = db
    a = add(engine, "索引故障", "写入索引失败时文档留在队列中。")
    backend = get_backend()
    monkeypatch.setattr(backend, "index", lambda docs: (_ for _ in ()).throw(RuntimeError("disk full")))
    stats = queue_and_flush(engine, [a])
    assert stats.failed == 1
    with session_scope(engine) as session:
        row = session.get(SearchPending, a)
        assert row.attempts == 1 and "disk full" in row.last_error
    monkeypatch.undo()
    assert indexer.flush(engine).indexed == 1
    assert search("故障").total == 1


def test_worker_stage_indexes_through_the_background_drainer(db, monkeypatch):
    """The real worker runs the real ``index`` stage (alone: other packages' stages are theirs to test)."""
    engine = db
    from core.outbox import stages as registry
    from core.outbox.worker import Worker
    from search.stages import index_document

    monkeypatch.setattr(registry, "_STAGES", {})
    registry.register_stage("index", 300, pipelines=("document", "reindex"))(index_document)
    ids = [add(engine, f"夜间施工噪音{i}", f"工地夜间施工噪音扰民，第{i}次反映。") for i in range(5)]
    Worker(engine).drain(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and search("施工").total < 5:
        time.sleep(0.1)
    assert search("施工").total == 5  # no explicit flush: the stage woke this process's drainer
    # another package re-queues a document through the "reindex" pipeline after changing its labels
    from core.outbox.service import enqueue as outbox_enqueue

    with session_scope(engine) as session:
        session.get(Document, ids[0]).topic = "城乡建设"
        outbox_enqueue(session, ids[0], pipeline="reindex")
    Worker(engine).drain(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and search(filters={"topic": ["城乡建设"]}).total < 1:
        time.sleep(0.1)
    assert [h.id for h in search(filters={"topic": ["城乡建设"]}).hits] == [ids[0]]


def test_threads_index_while_others_search(db):
    engine = db
    backend = get_backend()
    from search.documents import load

    ids = [add(engine, f"并发文档{i}", f"并发写入与检索测试第{i}号。") for i in range(40)]
    with session_scope(engine) as session:
        docs, _ = load(session, ids)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(part):
        try:
            for i in range(0, len(part), 5):
                backend.index(part[i:i + 5])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader():
        try:
            while not stop.is_set():
                backend.search(SearchRequest(query=parse("并发"), facets=("source",), histogram="day"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(docs[i::2],)) for i in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors
    assert backend.count(SearchRequest(query=parse("并发"))) == 40


def _index_in_other_process(root: str, start: int, n: int) -> None:
    from pathlib import Path

    from search.embedded import TantivyBackend
    from tests.search.conftest import make_doc

    backend = TantivyBackend(Path(root))
    for i in range(start, start + n):
        backend.index([make_doc(i, f"进程文档{i}", "另一个进程写入的文档。")])


def test_second_process_writes_the_same_index(db):
    engine = db
    """`minsheng worker` in another process and this one write at once: the lock queues them."""
    from tests.search.conftest import make_doc

    backend = get_backend()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_index_in_other_process, args=(str(backend.root), 1000, 8))
    proc.start()
    for i in range(2000, 2008):
        backend.index([make_doc(i, f"本进程文档{i}", "本进程写入的文档。")])
        assert backend.search(SearchRequest(query=parse("文档"))).total >= i - 2000 + 1
    proc.join(120)
    assert proc.exitcode == 0
    assert backend.count(SearchRequest(query=parse("文档"))) == 16  # this process sees the other's commits


def test_reindex_cli_rebuilds_and_catches_up(db, env):
    engine = db
    from api.cli import app

    ids = [add(engine, f"重建{i}", f"重建索引测试{i}。") for i in range(3)]
    result = CliRunner().invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "reindexed 3 documents" in result.output
    assert search("重建").total == 3
    version = get_backend().current_version()
    CliRunner().invoke(app, ["reindex"])
    assert get_backend().current_version() != version and search("重建").total == 3
    del ids


def test_ingest_cli(db, env, tmp_path):
    engine = db
    from api.cli import app

    lines = [
        json.dumps({"id": 1, "title": "停车难", "text": "小区停车难。", "time": "2019-04-25T09:32:09", "likes": 3}, ensure_ascii=False),
        json.dumps({"title": "无编号", "text": "没有编号的帖子。", "url": "https://example.org/p/1"}, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "缺正文"}, ensure_ascii=False),
        json.dumps({"id": 2, "title": "坏时间", "text": "x", "time": "昨天"}, ensure_ascii=False),
        json.dumps({"id": 3, "title": "坏点赞", "text": "x", "likes": -1}, ensure_ascii=False),
        "",
        json.dumps([1, 2]),
    ]
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(path), "--source", "gov_board"])
    assert result.exit_code == 1
    assert "2 new, 0 updated, 0 unchanged, 5 bad lines" in result.output
    for n in (3, 4, 5, 6, 8):
        assert f"line {n}:" in result.output
    with session_scope(engine) as session:
        docs = session.scalars(select(Document).order_by(Document.id)).all()
        assert [d.source for d in docs] == ["gov_board", "gov_board"]
        assert docs[0].external_id == "1" and docs[0].likes == 3
        assert docs[0].published_at == dt.datetime(2019, 4, 25, 1, 32, 9, tzinfo=UTC)  # Asia/Shanghai → UTC
        assert docs[1].external_id == "https://example.org/p/1"
    again = runner.invoke(app, ["ingest", str(path), "--source", "gov_board"])
    assert "0 new, 0 updated, 2 unchanged" in again.output  # idempotent re-import
    assert runner.invoke(app, ["ingest", str(path), "--source", "form"]).exit_code == 2
    assert runner.invoke(app, ["ingest", str(path), "--source", "Bad Name"]).exit_code == 2
    assert runner.invoke(app, ["ingest", str(tmp_path / "missing.jsonl"), "--source", "x"]).exit_code == 2


def test_case_sync_job_follows_case_changes(db, env):
    from search.jobs import case_sync_job

    engine = db
    a = add(engine, "路灯不亮", "小区路灯坏了一个月。")
    add_case(engine, a, "MS20240501-00009", status="assigned", department_code="housing")
    queue_and_flush(engine, [a])
    case_sync_job()  # first run only sets the watermark
    with session_scope(engine) as session:
        case = session.scalar(select(Case).where(Case.document_id == a))
        case.status = "answered"  # changed without re-queueing the document
    case_sync_job()
    assert get_backend().get(a)["status"] == "answered"
