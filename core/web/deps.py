"""FastAPI dependencies: database sessions and the signed-in staff member with role checks."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core.database import session_factory
from core.models import User
from core.web import tokens


class AuthRequired(Exception):
    """Not signed in: pages redirect to the login page, the API answers 401."""


class Forbidden(Exception):
    """Signed in without the needed role: 403."""

    def __init__(self, message: str = "您没有权限执行此操作。"):
        super().__init__(message)
        self.message = message


def get_session() -> Iterator[Session]:
    """A read-write session, committed when the handler returns without error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_read_session() -> Iterator[Session]:
    """A read-only session (never blocks writers on SQLite)."""
    session = session_factory(readonly=True)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _user_from_request(request: Request, session: Session) -> User | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        data = tokens.read(header[7:].strip(), kind="api")
    else:
        cookie = request.cookies.get(tokens.SESSION_COOKIE)
        data = tokens.read(cookie) if cookie else None
    if not data:
        return None
    user = session.get(User, data["uid"])
    if user is None or not user.active or user.session_version != data.get("ver"):
        return None
    return user


@dataclass(frozen=True)
class SignedIn:
    """What pages show of the signed-in user: a plain copy, not the ORM row, because an error page is
    rendered after the request's transaction rolled back, which expires (detaches) every ORM object."""

    id: int
    username: str
    display_name: str | None
    role: str
    department_code: str | None


def optional_user(request: Request, session: Session = Depends(get_session)) -> User | None:
    user = _user_from_request(request, session)
    request.state.user = (SignedIn(user.id, user.username, user.display_name, user.role, user.department_code)
                          if user is not None else None)
    return user


def current_user(request: Request, session: Session = Depends(get_session)) -> User:
    user = optional_user(request, session)
    if user is None:
        raise AuthRequired()
    return user


def require_roles(*roles: str) -> Callable[..., User]:
    """Dependency factory: the user must hold one of ``roles`` (admin always may)."""

    def check(user: User = Depends(current_user)) -> User:
        if user.role != "admin" and user.role not in roles:
            raise Forbidden()
        return user

    check.roles = roles  # read by the access-policy test
    return check
