"""Portable upserts (SQLite and PostgreSQL both speak ``INSERT … ON CONFLICT``)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_for(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def upsert(session: Session, model, values: dict[str, Any], keys: list[str], update: dict[str, Any] | None) -> None:
    """Insert ``values``; on a key conflict apply ``update`` (column -> expression) or do nothing."""
    stmt = insert_for(session)(model).values(**values)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update(stmt.excluded) if callable(update) else update)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt)


def upsert_many(session: Session, model, rows: list[dict[str, Any]], keys: list[str], update) -> None:
    """One multi-row ``INSERT … ON CONFLICT`` (Core statement: no ORM overhead on the hot path)."""
    if not rows:
        return
    table = model.__table__
    stmt = insert_for(session)(table).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update(stmt.excluded))
    session.execute(stmt)
