"""Crash and outage figures at full size, against real ``minsheng serve`` / ``minsheng worker`` processes.

    .venv/bin/python bench/faults.py [--only kill search database sqlite-lock] [--pg URL]
                                     [--cycles 20] [--seconds 4] [--search-hold 60] [--db-hold 60]

The scenarios are the ones tests/hardening/test_outages.py runs briefly (tests/hardening/faults.py),
here at the size issue 8 asks for, each on a fresh home and database:

* ``kill``: filing load (Open311, 4 threads) while the server and, in turn, one of two standalone
  workers are killed with SIGKILL ``--cycles`` times; filings answered 201 against cases stored
  (0 lost, none half-written, audit chain intact); then, when the NLP model is present, the outbox
  drained and every document checked to have run each stage exactly once and be indexed once.
  Without the model the processing check is reported as skipped (intake figures stand on their own).
* ``search``: the embedded search index held by another process for ``--search-hold`` seconds
  under load: filing must go on; then the time for the backlog to drain (needs the NLP model).
* ``database``: PostgreSQL refuses connections for ``--db-hold`` seconds (existing ones terminated):
  503s with Retry-After, nothing half-written, recovery time without a restart (needs ``--pg`` or
  MINSHENG_TEST_PG_URL: an admin URL allowed to create databases).
* ``sqlite-lock``: the SQLite variant: another process holds the write lock for ``--db-hold`` seconds;
  filings wait out the busy timeout and get 503, then recover.

SQLite is the database unless ``--database pg``. Prints one line of figures per scenario.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hardening import faults  # noqa: E402
from tests.hardening.server import Server  # noqa: E402


@contextmanager
def installation(work: Path, name: str, pg_admin: str | None):
    """A fresh home (and a fresh PostgreSQL database when ``pg_admin`` is given), initialised."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from core.bootstrap import initialise
    from core.database import dispose_engines
    from core.settings import get_settings, reset_settings

    home = work / name
    db_name = None
    if pg_admin:
        db_name = f"ms_bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        with create_engine(pg_admin, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        url = make_url(pg_admin).set(database=db_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{home / 'minsheng.db'}"
    os.environ.update(MINSHENG_HOME=str(home), MINSHENG_DATABASE_URL=url, MINSHENG_SCHEDULER="false",
                      MINSHENG_WORKER_THREADS="0", MINSHENG_LOG_LEVEL="WARNING")
    reset_settings()
    settings = get_settings()
    initialise(settings)
    dispose_engines()
    try:
        yield settings
    finally:
        dispose_engines()
        reset_settings()
        if db_name:
            admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin.dispose()


def sqlite_lock_outage(settings, workdir: Path, hold: float) -> dict:
    """Another process holds SQLite's write lock for ``hold`` seconds: 503s, nothing half-written, recovery."""
    from sqlalchemy.engine import make_url
    path = make_url(settings.resolved_database_url).database
    server = Server(settings, workdir / "lock.log", MINSHENG_WORKER_THREADS="1", **faults.FAST_WORKERS).start()
    try:
        with faults.Load(lambda: server.base, threads=2, timeout=90) as load:
            time.sleep(2)
            with faults.sqlite_write_lock(path):
                before = len(load.accepted)
                down = time.monotonic()
                time.sleep(hold)
                probe = httpx.post(server.base + "/open311/v2/requests.json", timeout=60, json={
                    "service_code": "urban", "description": "数据库被锁期间的测试诉求，应当被拒绝并提示稍后重试。"})
                during = len(load.accepted) - before
            up = time.monotonic()
            seen = len(load.accepted)
            recovered = None
            while time.monotonic() - up < 120:
                if len(load.accepted) > seen:
                    recovered = time.monotonic() - up
                    break
                time.sleep(0.1)
            time.sleep(1)
    finally:
        alive = server.proc.poll() is None
        server.stop()
    assert probe.status_code == 503 and probe.headers.get("retry-after"), (probe.status_code, probe.text[:200])
    assert alive, "the server died while the database was locked"
    assert recovered is not None, "filing did not recover within 120 s of the lock being released"
    figures = faults.check_filings(settings, load.accepted)
    figures.update(outage_seconds=round(up - down, 1), accepted_while_locked=during,
                   answered_503=load.refused.get(503, 0), client_timeouts=load.errors,
                   recovery_seconds=round(recovered, 2))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["kill", "search", "database", "sqlite-lock"],
                        choices=["kill", "search", "database", "sqlite-lock"])
    parser.add_argument("--database", choices=["sqlite", "pg"], default="sqlite",
                        help="database for kill and search (database always uses PostgreSQL)")
    parser.add_argument("--pg", default=os.environ.get("MINSHENG_TEST_PG_URL"), help="PostgreSQL admin URL")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=4.0, help="load between two kills")
    parser.add_argument("--search-hold", type=float, default=60.0)
    parser.add_argument("--db-hold", type=float, default=60.0)
    args = parser.parse_args()
    reason = faults.pipeline_ready()
    print(f"NLP model: {'present' if reason is None else 'absent: ' + reason}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="minsheng-bench-faults-"))
    main_db = args.pg if args.database == "pg" else None
    if args.database == "pg" and not args.pg:
        raise SystemExit("--database pg needs --pg URL (or MINSHENG_TEST_PG_URL)")
    kind = "PostgreSQL" if main_db else "SQLite"
    try:
        for scenario in args.only:
            began = time.monotonic()
            if scenario == "kill":
                with installation(work, "kill", main_db) as settings:
                    figures = faults.kill_cycles(settings, work, cycles=args.cycles, seconds=args.seconds,
                                                 workers=2, load_threads=4)
            elif scenario == "search":
                if reason:
                    print(f"search: skipped ({reason})", flush=True)
                    continue
                with installation(work, "search", main_db) as settings:
                    figures = faults.search_outage(settings, work, hold=args.search_hold)
            elif scenario == "database":
                if not args.pg:
                    print("database: skipped (needs --pg or MINSHENG_TEST_PG_URL)", flush=True)
                    continue
                with installation(work, "database", args.pg) as settings:
                    figures = faults.database_outage(settings, work, hold=args.db_hold, admin_url=args.pg)
            else:
                with installation(work, "sqlite-lock", None) as settings:
                    figures = sqlite_lock_outage(settings, work, hold=args.db_hold)
            db = "PostgreSQL" if scenario == "database" else "SQLite" if scenario == "sqlite-lock" else kind
            print(f"{scenario} ({db}, {time.monotonic() - began:.0f}s): {figures}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
