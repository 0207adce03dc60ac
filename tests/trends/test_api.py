"""The console's API and pages: shape, ordering, roles, analyst actions, bad inputs (Chinese 4xx)."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select

from core.database import session_scope
from core.models import AuditEntry
from search.trends.models import Briefing, HotTopic, TrendAlert, TrendMember
from tests.conftest import api_token, csrf_token, login
from tests.trends.helpers import INCIDENT, OTHERS, T0, add_doc


@pytest.fixture
def world(client, engine, make_user):
    """Twelve complaints about one estate, a smaller cluster, unrelated questions and a risk item."""
    with session_scope(engine) as s:
        big = [add_doc(s, t, places=["丽发新城"], at=T0 + dt.timedelta(hours=i), likes=i) for i, t in enumerate(INCIDENT)]
        small = [add_doc(s, t, places=["魅力之城"], label="环境保护", at=T0 + dt.timedelta(hours=2 * i))
                 for i, t in enumerate(["魅力之城小区楼下夜宵摊油烟扰民", "魅力之城夜宵摊油烟太大", "魅力之城小区油烟扰民严重"])]
        for i, (t, lbl, p) in enumerate(OTHERS):
            add_doc(s, t, places=p, label=lbl, at=T0 + dt.timedelta(minutes=13 * i))
        risk = add_doc(s, "多名业主准备集体上访", places=["金毛湾"], risk=["group_action"], at=T0 + dt.timedelta(hours=3))
        ids = {"big": s.get(TrendMember, big[0].id).topic_id, "small": s.get(TrendMember, small[0].id).topic_id,
               "big_docs": [d.id for d in big], "risk_doc": risk.id}
    make_user("analyst1", "analyst")
    make_user("dept1", "department", "housing")
    login(client, "analyst1", "correct-horse-9")
    return ids


def post_json(client, path, body=None):
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf_token(client)})


def test_hot_topics_api_shape_and_order(client, world):
    r = client.get("/api/v1/hot-topics", params={"from": "2026-03-01", "to": "2026-03-03", "limit": 5})
    assert r.status_code == 200, r.text
    topics = r.json()
    assert topics[0]["id"] == world["big"]
    assert {"id", "title", "heat", "size", "places", "keywords", "first_seen", "last_seen", "document_ids"} <= set(topics[0])
    assert topics[0]["size"] == len(INCIDENT) and sorted(topics[0]["document_ids"]) == sorted(world["big_docs"])
    assert topics[0]["places"][0] == "丽发新城"
    heats = [t["heat"] for t in topics]
    assert heats == sorted(heats, reverse=True)
    assert world["small"] in [t["id"] for t in topics]
    # a window that holds none of it
    assert client.get("/api/v1/hot-topics", params={"from": "2025-01-01", "to": "2025-01-31"}).json() == []


@pytest.mark.parametrize("params, status, message", [
    ({"from": "2026-03-05", "to": "2026-03-01"}, 400, "晚于"),
    ({"from": "2026-13-01"}, 400, "YYYY-MM-DD"),
    ({"from": "2019-01-01", "to": "2026-03-01"}, 400, "区间过长"),
    ({"limit": 0}, 422, ""),
    ({"limit": 100000}, 422, ""),
])
def test_hot_topics_bad_input(client, world, params, status, message):
    r = client.get("/api/v1/hot-topics", params=params)
    assert r.status_code == status
    assert message in r.json()["detail"]


def test_roles(client, world, engine):
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert client.get("/api/v1/hot-topics").status_code == 401
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    headers = api_token(client, "dept1", "correct-horse-9")
    assert client.get("/api/v1/hot-topics", headers=headers).status_code == 403
    assert client.get("/api/v1/trends/alerts", headers=headers).status_code == 403


def test_topic_detail_and_analyst_edits(client, world, engine):
    big, small = world["big"], world["small"]
    detail = client.get(f"/api/v1/hot-topics/{big}").json()
    assert {f["factor"] for f in detail["factors"]} == {"documents", "reporters", "likes", "growth", "negative", "risk"}
    assert sum(n for _, n in detail["daily"]) == len(INCIDENT)
    assert client.get("/api/v1/hot-topics/999999").status_code == 404

    assert post_json(client, f"/api/v1/hot-topics/{big}/rename", {"title": "   "}).status_code == 400
    r = post_json(client, f"/api/v1/hot-topics/{big}/rename", {"title": "丽发新城搅拌站噪音扰民"})
    assert r.status_code == 200 and r.json()["title"] == "丽发新城搅拌站噪音扰民"
    assert post_json(client, f"/api/v1/hot-topics/{big}/pin", {"pinned": True}).json()["pinned"] is True

    # split three documents out, then merge them back
    assert post_json(client, f"/api/v1/hot-topics/{big}/split", {"document_ids": []}).status_code == 400
    assert "不属于" in post_json(client, f"/api/v1/hot-topics/{big}/split", {"document_ids": [world["risk_doc"]]}).json()["detail"]
    assert "全部" in post_json(client, f"/api/v1/hot-topics/{big}/split", {"document_ids": world["big_docs"]}).json()["detail"]
    r = post_json(client, f"/api/v1/hot-topics/{big}/split", {"document_ids": world["big_docs"][:3], "title": "拆分测试"})
    assert r.status_code == 200, r.text
    new = r.json()["id"]
    with session_scope(engine) as s:
        assert s.get(HotTopic, big).size == len(INCIDENT) - 3 and s.get(HotTopic, new).size == 3
        assert s.get(HotTopic, big).title == "丽发新城搅拌站噪音扰民"  # renamed titles stay
    assert post_json(client, f"/api/v1/hot-topics/{big}/merge", {"topic_ids": [big]}).status_code == 400
    r = post_json(client, f"/api/v1/hot-topics/{big}/merge", {"topic_ids": [new]})
    assert r.status_code == 200 and r.json()["size"] == len(INCIDENT)
    assert post_json(client, f"/api/v1/hot-topics/{big}/merge", {"topic_ids": [new]}).status_code == 409
    # a merged topic's old address leads to the surviving one
    assert client.get(f"/api/v1/hot-topics/{new}").json()["id"] == big
    with session_scope(engine) as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("trends.%"))))
    assert {"trends.rename", "trends.pin", "trends.split", "trends.merge"} <= actions
    # the form path: a bad merge shows the page again with the Chinese message, nothing changed
    r = client.post(f"/hot-topics/{big}/merge", data={"topic_ids": "abc", "csrf_token": csrf_token(client)})
    assert r.status_code == 400 and "无法识别" in r.text
    r = client.post(f"/hot-topics/{big}/merge", data={"topic_ids": str(small)}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    # the split form: nothing chosen shows the page again with the reason; a good split leads to the new topic
    r = client.post(f"/hot-topics/{big}/split", data={"csrf_token": csrf_token(client)})
    assert r.status_code == 400 and "信息" in r.text
    r = client.post(f"/hot-topics/{big}/split", follow_redirects=False, data={
        "document_ids": [str(d) for d in world["big_docs"][:2]], "title": "表单拆分", "csrf_token": csrf_token(client)})
    assert r.status_code == 303 and r.headers["location"].startswith("/hot-topics/")
    split_id = int(r.headers["location"].split("/")[2].split("?")[0])
    with session_scope(engine) as s:
        assert s.get(HotTopic, split_id).size == 2 and s.get(HotTopic, split_id).title == "表单拆分"


def test_csrf_required_on_api_posts_from_browser(client, world):
    r = client.post(f"/api/v1/hot-topics/{world['big']}/pin", json={"pinned": True})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]


def test_alerts_acknowledged_once(client, world, engine):
    alerts = client.get("/api/v1/trends/alerts").json()
    risk = [a for a in alerts if a["kind"] == "risk"]
    assert len(risk) == 1 and risk[0]["level"] == 3 and risk[0]["document_id"] == world["risk_doc"]
    assert post_json(client, f"/api/v1/trends/alerts/{risk[0]['id']}/ack", {"note": "已联系街道"}).status_code == 200
    again = post_json(client, f"/api/v1/trends/alerts/{risk[0]['id']}/ack", {"note": "x"})
    assert again.status_code == 409 and "已于此前被确认" in again.json()["detail"]
    assert post_json(client, "/api/v1/trends/alerts/999999/ack").status_code == 404
    assert post_json(client, f"/api/v1/trends/alerts/{risk[0]['id']}/ack", {"note": "长" * 600}).status_code == 422
    open_ids = [a["id"] for a in client.get("/api/v1/trends/alerts").json()]
    assert risk[0]["id"] not in open_ids
    page = client.get("/alerts?state=all")
    assert page.status_code == 200 and "已联系街道" in page.text


def test_pages_render_without_inline_script(client, world):
    for path in ("/dashboard?from=2026-03-01&to=2026-03-03", f"/hot-topics/{world['big']}", "/hot-topics?from=2026-03-01&to=2026-03-03",
                 "/alerts", "/briefings"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path  # every script is a static file
        assert ' style="' not in r.text, path
    dash = client.get("/dashboard?from=2026-03-01&to=2026-03-03").text
    assert "丽发新城" in dash and "/static/search.trends/vendor/echarts.min.js" in dash
    assert 'data-src="/api/v1/trends/dashboard?from=2026-03-01&amp;to=2026-03-03"' in dash
    r = client.get("/dashboard?from=2026-03-09&to=2026-03-01")
    assert r.status_code == 400 and "晚于" in r.text


def test_dashboard_json_filters(client, world):
    full = client.get("/api/v1/trends/dashboard", params={"from": "2026-03-01", "to": "2026-03-03"}).json()
    assert full["totals"]["documents"] == len(INCIDENT) + 3 + len(OTHERS) + 1
    assert full["days"] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert sum(sum(v) for v in full["by_source"].values()) == full["totals"]["documents"]
    assert full["hot_topics"][0]["sparkline"] and sum(full["hot_topics"][0]["sparkline"]) == len(INCIDENT)
    assert full["places"][0]["place"] == "丽发新城"
    assert full["risk_queue"][0]["document_id"] == world["risk_doc"]
    place = client.get("/api/v1/trends/dashboard", params={"from": "2026-03-01", "to": "2026-03-03", "place": "魅力之城"}).json()
    assert place["totals"]["documents"] == 3
    assert [t["id"] for t in place["hot_topics"]] == [world["small"]]
    none = client.get("/api/v1/trends/dashboard", params={"from": "2026-03-01", "to": "2026-03-03", "source": "nowhere"}).json()
    assert none["totals"]["documents"] == 0 and none["hot_topics"] == []


def test_briefing_generated_once_per_period_with_excel(client, world, engine):
    r = post_json(client, "/api/v1/trends/briefings", {"kind": "daily", "date": "2026-03-02"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["totals"]["documents"] >= len(INCIDENT)
    assert data["hot_topics"][0]["id"] == world["big"]
    assert data["totals"]["previous_documents"] == 0 and data["totals"]["change"] is None  # nothing the day before
    assert any(a["scope"] == "topic" and a["level"] >= 2 for a in data["surges"])  # the estate's burst that day
    assert [r["document_id"] for r in data["risk_items"]] == [world["risk_doc"]]
    assert {"overdue_cases", "departments", "label_shares"} <= set(data)
    again = post_json(client, "/api/v1/trends/briefings", {"kind": "daily", "date": "2026-03-02"})
    assert again.json()["id"] == r.json()["id"]
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Briefing)) == 1
    assert post_json(client, "/api/v1/trends/briefings", {"kind": "monthly"}).status_code == 422
    r = client.post("/briefings/generate", data={"kind": "weekly", "date": "2026-3-x", "csrf_token": csrf_token(client)})
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    bid = again.json()["id"]
    page = client.get(f"/briefings/{bid}")
    assert page.status_code == 200 and "舆情日报" in page.text
    xlsx = client.get(f"/briefings/{bid}.xlsx")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert {"概要", "热点问题", "新增异常", "风险信息", "超期诉求", "部门排名"} <= set(wb.sheetnames)
    assert wb["热点问题"].max_row >= 2
    assert client.get("/briefings/999999.xlsx").status_code == 404


def test_config_admin_only(client, world, make_user):
    assert client.get("/api/v1/trends/config/heat").json()["w_documents"] == 10.0
    r = client.put("/api/v1/trends/config/heat", json={"w_likes": 2}, headers={"X-CSRF-Token": csrf_token(client)})
    assert r.status_code == 403
    make_user("boss", "admin")
    headers = api_token(client, "boss", "correct-horse-9")
    r = client.put("/api/v1/trends/config/heat", json={"w_likes": "x"}, headers=headers)
    assert r.status_code == 400 and "数字" in r.json()["detail"]
    r = client.put("/api/v1/trends/config/heat", json={"w_likes": 2}, headers=headers)
    assert r.status_code == 200 and r.json()["w_likes"] == 2.0
    assert client.get("/api/v1/trends/config/nope").status_code == 404
