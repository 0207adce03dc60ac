"""The worker loop: claim rows, run each remaining stage in its own transaction, retry or park."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.database import session_factory, utcnow
from core.models import Document, OutboxItem
from core.models.outbox import PENDING, PROCESSING
from core.outbox import service
from core.outbox.stages import stages_for
from core.settings import Settings, get_settings

log = logging.getLogger("minsheng.worker")


class LeaseLost(RuntimeError):
    """Another worker took the row over (our lease expired); stop without committing."""


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    dead: int = 0


class Worker:
    def __init__(self, engine: Engine | None = None, settings: Settings | None = None, name: str | None = None):
        self.settings = settings or get_settings()
        self.engine = engine
        self.Session = session_factory(engine)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.stats = WorkerStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """Claim one batch and process it; returns how many rows were claimed."""
        with self.Session() as session:
            items = service.claim(session, self.name, self.settings.worker_batch, self.settings.lease_seconds)
            claimed = [(i.id, i.lease_owner) for i in items]
        for item_id, token in claimed:
            if self._stop.is_set():
                break
            self._process(item_id, token)
        return len(claimed)

    def _process(self, item_id: int, token: str) -> None:
        with self.Session() as session:
            item = session.get(OutboxItem, item_id)
            pipeline, done = item.pipeline, list(item.stages_done)
        try:
            for stage in stages_for(pipeline):
                if stage.name in done:
                    continue
                with self.Session() as session:
                    if not service.still_leased(session, item_id, token):
                        raise LeaseLost(item_id)
                    item = session.get(OutboxItem, item_id)
                    if stage.name in item.stages_done:  # finished by a worker that held the row before us
                        done.append(stage.name)
                        continue
                    document = session.get(Document, item.document_id)
                    stage.run(session, document)
                    service.mark_stage_done(session, item, stage.name)
                    session.commit()
                done.append(stage.name)
            with self.Session() as session:
                if not service.still_leased(session, item_id, token):
                    raise LeaseLost(item_id)
                item = session.get(OutboxItem, item_id)
                service.finish(session, item)
                document = session.get(Document, item.document_id)
                if document is not None and pipeline == "document":
                    document.processed_at = utcnow()
                session.commit()
            self.stats.processed += 1
        except LeaseLost:
            log.warning("outbox row %s: lease lost, another worker continues it", item_id)
        except Exception as exc:  # noqa: BLE001 - any stage failure is retried, never lost
            self.stats.failed += 1
            log.warning("outbox row %s failed: %s", item_id, exc)
            with self.Session() as session:
                if service.still_leased(session, item_id, token):
                    item = session.get(OutboxItem, item_id)
                    service.fail(
                        session, item, "".join(traceback.format_exception(exc)),
                        self.settings.max_attempts, self.settings.backoff_seconds,
                    )
                    if item.status == "dead":
                        self.stats.dead += 1
                    session.commit()

    def run_forever(self, idle_sleep: float = 0.5) -> None:
        log.info("worker %s started", self.name)
        while not self._stop.is_set():
            try:
                claimed = self.run_once()
            except Exception:  # noqa: BLE001 - database outage: wait and try again
                log.exception("worker %s: claim failed; retrying", self.name)
                claimed = 0
                self._stop.wait(5)
            if not claimed:
                self._stop.wait(idle_sleep)

    def drain(self, timeout: float | None = None) -> WorkerStats:
        """Process until no pending or processing row is left that is due now or later."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            if self.run_once():
                continue
            with self.Session() as session:
                left = session.execute(
                    select(OutboxItem.available_at, OutboxItem.lease_until, OutboxItem.status)
                    .where(OutboxItem.status.in_((PENDING, PROCESSING)))
                    .order_by(OutboxItem.available_at).limit(1)
                ).first()
            if left is None:
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            wake = left.available_at if left.status == PENDING else left.lease_until
            wait = max(0.05, min(5.0, (wake - utcnow()).total_seconds())) if wake else 0.2
            time.sleep(wait)
        return self.stats


def start_threads(count: int, engine: Engine | None = None) -> list[tuple[Worker, threading.Thread]]:
    """Worker threads inside the server process."""
    started = []
    for n in range(count):
        worker = Worker(engine, name=f"{socket.gethostname()}:{os.getpid()}:t{n}")
        thread = threading.Thread(target=worker.run_forever, name=f"minsheng-worker-{n}", daemon=True)
        thread.start()
        started.append((worker, thread))
    return started
