"""From a hot topic to its cases: master case, 并单 through the cases state machine, answers and ratings."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.database import session_scope
from core.models import Case, CaseEvent, Document
from search.trends import actions
from search.trends.stages import trends_stage
from tests.conftest import csrf_token, login
from tests.foundation.helpers import file_form, receipt

TITLES = ["丽发新城小区旁搅拌站噪音扰民", "丽发新城附近搅拌站夜间施工噪音太大", "投诉丽发新城搅拌站粉尘和噪音"]


class CasesStateMachine:
    """What the application layer registers: the cases package's own transitions, errors translated."""

    def merge(self, session, case, master, user):
        from cases.actors import Actor
        from cases.errors import CaseError
        from cases.state import apply
        try:
            apply(session, case, "merge", Actor.from_user(user), master=master.id)
        except CaseError as exc:
            raise actions.CaseActionError(str(exc)) from exc

    def assign(self, session, case, department_code, user):
        from cases.actors import Actor
        from cases.errors import CaseError
        from cases.state import apply
        actor = Actor.from_user(user)
        try:
            if case.status == "submitted":
                apply(session, case, "accept", actor)
            apply(session, case, "assign", actor, department_code=department_code)
        except CaseError as exc:
            raise actions.CaseActionError(str(exc)) from exc


@pytest.fixture
def filed(client, engine, make_user):
    pytest.importorskip("cases.state")
    numbers = []
    for i, title in enumerate(TITLES):
        r = file_form(client, title=title, description=f"{title}，晚上十点以后还在作业，严重影响休息，请尽快处理。{i}",
                      phone=f"1380013800{i}", name=f"居民{i}")
        assert r.status_code == 201, r.text
        numbers.append(receipt(r)[0])
    with session_scope(engine) as s:
        docs = s.scalars(select(Document).join(Case, Case.document_id == Document.id)
                         .where(Case.tracking_number.in_(numbers))).all()
        for d in docs:
            d.places, d.topic, d.sentiment = ["丽发新城"], "城乡建设", "negative"
            trends_stage(s, d)
        from search.trends.models import TrendMember
        topic_id = s.get(TrendMember, docs[0].id).topic_id
        assert {s.get(TrendMember, d.id).topic_id for d in docs} == {topic_id}
    make_user("disp1", "dispatcher")
    make_user("ana1", "analyst")
    login(client, "ana1", "correct-horse-9")
    yield topic_id, numbers
    actions.register(None)


def post(client, path, body=None):
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf_token(client)})


def test_master_case_and_merge_through_cases(client, engine, filed):
    topic_id, numbers = filed
    statuses = {c["tracking_number"]: c["status"] for c in client.get(f"/api/v1/hot-topics/{topic_id}").json()["cases"]["cases"]}
    assert set(statuses) == set(numbers)
    assert post(client, f"/api/v1/hot-topics/{topic_id}/merge-cases").status_code == 409  # no master yet
    r = post(client, f"/api/v1/hot-topics/{topic_id}/master-case", {"case": "MS-NOPE"})
    assert r.status_code == 404 and "未找到" in r.json()["detail"]
    assert post(client, f"/api/v1/hot-topics/{topic_id}/master-case", {"case": numbers[0]}).status_code == 200
    login(client, "disp1", "correct-horse-9")  # 并单 and 交办 are dispatch work (the cases state machine checks it)
    assert post(client, f"/api/v1/hot-topics/{topic_id}/master-case", {"case": numbers[0]}).status_code == 403
    r = post(client, f"/api/v1/hot-topics/{topic_id}/merge-cases")
    assert r.status_code == 503 and "案件模块未接入" in r.json()["detail"]

    actions.register(CasesStateMachine())
    r = post(client, f"/api/v1/hot-topics/{topic_id}/merge-cases")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["merged"]) == sorted(numbers[1:])
    with session_scope(engine) as s:
        master = s.scalar(select(Case).where(Case.tracking_number == numbers[0]))
        children = s.scalars(select(Case).where(Case.tracking_number.in_(numbers[1:]))).all()
        assert all(c.status == "merged" and c.master_case_id == master.id for c in children)
        assert s.scalars(select(CaseEvent).where(CaseEvent.case_id == children[0].id, CaseEvent.kind == "merged")).first()
    r = post(client, f"/api/v1/hot-topics/{topic_id}/assign", {"department_code": "nowhere"})
    assert r.status_code == 409 and "承办部门" in r.json()["detail"]
    with session_scope(engine) as s:
        from core.models import Department
        code = s.scalars(select(Department.code).where(Department.active.is_(True))).first()
    r = post(client, f"/api/v1/hot-topics/{topic_id}/assign", {"department_code": code})
    assert r.status_code == 200, r.text
    assert r.json()["master_case"]["status"] == "assigned"
    detail = client.get(f"/api/v1/hot-topics/{topic_id}").json()
    assert detail["master_case"]["tracking_number"] == numbers[0]
    assert detail["cases"]["total"] == 3 and detail["cases"]["all_answered"] is False
    page = client.get(f"/hot-topics/{topic_id}")
    assert "已并案" in page.text and "主件" in page.text and "尚有 3 件未答复" in page.text
    # a case already merged away cannot become the master
    login(client, "ana1", "correct-horse-9")
    r = post(client, f"/api/v1/hot-topics/{topic_id}/master-case", {"case": numbers[1]})
    assert r.status_code == 409 and "不能作为主件" in r.json()["detail"]


def _rate(s, case, note):
    s.add(CaseEvent(case_id=case.id, kind="rated", status_after=case.status, public=True, public_note=note,
                    actor_role="citizen"))


def test_topic_and_dashboard_follow_answers_and_ratings(client, engine, filed):
    """Whether every member case is answered, citizens' satisfaction, and the department summary with filters."""
    import datetime as dt

    from core.database import utcnow
    from core.models import Department
    topic_id, numbers = filed
    now = utcnow()
    with session_scope(engine) as s:
        code = s.scalars(select(Department.code).where(Department.active.is_(True))).first()
        cases = [s.scalar(select(Case).where(Case.tracking_number == n)) for n in numbers]
        for c in cases:
            c.department_code = code
        on_time, late, waiting = cases
        on_time.status, on_time.due_at, on_time.answered_at = "closed", now + dt.timedelta(days=3), now - dt.timedelta(hours=1)
        late.status, late.due_at, late.answered_at = "answered", now - dt.timedelta(days=2), now - dt.timedelta(hours=2)
        waiting.status, waiting.due_at = "assigned", now - dt.timedelta(hours=5)
        _rate(s, on_time, "评价：满意")
        _rate(s, late, "评价：基本满意")
    c = client.get(f"/api/v1/hot-topics/{topic_id}").json()["cases"]
    assert (c["total"], c["answered"], c["all_answered"], c["rated"], c["satisfaction"]) == (3, 2, False, 2, 1.0)
    overdue = {r["tracking_number"]: r["overdue"] for r in c["cases"]}
    assert overdue == {numbers[0]: False, numbers[1]: False, numbers[2]: True}
    assert "尚有 1 件未答复" in client.get(f"/hot-topics/{topic_id}").text

    dash = client.get("/api/v1/trends/dashboard").json()
    row = next(d for d in dash["departments"] if d["code"] == code)
    assert {k: row[k] for k in ("cases", "open", "overdue", "answered", "on_time", "on_time_rate", "rated", "satisfaction")} == {
        "cases": 3, "open": 1, "overdue": 1, "answered": 2, "on_time": 1, "on_time_rate": 0.5, "rated": 2, "satisfaction": 1.0}
    assert client.get("/api/v1/trends/dashboard", params={"place": "丽发新城"}).json()["departments"][0]["cases"] == 3
    assert client.get("/api/v1/trends/dashboard", params={"source": "nowhere"}).json()["departments"] == []

    with session_scope(engine) as s:
        waiting = s.scalar(select(Case).where(Case.tracking_number == numbers[2]))
        waiting.status, waiting.answered_at = "answered", now
        _rate(s, waiting, "评价：不满意（问题没有解决）")
    c = client.get(f"/api/v1/hot-topics/{topic_id}").json()["cases"]
    assert (c["answered"], c["all_answered"], c["rated"], c["satisfied"], c["satisfaction"]) == (3, True, 3, 2, 0.667)
    page = client.get(f"/hot-topics/{topic_id}").text
    assert "全部已答复" in page and "满意率 67%（3 件已评价）" in page
