"""Saved searches and their alerts: an in-app notice when new documents match.

"New" means a document id above the search's watermark. The watermark only advances over ids
whose processing has settled (no pending outbox row, not waiting in the index queue), so a
document indexed late, after a newer one, still raises its alert; an old document that is merely
re-indexed (a new label, a case status) never does. Each notice has a dedupe key, so two
schedulers (or a retried job) never notify twice for the same window.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import notices
from core.database import utcnow
from core.models import Document, OutboxItem, User
from core.models.outbox import PENDING, PROCESSING
from search.backend import SearchBackend
from search.backends import get_backend
from search.models import SavedSearch, SearchPending
from search.service import SEARCH_ROLES, SearchInputError, SearchParams

log = logging.getLogger("minsheng.search.alerts")
MAX_SAVED_PER_USER = 50


def list_for(session: Session, user: User) -> list[SavedSearch]:
    return list(session.scalars(select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(SavedSearch.id)))


def create(session: Session, user: User, name: str, params: dict[str, Any], alert: bool = True) -> SavedSearch:
    if not isinstance(params, dict):
        raise SearchInputError("params 应为对象，例如 {\"q\": \"物业\"}。", "params")
    validated = SearchParams.from_mapping(params)  # the same checks as a search (400 on bad input)
    count = session.scalar(select(func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user.id)) or 0
    if count >= MAX_SAVED_PER_USER:
        raise SearchInputError(f"每人最多保存 {MAX_SAVED_PER_USER} 个检索，请先删除不用的。", "name")
    item = SavedSearch(user_id=user.id, name=name[:100], params=validated.to_dict(), alert=alert,
                       last_seen_id=settled_watermark(session))
    session.add(item)
    session.flush()
    return item


def delete(session: Session, user: User, saved_id: int) -> bool:
    item = session.get(SavedSearch, saved_id)
    if item is None or item.user_id != user.id:
        return False
    session.delete(item)
    return True


def settled_watermark(session: Session) -> int:
    """The highest id W such that every document with id ≤ W is fully processed and indexed."""
    top = session.scalar(select(func.max(Document.id))) or 0
    unsettled = [
        session.scalar(select(func.min(OutboxItem.document_id))
                       .where(OutboxItem.status.in_((PENDING, PROCESSING)), OutboxItem.pipeline == "document")),
        session.scalar(select(func.min(SearchPending.document_id))),
    ]
    lows = [u - 1 for u in unsettled if u is not None]
    return min([top, *lows])


def check(session: Session, backend: SearchBackend | None = None) -> int:
    """Check every saved search with alerts on; returns how many notices were written."""
    backend = backend or get_backend()
    watermark = settled_watermark(session)
    written = 0
    for item in session.scalars(select(SavedSearch).where(SavedSearch.alert.is_(True)).order_by(SavedSearch.id)):
        if watermark <= item.last_seen_id:
            continue
        user = session.get(User, item.user_id)
        if user is None or not user.active or (user.role not in SEARCH_ROLES and user.role != "admin"):
            continue
        try:
            request = SearchParams.from_mapping(item.params).request(user, size=1)
        except SearchInputError:
            log.warning("saved search %s no longer parses; skipped", item.id)
            continue
        if request.query.empty:
            item.last_seen_id = watermark
            continue
        request.id_above, request.id_at_most = item.last_seen_id, watermark
        new = backend.count(request)
        if new:
            created = notices.notify(
                session, f"search:{item.id}:{item.last_seen_id}-{watermark}",
                f"保存的检索「{item.name}」有 {new} 条新结果", kind="search_alert",
                body=f"自上次提醒以来，有 {new} 条新文档符合检索条件“{item.name}”。", link=link(item.params),
                user_id=user.id,
            )
            written += int(created)
            item.last_alert_at = utcnow()
        item.last_seen_id = watermark
        item.last_checked_at = utcnow()
    return written


def _pairs(params: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, x) for k, v in params.items() for x in (v if isinstance(v, list) else [v])]


def link(params: dict[str, Any], default_sort: bool = True) -> str:
    """The search page for saved parameters (alerts open it newest first)."""
    pairs = _pairs(params)
    if default_sort and "sort" not in params:
        pairs.append(("sort", "time"))
    return "/search?" + urlencode(pairs) if pairs else "/search"
