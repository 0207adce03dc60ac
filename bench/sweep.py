"""Sweep cost against the number of open cases: 10,000 and 1,000,000 open cases, the same number due.

Each run builds a fresh, migrated database with N open cases (each with its document and a running
answer clock); ``--due`` of the clocks have a reminder due now, the rest in the future. It then times
``cases.sweep.sweep`` ``--repeat`` times per size, alternating between the databases (so a busy
machine slows every size alike), each time on freshly due clocks, and prints wall and process-CPU
time (best and median) and their ratio, which stays near 1 because the sweep reads only the due
rows through the ``next_notice_at`` index.

    .venv/bin/python bench/sweep.py                       # SQLite, 10k and 1M
    .venv/bin/python bench/sweep.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.database import dispose_engines, engine_for  # noqa: E402
from core.migrate import upgrade  # noqa: E402

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)
CHUNK = 50_000


def iso(t: dt.datetime) -> str:
    return t.isoformat()


def rows(n: int, due: int, offset: int):
    """(document, case, clock) tuples; the first ``due`` clocks have their 50 % reminder due at NOW."""
    started = NOW - dt.timedelta(days=3)
    stamp = started.replace(tzinfo=None).isoformat(sep=" ")
    for i in range(offset, offset + n):
        i1 = i + 1
        is_due = i < due
        first = NOW - dt.timedelta(minutes=30) if is_due else NOW + dt.timedelta(minutes=10 + i % 20000)
        ms = {"remind50": iso(first), "remind80": iso(first + dt.timedelta(days=3)),
              "yellow": iso(first + dt.timedelta(days=6)), "red": iso(first + dt.timedelta(days=9))}
        doc = (i1, "form", f"噪音扰民 {i1}", "小区楼下烧烤店营业到凌晨，噪音扰民，请处理。", stamp, stamp, f"{i1:064x}", "{}", False, False)
        case = (i1, f"MSB{i1:09d}", "x", i1, "form", "投诉", f"噪音扰民 {i1}", False, False, False, "in_progress",
                "housing" if i % 2 else "ecology", "normal", False, stamp, stamp, f"{i1:064x}", "{}")
        clock = (i1, i1, "answer", "assigned", 0, "housing" if i % 2 else "ecology", "workday", 13.0, 0, stamp, "[]",
                 "running", first + dt.timedelta(days=6), False, False, json.dumps(ms), "[]", first)
        yield doc, case, clock


DOC_SQL = ("INSERT INTO documents (id, source, title, body, created_at, updated_at, content_hash, raw, has_risk, "
           "needs_review) VALUES ({})")
CASE_SQL = ("INSERT INTO cases (id, tracking_number, query_code_hash, document_id, channel, appeal_type, title, "
            "anonymous, consent, protected, status, department_code, priority, due_estimated, created_at, updated_at, "
            "text_fingerprint, extra) VALUES ({})")
CLOCK_SQL = ("INSERT INTO cases_clocks (id, case_id, kind, reason, round, department_code, unit, amount, extension_days, "
             "started_at, pauses, state, due_at, due_estimated, estimated, milestones, sent, next_notice_at) VALUES ({})")


def seed_departments(url: str) -> None:
    from core.database import session_scope
    from core.models import Department
    with session_scope(engine_for(url)) as s:
        for code, name in (("housing", "住房和城乡建设局"), ("ecology", "生态环境局")):
            s.add(Department(code=code, name=name))


def fill_sqlite(path: str, n: int, due: int) -> None:
    import sqlite3
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA foreign_keys=OFF")
    sqlite_ts = lambda t: t.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")  # noqa: E731
    for start in range(0, n, CHUNK):
        docs, cases, clocks = [], [], []
        for d, c, k in rows(min(CHUNK, n - start), due, start):
            docs.append(d)
            cases.append(c)
            clocks.append((*k[:12], sqlite_ts(k[12]), *k[13:17], sqlite_ts(k[17])))
        con.executemany(DOC_SQL.format(",".join("?" * 10)), docs)
        con.executemany(CASE_SQL.format(",".join("?" * 18)), cases)
        con.executemany(CLOCK_SQL.format(",".join("?" * 18)), clocks)
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def fill_postgres(url: str, n: int, due: int) -> None:
    import psycopg
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        for table, cols, pick in (
            ("documents", "id, source, title, body, created_at, updated_at, content_hash, raw, has_risk, needs_review", 0),
            ("cases", "id, tracking_number, query_code_hash, document_id, channel, appeal_type, title, anonymous, consent, "
                      "protected, status, department_code, priority, due_estimated, created_at, updated_at, "
                      "text_fingerprint, extra", 1),
            ("cases_clocks", "id, case_id, kind, reason, round, department_code, unit, amount, extension_days, started_at, "
                             "pauses, state, due_at, due_estimated, estimated, milestones, sent, next_notice_at", 2),
        ):
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for triple in rows(n, due, 0):
                    copy.write_row(triple[pick])
        for table in ("documents", "cases", "cases_clocks"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
            cur.execute(f"ANALYZE {table}")
        con.commit()


def rearm(url: str, due: int) -> None:
    """Make the same ``due`` reminders due again: forget that they were sent."""
    engine = create_engine(url)
    first = NOW - dt.timedelta(minutes=30)
    at = first.replace(tzinfo=None).isoformat(sep=" ") if url.startswith("sqlite") else first
    with engine.begin() as con:
        con.execute(text("DELETE FROM notices"))
        con.execute(text("UPDATE cases_clocks SET sent = '[]', next_notice_at = :at WHERE id <= :due"),
                    {"at": at, "due": due})
    engine.dispose()


def build(url: str, n: int, due: int, fill) -> float:
    upgrade(url)
    seed_departments(url)
    t0 = time.perf_counter()
    fill(n, due)
    dispose_engines()
    return time.perf_counter() - t0


def measure(targets: list[dict], due: int, repeat: int) -> None:
    """Sweeps alternate between the databases, so a busy machine slows every size alike."""
    from cases.sweep import sweep
    for r in range(repeat):
        for t in targets:
            if r:
                rearm(t["url"], due)
            cpu = time.process_time()
            report = sweep(NOW, engine_for(t["url"]), deliver=False)
            t["cpu"].append(time.process_time() - cpu)
            t["wall"].append(report.seconds)
            t["notices"] = report.notices
            assert report.clocks == due and report.failed == 0, report
            dispose_engines()


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[0], ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="open cases per run (comma-separated)")
    parser.add_argument("--due", type=int, default=200, help="clocks due at the sweep instant (same in every run)")
    parser.add_argument("--repeat", type=int, default=5, help="sweeps per size; best and median are reported")
    parser.add_argument("--pg", help="PostgreSQL admin URL; a scratch database is created and dropped per size")
    args = parser.parse_args()
    os.environ.setdefault("MINSHENG_HOME", tempfile.mkdtemp(prefix="ms-bench-"))
    sizes = [int(x) for x in args.sizes.split(",")]
    targets, cleanup = [], []
    try:
        for n in sizes:
            if args.pg:
                name = f"ms_bench_{uuid.uuid4().hex[:8]}"
                admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
                with admin.connect() as con:
                    con.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
                cleanup.append(("pg", name))
                seconds = build(url, n, args.due, lambda n_, d_, u=url: fill_postgres(u, n_, d_))
            else:
                folder = tempfile.mkdtemp(prefix="ms-sweep-")
                path = os.path.join(folder, "bench.db")
                url = f"sqlite:///{path}"
                cleanup.append(("dir", folder))
                seconds = build(url, n, args.due, lambda n_, d_, p=path: fill_sqlite(p, n_, d_))
            targets.append({"n": n, "url": url, "build": seconds, "wall": [], "cpu": []})
            print(f"built {n:,} open cases in {seconds:.0f} s", flush=True)
        measure(targets, args.due, args.repeat)
    finally:
        dispose_engines()
        for kind, what in cleanup:
            if kind == "dir":
                shutil.rmtree(what, ignore_errors=True)
            else:
                admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
                with admin.connect() as con:
                    con.execute(text(f'DROP DATABASE IF EXISTS "{what}" WITH (FORCE)'))
                admin.dispose()
    backend = "postgresql" if args.pg else "sqlite"
    for t in targets:
        wb, wm = summary(t["wall"])
        cb, cm = summary(t["cpu"])
        print(f"{backend}: {t['n']:>9,} open cases, {args.due} due, {args.repeat} sweeps: wall best {wb * 1000:.0f} ms, "
              f"median {wm * 1000:.0f} ms; process CPU best {cb * 1000:.0f} ms, median {cm * 1000:.0f} ms; "
              f"{t['notices']} notices per sweep", flush=True)
    if len(targets) >= 2:
        big, small = targets[-1], targets[0]
        print(f"ratio {big['n']:,} / {small['n']:,} open cases: wall best {summary(big['wall'])[0] / summary(small['wall'])[0]:.2f}, "
              f"median {summary(big['wall'])[1] / summary(small['wall'])[1]:.2f}; CPU best "
              f"{summary(big['cpu'])[0] / summary(small['cpu'])[0]:.2f}, median {summary(big['cpu'])[1] / summary(small['cpu'])[1]:.2f}")


if __name__ == "__main__":
    main()
