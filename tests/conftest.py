"""Shared fixtures: a migrated database on SQLite and (when MINSHENG_TEST_PG_URL is set) PostgreSQL.

Each backend is migrated once per test session into a template; every test gets a fresh copy
(a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests never share rows.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.database import dispose_engines, engine_for
from core.migrate import upgrade
from core.settings import reset_settings

PG_URL = os.environ.get("MINSHENG_TEST_PG_URL")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gov_messages"


def pytest_report_header(config) -> list[str]:
    lines = [f"PostgreSQL tests: {'on ' + PG_URL if PG_URL else 'SKIPPED (MINSHENG_TEST_PG_URL not set)'}"]
    lines.append(f"Elasticsearch contract tests: {'on ' + os.environ['MINSHENG_ES_URL'] if os.environ.get('MINSHENG_ES_URL') else 'SKIPPED (MINSHENG_ES_URL not set)'}")
    lines.append(f"shared corpus: {SHARED_DATA if SHARED_DATA.exists() else 'absent (corpus tests skip)'}")
    return lines


def _pg_admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL: MINSHENG_TEST_PG_URL not set")
    name = f"ms_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    dispose_engines()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_pg(template: str) -> tuple[str, str]:
    name = f"ms_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg(name: str) -> None:
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated, empty database URL; tests using it run on both backends."""
    if request.param == "sqlite":
        path = tmp_path / "minsheng.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        dispose_engines()
    else:
        template = request.getfixturevalue("pg_template")
        name, url = _fresh_pg(template)
        yield url
        dispose_engines()
        _drop_pg(name)


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> Iterator[str]:
    """SQLite only, for tests whose subject has nothing backend-specific."""
    path = tmp_path / "minsheng.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"
    dispose_engines()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MINSHENG_HOME", str(home))
    monkeypatch.setenv("MINSHENG_SCHEDULER", "false")
    monkeypatch.setenv("MINSHENG_WORKER_THREADS", "0")
    reset_settings()
    yield home
    reset_settings()


@pytest.fixture
def env(home, db_url, monkeypatch):
    """Settings pointing at a fresh home and database (both backends)."""
    monkeypatch.setenv("MINSHENG_DATABASE_URL", db_url)
    reset_settings()
    from core.settings import get_settings
    yield get_settings()
    reset_settings()


@pytest.fixture
def engine(env):
    return engine_for(env.resolved_database_url)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared corpus not found at {SHARED_DATA}")
    return SHARED_DATA


# --- application fixtures -----------------------------------------------------------------------

@pytest.fixture
def initialised(env):
    """A home and database after ``minsheng init``: topics, departments and the first admin."""
    from core.bootstrap import initialise
    return initialise(env)


@pytest.fixture
def client(initialised):
    """A TestClient on a fresh app (no background threads) with rate limits reset."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.web.ratelimit import limiter
    limiter.reset()
    with TestClient(create_app(background=False)) as c:
        yield c
    limiter.reset()


def csrf_token(client) -> str:
    """The browser's CSRF cookie value (set on the first page view)."""
    if "ms_csrf" not in client.cookies:
        client.get("/login")
    return client.cookies["ms_csrf"]


@pytest.fixture
def make_user(engine):
    """Create a staff account: ``make_user("dept_a", "department", "housing") -> (username, password)``."""
    from core import accounts
    from core.database import session_scope

    def make(username: str, role: str, department: str | None = None, password: str = "correct-horse-9") -> tuple[str, str]:
        with session_scope(engine) as session:
            accounts.create_user(session, username, role, password, department)
        return username, password

    return make


def login(client, username: str, password: str) -> None:
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(client)}, follow_redirects=False)
    assert response.status_code == 303, response.text


def api_token(client, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- live server and browser ---------------------------------------------------------------------

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(initialised, env):
    """``minsheng serve``'s app in a subprocess on a free port; yields its base URL."""
    import subprocess
    import sys
    import time

    import httpx
    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    environ = {**os.environ, "MINSHENG_HOME": str(env.resolved_home), "MINSHENG_DATABASE_URL": env.resolved_database_url,
               "MINSHENG_SCHEDULER": "false", "MINSHENG_WORKER_THREADS": "1", "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=environ, cwd=root)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("live server did not start")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def browser():
    """Headless Chromium driven by Playwright (installed by `make browser` / .ci/run)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (run `make browser`)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
