"""Writing in-app notices exactly once (by a dedupe key) and listing a user's inbox."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.database import utcnow
from core.models import Notice, User


def notify(
    session: Session,
    dedupe_key: str,
    title: str,
    *,
    kind: str,
    body: str = "",
    level: str = "info",
    link: str | None = None,
    user_id: int | None = None,
    role: str | None = None,
    department: str | None = None,
) -> bool:
    """Insert a notice unless one with ``dedupe_key`` exists; True if this call created it.

    ``INSERT … ON CONFLICT DO NOTHING`` makes concurrent senders (two sweepers) safe.
    """
    values = dict(
        dedupe_key=dedupe_key, title=title[:300], body=body, kind=kind, level=level, link=link,
        recipient_user_id=user_id, recipient_role=role, recipient_department=department, created_at=utcnow(),
    )
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = session.execute(insert(Notice).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return bool(result.rowcount)


def inbox_filter(user: User):
    """Notices addressed to the user, their role, or (department staff) their department."""
    clauses = [Notice.recipient_user_id == user.id, Notice.recipient_role == user.role]
    if user.role == "department" and user.department_code:
        clauses.append(Notice.recipient_department == user.department_code)
    return or_(*clauses)


def inbox(session: Session, user: User, unread_only: bool = False, limit: int = 100) -> list[Notice]:
    stmt = select(Notice).where(inbox_filter(user)).order_by(Notice.id.desc()).limit(limit)
    if unread_only:
        stmt = stmt.where(Notice.read_at.is_(None))
    return list(session.scalars(stmt))
