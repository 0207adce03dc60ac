"""Crawled pages into the database: the seen-URL table, deduplication, and the one ingestion path.

Each item is one transaction: the Document (through ``core.ingest.upsert_document``, so its
outbox row commits with it), its seen-URL row, the near-duplicate link, and — when a reply
appears on a message that a Case is linked to — the case's ``reply_found`` timeline event.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.database import utcnow
from core.ingest import IncomingDocument, find_existing, upsert_document
from core.models import Case, CaseEvent, Document
from crawlers import dedup
from crawlers.extract import url_key
from crawlers.items import PageItem
from crawlers.models import SeenUrl

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW, UPDATED, UNCHANGED, DUPLICATE = "new", "updated", "unchanged", "duplicate"
#: A page that failed is retried when its list page is visited again, this many fetches in all.
MAX_FAILED_FETCHES = 3


@dataclass(frozen=True)
class Seen:
    status: str  # ok | duplicate | blocked | failed
    has_reply: bool
    first_seen_at: dt.datetime
    fetches: int

    @property
    def retry_failed(self) -> bool:
        return self.status == "failed" and self.fetches < MAX_FAILED_FETCHES


@dataclass(frozen=True)
class Outcome:
    status: str  # new | updated | unchanged | duplicate
    document_id: int | None
    duplicate_of: int | None = None  # near-duplicate (simhash) or same URL on another site
    reply_found: bool = False


def seen_lookup(session: Session, site: str, urls: list[str]) -> dict[str, Seen]:
    """Seen rows of a site for these canonical URLs, keyed by URL."""
    keys = {url_key(u): u for u in urls}
    if not keys:
        return {}
    rows = session.execute(
        select(SeenUrl.url_key, SeenUrl.status, SeenUrl.has_reply, SeenUrl.first_seen_at, SeenUrl.fetches)
        .where(SeenUrl.site == site, SeenUrl.url_key.in_(list(keys)))
    ).all()
    return {keys[r.url_key]: Seen(r.status, r.has_reply, r.first_seen_at, r.fetches) for r in rows}


def mark_seen(session: Session, site: str, url: str, status: str, document_id: int | None = None,
              has_reply: bool = False) -> None:
    key = url_key(url)
    now = utcnow()
    row = session.scalar(select(SeenUrl).where(SeenUrl.site == site, SeenUrl.url_key == key))
    if row is None:
        session.add(SeenUrl(site=site, url_key=key, url=url[:2000], status=status, document_id=document_id,
                            has_reply=has_reply, first_seen_at=now, last_fetched_at=now, fetches=1))
    else:
        row.status = status
        row.document_id = document_id if document_id is not None else row.document_id
        row.has_reply = has_reply or row.has_reply
        row.last_fetched_at = now
        row.fetches = (row.fetches or 0) + 1
    session.flush()


def _incoming(item: PageItem) -> IncomingDocument:
    return IncomingDocument(
        source=item.site, title=item.title, body=item.body, external_id=item.external_id, url=item.url,
        canonical_url=item.canonical_url, author=item.author, published_at=item.published_at, likes=item.likes,
        reply_body=item.reply_body, reply_at=item.reply_at, reply_department=item.reply_department,
        raw={"crawler": item.raw} if item.raw else {},
    )


def _same_url_elsewhere(session: Session, item: PageItem) -> Document | None:
    if not item.canonical_url:
        return None
    return session.scalar(
        select(Document).where(Document.canonical_url == item.canonical_url, Document.source != item.site)
        .order_by(Document.id).limit(1)
    )


def ingest(session: Session, item: PageItem, site_title: str | None = None, near_duplicates: bool = True) -> Outcome:
    """Store one crawled page in the caller's transaction (the caller commits)."""
    incoming = _incoming(item)
    existing = find_existing(session, incoming)
    if existing is None:
        other = _same_url_elsewhere(session, item)
        if other is not None:
            mark_seen(session, item.site, item.seen_key, "duplicate", other.id, bool(item.reply_body))
            return Outcome(DUPLICATE, other.id, duplicate_of=other.id)
    old_reply = existing.reply_body if existing is not None else None
    doc, status = upsert_document(session, incoming)
    duplicate_of = None
    if status == NEW and near_duplicates:
        duplicate_of = dedup.fingerprint_and_link(session, doc)
    reply_found = bool(status == UPDATED and item.reply_body and item.reply_body != old_reply)
    if reply_found:
        _case_reply_event(session, doc, site_title or item.site)
    mark_seen(session, item.site, item.seen_key, "ok", doc.id, bool(doc.reply_body))
    return Outcome(status, doc.id, duplicate_of=duplicate_of, reply_found=reply_found)


def _case_reply_event(session: Session, doc: Document, site_title: str) -> None:
    """A reply posted on the source site after the citizen's message: note it on the case timeline."""
    case = session.scalar(select(Case).where(Case.document_id == doc.id))
    if case is None:
        return
    when = doc.reply_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if doc.reply_at else "近日"
    dept = doc.reply_department or "相关部门"
    session.add(CaseEvent(
        case_id=case.id, kind="reply_found", status_after=case.status, public=True,
        public_note=f"{site_title}上出现了{dept}的答复（{when}）。", actor_role="crawler",
    ))
    audit.append(session, f"crawler:{doc.source}", "case.reply_found", f"case:{case.id}",
                 {"document_id": doc.id, "reply_department": doc.reply_department})
    session.flush()


def mark_blocked(session: Session, site: str, url: str) -> None:
    """robots.txt forbids this page: remember it so it never counts as new again."""
    mark_seen(session, site, url, "blocked")


def mark_failed(session: Session, site: str, url: str) -> None:
    """A page that failed to load or parse: retried on later runs (up to ``MAX_FAILED_FETCHES``) but no
    longer counted as new, so one broken page cannot make every run page to the end."""
    row = session.scalar(select(SeenUrl).where(SeenUrl.site == site, SeenUrl.url_key == url_key(url)))
    if row is not None and row.status != "failed":
        return  # stored before; a failed refetch (a revisit) keeps the stored document
    mark_seen(session, site, url, "failed")
