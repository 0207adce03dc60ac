"""Chromium: a department signs and answers a case in its inbox (with a similar past case and its answer
on the case page); the citizen reads the answer on the tracking page and rates it (screenshots for the README)."""
from __future__ import annotations

import pytest

from tests.cases.conftest import PASSWORD
from tests.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def test_department_answers_and_citizen_rates(world, request):
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the browser flow is backend-independent; the pages are covered on PostgreSQL by test_views")
    live_server, browser = request.getfixturevalue("live_server"), request.getfixturevalue("browser")
    earlier = world.assigned("housing", title="小区门口烧烤摊油烟扰民", phone="13600000001")
    world.act(earlier, "sign", "housing1")
    world.act(earlier, "answer", "housing1", body="经核查，已责令烧烤摊加装油烟净化设备，并限定夜间 22 点前收摊。")
    case_id, code = world.file()
    world.act(case_id, "accept", "disp")
    world.act(case_id, "assign", "disp", department_code="housing")
    with world.session(readonly=True) as s:
        from core.models import Case
        number = s.get(Case, case_id).tracking_number
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    staff = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    staff.goto(live_server + "/login")
    staff.fill("#username", "housing1")
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.goto(live_server + "/console/department")
    row = staff.locator(f'tr[data-case="{case_id}"]')
    assert "剩余" in row.locator("time.countdown").inner_text()  # updated by countdown.js, still Chinese
    staff.screenshot(path=str(SCREENSHOTS / "cases-department-inbox.png"), full_page=True)
    row.locator("a").click()
    assert staff.locator("#case-status").inner_text() == "已交办"
    assert "已责令烧烤摊加装油烟净化设备" in staff.locator("#similar").inner_text()  # a similar past case and its answer
    staff.click("#form-sign button")
    assert staff.locator("#case-status").inner_text() == "已签收"
    staff.fill("#answer-body", "<p>经现场核查，已责令该烧烤店<strong>22 点后停止营业</strong>并加装油烟净化设备。</p>"
                               "<script>alert('x')</script>")
    staff.screenshot(path=str(SCREENSHOTS / "cases-case-page.png"), full_page=True)
    staff.click("#form-answer button[type=submit]")
    assert staff.locator("#case-status").inner_text() == "已答复"
    assert staff.locator("#answer strong").inner_text() == "22 点后停止营业"
    assert errors == []

    citizen = browser.new_page(viewport={"width": 420, "height": 900}, locale="zh-CN")
    citizen.goto(live_server + "/track")
    citizen.fill("#number", number)
    citizen.fill("#code", code)
    citizen.click("button[type=submit]")
    assert "22 点后停止营业" in citizen.locator("#answer").inner_text()
    assert "alert" not in citizen.content()
    citizen.check("input[name=rating][value=satisfied]")
    citizen.fill("#comment", "处理得很快，谢谢！")
    citizen.screenshot(path=str(SCREENSHOTS / "cases-rating.png"), full_page=True)
    citizen.click("#rating-form button[type=submit]")
    assert "感谢您的评价（满意）" in citizen.locator("#citizen-result").inner_text()
    citizen.click("button[type=submit]")  # back to the tracking page
    assert citizen.locator("#case-status").inner_text() == "已办结"
    assert citizen.locator("#rating-form").count() == 0
    assert world.status(case_id) == "closed"
