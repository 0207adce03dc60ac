"""The one path by which text enters: a Document and its outbox row, committed together.

Used by the citizen form, Open311, ``minsheng ingest`` and the crawlers alike.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Document
from core.outbox.service import enqueue

_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC, no control characters, collapsed whitespace: the form every hash is taken of."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return _SPACE.sub(" ", text).strip()


def content_hash(title: str, body: str) -> str:
    return hashlib.sha256(f"{normalise_text(title)}\n{normalise_text(body)}".encode()).hexdigest()


@dataclass
class IncomingDocument:
    source: str
    title: str
    body: str
    external_id: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    likes: int | None = None
    reply_body: str | None = None
    reply_at: dt.datetime | None = None
    reply_department: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def find_existing(session: Session, incoming: IncomingDocument) -> Document | None:
    if incoming.external_id is not None:
        return session.scalar(
            select(Document).where(Document.source == incoming.source, Document.external_id == incoming.external_id)
        )
    return None


def add_document(session: Session, incoming: IncomingDocument) -> Document:
    """Stage a new Document plus its outbox row in the caller's transaction (caller commits)."""
    doc = Document(
        source=incoming.source,
        external_id=incoming.external_id,
        url=incoming.url,
        canonical_url=incoming.canonical_url or incoming.url,
        title=normalise_text(incoming.title)[:500],
        body=(incoming.body or "").replace("\x00", ""),
        author=incoming.author,
        published_at=incoming.published_at,
        likes=incoming.likes,
        reply_body=incoming.reply_body,
        reply_at=incoming.reply_at,
        reply_department=incoming.reply_department,
        content_hash=content_hash(incoming.title, incoming.body),
        raw=incoming.raw,
    )
    session.add(doc)
    session.flush()
    enqueue(session, doc.id)
    return doc


def upsert_document(session: Session, incoming: IncomingDocument) -> tuple[Document, str]:
    """Insert, or update an existing document with the same (source, external_id).

    Returns the document and ``"new"``, ``"updated"`` or ``"unchanged"``. An update (a reply
    posted later, new likes) re-queues the document so labels and the index follow.
    """
    existing = find_existing(session, incoming)
    if existing is None:
        return add_document(session, incoming), "new"
    changed = False
    for attr in ("title", "body", "url", "author", "published_at", "likes", "reply_body", "reply_at", "reply_department"):
        value = getattr(incoming, attr)
        if attr == "title" and value is not None:
            value = normalise_text(value)[:500]
        if value is not None and getattr(existing, attr) != value:
            setattr(existing, attr, value)
            changed = True
    if not changed:
        return existing, "unchanged"
    existing.content_hash = content_hash(existing.title, existing.body)
    existing.raw = {**(existing.raw or {}), **incoming.raw}
    session.flush()
    enqueue(session, existing.id)
    return existing, "updated"
