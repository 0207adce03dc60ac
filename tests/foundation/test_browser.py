"""Chromium files a complaint with an attachment through the form, then tracks it (screenshots for the README)."""
from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS
from tests.foundation.helpers import PNG

pytestmark = pytest.mark.browser


def test_citizen_files_with_attachment_and_tracks(live_server, browser, tmp_path):
    photo = tmp_path / "积水照片.png"
    photo.write_bytes(PNG)
    page = browser.new_page(viewport={"width": 420, "height": 900}, locale="zh-CN")
    scripts_ran: list[str] = []
    page.on("console", lambda msg: scripts_ran.append(msg.text))
    page.goto(live_server + "/")
    assert page.title().startswith("我要反映")
    # server-side validation first: submit empty, see Chinese errors beside the fields
    page.click("button[type=submit]")
    assert page.locator("#title-error").inner_text() == "请填写标题。"
    page.goto(live_server + "/")
    page.check("input[name=appeal_type][value=投诉]")
    page.select_option("#category", "urban")
    page.fill("#title", "幸福路积水严重，行人无法通行")
    page.fill("#description", "幸福路与五一大道交叉口每逢下雨便严重积水，最深处没过膝盖，已持续两个月，请尽快疏通排水管道。")
    page.fill("#district", "A2区")
    page.fill("#street", "桂花坪街道")
    page.fill("#place_text", "幸福路与五一大道交叉口")
    page.fill("#name", "王五")
    page.fill("#phone", "13800138000")
    page.set_input_files("#attachments", str(photo))
    page.check("input[name=consent]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "citizen-form.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_selector("#query-code")
    number = page.locator("#tracking-number").inner_text()
    code = page.locator("#query-code").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "receipt.png"), full_page=True)

    page.goto(live_server + "/track")
    page.fill("#number", number)
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_selector("#timeline")
    assert page.locator("#case-status").inner_text() in ("已提交", "已受理", "已交办")
    assert "提交诉求" in page.locator("#timeline").inner_text()
    assert "13800138000" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "tracking.png"), full_page=True)

    page.goto(live_server + "/track")
    page.fill("#number", number)
    page.fill("#code", "AAAA-BBBB-CCCCC")
    page.click("button[type=submit]")
    assert "受理编号或查询码不正确" in page.content()
    assert not [m for m in scripts_ran if "Content Security Policy" in m]
