"""Claiming, completing, retrying and dead-lettering outbox rows.

Claims are one atomic UPDATE with a fresh token: ``UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED)`` on PostgreSQL, and the same statement under SQLite's single writer lock there.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from core.database import utcnow
from core.models import OutboxItem
from core.models.outbox import DEAD, DONE, PENDING, PROCESSING


def enqueue(session: Session, document_id: int, pipeline: str = "document") -> OutboxItem:
    """Add an outbox row in the caller's transaction (committed with the document)."""
    item = OutboxItem(document_id=document_id, pipeline=pipeline, status=PENDING, available_at=utcnow())
    session.add(item)
    return item


def claim(session: Session, owner: str, limit: int, lease_seconds: int) -> list[OutboxItem]:
    """Lease up to ``limit`` due rows (pending, or processing with an expired lease) to ``owner``."""
    now = utcnow()
    token = f"{owner}:{uuid.uuid4().hex[:12]}"
    due = or_(
        and_(OutboxItem.status == PENDING, OutboxItem.available_at <= now),
        and_(OutboxItem.status == PROCESSING, OutboxItem.lease_until < now),
    )
    candidates = select(OutboxItem.id).where(due).order_by(OutboxItem.available_at, OutboxItem.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(candidates.scalar_subquery()))
        .values(status=PROCESSING, lease_owner=token, lease_until=now + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    rows = list(session.scalars(select(OutboxItem).where(OutboxItem.lease_owner == token).order_by(OutboxItem.id)))
    session.commit()
    return rows


def still_leased(session: Session, item_id: int, token: str) -> bool:
    """True while ``token`` holds the lease; checked first in each stage's transaction.

    The row stays locked until that transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
    write transaction already excludes other writers), so a worker whose claim finds our lease
    expired while a slow stage runs skips the row instead of running the same stage beside us.
    """
    row = session.execute(
        select(OutboxItem.lease_owner, OutboxItem.status).where(OutboxItem.id == item_id).with_for_update()
    ).one_or_none()
    return row is not None and row.lease_owner == token and row.status == PROCESSING


def mark_stage_done(session: Session, item: OutboxItem, stage: str) -> None:
    item.stages_done = [*item.stages_done, stage]


def finish(session: Session, item: OutboxItem) -> None:
    item.status = DONE
    item.finished_at = utcnow()
    item.lease_owner = None
    item.lease_until = None
    item.last_error = None


def fail(session: Session, item: OutboxItem, error: str, max_attempts: int, backoff_seconds: float) -> None:
    """Record a failure: retry later with exponential backoff, or park as dead-letter."""
    item.attempts += 1
    item.last_error = error[-4000:]
    item.lease_owner = None
    item.lease_until = None
    if item.attempts >= max_attempts:
        item.status = DEAD
        item.finished_at = utcnow()
    else:
        item.status = PENDING
        delay = min(backoff_seconds * (2 ** (item.attempts - 1)), 3600)
        item.available_at = utcnow() + dt.timedelta(seconds=delay)


def retry_dead(session: Session, item_ids: list[int] | None = None) -> int:
    """Put dead-letter rows back in the queue (admin action); returns how many."""
    stmt = update(OutboxItem).where(OutboxItem.status == DEAD)
    if item_ids:
        stmt = stmt.where(OutboxItem.id.in_(item_ids))
    result = session.execute(
        stmt.values(status=PENDING, attempts=0, available_at=utcnow(), finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
    return {status: n for status, n in rows}


def pending_work(session: Session) -> int:
    """Rows not yet finished (pending or processing), whatever their retry time."""
    return session.scalar(
        select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_((PENDING, PROCESSING)))
    ) or 0
