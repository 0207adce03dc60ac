"""``minsheng backup`` while the server is under filing load, ``minsheng restore`` into an empty home,
then every case, document and audit row compared, the audit chain verified, attachments checked,
and the restored installation used (a citizen's query code and an encrypted phone still work)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from core.database import dispose_engines
from tests.conftest import PG_URL
from tests.hardening import faults
from tests.hardening.server import ROOT, Server

COMPARED = ("cases", "documents", "audit_log", "case_events", "attachments", "users", "notices")


def cli(settings_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **settings_env}
    for name in ("MINSHENG_SECRET_KEY", "MINSHENG_DATA_KEY"):
        if name not in settings_env:
            env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def rows(url: str, table: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            key = inspect(conn).get_pk_constraint(table)["constrained_columns"] or ["id"]
            order = ", ".join(f'"{k}"' for k in key)
            return [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))]
    finally:
        engine.dispose()


@pytest.fixture
def target(tmp_path, env):
    """An empty home and an empty database of the same kind as the source."""
    home = tmp_path / "restored-home"
    if env.resolved_database_url.startswith("sqlite"):
        yield {"MINSHENG_HOME": str(home), "MINSHENG_DATABASE_URL": f"sqlite:///{home / 'minsheng.db'}"}
        return
    name = f"ms_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield {"MINSHENG_HOME": str(home), "MINSHENG_DATABASE_URL": url}
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_backup_under_load_then_restore_into_an_empty_home(populated_any, target, tmp_path):
    settings, built = populated_any
    source = {"MINSHENG_HOME": str(settings.resolved_home), "MINSHENG_DATABASE_URL": settings.resolved_database_url}
    server = Server(settings, tmp_path / "serve.log", MINSHENG_INTAKE_RATE_LIMIT="100000000").start()
    try:
        with faults.Load(lambda: server.base, threads=3) as load:
            import time
            time.sleep(2)
            during = cli(source, "backup", str(tmp_path / "during"))
            time.sleep(1)
        assert during.returncode == 0, during.stderr
        assert load.accepted, "no filing was accepted while the backup ran"
    finally:
        server.stop()
    quiet = cli(source, "backup", str(tmp_path / "quiet"), "--with-secrets")
    assert quiet.returncode == 0, quiet.stderr
    assert "keys NOT included" in during.stdout

    # A backup made while filings were committing restores to a consistent, verifiable state.
    refused = cli(target, "restore", str(tmp_path / "during"))
    assert refused.returncode == 1 and "MINSHENG_SECRET_KEY" in refused.stderr, refused.stderr  # no keys: refused
    keys = {"MINSHENG_SECRET_KEY": settings.secret(), "MINSHENG_DATA_KEY": settings.fernet_key().decode()}
    restored = cli({**target, **keys}, "restore", str(tmp_path / "during"))
    assert restored.returncode == 0, restored.stderr
    assert "audit chain intact" in restored.stdout
    faults.check_filings(_settings_for({**target, **keys}), [n for n in load.accepted
                                                             if n in {r[1] for r in rows(target["MINSHENG_DATABASE_URL"], "cases")}])

    # The quiet backup restores row for row (replacing what is there needs --force).
    again = cli({**target, **keys}, "restore", str(tmp_path / "quiet"))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = cli({**target, **keys}, "restore", str(tmp_path / "quiet"), "--force")
    assert forced.returncode == 0, forced.stderr
    for table in COMPARED:
        assert rows(settings.resolved_database_url, table) == rows(target["MINSHENG_DATABASE_URL"], table), table
    for path in settings.attachments_dir.rglob("*"):
        if path.is_file():
            copy = Path(target["MINSHENG_HOME"]) / "attachments" / path.relative_to(settings.attachments_dir)
            assert copy.is_file() and hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()

    # The restored installation works: the citizen's code, the encrypted contact data, the audit chain.
    check = cli({**target, **keys}, "audit", "verify")
    assert check.returncode == 0 and "intact" in check.stdout
    probe = (
        "from sqlalchemy import select\n"
        "from core.crypto import decrypt\nfrom core.database import session_scope\nfrom core.models import Case\n"
        "from intake.codes import verify_query_code\n"
        f"with session_scope() as s:\n    c = s.get(Case, {built.cases['a'].id})\n"
        f"    print(verify_query_code(c, {built.cases['a'].code!r}), decrypt(c.contact_phone_enc))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), **target, **keys}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "13787654321"], out.stderr[-2000:]


def _settings_for(values: dict[str, str]):
    from core.settings import Settings
    return Settings(home=Path(values["MINSHENG_HOME"]), database_url=values["MINSHENG_DATABASE_URL"],
                    secret_key=values.get("MINSHENG_SECRET_KEY"), data_key=values.get("MINSHENG_DATA_KEY"))


def test_incomplete_or_tampered_backup_is_refused(populated, tmp_path):
    settings, _built = populated
    source = {"MINSHENG_HOME": str(settings.resolved_home), "MINSHENG_DATABASE_URL": settings.resolved_database_url}
    assert cli(source, "backup", str(tmp_path / "b"), "--with-secrets").returncode == 0
    assert (tmp_path / "b" / "secrets" / "data_key").stat().st_mode & 0o077 == 0, "keys readable by others"
    assert "secret_key" not in (tmp_path / "b" / "settings.json").read_text()
    again = cli(source, "backup", str(tmp_path / "b"))
    assert again.returncode == 1 and "不为空" in again.stderr
    target = {"MINSHENG_HOME": str(tmp_path / "t"), "MINSHENG_DATABASE_URL": f"sqlite:///{tmp_path / 't' / 'db'}"}
    with open(tmp_path / "b" / "database.sqlite3", "r+b") as fh:
        fh.seek(5000)
        fh.write(b"tampered")
    bad = cli(target, "restore", str(tmp_path / "b"))
    assert bad.returncode == 1 and "校验和" in bad.stderr
    (tmp_path / "b" / "manifest.json").unlink()
    missing = cli(target, "restore", str(tmp_path / "b"))
    assert missing.returncode == 1 and "manifest.json" in missing.stderr
