"""The public tracking page: timeline, masking, and no way to tell a wrong code from an unknown number."""
from __future__ import annotations

from sqlalchemy import select

from core.database import session_scope, utcnow
from core.models import Case, CaseEvent
from tests.foundation.helpers import file_form, receipt, track


def test_timeline_shows_steps_department_due_date_and_answer_without_staff_names(client, engine):
    number, code = receipt(file_form(client, description="我家电话13912345678，身份证430102199001011234，小区门口道路破损严重需要修复。"))
    with session_scope(engine) as s:
        case = s.scalar(select(Case).where(Case.tracking_number == number))
        case.status, case.department_code = "assigned", "housing"
        case.due_at = utcnow()
        s.add(CaseEvent(case_id=case.id, kind="assigned", status_after="assigned", department_code="housing",
                        public_note="已交办住房和城乡建设局办理", internal_note="王科长负责", actor_role="dispatcher"))
        case.answer_body, case.answered_at = "经核查，道路将于下周修复。联系人李四 13700001111。", utcnow()
    page = track(client, number, code)
    assert page.status_code == 200
    text = page.text
    assert "住房和城乡建设局" in text and "已交办" in text and "预计办结时间" in text
    assert "经核查，道路将于下周修复" in text
    assert "王科长" not in text  # internal notes and staff names never public
    assert "13912345678" not in text and "139****5678" in text
    assert "430102199001011234" not in text
    assert "13700001111" not in text


def test_wrong_code_and_unknown_number_look_the_same(client):
    number, _code = receipt(file_form(client))
    wrong = track(client, number, "AAAA-BBBB-CCCCC")
    unknown = track(client, "MS20990101-99999", "AAAA-BBBB-CCCCC")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.text.replace(number, "X").count("受理编号或查询码不正确") == 1
    strip = lambda r, n: r.text.replace(n, "NUMBER")  # noqa: E731
    assert strip(wrong, number) == strip(unknown, "MS20990101-99999")


def test_repeated_failures_back_off_then_even_right_code_waits(client, monkeypatch):
    from core.settings import get_settings
    monkeypatch.setattr(get_settings(), "tracking_max_failures", 3)
    number, code = receipt(file_form(client))
    for _ in range(3):
        assert track(client, number, "WRONG-CODE").status_code == 404
    first = track(client, number, "WRONG-CODE")
    assert first.status_code in (404, 429)
    blocked = track(client, number, code)
    assert blocked.status_code == 429 and "过于频繁" in blocked.text


def test_code_is_case_insensitive_and_dash_tolerant(client):
    number, code = receipt(file_form(client))
    assert track(client, number.lower(), code.replace("-", "").lower()).status_code == 200
