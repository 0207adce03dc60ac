"""The web pages and JSON API: access per role and department, 403/409/413/422 answers, the citizen's forms."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from cases.models import CaseMeta, Clock
from core.database import utcnow
from core.models import Attachment, Case
from tests.cases.conftest import PASSWORD
from tests.conftest import api_token, csrf_token, login

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def web(world, client):
    return world, client


def post_action(client, case_id, action, files=None, **fields):
    data = {"action": action, "csrf_token": csrf_token(client), **fields}
    return client.post(f"/console/cases/{case_id}/act", data=data, files=files, follow_redirects=False)


def test_department_sees_only_its_own_cases(web):
    world, client = web
    mine = world.assigned("housing")
    theirs = world.assigned("ecology", phone="13600000009")
    login(client, "housing1", PASSWORD)
    page = client.get("/console/department")
    assert page.status_code == 200
    assert f'data-case="{mine}"' in page.text and f'data-case="{theirs}"' not in page.text
    assert client.get(f"/console/cases/{theirs}").status_code == 403
    headers = api_token(client, "housing1", PASSWORD)
    assert client.get(f"/api/v1/cases/{theirs}", headers=headers).status_code == 403
    assert [c["id"] for c in client.get("/api/v1/cases", headers=headers).json()] == [mine]
    r = client.post(f"/api/v1/cases/{theirs}/actions/sign", headers=headers, json={})
    assert r.status_code == 403 and "不属于本部门" in r.json()["detail"]
    with world.session(readonly=True) as s:
        assert s.get(Case, theirs).status == "assigned"


def test_forbidden_transition_answers_409_with_allowed_actions(web):
    world, client = web
    case_id = world.assigned("housing")
    headers = api_token(client, "housing1", PASSWORD)
    r = client.post(f"/api/v1/cases/{case_id}/actions/answer", headers=headers, json={"body": "已经处理完毕，谢谢。"})
    assert r.status_code == 409
    assert sorted(r.json()["allowed"]) == ["return", "sign"] and "不能执行" in r.json()["detail"]
    r = client.post(f"/api/v1/cases/{case_id}/actions/sign", headers=headers, json={})
    assert r.status_code == 200 and r.json()["status"] == "signed"
    login(client, "housing1", PASSWORD)
    page = post_action(client, case_id, "sign")
    assert page.status_code == 409 and "不能执行“签收”" in page.text
    r = client.post(f"/api/v1/cases/{case_id}/actions/fly", headers=headers, json={})
    assert r.status_code == 422 and "未知的操作" in r.json()["detail"]


def test_answer_is_sanitised_and_oversize_files_refused(web, env):
    world, client = web
    case_id = world.assigned("housing")
    world.act(case_id, "sign", "housing1")
    login(client, "housing1", PASSWORD)
    big = PNG + b"\0" * (env.max_upload_mb * 1024 * 1024)
    r = post_action(client, case_id, "answer", body="<p>已处理完毕，谢谢您的反映。</p>",
                    files=[("attachments", ("big.png", big, "image/png"))])
    assert r.status_code == 413 and "超过 10 MB" in r.text
    r = post_action(client, case_id, "answer", body="<p>已处理完毕。</p>",
                    files=[("attachments", ("virus.jpg", b"MZ\x90\x00" + b"\0" * 100, "image/jpeg"))])
    assert r.status_code == 422 and "不是可接受的图片或 PDF" in r.text
    r = post_action(client, case_id, "answer", body="<script>alert(1)</script>")
    assert r.status_code == 422 and "请填写答复内容" in r.text
    with world.session(readonly=True) as s:
        assert s.get(Case, case_id).status == "signed"
        assert s.scalar(select(func.count()).select_from(Attachment).where(Attachment.purpose == "answer")) == 0
    r = post_action(client, case_id, "answer",
                    body='<p onclick="steal()">经核查<strong>已整改</strong></p><script>alert(1)</script><a href="javascript:x">链接</a>',
                    files=[("attachments", ("现场.png", PNG, "image/png"))])
    assert r.status_code == 303
    page = client.get(f"/console/cases/{case_id}")
    assert "<strong>已整改</strong>" in page.text
    assert "alert(1)" not in page.text and "onclick" not in page.text and "javascript:" not in page.text
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "answered" and case.answer_body == "经核查已整改\n链接"
        att = s.scalar(select(Attachment).where(Attachment.purpose == "answer"))
        assert att.filename == "现场.png" and att.content_type == "image/png"
        att_id = att.id
    assert client.get(f"/console/cases/{case_id}/attachments/{att_id}").content == PNG


def test_dispatcher_console_accepts_and_assigns_with_the_suggestion(web):
    world, client = web
    case_id, _ = world.file()
    login(client, "disp", PASSWORD)
    page = client.get("/console/dispatch")
    assert page.status_code == 200 and f'data-case="{case_id}"' in page.text
    assert "主题“城乡建设”" in page.text  # suggested from the citizen's category until NLP runs
    r = post_action(client, case_id, "assign", department_code="housing", back="/console/dispatch")
    assert r.status_code == 303 and r.headers["location"] == "/console/dispatch"
    with world.session(readonly=True) as s:
        case = s.get(Case, case_id)
        assert case.status == "assigned" and case.department_code == "housing"
    r = post_action(client, case_id, "reject", reason="")
    assert r.status_code == 409  # assigned cases can no longer be rejected
    login(client, "housing1", PASSWORD)
    assert client.get("/console/dispatch").status_code == 403


def test_citizen_rates_on_the_tracking_page(web):
    world, client = web
    case_id, code = world.file()
    world.act(case_id, "accept", "disp")
    world.act(case_id, "assign", "disp", department_code="housing")
    world.act(case_id, "sign", "housing1")
    world.act(case_id, "answer", "housing1", body="已责令商户整改，夜间停止营业。")
    with world.session(readonly=True) as s:
        number = s.get(Case, case_id).tracking_number
    page = client.post("/track", data={"number": number, "code": code, "csrf_token": csrf_token(client)})
    assert page.status_code == 200 and 'id="rating-form"' in page.text and 'id="appeal"' in page.text
    token = csrf_token(client)
    wrong = client.post(f"/track/{number}/rate", data={"code": "AAAA-BBBB-CCCCC", "rating": "satisfied", "csrf_token": token})
    assert wrong.status_code == 403 and "查询码不正确" in wrong.text
    no_csrf = client.post(f"/track/{number}/rate", data={"code": code, "rating": "satisfied"})
    assert no_csrf.status_code == 403
    missing = client.post(f"/track/{number}/rate", data={"code": code, "rating": "unsatisfied", "csrf_token": token})
    assert missing.status_code == 422 and "不满意的原因" in missing.text
    ok = client.post(f"/track/{number}/rate", data={"code": code, "rating": "basic", "csrf_token": token})
    assert ok.status_code == 200 and "感谢您的评价（基本满意）" in ok.text
    again = client.post(f"/track/{number}/rate", data={"code": code, "rating": "satisfied", "csrf_token": token})
    assert again.status_code == 409 and "已经评价过" in again.text
    assert world.status(case_id) == "closed"


def test_rating_after_fifteen_days_is_refused_over_http(web):
    world, client = web
    long_ago = utcnow() - dt.timedelta(days=16)
    case_id, code = world.file()
    world.act(case_id, "accept", "disp", now=long_ago)
    world.act(case_id, "assign", "disp", now=long_ago, department_code="housing")
    world.act(case_id, "sign", "housing1", now=long_ago)
    world.act(case_id, "answer", "housing1", now=long_ago, body="已责令商户整改，夜间停止营业。")
    with world.session(readonly=True) as s:
        number = s.get(Case, case_id).tracking_number
    r = client.post("/api/v1/track/" + number + "/rating", json={"code": code, "rating": "satisfied"})
    assert r.status_code == 409 and "评价期限" in r.json()["detail"]


def test_scorecards_api_pages_and_exports(web):
    world, client = web
    case_id = world.assigned("housing")
    world.act(case_id, "sign", "housing1")
    period = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
    r = client.get(f"/api/v1/scorecards?period={period}")
    assert r.status_code == 200
    housing = next(d for d in r.json()["departments"] if d["department_code"] == "housing")
    assert housing["received"] == 1 and housing["signed_on_time"] == 1 and housing["rank"] is None
    assert client.get("/api/v1/scorecards?period=2026-13").status_code == 422
    assert "样本不足" in client.get("/scorecards").text
    login(client, "sup", PASSWORD)
    assert client.get("/console/scorecards").status_code == 200
    detail = client.get(f"/console/scorecards/housing?period={period}")
    assert detail.status_code == 200 and "住房和城乡建设局" in detail.text
    csv = client.get(f"/console/scorecards/export.csv?period={period}")
    assert csv.headers["content-type"].startswith("text/csv") and "住房和城乡建设局" in csv.content.decode("utf-8-sig")
    xlsx = client.get(f"/console/scorecards/export.xlsx?period={period}")
    assert load_workbook(io.BytesIO(xlsx.content)).active["B1"].value == "部门"
    login(client, "admin1", PASSWORD)
    r = client.post("/console/admin/sla", data={"form": "options", "min_rated_to_rank": "5", "extension_max_days": "30",
                                                "max_extensions": "1", "rating_window_days": "15",
                                                "appeal_window_days": "30", "red_after_workdays": "3",
                                                "review_workdays": "15", "csrf_token": csrf_token(client)},
                    follow_redirects=False)
    assert r.status_code == 303  # public_scorecards unchecked: switched off
    client.cookies.clear()
    assert client.get("/scorecards").status_code == 404
    assert client.get(f"/api/v1/scorecards?period={period}").status_code == 401


def test_admin_settings_validate_input(web):
    world, client = web
    login(client, "admin1", PASSWORD)
    token = csrf_token(client)
    r = client.post("/console/admin/holidays", data={"year": "2027", "schedule": "2027-02-30, 休, 错", "csrf_token": token})
    assert r.status_code == 422 and "格式不正确" in r.text
    r = client.post("/console/admin/holidays", data={"year": "2027", "schedule": "2027-01-01..2027-01-03, 休, 元旦",
                                                     "csrf_token": token})
    assert r.status_code == 200 and "2027 年安排已录入" in r.text
    r = client.post("/console/admin/sla", data={"name": "错误", "answer_amount": "-3", "csrf_token": token})
    assert r.status_code == 422 and "时长应大于 0" in r.text
    r = client.post("/console/admin/routing", data={"name": "空规则", "department_code": "housing", "csrf_token": token})
    assert r.status_code == 422 and "至少要有一个条件" in r.text
    headers = api_token(client, "admin1", PASSWORD)
    r = client.post("/api/v1/sla-policies", headers=headers,
                    json={"name": "噪音投诉", "topic": "环境保护", "clocks": [{"kind": "answer", "amount": 5, "unit": "workday"}]})
    assert r.status_code == 201 and r.json()["clocks"][0]["amount"] == 5
    r = client.post("/api/v1/reply-templates", headers=headers, json={"topic": "不存在", "title": "x", "body": "模板正文内容"})
    assert r.status_code == 422 and "没有名为" in r.json()["detail"]
    r = client.post("/api/v1/reply-templates", headers=headers, json={"topic": "环境保护", "title": "噪音", "body": "您好，经核查……"})
    assert r.status_code == 201
    r = client.put("/api/v1/holidays/2028", headers=headers, json={"schedule": "2028-01-01, 休, 元旦"})
    assert r.status_code == 200 and r.json()["entries"] == 1
    login(client, "housing1", PASSWORD)
    assert client.get("/console/admin/sla").status_code == 403


def test_extension_by_api_with_limit(web):
    world, client = web
    case_id = world.assigned("housing")
    world.act(case_id, "sign", "housing1")
    headers = api_token(client, "housing1", PASSWORD)
    r = client.post(f"/api/v1/cases/{case_id}/extensions", headers=headers, json={"days": 40, "reason": "需要检测"})
    assert r.status_code == 422 and "1 到 30" in r.json()["detail"]
    r = client.post(f"/api/v1/cases/{case_id}/extensions", headers=headers, json={"days": 10, "reason": "需要检测"})
    assert r.status_code == 201
    ext = r.json()["id"]
    r = client.post(f"/api/v1/extensions/{ext}/decision", headers=headers, json={"approve": True})
    assert r.status_code == 403
    sup = api_token(client, "sup", PASSWORD)
    r = client.post(f"/api/v1/extensions/{ext}/decision", headers=sup, json={"approve": True, "note": "同意"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    r = client.post(f"/api/v1/cases/{case_id}/extensions", headers=headers, json={"days": 1, "reason": "再延一天"})
    assert r.status_code == 409 and "最多申请延期一次" in r.json()["detail"]
    with world.session(readonly=True) as s:
        answer = s.scalar(select(Clock).where(Clock.case_id == case_id, Clock.kind == "answer"))
        assert answer.extension_days == 10


def test_citizen_supplies_material_and_appeals_over_http(web):
    world, client = web
    case_id, code = world.file()
    world.act(case_id, "accept", "disp")
    world.act(case_id, "assign", "disp", department_code="housing")
    world.act(case_id, "sign", "housing1")
    world.act(case_id, "request_material", "housing1", note="请提供噪音发生的具体时段")
    with world.session(readonly=True) as s:
        number = s.get(Case, case_id).tracking_number
    token = csrf_token(client)
    page = client.post("/track", data={"number": number, "code": code, "csrf_token": token})
    assert 'id="material-form"' in page.text and "请提供噪音发生的具体时段" in page.text
    empty = client.post(f"/track/{number}/material", data={"code": code, "material": " ", "csrf_token": token})
    assert empty.status_code == 422 and "请填写补充材料" in empty.text
    ok = client.post(f"/track/{number}/material", data={"code": code, "material": "每晚 23 点至凌晨 3 点", "csrf_token": token})
    assert ok.status_code == 200 and world.status(case_id) == "in_progress"
    world.act(case_id, "answer", "housing1", body="已责令商户整改，夜间停止营业。")
    r = client.post(f"/track/{number}/appeal", data={"code": code, "reason": "", "csrf_token": token})
    assert r.status_code == 422 and "申请复查的理由" in r.text
    r = client.post(f"/track/{number}/appeal", data={"code": code, "reason": "商户仍在营业", "csrf_token": token})
    assert r.status_code == 200 and world.status(case_id) == "appealed"
    r = client.post(f"/track/{number}/appeal", data={"code": code, "reason": "再次申请", "csrf_token": token})
    assert r.status_code == 409


def test_estimated_deadline_is_flagged_on_every_page_until_the_year_is_entered(web):
    """A deadline reaching 2027 (no official schedule yet) carries 预估 in the inbox, on the case page,
    in the API and on the citizen's tracking page; the admins are alerted; entering 2027 recomputes it."""
    from tests.cases.conftest import local
    world, client = web
    t0 = local(2026, 12, 25, 10)
    case_id, code = world.file()
    world.act(case_id, "accept", "disp", now=t0)
    world.act(case_id, "assign", "disp", now=t0, department_code="housing")
    world.act(case_id, "sign", "housing1", now=t0)
    with world.session() as s:
        number = s.get(Case, case_id).tracking_number
        s.get(CaseMeta, case_id).urgent = True  # as routing marks a late risk flag: listed on the supervisor's page

    def pages() -> dict[str, str]:
        login(client, "sup", PASSWORD)
        supervise = client.get("/console/supervise").text
        out = {"supervise": supervise[supervise.index("高风险诉求"):]}
        login(client, "housing1", PASSWORD)
        inbox = client.get("/console/department").text
        out["inbox"] = re.search(rf'<tr[^>]*data-case="{case_id}".*?</tr>', inbox, re.S).group(0)
        out["case"] = client.get(f"/console/cases/{case_id}").text
        client.cookies.clear()
        out["track"] = client.post("/track", data={"number": number, "code": code, "csrf_token": csrf_token(client)}).text
        return out

    before = pages()
    assert all("预估" in text for text in before.values()), [k for k, v in before.items() if "预估" not in v]
    assert "2027-01-13 23:59" in before["case"]  # Monday–Friday guess: 2027-01-01 counted as a working day
    headers = api_token(client, "housing1", PASSWORD)
    assert client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["due_estimated"] is True
    login(client, "admin1", PASSWORD)
    assert "请录入 2027 年法定节假日安排" in client.get("/inbox").text

    admin = api_token(client, "admin1", PASSWORD)
    r = client.put("/api/v1/holidays/2027", headers=admin, json={"schedule": "2027-01-01..2027-01-03, 休, 元旦"})
    assert r.status_code == 200 and r.json()["recomputed"] >= 1
    after = pages()
    assert not any("预估" in text for text in after.values())
    assert "2027-01-14 23:59" in after["case"]  # New Year's Day is a holiday after all: one day later
    detail = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    assert detail["due_estimated"] is False and not any(c["due_estimated"] for c in detail["clocks"])


def test_case_page_shows_similar_answered_cases_and_the_topics_reply_templates(web):
    from cases.actors import Actor
    from cases.models import ReplyTemplate
    world, client = web
    earlier = world.assigned("housing")
    world.act(earlier, "sign", "housing1")
    world.act(earlier, "answer", "housing1", body="经现场核查，已责令该烧烤店夜间停止营业并加装油烟净化设备。")
    other = world.assigned("hrss", category="labour", title="公司拖欠工资三个月", phone="13500000001",
                           description="我在某建筑公司打工，公司已经拖欠我们三个月工资，多次讨要无果，请求帮助。")
    hrss = Actor("user", "department", None, "hrss")
    world.act(other, "sign", hrss)
    world.act(other, "answer", hrss, body="已立案调查，责令该公司限期支付拖欠工资。")  # answered, but another topic
    case_id = world.assigned("housing", title="烧烤店深夜噪音又来了", phone="13600000008")
    world.act(case_id, "sign", "housing1")
    with world.session(readonly=True) as s:
        earlier_number, other_number = s.get(Case, earlier).tracking_number, s.get(Case, other).tracking_number
        templates = {t.title: t.id for t in s.scalars(select(ReplyTemplate))}
    login(client, "housing1", PASSWORD)
    page = client.get(f"/console/cases/{case_id}").text
    similar = page[page.index("类似诉求及答复"):]
    assert earlier_number in similar and "已责令该烧烤店夜间停止营业" in similar
    assert other_number not in page and "限期支付拖欠工资" not in page
    offered = page[page.index("答复模板"):page.index('id="answer-body"')]
    assert "通用答复" in offered and "物业与小区管理" in offered  # every topic, and this case's topic (城乡建设)
    assert "欠薪与社保" not in offered  # another topic's template
    filled = client.get(f"/console/cases/{case_id}?template={templates['物业与小区管理']}").text
    textarea = re.search(r'<textarea id="answer-body"[^>]*>(.*?)</textarea>', filled, re.S).group(1)
    assert textarea.startswith("您好！您反映的小区物业问题已收悉")
