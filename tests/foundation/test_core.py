"""Migrations, init, audit chain, masking and the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, inspect, select, text, update
from typer.testing import CliRunner

from core import audit
from core.bootstrap import initialise
from core.database import session_scope
from core.masking import mask_personal_data
from core.models import AuditEntry, Department, Topic, User

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_create_every_table(engine):
    tables = set(inspect(engine).get_table_names())
    assert {"documents", "cases", "case_events", "attachments", "outbox", "audit_log", "users", "topics",
            "departments", "notices", "tracking_counters"} <= tables


def test_init_loads_reference_data_and_is_idempotent(env, engine):
    first = initialise(env)
    assert first.topics_added == 15 and first.departments_added >= 15 and first.admin_password
    second = initialise(env)
    assert (second.topics_added, second.departments_added, second.admin_password) == (0, 0, None)
    with session_scope(engine, readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == 15
        assert s.scalar(select(func.count()).select_from(User)) == 1
        names = set(s.scalars(select(Department.name)))
        assert {"住房和城乡建设局", "生态环境局", "纪委监委", "政务服务数据管理局"} <= names
        assert s.get(Topic, "discipline").default_department_code == "discipline"


def test_audit_chain_detects_edit_and_deletion(engine):
    with session_scope(engine) as s:
        for i in range(5):
            audit.append(s, "system", "test.event", f"case:{i}", {"n": i, "text": "中文"})
    with session_scope(engine, readonly=True) as s:
        assert audit.verify(s).ok
    with session_scope(engine) as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(details={"n": 99, "text": "中文"}))
    with session_scope(engine, readonly=True) as s:
        result = audit.verify(s)
        assert not result.ok and result.first_bad_seq == 3 and "altered" in result.reason
    with session_scope(engine) as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(details={"n": 2, "text": "中文"}))
        s.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    with session_scope(engine, readonly=True) as s:
        result = audit.verify(s)
        assert not result.ok and result.first_bad_seq == 4 and "missing" in result.reason


def test_masking_of_personal_data():
    masked = mask_personal_data("电话13812345678，座机0731-84567890，身份证43010219900101123X，住幸福路12号3栋402室")
    assert "13812345678" not in masked and "138****5678" in masked
    assert "84567890" not in masked and "43010219900101123X" not in masked
    assert "402室" not in masked and "幸福路" in masked


def test_cli_init_user_add_and_audit_verify(env, engine):
    from api.cli import app
    runner = CliRunner()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0 and "admin account created" in result.output
    result = runner.invoke(app, ["user", "add", "zhang", "--role", "department", "--department", "housing",
                                 "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["user", "add", "li", "--role", "department", "--password-stdin"], input="a-long-password\n")
    assert bad.exit_code == 1 and "--department" in bad.output
    bad = runner.invoke(app, ["user", "add", "wang", "--role", "boss", "--password-stdin"], input="a-long-password\n")
    assert bad.exit_code == 1 and "unknown role" in bad.output
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    with session_scope(engine, readonly=True) as s:
        user = s.scalar(select(User).where(User.username == "zhang"))
        assert user.department_code == "housing" and user.password_hash.startswith("$argon2")


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "api.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "init" in out.stdout and "worker" in out.stdout
