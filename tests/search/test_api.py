"""GET /api/v1/search, the analyst page, exports and saved searches with alerts (sqlite and postgres)."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.database import session_scope
from core.models import Notice
from search import indexer
from search.backends import forget_backends
from tests.conftest import api_token, csrf_token, login

from .test_indexing import add, add_case, queue_and_flush

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def _isolate():
    yield
    indexer.stop_all(final_flush=False)
    forget_backends()


@pytest.fixture
def corpus(client, engine):
    ids = [
        add(engine, "丽发新城小区物业乱收停车费", "物业擅自提高停车费，电话13812345678。", topic="城乡建设",
            sentiment="negative", appeal="投诉", likes=9, keywords=["停车费", "物业"], published_at=dt.datetime(2024, 5, 1, 3, tzinfo=UTC)),
        add(engine, "夜间施工噪音扰民", "万家丽路工地夜间施工噪音大。", topic="环境保护", sentiment="negative",
            appeal="投诉", keywords=["噪音"], published_at=dt.datetime(2024, 5, 3, 3, tzinfo=UTC)),
        add(engine, "=HYPERLINK(\"http://x\")物业公告", "物业公告内容。", topic="城乡建设", sentiment="neutral",
            appeal="咨询", keywords=["物业"], published_at=dt.datetime(2024, 6, 3, 3, tzinfo=UTC)),
        add(engine, "举报干部收红包", "某局干部收受红包。", source="form", topic="纪检监察", appeal="举报",
            published_at=dt.datetime(2024, 5, 5, 3, tzinfo=UTC)),
    ]
    add_case(engine, ids[0], "MS20240501-00011", status="assigned", department_code="housing")
    add_case(engine, ids[3], "MS20240505-00012", status="submitted", protected=True, department_code="discipline")
    queue_and_flush(engine, ids)
    mark_processed(engine)
    return ids


def mark_processed(engine) -> None:
    """As if workers had run every stage (these tests index through the queue directly)."""
    from core.models import OutboxItem

    with session_scope(engine) as session:
        session.execute(OutboxItem.__table__.update().values(status="done"))


@pytest.fixture
def analyst(client, make_user):
    make_user("ana", "analyst")
    return api_token(client, "ana", "correct-horse-9")


def test_answer_shape_masking_and_facets(client, corpus, analyst):
    r = client.get("/api/v1/search", params={"q": "物业 停车费", "histogram": "day"}, headers=analyst)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["next"] is None
    hit = body["hits"][0]
    assert set(hit) == {"id", "title", "snippet", "source", "time", "topic", "sentiment", "appeal", "risk", "case"}
    assert hit["case"] == "MS20240501-00011" and hit["topic"] == "城乡建设"
    assert "<mark>停车费</mark>" in hit["snippet"] and "13812345678" not in hit["snippet"]
    assert {"value": "城乡建设", "count": 1} in body["facets"]["topic"]
    assert body["histogram"] == [{"date": "2024-05-01", "count": 1}]


def test_roles_and_protected_reports(client, corpus, analyst, make_user):
    assert client.get("/api/v1/search", params={"q": "红包"}).status_code == 401
    make_user("dept", "department", "housing")
    assert client.get("/api/v1/search", headers=api_token(client, "dept", "correct-horse-9")).status_code == 403
    assert client.get("/api/v1/search", params={"q": "红包"}, headers=analyst).json()["total"] == 0
    make_user("sup", "supervisor")
    sup = api_token(client, "sup", "correct-horse-9")
    assert client.get("/api/v1/search", params={"q": "红包"}, headers=sup).json()["total"] == 1
    assert client.get(f"/search/documents/{corpus[3]}", headers=analyst).status_code == 404
    assert client.get(f"/search/documents/{corpus[3]}", headers=sup).status_code == 200


def test_paging_with_next(client, corpus, analyst):
    seen, after = [], None
    for _ in range(5):
        params = {"sort": "time", "size": 1, **({"after": after} if after else {})}
        body = client.get("/api/v1/search", params=params, headers=analyst).json()
        seen += [h["id"] for h in body["hits"]]
        after = body["next"]
        if not after:
            break
    assert seen == [corpus[2], corpus[1], corpus[0]]


BAD_INPUT = [
    ({"q": '物业 "停车'}, "引号"),
    ({"q": "a" * 600}, "查询过长"),
    ({"q": "物" * 600}, "查询过长"),
    ({"q": "(物业"}, "括号"),
    ({"size": "100000"}, "size"),
    ({"size": "abc"}, "size"),
    ({"size": "0"}, "size"),
    ({"from": "2024/05/01"}, "YYYY-MM-DD"),
    ({"to": "yesterday"}, "YYYY-MM-DD"),
    ({"from": "2024-06-01", "to": "2024-05-01"}, "不能晚于"),
    ({"sort": "random"}, "sort"),
    ({"after": "not-a-cursor"}, "after"),
    ({"histogram": "year"}, "histogram"),
    ({"topic": "x" * 101}, "过长"),
]
HOSTILE = [
    "的 了 吗", "，。！？", "***", "物业* 停?车", ".*[a-z]+$", "'; DROP TABLE documents; --", "1' OR '1'='1",
    "物业 AND *:*", "topic:城乡建设 OR _exists_:id", "{!lucene}物业~2^10", "\\", "<script>alert(1)</script>",
]


def test_bad_input_is_400_with_a_message(client, corpus, analyst):
    for params, needle in BAD_INPUT:
        r = client.get("/api/v1/search", params=params, headers=analyst)
        assert r.status_code == 400, (params, r.text)
        assert needle in r.json()["detail"], (params, r.text)
    # Past the application's 8 KB query-string limit the whole request is refused before search sees it.
    r = client.get("/api/v1/search", params={"q": "物" * 2_000}, headers=analyst)
    assert r.status_code == 414 and "请缩短" in r.json()["detail"]


def test_hostile_queries_get_a_safe_answer(client, corpus, analyst):
    for q in HOSTILE:
        r = client.get("/api/v1/search", params={"q": q}, headers=analyst)
        assert r.status_code == 200, (q, r.text)
        assert isinstance(r.json()["total"], int)
        assert "<script>" not in r.text
    assert "停用词" in client.get("/api/v1/search", params={"q": "的 了"}, headers=analyst).json()["notice"]


def test_unknown_facet_values_are_an_empty_answer(client, corpus, analyst):
    body = client.get("/api/v1/search", params={"topic": "不存在", "status": "nope", "place": "火星"},
                      headers=analyst).json()
    assert body["total"] == 0 and body["hits"] == []


def test_page_renders_with_facets_histogram_and_highlights(client, corpus, make_user):
    make_user("ana2", "analyst")
    login(client, "ana2", "correct-horse-9")
    r = client.get("/search", params={"q": "物业", "from": "2024-05-01", "to": "2024-06-30"})
    assert r.status_code == 200
    html = r.text
    assert "<mark>物业</mark>" in html and "共 2 条结果" in html
    assert "<svg class=\"histogram\"" in html and "城乡建设" in html
    assert "住房和城乡建设局" in html  # department shown by name
    assert "本结果中突出的关键词" in html and ">停车费</a>" in html
    assert "<script" not in html.split("</header>", 1)[1]  # no inline script in the page body
    bad = client.get("/search", params={"q": '"未闭合'})
    assert bad.status_code == 400 and "引号" in bad.text


def test_exports_are_masked_and_formula_safe(client, corpus, analyst):
    r = client.get("/search/export.csv", params={"q": "物业"}, headers=analyst)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and len(rows) == 3
    assert all("13812345678" not in cell for row in rows for cell in row)
    assert any(row[3].startswith("'=HYPERLINK") for row in rows[1:])
    x = client.get("/search/export.xlsx", params={"q": "物业"}, headers=analyst)
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws.max_row == 3 and ws.cell(1, 4).value == "标题"
    assert client.get("/search/export.csv", params={"q": '"'}, headers=analyst).status_code == 400
    assert client.get("/search/export.csv", params={"q": "红包"}, headers=analyst).content.decode("utf-8-sig").count("\n") == 1


def test_saved_search_alerts_once_for_new_documents_only(client, engine, corpus, analyst):
    r = client.post("/api/v1/search/saved", json={"name": "物业投诉", "params": {"q": "物业", "topic": ["城乡建设"]}},
                    headers=analyst)
    assert r.status_code == 201, r.text
    saved_id = r.json()["id"]
    assert client.post("/api/v1/search/saved", json={"name": "坏", "params": {"q": '"'}}, headers=analyst).status_code == 400
    from search.saved import check

    with session_scope(engine) as session:
        assert check(session) == 0  # nothing new yet
    # an old document re-indexed (new label) is not "new"; a new matching document is
    with session_scope(engine) as session:
        indexer.enqueue(session, corpus[0])
    new_id = add(engine, "物业费上涨", "物业费又涨了。", topic="城乡建设")
    add(engine, "无关文档", "天气很好。", topic="城乡建设")
    mark_processed(engine)
    queue_and_flush(engine, [new_id, new_id + 1])
    with session_scope(engine) as session:
        assert check(session) == 1
        assert check(session) == 0  # never twice
        notice = session.scalar(select(Notice).where(Notice.kind == "search_alert"))
        assert "1 条新结果" in notice.title and notice.link.startswith("/search?q=")
        assert "13812345678" not in notice.title + notice.body
    listed = client.get("/api/v1/search/saved", headers=analyst).json()
    assert [s["id"] for s in listed] == [saved_id] and listed[0]["last_alert_at"]
    assert client.delete(f"/api/v1/search/saved/{saved_id}", headers=analyst).status_code == 204
    assert client.delete(f"/api/v1/search/saved/{saved_id}", headers=analyst).status_code == 404


def test_saved_search_form(client, corpus, make_user):
    make_user("ana3", "analyst")
    login(client, "ana3", "correct-horse-9")
    token = csrf_token(client)
    r = client.post("/search/saved", data={"name": "噪音", "query": "q=噪音&topic=环境保护&after=zzz", "alert": "1",
                                           "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and "after" not in r.headers["location"]
    page = client.get("/search")
    assert "噪音" in page.text
    assert client.post("/search/saved", data={"name": "", "query": "q=x", "csrf_token": token}).status_code == 400
    assert client.post("/search/saved", data={"name": "x", "query": "q=\"", "csrf_token": token}).status_code == 400
    assert client.post("/search/saved", data={"name": "x", "query": "q=x"}).status_code == 403  # no CSRF token


def test_unreachable_elasticsearch_is_a_503(client, analyst, monkeypatch):
    from core.settings import reset_settings

    monkeypatch.setenv("MINSHENG_ES_URL", "http://127.0.0.1:9")  # nothing listens there
    reset_settings()
    forget_backends()
    r = client.get("/api/v1/search", params={"q": "物业"}, headers=analyst)
    assert r.status_code == 503 and "检索服务暂时不可用" in r.json()["detail"]
    monkeypatch.delenv("MINSHENG_ES_URL")
    reset_settings()
