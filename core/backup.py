"""``minsheng backup DIR`` and ``minsheng restore DIR``: a consistent copy of everything that is not derived.

What a backup holds, and why:

* the database, copied consistently while the server keeps serving: SQLite through its online
  backup API (one read transaction, so one snapshot; WAL writers are not blocked), PostgreSQL
  through ``pg_dump`` (one repeatable-read snapshot);
* the attachments, copied *after* the database snapshot: a file is always written before the row
  that names it commits, so every attachment the snapshot references is already on disk;
* the settings without secrets (``settings.json``), and a manifest with row counts per table,
  the audit chain's tail and fingerprints (not values) of the two keys;
* the two keys themselves only with ``--with-secrets`` (``secrets/``, mode 600): without the
  data key the encrypted contact data cannot be read, without the secret key no query code or
  session works, so the operator must keep them *somewhere*, by default apart from the data.

The search index is derived data and is not copied: ``minsheng reindex`` rebuilds it.

A restore goes into an empty home/database only (``--force`` replaces a non-empty one), refuses
keys that do not match the backup's fingerprints, migrates to the code's schema, and verifies
row counts and the audit chain before it reports success.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from core import audit
from core.database import dispose_engines, engine_for, session_scope
from core.migrate import upgrade
from core.settings import Settings, get_settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
SECRET_NAMES = ("secret_key", "data_key")
#: Settings never written to settings.json (their values are secrets or carry credentials).
SECRET_SETTINGS = {"secret_key", "data_key"}
URL_SETTINGS = {"database_url", "es_url", "smtp_url", "webhook_url"}


class BackupError(RuntimeError):
    """A backup or restore that cannot proceed; the message says what to do."""


@dataclass
class BackupResult:
    path: Path
    database: str
    tables: dict[str, int]
    attachments: int
    attachment_bytes: int
    seconds: float
    with_secrets: bool


@dataclass
class RestoreResult:
    tables: dict[str, int]
    attachments: int
    audit_rows: int
    seconds: float
    notes: list[str] = field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------------

def _key_fingerprint(value: str) -> str:
    return hashlib.sha256(f"minsheng-backup-key-check:{value}".encode()).hexdigest()[:16]


def _existing_keys(settings: Settings) -> dict[str, str | None]:
    """The keys this installation has *now*, without generating new ones (unlike ``Settings.secret``)."""
    out: dict[str, str | None] = {}
    for name in SECRET_NAMES:
        value = getattr(settings, name)
        if not value:
            path = settings.resolved_home / "secrets" / name
            value = path.read_text().strip() if path.exists() else None
        out[name] = value
    return out


def _redact_url(value: str | None) -> str | None:
    if not value:
        return value
    try:
        url = make_url(value)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL (smtp://, https://): strip userinfo by hand
        if "@" in value and "://" in value:
            scheme, rest = value.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return value
    return url.render_as_string(hide_password=True)


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, secrets left out and passwords in URLs hidden."""
    data = json.loads(settings.model_dump_json())
    for name in SECRET_SETTINGS:
        data.pop(name, None)
    for name in URL_SETTINGS:
        if data.get(name):
            data[name] = _redact_url(data[name])
    return data


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份。")
    return Path(database).expanduser().resolve()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """An URL pg_dump understands, and the environment carrying the password (never on the command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _counts_on(conn) -> dict[str, int]:
    return {name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() or 0)
            for name in sorted(inspect(conn).get_table_names())}


def _tail_on(conn) -> dict[str, Any] | None:
    if "audit_log" not in inspect(conn).get_table_names():
        return None
    row = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    return {"seq": row[0], "hash": row[1]} if row else {"seq": 0, "hash": None}


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (every domain's tables, found by inspection)."""
    with engine.connect() as conn:
        return _counts_on(conn)


def _audit_tail(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return _tail_on(conn)


def _copy_attachments(source: Path, target: Path) -> tuple[int, int]:
    """Copy every finished attachment file (``*.part`` files are writes in progress); returns count and bytes."""
    count = size = 0
    if not source.is_dir():
        return 0, 0
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.suffix == ".part":
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        count += 1
        size += path.stat().st_size
    return count, size


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


# --- backup --------------------------------------------------------------------------------------

def _sqlite_snapshot(url: str, target: Path) -> None:
    source = sqlite3.connect(str(_sqlite_path(url)), timeout=60)
    try:
        source.execute("PRAGMA busy_timeout=60000")
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)  # pages=-1: one step inside one read transaction = one snapshot
        finally:
            dest.close()
    finally:
        source.close()


def _pg_snapshot(url: str, target: Path) -> tuple[dict[str, int], dict[str, Any] | None]:
    """``pg_dump`` of an exported snapshot, counted inside the same snapshot (so counts describe the dump)."""
    if shutil.which("pg_dump") is None:
        raise BackupError("找不到 pg_dump：请安装与数据库服务器同版本的 PostgreSQL 客户端工具（如 postgresql-client）。")
    libpq, env = _libpq(url)
    engine = engine_for(url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            counts = _counts_on(conn)
            tail = _tail_on(conn)
            done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                                   f"--snapshot={snapshot}", "--file", str(target), libpq],
                                  env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败：{done.stderr.strip()[-500:]}")
    return counts, tail


def backup(dest: Path, settings: Settings | None = None, with_secrets: bool = False) -> BackupResult:
    """Write a complete backup into ``dest`` (which must not exist or be empty)."""
    settings = settings or get_settings()
    started = time.monotonic()
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"备份目录 {dest} 已存在且不为空：请指定一个新目录。")
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    kind = make_url(url).get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持的数据库类型：{kind}")
    work = Path(tempfile.mkdtemp(prefix=".minsheng-backup-", dir=dest.parent))
    try:
        db_file = work / (SQLITE_FILE if kind == "sqlite" else PG_FILE)
        if kind == "sqlite":
            _sqlite_snapshot(url, db_file)
            # Counts and the audit tail come from the copy itself, so they describe exactly what was saved.
            snap_engine = create_engine(f"sqlite:///{db_file}")
            counts, tail = table_counts(snap_engine), _audit_tail(snap_engine)
            snap_engine.dispose()
        else:
            counts, tail = _pg_snapshot(url, db_file)
        attachments, attachment_bytes = _copy_attachments(settings.attachments_dir, work / "attachments")
        (work / "settings.json").write_text(json.dumps(public_settings(settings), ensure_ascii=False, indent=2))
        keys = _existing_keys(settings)
        if with_secrets:
            folder = work / "secrets"
            folder.mkdir(mode=0o700)
            for name, value in keys.items():
                if value:
                    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as fh:
                        fh.write(value)
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "database": kind,
            "database_file": db_file.name,
            "database_sha256": _sha256(db_file),
            "tables": counts,
            "audit_tail": tail,
            "attachments": {"files": attachments, "bytes": attachment_bytes},
            "keys": {name: _key_fingerprint(v) if v else None for name, v in keys.items()},
            "with_secrets": with_secrets,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))  # last: marks it complete
        _fsync_tree(work)
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupResult(dest, kind, counts, attachments, attachment_bytes, time.monotonic() - started, with_secrets)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- restore -------------------------------------------------------------------------------------

def read_manifest(src: Path) -> dict[str, Any]:
    path = Path(src) / MANIFEST
    if not path.exists():
        raise BackupError(f"{src} 不是完整的备份（缺少 {MANIFEST}，可能备份中途失败）。")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"备份格式 {manifest.get('format')} 不受支持（本版本为 {FORMAT}）。")
    return manifest


def _check_keys(src: Path, manifest: dict[str, Any], settings: Settings) -> list[str]:
    """Install the backup's keys into an empty home, or check that the home's keys are the backup's."""
    notes = []
    have = _existing_keys(settings)
    folder = settings.resolved_home / "secrets"
    for name in SECRET_NAMES:
        wanted = manifest["keys"].get(name)
        packed = src / "secrets" / name
        if have[name] is None and packed.exists():
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(packed.read_text().strip())
            have[name] = packed.read_text().strip()
            notes.append(f"{name} restored from the backup")
        if wanted is None:
            continue
        env_name = f"MINSHENG_{name.upper()}"
        if have[name] is None:
            raise BackupError(
                f"备份不含密钥 {name}：请把原系统的 {env_name} 设置为环境变量，或把原 secrets/{name} 复制到 "
                f"{folder}/ 后重试（没有它，加密的联系方式和查询码都将无法使用）。")
        if _key_fingerprint(have[name]) != wanted:
            raise BackupError(
                f"当前的 {name} 与备份时的不一致：请使用原系统的 {env_name}（或 secrets/{name}），否则加密数据无法读取。")
    return notes


def _database_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    if not names:
        return True
    if "cases" not in names and "documents" not in names:
        return names <= {"alembic_version"}
    with engine.connect() as conn:
        for name in ("cases", "documents", "audit_log", "users"):
            if name in names and conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first():
                return False
    return True


def _restore_sqlite(src_file: Path, url: str, force: bool) -> None:
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    dispose_engines()
    if target.exists():
        if not force:
            engine_ok = _database_empty_file(target)
            if not engine_ok:
                raise BackupError(f"目标数据库 {target} 已有数据：请恢复到空的 MINSHENG_HOME，或使用 --force 覆盖。")
    tmp = target.with_name(target.name + ".restoring")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    source = sqlite3.connect(str(src_file))
    try:
        dest = sqlite3.connect(str(tmp))
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=WAL")
        finally:
            dest.close()
    finally:
        source.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, target)


def _database_empty_file(path: Path) -> bool:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return _database_empty(engine)
    finally:
        engine.dispose()


def _restore_pg(src_file: Path, url: str, force: bool) -> None:
    if shutil.which("pg_restore") is None:
        raise BackupError("找不到 pg_restore：请安装与数据库服务器同版本的 PostgreSQL 客户端工具。")
    engine = engine_for(url)
    empty = _database_empty(engine)
    has_tables = bool(inspect(engine).get_table_names())
    if not empty and not force:
        raise BackupError("目标 PostgreSQL 数据库已有数据：请恢复到新建的空数据库，或使用 --force 覆盖。")
    if has_tables:
        with engine.begin() as conn:  # replace: drop everything in the public schema, then load the dump
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    dispose_engines()
    libpq, env = _libpq(url)
    done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                           "--dbname", libpq, str(src_file)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败：{done.stderr.strip()[-500:]}")


def restore(src: Path, settings: Settings | None = None, force: bool = False) -> RestoreResult:
    """Restore a backup into this installation's (empty) home and database, then verify it."""
    settings = settings or get_settings()
    started = time.monotonic()
    src = Path(src).expanduser().resolve()
    manifest = read_manifest(src)
    db_file = src / manifest["database_file"]
    if not db_file.exists() or _sha256(db_file) != manifest["database_sha256"]:
        raise BackupError(f"备份中的数据库文件 {db_file.name} 缺失或已损坏（校验和不符）。")
    url = settings.resolved_database_url
    kind = make_url(url).get_backend_name()
    if kind != manifest["database"]:
        raise BackupError(f"备份来自 {manifest['database']}，当前配置的数据库是 {kind}：请恢复到同类数据库。")
    settings.resolved_home.mkdir(parents=True, exist_ok=True)
    notes = _check_keys(src, manifest, settings)
    if kind == "sqlite":
        _restore_sqlite(db_file, url, force)
    else:
        _restore_pg(db_file, url, force)
    dispose_engines()
    engine = engine_for(url)
    counts = table_counts(engine)
    wanted = manifest["tables"]
    wrong = {name: (n, counts.get(name)) for name, n in wanted.items() if counts.get(name) != n}
    if wrong:
        raise BackupError(f"恢复后的行数与备份不符：{wrong}")
    with session_scope(engine, readonly=True) as session:
        chain = audit.verify(session)
    if not chain.ok:
        raise BackupError(f"恢复后审计链校验失败：第 {chain.first_bad_seq} 行，{chain.reason}")
    tail = manifest.get("audit_tail")
    if tail and tail.get("seq") and _audit_tail(engine) != tail:
        raise BackupError("恢复后审计链末尾与备份不符。")
    upgrade(url)  # the code may be newer than the backup
    dispose_engines()
    attachments, _ = _copy_attachments(src / "attachments", settings.attachments_dir)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    notes.append("the search index is derived data: run `minsheng reindex` to rebuild it")
    return RestoreResult(counts, attachments, chain.rows, time.monotonic() - started, notes)
