"""``/api/v1/review`` and the ``/review`` page: roles, inputs, protected reports."""
from __future__ import annotations

from core.database import session_scope
from core.ingest import IncomingDocument, add_document
from core.models import Document
from tests.conftest import api_token, csrf_token, login


def _queued(engine, title="小区噪音", body="楼下烧烤店噪音扰民。", score=0.3) -> int:
    with session_scope(engine) as session:
        doc = add_document(session, IncomingDocument(source="test", title=title, body=body))
        doc.topic, doc.topic_score, doc.sentiment, doc.sentiment_score = "环境保护", score, "negative", 0.9
        doc.appeal, doc.appeal_score, doc.needs_review = "投诉", 0.8, True
        return doc.id


def test_list_and_correct_through_the_api(client, engine, make_user):
    make_user("ana", "analyst")
    low, high = _queued(engine, score=0.2), _queued(engine, "停水", "小区停水", score=0.5)
    headers = api_token(client, "ana", "correct-horse-9")
    client.cookies.clear()
    r = client.get("/api/v1/review", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == [low, high]
    assert body["items"][0]["reasons"] == ["low_topic"]
    r = client.post("/api/v1/review", headers=headers, json={"document_id": low, "topic": "城乡建设", "risk": []})
    assert r.status_code == 201 and r.json()["by"] == "ana"
    assert client.get("/api/v1/review", headers=headers).json()["total"] == 1
    with session_scope(engine, readonly=True) as session:
        assert session.get(Document, low).topic == "城乡建设"


def test_bad_inputs_answer_4xx_in_chinese(client, engine, make_user):
    make_user("ana", "analyst")
    doc = _queued(engine)
    headers = api_token(client, "ana", "correct-horse-9")
    client.cookies.clear()
    r = client.post("/api/v1/review", headers=headers, json={"document_id": doc, "topic": "火星"})
    assert r.status_code == 422 and "主题" in r.json()["detail"]
    r = client.post("/api/v1/review", headers=headers, json={"document_id": 424242, "topic": "城乡建设"})
    assert r.status_code == 404 and "不存在" in r.json()["detail"]
    r = client.post("/api/v1/review", headers=headers, json={"topic": "城乡建设"})
    assert r.status_code == 422
    r = client.post("/api/v1/review", headers=headers, content=b"not json", )
    assert r.status_code == 422
    assert client.get("/api/v1/review?limit=0", headers=headers).status_code == 422
    r = client.get("/api/v1/review?topic=火星", headers=headers)
    assert r.status_code == 400 and "主题" in r.json()["detail"]
    with session_scope(engine, readonly=True) as session:
        assert session.get(Document, doc).needs_review


def test_roles(client, engine, make_user):
    make_user("dept", "department", "housing")
    _queued(engine)
    assert client.get("/api/v1/review").status_code == 401
    headers = api_token(client, "dept", "correct-horse-9")
    client.cookies.clear()
    assert client.get("/api/v1/review", headers=headers).status_code == 403
    assert client.post("/api/v1/review", headers=headers, json={"document_id": 1, "topic": "城乡建设"}).status_code == 403


def test_review_page_and_form(client, engine, make_user):
    make_user("ana", "analyst")
    doc = _queued(engine)
    login(client, "ana", "correct-horse-9")
    page = client.get("/review")
    assert page.status_code == 200 and "模型复核队列" in page.text and "<script" not in page.text
    r = client.post(f"/review/{doc}", data={"topic": "城乡建设", "sentiment": "negative", "appeal": "投诉",
                                            "risk": ["repeat"]}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = client.post(f"/review/{doc}", data={"topic": "城乡建设", "sentiment": "negative", "appeal": "投诉",
                                            "risk": ["repeat"], "csrf_token": csrf_token(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert "暂无待复核的文档" in client.get(r.headers["location"]).text
    with session_scope(engine, readonly=True) as session:
        assert session.get(Document, doc).risk == ["repeat"]
