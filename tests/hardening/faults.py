"""Crash and outage scenarios against real ``minsheng serve`` / ``minsheng worker`` processes.

One implementation at two scales: the test suite runs each scenario briefly, ``bench/faults.py``
runs them at full size (20 kill cycles, a one-minute search outage, ...) and prints the figures.
Each scenario returns a dict of figures and raises AssertionError on any loss, double or 5xx
that is not the documented 503/507.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from core.database import dispose_engines, engine_for, session_scope
from tests.hardening.server import ROOT, Server

FAST_WORKERS = {"MINSHENG_INTAKE_RATE_LIMIT": "100000000", "MINSHENG_BACKOFF_SECONDS": "0.2",
                "MINSHENG_LEASE_SECONDS": "5"}


def pipeline_ready() -> str | None:
    """Why documents cannot be processed here (None when every stage can run)."""
    try:
        from nlp.classifier import Classifier, model_dir
        Classifier.load(model_dir())
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - report why, the caller decides
        return f"the NLP stage cannot load its model ({str(exc)[:160]})"
    return None


@contextmanager
def sqlite_write_lock(path: str):
    """Another process holds SQLite's write lock (``BEGIN IMMEDIATE``) until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
        "c.execute('ROLLBACK')\n"), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.write("\n")
            holder.stdin.flush()
            try:
                holder.wait(30)
            except subprocess.TimeoutExpired:
                holder.kill()


# --- load ----------------------------------------------------------------------------------------

@dataclass
class Load:
    """Threads filing complaints through Open311 against whatever ``target()`` currently points at."""

    target: callable
    threads: int = 4
    timeout: float = 30.0  # beyond SQLite's 30 s busy timeout where a scenario waits on a lock
    accepted: list[str] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                n = next(self._ids)
                body = {"service_code": "urban", "title": f"路灯故障第{n}号",
                        "description": f"第{n}号反映：小区门口的路灯坏了很久，晚上出行很不方便，请尽快维修。",
                        "phone": f"139{n:08d}"}
                try:
                    response = client.post(self.target() + "/open311/v2/requests.json", json=body)
                except httpx.HTTPError:
                    with self._lock:
                        self.errors += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    if response.status_code == 201:
                        self.accepted.append(response.json()[0]["service_request_id"])
                    else:
                        self.refused[response.status_code] += 1
                if response.status_code >= 500 and response.status_code not in (503, 507):
                    raise AssertionError(f"filing answered {response.status_code}: {response.text[:300]}")

    def __enter__(self) -> "Load":
        self.pool = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for thread in self.pool:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self.pool:
            thread.join(60)


def start_workers(settings, n: int, log: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "MINSHENG_HOME": str(settings.resolved_home),
           "MINSHENG_DATABASE_URL": settings.resolved_database_url, "PYTHONPATH": str(ROOT), **FAST_WORKERS}
    out = open(log, "ab")
    procs = [subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], env=env, cwd=ROOT, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True) for _ in range(n)]
    out.close()
    return procs


def drain(settings, timeout: float = 600) -> str:
    env = {**os.environ, "MINSHENG_HOME": str(settings.resolved_home),
           "MINSHENG_DATABASE_URL": settings.resolved_database_url, "PYTHONPATH": str(ROOT), **FAST_WORKERS}
    done = subprocess.run([sys.executable, "-m", "api.cli", "worker", "--drain", "--timeout", str(timeout)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout + 120)
    return done.stdout + done.stderr


# --- checks --------------------------------------------------------------------------------------

def check_filings(settings, accepted: list[str]) -> dict[str, int]:
    """Every accepted filing is stored exactly once, whole: document, outbox row, case, first event, audit row."""
    from core.models import AuditEntry, Case, CaseEvent, Document, OutboxItem
    dispose_engines()
    engine = engine_for(settings.resolved_database_url)
    with session_scope(engine, readonly=True) as session:
        numbers = set(session.scalars(select(Case.tracking_number)))
        cases = session.scalar(select(func.count()).select_from(Case))
        docs = session.scalar(select(func.count()).select_from(Document).where(Document.source == "open311"))
        doc_rows = session.scalar(select(func.count(func.distinct(OutboxItem.document_id))).where(
            OutboxItem.pipeline == "document"))
        firsts = session.scalar(select(func.count(func.distinct(CaseEvent.case_id))).where(CaseEvent.kind == "submitted"))
        audits = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.file"))
        from core import audit
        chain = audit.verify(session)
    lost = [n for n in accepted if n not in numbers]
    assert not lost, f"{len(lost)} accepted filings are not in the database: {lost[:5]}"
    assert len(set(accepted)) == len(accepted), "a tracking number was given out twice"
    assert cases == firsts == audits, f"half-written filings: cases {cases}, first events {firsts}, audit {audits}"
    assert doc_rows >= docs, f"documents without an outbox row: {docs - doc_rows}"
    assert chain.ok, f"audit chain broken after the crashes: {chain.reason}"
    return {"accepted": len(accepted), "stored": cases, "lost": len(lost),
            "stored_but_unanswered": cases - len(accepted)}


def check_processing(settings) -> dict[str, int]:
    """After a drain: every document processed, each stage once, indexed once, in at most one hot topic."""
    from core.models import Document, OutboxItem
    from core.outbox.stages import stages_for
    dispose_engines()
    engine = engine_for(settings.resolved_database_url)
    with session_scope(engine, readonly=True) as session:
        docs = session.scalar(select(func.count()).select_from(Document))
        rows = list(session.scalars(select(OutboxItem)))
        stuck = [r.id for r in rows if r.status != "done"]
        doubled = [r.id for r in rows if len(r.stages_done or []) != len(set(r.stages_done or []))]
        unprocessed = session.scalar(select(func.count()).select_from(Document).where(Document.processed_at.is_(None)))
        members = None
        try:
            from search.trends.models import TrendMember
            members = session.execute(select(TrendMember.document_id, func.count()).group_by(TrendMember.document_id)
                                      .having(func.count() > 1)).all()
        except ImportError:
            pass
        first = [(r.last_error or "")[-300:] for r in rows if r.status == "dead"][:1]  # read before the session ends
        rows = len(rows)
    assert not stuck, f"{len(stuck)} outbox rows not done (e.g. {first[0] if first else stuck[:5]})"
    assert not doubled, f"outbox rows that ran a stage twice: {doubled[:5]}"
    assert unprocessed == 0, f"{unprocessed} documents without NLP results"
    assert not members, f"documents counted in more than one hot topic: {members[:5]}"
    indexed = None
    try:
        from search.backends import forget_backends, get_backend
        from search.indexer import flush, pending_count
        flush(engine, settings=settings)
        with session_scope(engine, readonly=True) as session:
            assert pending_count(session) == 0, "search queue not empty after a flush"
        indexed = get_backend(settings).count()
        forget_backends()
        assert indexed == docs, f"{docs} documents but {indexed} in the index"
    except ImportError:
        pass
    return {"documents": docs, "outbox_rows": rows, "indexed": indexed or 0}


# --- scenarios -----------------------------------------------------------------------------------

def kill_cycles(settings, workdir: Path, cycles: int, seconds: float, workers: int = 2,
                load_threads: int = 4) -> dict:
    """``kill -9`` the server and the standalone workers in turn, under filing load, ``cycles`` times."""
    log = workdir / "kill.log"
    state = {"server": Server(settings, log, MINSHENG_WORKER_THREADS="1", **FAST_WORKERS).start()}
    procs = start_workers(settings, workers, log)
    kills = {"server": 0, "worker": 0}
    restart = []
    try:
        with Load(lambda: state["server"].base, threads=load_threads) as load:
            for cycle in range(cycles):
                time.sleep(seconds)
                state["server"].kill()
                kills["server"] += 1
                victim = procs.pop(cycle % len(procs))
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait(10)
                kills["worker"] += 1
                began = time.monotonic()
                state["server"] = Server(settings, log, MINSHENG_WORKER_THREADS="1", **FAST_WORKERS).start()
                restart.append(time.monotonic() - began)
                procs += start_workers(settings, 1, log)
            time.sleep(seconds)
    finally:
        state["server"].stop()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    figures = check_filings(settings, load.accepted)
    figures.update(cycles=cycles, server_kills=kills["server"], worker_kills=kills["worker"],
                   refused=dict(load.refused), connection_errors=load.errors,
                   restart_seconds_max=round(max(restart), 2) if restart else 0)
    reason = pipeline_ready()
    if reason is None:
        drain(settings)
        figures.update(check_processing(settings))
    else:
        figures["processing_not_checked"] = reason
    return figures


def search_outage(settings, workdir: Path, hold: float, load_threads: int = 2) -> dict:
    """The embedded index is held by another process for ``hold`` seconds (a stuck rebuild, a full
    disk under the index): filing must go on, and the backlog must drain once it is free."""
    from search.indexer import pending_count
    lockfile = settings.index_dir / "drain.lock"
    writer_lock = settings.index_dir / "tantivy" / "write.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fds = []\n"
        "for p in sys.argv[1:]:\n"
        "    os.makedirs(os.path.dirname(p), exist_ok=True)\n"
        "    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600); fcntl.flock(fd, fcntl.LOCK_EX); fds.append(fd)\n"
        "print('held', flush=True)\n"
        "time.sleep(3600)\n"), str(lockfile), str(writer_lock)], stdout=subprocess.PIPE, text=True,
        start_new_session=True)
    assert holder.stdout.readline().strip() == "held"
    server = Server(settings, workdir / "search.log", MINSHENG_WORKER_THREADS="2", **FAST_WORKERS).start()
    engine = engine_for(settings.resolved_database_url)
    try:
        with Load(lambda: server.base, threads=load_threads) as load:
            time.sleep(hold)
        accepted_during = len(load.accepted)
        with session_scope(engine, readonly=True) as session:
            backlog = pending_count(session)
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(10)
        released = time.monotonic()
        deadline = released + max(120.0, hold * 4)
        while time.monotonic() < deadline:
            with session_scope(engine, readonly=True) as session:
                left = pending_count(session)
                from core.outbox.service import pending_work
                work = pending_work(session)
            if left == 0 and work == 0:
                break
            time.sleep(0.5)
        drained = time.monotonic() - released
    finally:
        server.stop()
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
    figures = check_filings(settings, load.accepted)
    assert load.refused.get(503, 0) == 0 and accepted_during > 0, f"filing stopped during the outage: {load.refused}"
    assert left == 0, f"{left} documents still waiting for the index {drained:.0f}s after it came back"
    figures.update(outage_seconds=hold, accepted_during_outage=accepted_during, backlog_at_recovery=backlog,
                   drain_seconds=round(drained, 1))
    figures.update(check_processing(settings))
    return figures


def database_outage(settings, workdir: Path, hold: float, admin_url: str) -> dict:
    """PostgreSQL refuses this database's connections for ``hold`` seconds (existing ones are terminated):
    clear 503s, nothing half-written, and recovery without a restart."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    name = make_url(settings.resolved_database_url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    server = Server(settings, workdir / "db.log", MINSHENG_WORKER_THREADS="1", **FAST_WORKERS).start()
    pid = server.proc.pid
    token = None
    try:
        with Load(lambda: server.base, threads=2) as load:
            time.sleep(2)
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            down = time.monotonic()
            before = len(load.accepted)
            time.sleep(hold)
            during = len(load.accepted) - before
            probe = httpx.post(server.base + "/open311/v2/requests.json", timeout=30, json={
                "service_code": "urban", "description": "数据库中断期间的测试诉求，应当被拒绝并提示稍后重试。"})
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            up = time.monotonic()
            recovered = None
            while time.monotonic() - up < 120:
                if len(load.accepted) > before + during:
                    recovered = time.monotonic() - up
                    break
                time.sleep(0.1)
            time.sleep(1)
        token = probe
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
        same_process = server.proc.poll() is None and server.proc.pid == pid
        server.stop()
    assert token.status_code == 503 and token.headers.get("retry-after"), (token.status_code, token.text[:200])
    assert "数据库" in token.json()["detail"]
    assert same_process, "the server died during the database outage"
    assert recovered is not None, "filing did not recover within 120 s of the database coming back"
    assert load.refused.get(503, 0) > 0, "no 503 seen during the outage"
    figures = check_filings(settings, load.accepted)
    figures.update(outage_seconds=round(up - down, 1), accepted_during_outage=during,
                   answered_503=load.refused.get(503, 0), recovery_seconds=round(recovered, 2))
    return figures
