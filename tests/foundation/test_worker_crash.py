"""Kill a worker process mid-stage (SIGKILL), restart it: every document processed exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.database import session_scope
from core.ingest import IncomingDocument, add_document
from core.models import OutboxItem

WORKER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import text
    from core.outbox.stages import register_stage
    from core.outbox.worker import Worker
    from core.database import engine_for

    engine = engine_for(sys.argv[1])

    @register_stage("slow_effect", 10)
    def slow_effect(session, doc):
        # a database effect that must happen once per document, then a slow part where we get killed
        session.execute(text("INSERT INTO crash_effects (document_id) VALUES (:d)"), {"d": doc.id})
        session.flush()
        time.sleep(0.05)

    @register_stage("second", 20)
    def second(session, doc):
        session.execute(text("INSERT INTO crash_second (document_id) VALUES (:d)"), {"d": doc.id})

    worker = Worker(engine)
    worker.settings = worker.settings.model_copy(update={"lease_seconds": 2, "worker_batch": 4})
    worker.drain(timeout=120)
""")


@pytest.mark.slow
def test_sigkill_mid_stage_repeats_never_loses_or_doubles(engine, env, tmp_path):
    url = env.resolved_database_url
    with session_scope(engine) as s:
        s.execute(text("CREATE TABLE crash_effects (document_id INTEGER PRIMARY KEY)"))
        s.execute(text("CREATE TABLE crash_second (document_id INTEGER PRIMARY KEY)"))
        for i in range(60):
            add_document(s, IncomingDocument(source="test", title=f"t{i}", body=f"b{i}"))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = Path(__file__).resolve().parents[2]
    envvars = {**os.environ, "PYTHONPATH": str(root), "MINSHENG_HOME": str(env.resolved_home)}
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(script), url], env=envvars, cwd=root)
        time.sleep(0.6)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        time.sleep(0.2)
    final = subprocess.run([sys.executable, str(script), url], env=envvars, cwd=root, timeout=300)
    assert final.returncode == 0
    assert kills >= 1
    with session_scope(engine, readonly=True) as s:
        # primary keys would have refused a double; every document has each effect exactly once
        assert s.scalar(text("SELECT COUNT(*) FROM crash_effects")) == 60
        assert s.scalar(text("SELECT COUNT(*) FROM crash_second")) == 60
        assert s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "done")) == 60
