"""Fixtures for the case lifecycle: an initialised database, staff of every role, and filing
through the real intake service (so cases start exactly as citizens create them)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

import pytest
from sqlalchemy import select

from cases.actors import Actor
from core import accounts
from core.calendar import SHANGHAI
from core.database import session_scope
from core.models import Case, Department, Topic, User
from core.reference_data import DEPARTMENTS, TOPICS

COMPLAINT = {
    "appeal_type": "投诉", "category": "urban", "title": "小区楼下烧烤店噪音扰民",
    "description": "我们小区楼下的烧烤店每天营业到凌晨三点，噪音和油烟非常大，严重影响居民休息，请有关部门处理。",
    "district": "A2区", "street": "桂花坪街道", "community": "景蓉社区", "name": "张三", "phone": "13800138000",
    "consent": "1",
}
WHISTLEBLOWER = {
    "appeal_type": "举报", "category": "discipline", "title": "举报某局科长收受红包",
    "description": "某局科长李某在办理审批时多次收受企业红包，还用公款吃喝，请纪委调查核实。",
    "name": "王秘密", "phone": "13912345678", "consent": "1",
}
STAFF = {
    "admin1": ("admin", None), "disp": ("dispatcher", None), "sup": ("supervisor", None),
    "ana": ("analyst", None), "housing1": ("department", "housing"), "ecology1": ("department", "ecology"),
    "discipline1": ("department", "discipline"),
}


def local(y, m, d, hh=10, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@dataclass
class World:
    engine: object
    actors: dict[str, Actor] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def session(self, readonly: bool = False):
        return session_scope(self.engine, readonly)

    def file(self, created_at: dt.datetime | None = None, **overrides) -> tuple[int, str]:
        """File a case through intake's service; returns (case id, query code)."""
        from intake.forms import validate
        from intake.service import file_case
        data = {**COMPLAINT, **overrides}
        data = {k: v for k, v in data.items() if v is not None}
        with self.session() as session:
            from core.models import Topic
            filing = validate(data, set(session.scalars(select(Topic.code))))
            assert not filing.errors, filing.errors
            result = file_case(session, filing, [], "10.0.0.1")
            if created_at is not None:
                result.case.created_at = created_at
            return result.case.id, result.query_code

    def get(self, session, case_id: int) -> Case:
        return session.get(Case, case_id)

    def act(self, case_id: int, action: str, who: str | Actor, now: dt.datetime | None = None, **params):
        from cases import service
        actor = who if isinstance(who, Actor) else self.actors[who]
        with self.session() as session:
            return service.act(session, session.get(Case, case_id), action, actor, now=now, **params).kind

    def status(self, case_id: int) -> str:
        with self.session(readonly=True) as session:
            return session.get(Case, case_id).status

    def assigned(self, dept: str = "housing", now: dt.datetime | None = None, **overrides) -> int:
        case_id, _ = self.file(**overrides)
        self.act(case_id, "accept", "disp", now=now)
        self.act(case_id, "assign", "disp", now=now, department_code=dept)
        return case_id


PASSWORD = "pw-staff-123456"


@lru_cache
def _password_hash() -> str:
    """One real argon2 hash shared by every test account (hashing costs ~1 s on a busy core)."""
    return accounts.hash_password(PASSWORD)


def seed(engine) -> dict[str, Actor]:
    """Reference data as ``minsheng init`` loads it, and one account per role."""
    actors = {}
    with session_scope(engine) as session:
        if session.get(Department, "housing") is None:
            for code, name, supervision in DEPARTMENTS:
                session.add(Department(code=code, name=name, is_supervision=supervision))
            session.flush()
            for position, (code, name, dept) in enumerate(TOPICS):
                session.add(Topic(code=code, name=name, position=position, default_department_code=dept))
        for name, (role, dept) in STAFF.items():
            user = User(username=name, role=role, department_code=dept, password_hash=_password_hash())
            session.add(user)
            session.flush()
            actors[name] = Actor.from_user(user)
    return actors


@pytest.fixture
def world(env, engine) -> World:
    w = World(engine)
    w.actors = seed(engine)
    w.passwords = {name: PASSWORD for name in STAFF}
    return w
