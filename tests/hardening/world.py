"""A small populated installation that the hardening tests attack: staff of every role, cases with
personal data (one of them a protected whistleblower report), a notice, a saved search, an index.

Everything is created through the real services (intake filing, the case state machine, notices,
saved searches, the worker and the search drainer), never by writing rows by hand, so what the
attacks find is what production would hold.
"""
from __future__ import annotations

import importlib.util
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from core import accounts
from core.database import dispose_engines, session_scope
from core.models import Case, User
from core.web import tokens

PASSWORD = "correct-horse-9-battery"
DEPT_A, DEPT_B = "housing", "ecology"

#: Raw personal data planted in the cases; the sweeps look for these exact values everywhere.
SECRETS = {
    "whistleblower_name": "欧阳举报人",
    "whistleblower_phone": "13912345678",
    "contact_name": "司马联系人",
    "contact_phone": "13787654321",
    "id_number": "430102199003077777",
    "text_phone": "18688886666",
    "door_address": "芙蓉路188号7栋1205室",
}
#: Which DATA_POLICY kind each planted value belongs to.
SECRET_KIND = {
    "whistleblower_name": "whistleblower_identity",
    "whistleblower_phone": "whistleblower_identity",
    "contact_name": "contact",
    "contact_phone": "contact",
    "id_number": "id_number",
    "text_phone": "id_number",
    "door_address": "door_address",
}
#: A sentence only the protected report contains (its text must never reach the public or the analysts).
PROTECTED_MARK = "副局长收受开发商钱款"


@dataclass
class FiledCase:
    id: int
    number: str
    code: str
    document_id: int


@dataclass
class World:
    cases: dict[str, FiledCase] = field(default_factory=dict)
    users: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # caller -> (username, id, session_version)
    notice_id: int | None = None
    saved_id: int | None = None
    source_name: str | None = None
    extension_id: int | None = None
    attachment_id: int | None = None
    topic_id: int | None = None
    alert_id: int | None = None
    briefing_id: int | None = None

    def session_cookie(self, caller: str) -> str | None:
        if caller not in self.users:
            return None
        _name, uid, version = self.users[caller]
        return tokens.issue(uid, version)

    def api_token(self, caller: str) -> str | None:
        if caller not in self.users:
            return None
        _name, uid, version = self.users[caller]
        return tokens.issue(uid, version, kind="api")


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")


def _file(session, settings, uploads: tuple[tuple[str, bytes], ...] = (), **fields) -> FiledCase:
    from core.models import Topic
    from intake.attachments import check_file
    from intake.forms import validate
    from intake.service import file_case

    codes = {t.code for t in session.scalars(select(Topic))}
    data = {"consent": "1", "appeal_type": "投诉", **fields}
    filing = validate(data, codes)
    assert not filing.errors, filing.errors
    checked = [check_file(name, content, settings) for name, content in uploads]
    result = file_case(session, filing, checked, f"10.0.0.{secrets.randbelow(200) + 1}", settings)
    session.flush()
    return FiledCase(result.case.id, result.case.tracking_number, result.query_code, result.case.document_id)


def _staff(session, caller: str, role: str, department: str | None = None) -> None:
    accounts.create_user(session, f"h_{caller}", role, PASSWORD, department)
    session.flush()


def build(settings, engine) -> World:
    """Populate a freshly initialised installation."""
    from cases import state
    from cases.actors import Actor
    from core import notices

    world = World()
    with session_scope(engine) as session:
        for caller, role, dept in (("dept_a", "department", DEPT_A), ("dept_b", "department", DEPT_B),
                                   ("dispatcher", "dispatcher", None), ("analyst", "analyst", None),
                                   ("supervisor", "supervisor", None), ("admin", "admin", None)):
            _staff(session, caller, role, dept)
        a = _file(session, settings, category="urban", title="小区电梯长期故障无人维修",
                  description=(f"我住在{SECRETS['door_address']}，电梯坏了三个月，物业不修。"
                               f"我的身份证号{SECRETS['id_number']}，备用电话{SECRETS['text_phone']}。请尽快处理。"),
                  district="A1区", street="芙蓉街道", name=SECRETS["contact_name"], phone=SECRETS["contact_phone"],
                  uploads=(("电梯.png", PNG),))
        b = _file(session, settings, category="environment", title="工厂夜间排放刺鼻气体",
                  description="河边的化工厂每天夜里排放刺鼻气体，附近居民头晕恶心，请环保部门检查。",
                  district="A2区", name="王五", phone="13600001111")
        p = _file(session, settings, appeal_type="举报", category="discipline", title="举报某局领导收受贿赂",
                  description=f"据我所知，某局{PROTECTED_MARK}二十万元，为其违规审批项目提供便利，请纪委调查。",
                  name=SECRETS["whistleblower_name"], phone=SECRETS["whistleblower_phone"])
        world.cases = {"a": a, "b": b, "protected": p}
        dispatcher = session.scalar(select(User).where(User.username == "h_dispatcher"))
        actor = Actor.from_user(dispatcher)
        for key, dept in (("a", DEPT_A), ("b", DEPT_B), ("protected", "discipline")):
            case = session.get(Case, world.cases[key].id)
            state.apply(session, case, "accept", actor)
            state.apply(session, case, "assign", actor, department_code=dept)
        from cases import service
        from core.models import Attachment
        dept_a = Actor.from_user(session.scalar(select(User).where(User.username == "h_dept_a")))
        case_a = session.get(Case, a.id)
        state.apply(session, case_a, "sign", dept_a)
        world.extension_id = service.request_extension(session, case_a, dept_a, 5, "需要协调电梯厂家维修").id
        world.attachment_id = session.scalar(select(Attachment.id).where(Attachment.case_id == a.id))
        notices.notify(session, "hardening:notice", f"新诉求待签收 {a.number}", kind="assigned",
                       body="请及时签收。", department=DEPT_A)
        from core.models import Notice
        world.notice_id = session.scalar(select(Notice.id).where(Notice.dedupe_key == "hardening:notice"))
        for user in session.scalars(select(User).where(User.username.like("h_%"))):
            world.users[user.username[2:]] = (user.username, user.id, user.session_version)
    _drain(settings, engine)
    if importlib.util.find_spec("search.saved"):
        from search import saved
        with session_scope(engine) as session:
            analyst = session.get(User, world.users["analyst"][1])
            world.saved_id = saved.create(session, analyst, "电梯", {"q": ["电梯"]}, True).id
    if importlib.util.find_spec("search.trends.models"):
        _trends(engine, world)
    if importlib.util.find_spec("crawlers.health"):
        from crawlers.health import source_health
        with session_scope(engine) as session:
            found = source_health(session, sync=False)
            world.source_name = found[0].name if found else None
    return world


def _trends(engine, world: World) -> None:
    """A hot topic (from the worker's trends stage), a briefing and an alert about case A's document.

    Alerts are raised by surges, which three documents cannot cause; the alert row is written here
    with the fields a surge would give it.
    """
    import datetime as dt

    from core.database import utcnow
    from search.trends import briefing
    from search.trends.models import HotTopic, TrendAlert, TrendMember

    with session_scope(engine) as session:
        world.topic_id = session.scalar(select(TrendMember.topic_id).where(
            TrendMember.document_id == world.cases["a"].document_id)) or session.scalar(select(HotTopic.id).limit(1))
        world.briefing_id = briefing.generate(session, "daily", dt.date.today(), by="hardening").id
        now = utcnow()
        alert = TrendAlert(dedupe_key="hardening:alert", kind="surge", scope="topic", key=str(world.topic_id),
                           level=2, title="电梯故障诉求激增", evidence={}, topic_id=world.topic_id,
                           document_id=world.cases["a"].document_id, first_at=now, last_at=now, documents_seen=1)
        session.add(alert)
        session.flush()
        world.alert_id = alert.id


def _drain(settings, engine) -> None:
    """Run every worker stage over the queue, then write the search index."""
    from core import plugins
    from core.outbox.worker import Worker

    plugins.load("stages")
    # Short retries: a stage that cannot run here (say, a missing model) must not stall every test for minutes.
    quick = settings.model_copy(update={"max_attempts": 2, "backoff_seconds": 0.05})
    Worker(engine, quick).drain(timeout=120)
    if importlib.util.find_spec("search.indexer"):
        from search.indexer import flush
        flush(engine, settings=settings)


# --- a snapshot of the SQLite file, restored after every probe that may write ----------------------

class Snapshot:
    """The populated database held in memory; ``restore()`` puts it back (SQLite online backup API)."""

    def __init__(self, path: Path):
        self.path = path
        self.memory = sqlite3.connect(":memory:")
        live = sqlite3.connect(str(path))
        live.backup(self.memory)
        live.close()

    def restore(self) -> None:
        dispose_engines()
        live = sqlite3.connect(str(self.path), timeout=30)
        try:
            self.memory.backup(live)
        finally:
            live.close()
