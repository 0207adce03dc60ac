"""Domain packages known to the application, loaded by name so ``core`` never imports them statically.

Each domain may provide ``<pkg>.models`` (tables), ``<pkg>.migrations`` (an Alembic branch),
``<pkg>.stages`` (worker stages), ``<pkg>.views`` (a FastAPI ``router``), ``<pkg>.cli`` (a Typer
``app``) and ``<pkg>.jobs`` (scheduled jobs). A missing module is simply not provided; an import
error inside an existing module is raised.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

#: Import order. ``search.trends`` (the analyst console) is a sub-package with its own tables, branch,
#: stage, views, CLI and jobs; it is listed like a domain and must come after ``search``.
DOMAINS = ("core", "nlp", "intake", "cases", "search", "search.trends", "crawlers", "api")


def optional_module(name: str) -> ModuleType | None:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name) if spec is not None else None


def load(kind: str) -> list[ModuleType]:
    """Import ``<domain>.<kind>`` for every domain that has it, in dependency order."""
    return [m for d in DOMAINS if (m := optional_module(f"{d}.{kind}")) is not None]


def migration_dirs() -> list[Path]:
    dirs = []
    for domain in DOMAINS:
        spec = importlib.util.find_spec(domain)
        if spec is None or not spec.submodule_search_locations:
            continue
        versions = Path(next(iter(spec.submodule_search_locations))) / "migrations" / "versions"
        if versions.is_dir():
            dirs.append(versions)
    return dirs
