"""Backup and restore time at scale: ``minsheng backup`` then ``minsheng restore`` of 10,000 and 100,000 cases.

    .venv/bin/python bench/backup.py [--sizes 10000 100000] [--templates 100] [--keep]

For each size, a fresh SQLite home is initialised (``minsheng init``) and ``--templates`` complaints
are filed through the real intake service (validation, encrypted contact data, tracking number,
document, outbox row, case event, audit row; every tenth with a photo). They are then cloned with
bulk ``INSERT … SELECT`` up to the target count (new ids; tracking numbers on earlier days so they
stay unique) and one ``case.file`` audit row per clone is appended with a correct hash chain, so the
restore's own checks (row counts, audit chain) run over the full 100,000 rows. Cloned cases carry no
attachments (the templates' photos are the attachment set).

Then, as an operator runs them (subprocesses, wall clock including start-up):
``minsheng backup DIR`` (keys not included) and ``minsheng restore DIR`` into an empty home with the
source's keys in the environment. Prints one line of figures per size.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")
PLACES = ("芙蓉路", "解放西路", "五一大道", "人民中路", "韶山北路", "东二环", "湘江中路", "劳动东路")
PROBLEMS = (("urban", "路灯损坏", "路灯坏了很久，晚上出行很不方便，请尽快维修。"),
            ("environment", "夜间施工噪音扰民", "工地每天夜里十一点后还在施工，噪音很大，影响休息。"),
            ("transport", "公交站台破损", "公交站台的顶棚破了，下雨天候车的人都被淋湿。"),
            ("urban", "小区电梯故障", "小区电梯经常停运，老人上下楼非常困难，物业一直不修。"),
            ("commerce", "超市销售过期食品", "附近超市货架上有过期的牛奶和面包，希望市场监管部门检查。"))


def cli_env(home: Path, keys: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINSHENG_")}
    env.update(MINSHENG_HOME=str(home), MINSHENG_DATABASE_URL=f"sqlite:///{home / 'minsheng.db'}",
               MINSHENG_SCHEDULER="false", MINSHENG_WORKER_THREADS="0", PYTHONPATH=str(ROOT), **(keys or {}))
    return env


def file_templates(settings, n: int) -> None:
    """File ``n`` varied complaints through the intake service, exactly as the form does."""
    from sqlalchemy import select

    from core.database import get_engine, session_scope
    from core.models import Topic
    from intake.attachments import check_file
    from intake.forms import validate
    from intake.service import file_case

    with session_scope(get_engine()) as session:
        codes = {t.code for t in session.scalars(select(Topic))}
        for i in range(n):
            category, title, body = PROBLEMS[i % len(PROBLEMS)]
            place = f"{PLACES[i % len(PLACES)]}{i + 1}号"
            filing = validate({"consent": "1", "appeal_type": "投诉", "category": category,
                               "title": f"{place}{title}", "description": f"我住在{place}附近，{body}（第{i + 1}次反映）",
                               "district": "芙蓉区", "name": f"市民{i}", "phone": f"139{i:08d}"}, codes)
            assert not filing.errors, filing.errors
            uploads = [check_file("photo.png", PNG + os.urandom(30_000), settings)] if i % 10 == 0 else []
            assert not file_case(session, filing, uploads, f"10.1.{i // 250}.{i % 250 + 1}", settings).duplicate


def clone(db: Path, total: int) -> None:
    """Clone the filed cases (with their documents, events, outbox rows) to ``total`` cases; chain audit rows."""
    from sqlalchemy import create_engine, insert, select

    from core import audit
    from core.models import AuditEntry

    conn = sqlite3.connect(str(db))
    cols = {t: [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
            for t in ("documents", "cases", "case_events", "outbox")}
    top = {t: conn.execute(f'SELECT max(id) FROM "{t}"').fetchone()[0] for t in cols}
    special = {
        "documents": {"id": "id + :doc", "duplicate_of_id": "duplicate_of_id + :doc",
                      "external_id": "CASE WHEN external_id IS NULL THEN NULL ELSE external_id || '-' || :k END"},
        "cases": {"id": "id + :case", "document_id": "document_id + :doc", "master_case_id": "master_case_id + :case",
                  "tracking_number": "'MS' || :day || substr(tracking_number, 11)"},
        "case_events": {"id": "id + :event", "case_id": "case_id + :case"},
        "outbox": {"id": "id + :outbox", "document_id": "document_id + :doc"},
    }
    copies = -(-total // top["cases"])
    today = dt.date.today()
    conn.execute("BEGIN")
    for k in range(1, copies):
        limit = min(top["cases"], total - k * top["cases"])
        params = {"k": k, "doc": k * top["documents"], "case": k * top["cases"], "event": k * top["case_events"],
                  "outbox": k * top["outbox"], "day": (today - dt.timedelta(days=k)).strftime("%Y%m%d")}
        for table in ("documents", "cases", "case_events", "outbox"):
            exprs = ", ".join(special[table].get(c, f'"{c}"') for c in cols[table])
            names = ", ".join(f'"{c}"' for c in cols[table])
            where = {"documents": f"id IN (SELECT document_id FROM cases WHERE id <= {limit})",
                     "cases": f"id <= {limit}", "case_events": f"case_id <= {limit}",
                     "outbox": f"document_id IN (SELECT document_id FROM cases WHERE id <= {limit})"}[table]
            conn.execute(f'INSERT INTO "{table}" ({names}) SELECT {exprs} FROM "{table}" WHERE {where}',
                         {p: v for p, v in params.items() if f":{p}" in exprs})
    conn.commit()
    conn.close()

    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        last = c.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
        seq, prev = last.seq, last.hash
        template = c.execute(select(AuditEntry.details).where(AuditEntry.action == "case.file").limit(1)).scalar()
        pending = []
        for case_id, number in c.exec_driver_sql(f"SELECT id, tracking_number FROM cases WHERE id > {top['cases']} "
                                                 "ORDER BY id"):
            seq += 1
            at = dt.datetime.now(dt.timezone.utc)
            details = {**template, "tracking_number": number, "attachments": 0}
            digest = audit._digest(prev, seq, at.strftime("%Y-%m-%dT%H:%M:%S.%f"), "citizen", "case.file",
                                   f"case:{case_id}", details)
            pending.append({"seq": seq, "at": at, "actor": "citizen", "action": "case.file",
                            "subject": f"case:{case_id}", "details": details, "prev_hash": prev, "hash": digest})
            prev = digest
        for i in range(0, len(pending), 5000):
            c.execute(insert(AuditEntry), pending[i:i + 5000])
    engine.dispose()


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"minsheng {' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds, done.stdout


def size_of(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.is_dir() else path.stat().st_size / 1e6


def bench(total: int, templates: int, work: Path) -> dict:
    from core.bootstrap import initialise
    from core.database import dispose_engines
    from core.settings import get_settings, reset_settings

    source, target = work / f"source-{total}", work / f"restored-{total}"
    os.environ.update(cli_env(source))
    reset_settings()
    settings = get_settings()
    began = time.monotonic()
    initialise(settings)
    file_templates(settings, min(templates, total))
    keys = {"MINSHENG_SECRET_KEY": settings.secret(), "MINSHENG_DATA_KEY": settings.fernet_key().decode()}
    dispose_engines()
    clone(source / "minsheng.db", total)
    generated = time.monotonic() - began

    backup_s, out = run(["backup", str(work / f"backup-{total}")], cli_env(source))
    restore_s, rout = run(["restore", str(work / f"backup-{total}")], cli_env(target, keys))
    assert f"cases {total}," in rout, rout
    return {"cases": total, "generate_s": round(generated, 1), "db_mb": round(size_of(source / "minsheng.db"), 1),
            "backup_mb": round(size_of(work / f"backup-{total}"), 1), "backup_s": round(backup_s, 1),
            "restore_s": round(restore_s, 1), "backup_reported": out.splitlines()[0].split(" in ")[-1],
            "restore_reported": rout.split(":")[0].removeprefix("restored in "), "restore_summary": rout.splitlines()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--templates", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="minsheng-bench-backup-"))
    try:
        for total in args.sizes:
            figures = bench(total, args.templates, work)
            print(f"{figures['cases']:>7} cases: backup {figures['backup_s']:.1f}s, restore {figures['restore_s']:.1f}s "
                  f"(wall clock of the commands; their own timers: {figures['backup_reported']} / "
                  f"{figures['restore_reported']}); database {figures['db_mb']} MB, backup {figures['backup_mb']} MB; "
                  f"generated in {figures['generate_s']}s", flush=True)
            print(f"         {figures['restore_summary']}", flush=True)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
