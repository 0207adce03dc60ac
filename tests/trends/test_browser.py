"""Chromium renders the dashboard and a hot-topic page with data and charts (screenshots for the README)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from core.database import session_scope
from core.models import OutboxItem
from search.trends.models import TrendMember
from tests.conftest import SCREENSHOTS
from tests.trends.helpers import INCIDENT, OTHERS, T0, add_doc

pytestmark = pytest.mark.browser
ECHARTS = Path(__file__).resolve().parents[2] / "search" / "trends" / "static" / "vendor" / "echarts.min.js"


def test_dashboard_and_topic_page_render_charts(live_server, browser, engine, make_user):
    if not ECHARTS.exists():
        pytest.skip("ECharts not installed: run search/trends/static-src/install.sh (make assets)")
    with session_scope(engine) as s:
        big = [add_doc(s, t, f"{t}，晚上十点以后还在作业，严重影响休息。", places=["丽发新城"], likes=3 * i,
                       at=T0 + dt.timedelta(hours=5 * i)) for i, t in enumerate(INCIDENT)]
        for i, t in enumerate(["魅力之城小区楼下夜宵摊油烟扰民", "魅力之城夜宵摊油烟太大", "魅力之城小区油烟扰民严重"]):
            add_doc(s, t, places=["魅力之城"], label="环境保护", at=T0 + dt.timedelta(days=1, hours=3 * i), sentiment="negative")
        for day in range(5):
            for i, (t, lbl, p) in enumerate(OTHERS):
                add_doc(s, f"{t}（{day}）", places=p, label=lbl, source="form" if i % 2 else "gov_messages",
                        at=T0 - dt.timedelta(days=day, hours=i), sentiment="neutral" if i % 3 else "positive")
        add_doc(s, "多名业主准备集体上访", places=["金毛湾"], risk=["group_action"], at=T0 + dt.timedelta(hours=9))
        topic_id = s.get(TrendMember, big[0].id).topic_id
        s.execute(update(OutboxItem).values(status="done"))  # the other stages are not under test here
    make_user("analyst_b", "analyst")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live_server + "/login?next=/dashboard")
    page.fill("#username", "analyst_b")
    page.fill("#password", "correct-horse-9")
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    page.goto(live_server + "/dashboard?from=2026-02-25&to=2026-03-04")
    page.wait_for_selector("body[data-charts=ready]", timeout=20000)
    assert page.locator("#chart-source canvas").count() >= 1
    assert page.locator("#chart-shares canvas").count() >= 1
    assert page.locator(".sparkline svg").count() >= 2
    assert "丽发新城" in page.locator("table.hot").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "trends-dashboard.png"), full_page=True)

    page.click(f"table.hot a[href='/hot-topics/{topic_id}']")
    page.wait_for_selector("body[data-charts=ready]", timeout=20000)
    assert page.locator("#chart-daily canvas").count() >= 1
    assert "热度指数" in page.content() and "公众点赞" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "trends-hot-topic.png"), full_page=True)

    page.fill("#title", "丽发新城搅拌站夜间施工扰民")
    page.click("form[action$='/rename'] button[type=submit]")
    page.wait_for_selector(".alert.ok")
    assert page.locator("h1").inner_text().startswith("丽发新城搅拌站夜间施工扰民")

    page.goto(live_server + "/alerts")
    assert "群体性事件苗头" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "trends-alerts.png"), full_page=True)
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not [p for p in problems if "Error" in p], problems
