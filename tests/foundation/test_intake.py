"""Citizen filing through the web form: validation, screening, attachments, duplicates, limits."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.crypto import decrypt
from core.database import session_scope
from core.models import Attachment, Case, CaseEvent, Document, OutboxItem
from tests.foundation.helpers import GOOD, PDF, PNG, file_form, receipt, track


def counts(engine) -> dict[str, int]:
    with session_scope(engine, readonly=True) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in (Case, Document, OutboxItem, Attachment, CaseEvent)}


def test_form_renders_in_chinese_without_javascript(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "我要反映" in page.text and 'enctype="multipart/form-data"' in page.text
    assert "<script" not in page.text
    assert "csrf_token" in page.text


def test_filing_commits_document_outbox_case_and_timeline(client, engine):
    response = file_form(client, files=[("attachments", ("photo.png", PNG, "image/png")),
                                        ("attachments", ("scan.pdf", PDF, "application/pdf"))])
    assert response.status_code == 201, response.text
    number, code = receipt(response)
    assert number.startswith("MS") and len(code.replace("-", "")) == 13
    with session_scope(engine, readonly=True) as s:
        case = s.scalar(select(Case).where(Case.tracking_number == number))
        assert case.status == "submitted" and case.appeal_type == "投诉" and case.category_topic == "urban"
        assert case.document.source == "form" and case.document.body == GOOD["description"]
        assert s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.document_id == case.document_id)) == 1
        assert [a.content_type for a in case.attachments] == ["image/png", "application/pdf"]
        assert case.events[0].kind == "submitted"
        # contact data encrypted at rest, the code stored only as a hash
        assert b"13800138000" not in (case.contact_phone_enc or b"")
        assert decrypt(case.contact_phone_enc) == "13800138000" and decrypt(case.contact_name_enc) == "张三"
        assert code.replace("-", "") not in case.query_code_hash
        assert "张三" not in (case.document.author or "") and "13800138000" not in case.document.body


def test_tracking_numbers_are_sequential_per_day(client):
    first, _ = receipt(file_form(client))
    second, _ = receipt(file_form(client, title="另一件事：路灯不亮", description="小区门口的路灯坏了一个月，晚上很黑，老人出行不便。"))
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


@pytest.mark.parametrize("field,value,message", [
    ("title", "", "请填写标题"),
    ("title", "长" * 101, "标题不能超过 100 字"),
    ("description", "太短了", "不少于 10 个字"),
    ("description", "很" * 5001, "不能超过 5000 字"),
    ("appeal_type", "随便", "请选择诉求类型"),
    ("appeal_type", None, "请选择诉求类型"),
    ("category", "nonexistent", "请选择列表中的问题分类"),
    ("phone", "12345", "请填写正确的手机号"),
    ("consent", None, "请阅读并同意"),
    ("name", "名" * 51, "姓名不能超过 50 字"),
])
def test_bad_fields_rerender_with_input_kept_and_nothing_stored(client, engine, field, value, message):
    before = counts(engine)
    response = file_form(client, **{field: value})
    assert response.status_code == 422
    assert message in response.text
    assert GOOD["place_text"].replace(" ", "") in response.text.replace(" ", "")  # input kept
    assert counts(engine) == before


def test_help_request_needs_phone_and_cannot_be_anonymous(client, engine):
    r = file_form(client, appeal_type="求助", phone="")
    assert r.status_code == 422 and "求助类诉求需要留下联系电话" in r.text
    r = file_form(client, appeal_type="求助", anonymous="1")
    assert r.status_code == 422 and "不能匿名" in r.text


def test_anonymous_filing_keeps_no_contact(client, engine):
    number, _ = receipt(file_form(client, anonymous="1"))
    with session_scope(engine, readonly=True) as s:
        case = s.scalar(select(Case).where(Case.tracking_number == number))
        assert case.anonymous and case.contact_phone_enc is None and case.contact_name_enc is None


@pytest.mark.parametrize("name,data,ctype,message", [
    ("empty.png", b"", "image/png", "空文件"),
    ("virus.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "image/jpeg", "不是可接受的图片或 PDF"),
    ("notes.txt", "只是文字".encode() * 20, "text/plain", "不是可接受的图片或 PDF"),
    ("fake.pdf", b"%PDF-1.4\n truncated", "application/pdf", "不是完整的 PDF"),
])
def test_bad_attachments_rejected_by_content(client, engine, name, data, ctype, message):
    before = counts(engine)
    r = file_form(client, files=[("attachments", (name, data, ctype))])
    assert r.status_code == 422 and message in r.text
    assert counts(engine) == before


def test_oversize_attachment_rejected(client, engine):
    before = counts(engine)
    big = PNG + b"\x00" * (30 * 1024 * 1024)
    r = file_form(client, files=[("attachments", ("huge.png", big, "image/png"))])
    assert r.status_code == 422 and "超过 10 MB" in r.text
    assert counts(engine) == before


def test_more_than_five_attachments_rejected(client, engine):
    r = file_form(client, files=[("attachments", (f"p{i}.png", PNG, "image/png")) for i in range(6)])
    assert r.status_code == 422 and "最多上传 5 个附件" in r.text


def test_html_and_sql_are_stored_as_text_and_shown_escaped(client, engine):
    payload = "<script>alert('x')</script><img src=x onerror=alert(1)>'; DROP TABLE cases; --"
    r = file_form(client, title=payload[:90], description="问题描述：" + payload, place_text=payload[:90])
    assert r.status_code == 201
    number, code = receipt(r)
    with session_scope(engine, readonly=True) as s:
        case = s.scalar(select(Case).where(Case.tracking_number == number))
        assert case.document.body.endswith(payload)
    page = track(client, number, code)
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "onerror=alert(1)>" not in page.text


def test_emoji_and_traditional_characters_accepted(client, engine):
    r = file_form(client, title="馬路積水嚴重😡", description="我們社區門口的馬路一下雨就積水，行人無法通過😭😭，請儘快處理。")
    assert r.status_code == 201
    number, code = receipt(r)
    assert "馬路積水嚴重😡" in track(client, number, code).text


def test_nul_bytes_rejected_with_message(client, engine):
    before = counts(engine)
    r = file_form(client, description="描述里有空字符\x00后面还有很多内容很多内容")
    assert r.status_code == 422 and "无法识别的字符" in r.text
    assert counts(engine) == before


def test_invalid_utf8_rejected_without_500(client, engine):
    from tests.conftest import csrf_token
    token = csrf_token(client)
    body = (b"csrf_token=" + token.encode() + b"&appeal_type=%E6%8A%95%E8%AF%89&title=%FF%FE%FD&description="
            + b"%FF" * 20 + b"&consent=1")
    r = client.post("/file", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 422)
    assert counts(engine)["Case"] == 0


def test_replayed_form_without_valid_csrf_token_is_refused(client, engine):
    r = client.post("/file", data={**GOOD})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/file", data={**GOOD, "csrf_token": "forged-token-value"})
    assert r.status_code == 403
    assert counts(engine)["Case"] == 0


def test_same_text_same_contact_within_24h_returns_existing_case(client, engine):
    first, code = receipt(file_form(client))
    again = file_form(client)
    assert again.status_code == 200 and "您已提交过相同的诉求" in again.text
    number, code2 = receipt(again)
    assert number == first and code2 is None
    assert counts(engine)["Case"] == 1


def test_gibberish_and_abuse_are_held_not_dropped(client, engine):
    held = [
        receipt(file_form(client, title="asdf", description="asdkjfh qweoiru zxcmvn asdkjfh qweoiru", phone="13800138001"))[0],
        receipt(file_form(client, title="骂人", description="你们这些傻逼，办事太慢了，都去死吧去死吧", phone="13800138002"))[0],
        receipt(file_form(client, title="哈哈", description="哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈", phone="13800138003"))[0],
    ]
    with session_scope(engine, readonly=True) as s:
        cases = s.scalars(select(Case).where(Case.tracking_number.in_(held))).all()
        assert len(cases) == 3 and all(c.status == "held" and c.held_reason for c in cases)


def test_rate_limit_answers_429_in_chinese(client, engine, monkeypatch):
    from core.settings import get_settings
    monkeypatch.setattr(get_settings(), "intake_rate_limit", 3)
    for i in range(3):
        assert file_form(client, title=f"第{i}次反映路灯问题", phone=f"1380013800{i}").status_code == 201
    r = file_form(client, title="第四次反映", phone="13800138009")
    assert r.status_code == 429 and "提交过于频繁" in r.text and r.headers["retry-after"]
    assert counts(engine)["Case"] == 3
