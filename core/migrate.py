"""Alembic, configured in code: one script location, one version folder per domain (a branch each)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from core import plugins


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in plugins.migration_dirs()))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "heads")


def pending(engine: Engine) -> bool:
    """True when the database lacks a migration that the code has."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url.render_as_string(hide_password=False))))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    # alembic_version keeps only the tips: a revision that others depend on (core_0001) is applied but
    # not listed, so compare against everything the current tips include, dependencies too.
    applied = {rev.revision for head in current for rev in script.iterate_revisions(head, "base")}
    return not set(script.get_heads()) <= applied
