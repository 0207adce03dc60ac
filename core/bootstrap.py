"""``minsheng init``: create the home folder, migrate, load reference data, create the first admin.

Idempotent: a second run changes nothing and creates no second admin.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from core import accounts, migrate
from core.database import get_engine, session_scope
from core.models import Department, Topic, User
from core.reference_data import DEPARTMENTS, TOPICS
from core.settings import Settings, get_settings


@dataclass
class InitResult:
    created_home: bool
    topics_added: int
    departments_added: int
    admin_password: str | None  # shown once, only when the admin was created now


def initialise(settings: Settings | None = None, admin_username: str = "admin") -> InitResult:
    settings = settings or get_settings()
    home = settings.resolved_home
    created = not home.exists()
    for folder in (home, settings.attachments_dir, settings.index_dir):
        folder.mkdir(parents=True, exist_ok=True)
    settings.secret()
    settings.fernet_key()
    migrate.upgrade(settings.resolved_database_url)
    engine = get_engine()
    with session_scope(engine) as session:
        dept_added = 0
        for code, name, supervision in DEPARTMENTS:
            if session.get(Department, code) is None:
                session.add(Department(code=code, name=name, is_supervision=supervision))
                dept_added += 1
        session.flush()
        topics_added = 0
        for position, (code, name, dept) in enumerate(TOPICS):
            if session.get(Topic, code) is None:
                session.add(Topic(code=code, name=name, position=position, default_department_code=dept))
                topics_added += 1
        password = None
        if not session.scalar(select(func.count()).select_from(User).where(User.role == "admin")):
            password = accounts.generate_password()
            accounts.create_user(session, admin_username, "admin", password, display_name="系统管理员")
    return InitResult(created, topics_added, dept_added, password)


def needs_init(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    if not settings.resolved_home.exists():
        return True
    try:
        return migrate.pending(get_engine())
    except Exception:  # noqa: BLE001 - an unreachable or empty database needs init
        return True
