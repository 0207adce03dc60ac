"""Fixtures for the hardening suite: a populated installation (``world``) and callers to attack it with."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from core.database import engine_for
from core.settings import reset_settings
from tests.hardening import world as world_mod

CSRF = secrets.token_urlsafe(32)  # 43 characters, the form the CSRF middleware keeps


@pytest.fixture
def sqlite_env(home, sqlite_url, monkeypatch):
    """Settings on a fresh home and SQLite database (tests whose subject is not backend-specific)."""
    monkeypatch.setenv("MINSHENG_DATABASE_URL", sqlite_url)
    reset_settings()
    from core.settings import get_settings
    yield get_settings()
    reset_settings()


@pytest.fixture
def populated(sqlite_env):
    """``minsheng init`` plus the world of tests/hardening/world.py, on SQLite."""
    from core.bootstrap import initialise
    initialise(sqlite_env)
    engine = engine_for(sqlite_env.resolved_database_url)
    built = world_mod.build(sqlite_env, engine)
    return sqlite_env, built


@pytest.fixture
def populated_any(env):
    """The same world on every configured database (SQLite, and PostgreSQL when MINSHENG_TEST_PG_URL is set)."""
    from core.bootstrap import initialise
    initialise(env)
    built = world_mod.build(env, engine_for(env.resolved_database_url))
    return env, built


@pytest.fixture
def hardened_app(populated):
    from api.app import create_app
    from core.web.ratelimit import limiter
    limiter.reset()
    yield create_app(background=False)
    limiter.reset()


class Caller:
    """Builds the credentials of one kind of caller for one request."""

    def __init__(self, name: str, built: world_mod.World, target: str = "a"):
        self.name = name
        self.world = built
        self.target = built.cases[target]
        other = "b" if target != "b" else "a"
        self.code = {"citizen": self.target.code, "citizen_other": built.cases[other].code}.get(name)

    def cookies(self) -> dict[str, str]:
        jar = {"ms_csrf": CSRF}
        session = self.world.session_cookie(self.name)
        if session:
            jar["ms_session"] = session
        return jar

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": CSRF}

    def citizen_fields(self) -> dict[str, str]:
        """A citizen proves the case with its number and code; everybody names the target number."""
        fields = {"number": self.target.number, "tracking_number": self.target.number}
        if self.code:
            fields.update(code=self.code, query_code=self.code)
        return fields


@pytest.fixture
def callers(populated):
    from api.policy import CALLERS
    _settings, built = populated
    return {name: Caller(name, built) for name in CALLERS}


def snapshot_of(settings) -> world_mod.Snapshot:
    from sqlalchemy.engine import make_url
    return world_mod.Snapshot(Path(make_url(settings.resolved_database_url).database))
