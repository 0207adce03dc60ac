"""Durable, batched indexing: the ``search_pending`` queue and the drainers that empty it.

The worker stage only records "document N must be (re)indexed" in the database, in the same
transaction that marks the stage done, so a crash can never lose an index update. Drainers then
write the queued documents to the index in batches, one commit per batch (a Tantivy commit
costs an fsync; ES bulk requests are cheap per document but not per request):

* right after a stage's transaction commits, a drainer thread of that process is woken;
* ``minsheng serve`` also drains on a schedule (catches rows of crashed processes);
* at interpreter exit (``minsheng worker --drain``) the process drains what it queued;
* ``flush()`` drains synchronously (tests, ``minsheng reindex``, ``minsheng ingest``).

A row is deleted only if its ``queued_at`` is unchanged since it was read, so a document
re-queued while its batch was being written is written again. Drainers of one machine take a
lock file in turn; drainers on different machines (Elasticsearch) may overlap harmlessly,
because writes are idempotent by document id.
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.database import engine_for, session_factory, utcnow
from core.settings import Settings, get_settings
from search.backend import SearchBackend
from search.backends import get_backend
from search.documents import load
from search.locking import LockTimeout, exclusive
from search.models import SearchPending

log = logging.getLogger("minsheng.search.indexer")

BATCH = 500
#: A document that failed this often is only retried after the others (it must not block them).
MAX_ATTEMPTS = 5
IDLE_EXIT_SECONDS = 5.0
#: After a wake-up, wait this long so documents committed close together share one index commit.
LINGER_SECONDS = 0.2


def enqueue(session: Session, document_ids: list[int] | int) -> None:
    """Queue documents for (re)indexing in the caller's transaction."""
    ids = [document_ids] if isinstance(document_ids, int) else list(dict.fromkeys(document_ids))
    if not ids:
        return
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for start in range(0, len(ids), 1000):
        rows = [{"document_id": i, "queued_at": now, "attempts": 0} for i in ids[start:start + 1000]]
        stmt = insert(SearchPending).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["document_id"], set_={"queued_at": stmt.excluded.queued_at, "attempts": 0}
        )
        session.execute(stmt)


@dataclass
class FlushStats:
    indexed: int = 0
    deleted: int = 0
    failed: int = 0
    batches: int = 0

    def __iadd__(self, other: "FlushStats") -> "FlushStats":
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.failed += other.failed
        self.batches += other.batches
        return self


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SearchPending)) or 0


def _flush_batch(engine: Engine, backend: SearchBackend, batch: int) -> FlushStats | None:
    """Index one batch; None when the queue is empty."""
    Session_ = session_factory(engine)
    with Session_() as session:
        rows = session.execute(
            select(SearchPending.document_id, SearchPending.queued_at)
            .order_by(SearchPending.attempts >= MAX_ATTEMPTS, SearchPending.queued_at, SearchPending.document_id)
            .limit(batch)
        ).all()
        if not rows:
            return None
        docs, missing = load(session, [r.document_id for r in rows])
        session.rollback()
    stats = FlushStats(batches=1)
    try:
        stats.indexed = backend.index(docs)
        stats.deleted = backend.delete(missing) if missing else 0
    except Exception as exc:  # noqa: BLE001 - keep the rows, count the attempt, report
        log.warning("indexing %d documents failed: %s", len(rows), exc)
        with Session_() as session:
            session.execute(
                update(SearchPending)
                .where(SearchPending.document_id.in_([r.document_id for r in rows]))
                .values(attempts=SearchPending.attempts + 1, last_error=str(exc)[-2000:])
                .execution_options(synchronize_session=False)
            )
            session.commit()
        stats.failed = len(rows)
        return stats
    with Session_() as session:
        session.execute(
            delete(SearchPending).where(or_(*[
                and_(SearchPending.document_id == r.document_id, SearchPending.queued_at == r.queued_at)
                for r in rows
            ])).execution_options(synchronize_session=False)
        )
        session.commit()
    return stats


def flush(engine: Engine | None = None, backend: SearchBackend | None = None, settings: Settings | None = None,
          batch: int = BATCH, timeout: float = 120.0) -> FlushStats:
    """Drain the queue now. Raises nothing for index errors (rows stay queued with the error)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings.resolved_database_url)
    backend = backend or get_backend(settings)
    total = FlushStats()
    deadline = time.monotonic() + timeout
    lock = settings.index_dir / "drain.lock"
    try:
        with exclusive(lock, timeout=timeout):
            while time.monotonic() < deadline:
                stats = _flush_batch(engine, backend, batch)
                if stats is None:
                    break
                total += stats
                if stats.failed:
                    break
    except LockTimeout:
        log.warning("another drainer held %s for %.0fs; rows stay queued", lock, timeout)
    return total


# --- background drainers (one per database and index per process) ---------------------------------

class _Drainer:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.wakeup = threading.Event()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.guard = threading.Lock()

    def wake(self) -> None:
        with self.guard:
            self.wakeup.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="minsheng-search-drain", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            if not self.wakeup.wait(IDLE_EXIT_SECONDS):
                with self.guard:
                    if not self.wakeup.is_set():
                        self.thread = None
                        return
            self.stopped.wait(LINGER_SECONDS)
            self.wakeup.clear()
            try:
                flush(self.engine, get_backend(self.settings), self.settings)
            except Exception:  # noqa: BLE001 - the database may be away; rows stay queued
                log.exception("search drainer failed; retrying on the next wake-up")
                self.stopped.wait(1.0)

    def stop(self, final_flush: bool = True, timeout: float = 30.0) -> None:
        self.stopped.set()
        self.wakeup.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if final_flush:
            try:
                flush(self.engine, get_backend(self.settings), self.settings, timeout=timeout)
            except Exception:  # noqa: BLE001 - exiting anyway; the rows stay queued for the next drainer
                log.exception("final search flush failed; rows stay queued")


_drainers: dict[tuple[str, str], _Drainer] = {}
_drainers_lock = threading.Lock()
_atexit_registered = False


def wake(engine: Engine, settings: Settings | None = None) -> None:
    """Ask this process's drainer for ``engine`` to run soon (starting it if needed)."""
    global _atexit_registered
    settings = settings or get_settings()
    key = (engine.url.render_as_string(hide_password=False), str(settings.index_dir) + (settings.es_url or ""))
    with _drainers_lock:
        drainer = _drainers.get(key)
        if drainer is None or drainer.stopped.is_set():
            drainer = _drainers[key] = _Drainer(engine, settings)
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True
    drainer.wake()


def stop_all(final_flush: bool = True) -> None:
    """Stop every drainer of this process, draining what is queued (interpreter exit)."""
    with _drainers_lock:
        drainers = list(_drainers.values())
        _drainers.clear()
    for drainer in drainers:
        drainer.stop(final_flush=final_flush)


def requeue_changed(session: Session, since: dt.datetime) -> int:
    """Queue every document changed since ``since`` (its row, its case, or a new outbox row)."""
    from core.models import Case, Document, OutboxItem

    ids = set(session.scalars(select(Document.id).where(Document.updated_at >= since)))
    ids |= set(session.scalars(select(Case.document_id).where(Case.updated_at >= since)))
    ids |= set(session.scalars(select(OutboxItem.document_id).where(OutboxItem.created_at >= since)))
    enqueue(session, sorted(ids))
    return len(ids)
