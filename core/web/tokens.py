"""Signed, expiring tokens for staff sessions (cookie) and API clients (bearer)."""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core.settings import Settings, get_settings

SESSION_COOKIE = "ms_session"


def _serializer(salt: str, settings: Settings | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer((settings or get_settings()).secret(), salt=salt)


def issue(user_id: int, session_version: int, kind: str = "session") -> str:
    return _serializer(f"minsheng.{kind}").dumps({"uid": user_id, "ver": session_version})


def read(token: str, kind: str = "session") -> dict | None:
    settings = get_settings()
    try:
        data = _serializer(f"minsheng.{kind}", settings).loads(token, max_age=settings.session_hours * 3600)
    except (BadSignature, SignatureExpired):
        return None
    return data if isinstance(data, dict) and "uid" in data else None
