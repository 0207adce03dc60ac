"""Append-only, hash-chained audit log and its verifier.

Each row stores ``hash = sha256(prev_hash + canonical JSON of the row)`` and a gapless ``seq``.
Appends take the chain's tail under a lock (``FOR UPDATE`` on PostgreSQL; SQLite's write lock),
so two writers can never fork the chain; the unique ``seq`` makes a lost race fail loudly.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.database import utcnow
from core.models import AuditEntry

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    payload = json.dumps(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "details": details},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _at_text(entry: AuditEntry) -> str:
    return entry.at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def append(session: Session, actor: str, action: str, subject: str, details: dict[str, Any] | None = None) -> AuditEntry:
    """Add an audit row in the caller's transaction."""
    details = details or {}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    entry = AuditEntry(seq=seq, at=utcnow(), actor=actor,
                       action=action, subject=subject, details=details, prev_hash=prev, hash="")
    entry.hash = _digest(prev, seq, _at_text(entry), actor, action, subject, details)
    session.add(entry)
    session.flush()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the chain in order; report the first altered, inserted or missing row."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(False, count, expected_seq, f"row {expected_seq} is missing (next row is {entry.seq})")
        if entry.prev_hash != prev:
            return VerifyResult(False, count, entry.seq, f"row {entry.seq} does not link to row {entry.seq - 1}")
        want = _digest(prev, entry.seq, _at_text(entry), entry.actor, entry.action, entry.subject, entry.details or {})
        if want != entry.hash:
            return VerifyResult(False, count, entry.seq, f"row {entry.seq} was altered")
        prev, expected_seq = entry.hash, expected_seq + 1
    return VerifyResult(True, count)
