"""Tracking numbers (readable, per day) and secret query codes (65 bits, stored only as a keyed hash)."""
from __future__ import annotations

import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.crypto import fingerprint
from core.database import utcnow
from core.models import Case
from core.web.templating import SHANGHAI
from intake.models import TrackingCounter

#: Crockford base32: no I, L, O, U, so codes survive being read aloud or written down.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 13  # 13 × 5 = 65 bits


def new_tracking_number(session: Session) -> str:
    day = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d")
    # The day's first filings race to create its counter, and on PostgreSQL there is no row to lock yet:
    # the insert yields to a concurrent one (waiting for it) instead of failing, the UPDATE then serialises.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(TrackingCounter).values(day=day, value=0).on_conflict_do_nothing(index_elements=["day"]))
    session.execute(update(TrackingCounter).where(TrackingCounter.day == day).values(value=TrackingCounter.value + 1))
    value = session.scalar(select(TrackingCounter.value).where(TrackingCounter.day == day))
    return f"MS{day}-{value:05d}"


def new_query_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_query_code(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalise_query_code(code: str) -> str:
    code = code.upper().replace("-", "").replace(" ", "")
    return code.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def hash_query_code(code: str) -> str:
    return fingerprint(normalise_query_code(code), "query-code")


def verify_query_code(case: Case, code: str | None) -> bool:
    if not code:
        return False
    return hmac.compare_digest(case.query_code_hash, hash_query_code(code))


def normalise_tracking_number(number: str) -> str:
    return number.strip().upper().replace(" ", "")
