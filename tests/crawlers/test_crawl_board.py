"""End to end on both databases: a message board crawled twice against the fixture site.

First run: the exact items, the 500 page and the page missing its time reported without stopping
the run, the robots.txt-disallowed path never requested. Second run: only the new messages are
added, the late reply updates its document and the linked case's timeline, paging stops early.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.database import session_scope
from core.models import Case, CaseEvent, Document, OutboxItem
from crawlers.models import CrawlError, CrawlRun, SeenUrl
from tests.crawlers.conftest import board_config, crawl

SH = ZoneInfo("Asia/Shanghai")


def utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SH).astimezone(dt.timezone.utc)


def expected(site, ids):
    out = {}
    for m in site.board:
        if m.id in ids:
            out[f"id:{m.id}"] = {
                "title": m.title, "body": m.body, "author": m.author, "published_at": utc(m.time), "likes": m.likes,
                "url": f"{site.base}/board/msg/{m.id}.html", "canonical_url": f"{site.base}/board/msg/{m.id}.html",
                "reply_body": m.reply, "reply_department": m.reply_dept,
                "reply_at": utc(m.reply_time) if m.reply_time else None,
            }
    return out


def documents(engine) -> dict[str, dict]:
    with session_scope(engine, readonly=True) as s:
        return {d.external_id: {"title": d.title, "body": d.body, "author": d.author, "published_at": d.published_at,
                                "likes": d.likes, "url": d.url, "canonical_url": d.canonical_url,
                                "reply_body": d.reply_body, "reply_department": d.reply_department,
                                "reply_at": d.reply_at, "source": d.source, "id": d.id}
                for d in s.scalars(select(Document))}


def runs(engine) -> list[CrawlRun]:
    with session_scope(engine, readonly=True) as s:
        rows = list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
        s.expunge_all()
        return rows


def test_board_two_runs(env, engine, site, sites_dir):
    config = board_config(sites_dir, site)

    # --- first run --------------------------------------------------------------------------------
    result = crawl(env, config, simhash=True)
    assert result.returncode == 0, result.stderr
    assert "新增 10" in result.stdout
    docs = documents(engine)
    want = expected(site, {1, 2, 4, 5, 7, 8, 9, 10, 11, 12})
    assert set(docs) == set(want)
    for key, fields in want.items():
        got = {k: docs[key][k] for k in fields}
        assert got == fields, key
        assert docs[key]["source"] == "testboard"
    with session_scope(engine, readonly=True) as s:
        # every document committed with its outbox row, fingerprinted, and none linked to another
        assert s.query(OutboxItem).count() == 10
        assert [(d.simhash is not None, d.sim_band0 is not None, d.duplicate_of_id) for d in s.scalars(select(Document))] \
            == [(True, True, None)] * 10
        errors = [(e.kind, e.url.replace(site.base, ""), e.field, e.status) for e in s.scalars(select(CrawlError))]
    assert sorted(errors) == [("http", "/board/msg/3.html", None, 500), ("missing_field", "/board/msg/6.html", "published", None)]
    (first,) = runs(engine)
    assert (first.status, first.list_pages, first.pages, first.entries_found, first.items_new, first.errors) == \
        ("partial", 3, 14, 13, 10, 2)
    assert first.stats["robots_blocked"] == 1 and first.finished_at is not None
    assert "near_duplicates" not in first.stats  # ten different complaints: none linked to another
    assert first.stats["retry/count"] == 1 and first.stats["minsheng/backoff_seconds"] > 0  # waited before retrying
    # robots.txt was read and obeyed: the disallowed path was never requested
    assert site.fetched("/robots.txt")
    assert site.fetched("/board/private/") == []
    assert site.fetched("/board/msg/3.html") == ["/board/msg/3.html"] * 2  # one retry, then reported

    # a citizen's case is linked to message 10, which has no reply yet
    with session_scope(engine) as s:
        doc10 = s.scalar(select(Document).where(Document.external_id == "id:10"))
        assert doc10.reply_body is None
        case = Case(tracking_number="MS-TEST-0010", query_code_hash="x", document_id=doc10.id, appeal_type="投诉",
                    title=doc10.title, text_fingerprint="f" * 64, status="assigned")
        s.add(case)
        s.flush()
        case_id = case.id

    # --- second run: two new messages on top, a late reply on message 10 -------------------------
    site.advance()
    site.clear_log()
    result = crawl(env, config, simhash=True)
    assert result.returncode == 0, result.stderr
    second = runs(engine)[-1]
    assert (second.items_new, second.items_updated, second.items_unchanged, second.errors) == (2, 1, 1, 0)
    # page 1 (new + unanswered), page 2 (revisited, nothing new): paging stops there
    assert sorted(site.fetched("/board/")) == sorted([
        "/board/list.html", "/board/list_2.html",
        "/board/msg/14.html", "/board/msg/13.html",  # new
        "/board/msg/12.html", "/board/msg/10.html",  # unanswered, re-checked
    ])
    docs = documents(engine)
    assert set(docs) == set(want) | {"id:13", "id:14"}
    new = expected(site, {13, 14, 10})
    for key, fields in new.items():
        assert {k: docs[key][k] for k in fields} == fields, key
    assert docs["id:10"]["reply_body"] and docs["id:10"]["reply_department"] == "区城市管理局"
    assert docs["id:10"]["id"] == doc10.id  # updated in place, not a second document
    with session_scope(engine, readonly=True) as s:
        # the update re-queued the document for NLP and indexing
        assert s.query(OutboxItem).filter(OutboxItem.document_id == doc10.id).count() == 2
        events = [(e.kind, e.public, e.status_after, e.public_note)
                  for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))]
        seen = {r.url.replace(site.base, ""): (r.status, r.has_reply) for r in s.scalars(select(SeenUrl))}
    assert [e[:3] for e in events] == [("reply_found", True, "assigned")]
    assert events[0][3] == "测试留言板上出现了区城市管理局的答复（2024-06-11 09:30）。"
    assert seen["/board/msg/10.html"] == ("ok", True)
    assert seen["/board/private/notice.html"] == ("blocked", False)
    assert seen["/board/msg/3.html"][0] == "failed" and seen["/board/msg/6.html"][0] == "failed"
