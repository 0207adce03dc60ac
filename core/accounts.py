"""Staff accounts: argon2 password hashes, lock-out after repeated failures."""
from __future__ import annotations

import datetime as dt
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.database import utcnow
from core.models import ROLES, Department, User
from core.settings import Settings, get_settings

_hasher = PasswordHasher()
#: A real hash to compare against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message is shown to the operator."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, username: str, role: str, password: str,
                department_code: str | None = None, display_name: str | None = None) -> User:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "department" and not department_code:
        raise AccountError("role 'department' needs --department CODE")
    if department_code and session.get(Department, department_code) is None:
        raise AccountError(f"unknown department {department_code!r}")
    if len(password) < 8:
        raise AccountError("password must be at least 8 characters")
    if session.scalar(select(User).where(User.username == username)):
        raise AccountError(f"user {username!r} already exists")
    user = User(username=username, role=role, department_code=department_code if role == "department" else None,
                display_name=display_name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.append(session, "system", "user.create", f"user:{user.id}", {"username": username, "role": role})
    return user


class LoginResult:
    def __init__(self, user: User | None, locked: bool = False):
        self.user, self.locked = user, locked


def authenticate(session: Session, username: str, password: str, settings: Settings | None = None) -> LoginResult:
    """Check a password; count failures and lock the account after too many."""
    settings = settings or get_settings()
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return LoginResult(None)
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        return LoginResult(None, locked=True)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.append(session, "system", "user.locked", f"user:{user.id}", {})
            return LoginResult(None, locked=True)
        return LoginResult(None)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return LoginResult(user)
