"""The other kinds of source against the fixture site: an RSS feed, a GBK-encoded news list, a JSON
listing API (one crawler process for the three), then a news list whose pages the feed already
brought in — dropped as duplicates by canonical URL."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.database import session_scope
from core.models import Document
from crawlers.models import CrawlError, CrawlRun, SeenUrl
from tests.crawlers.conftest import crawl, write

SH = ZoneInfo("Asia/Shanghai")

FEED = "name: cityfeed\ntitle: 市政府新闻 RSS\nkind: feed\nstart_urls: [{base}/feed.xml]\n"
GBK = """
name: gbknews
kind: news
encoding: gbk
start_urls: [{base}/gbk/list.html]
list: {{item: ul.tzgg li, link: 'a::attr(href)'}}
detail:
  title: div.bt::text
  body: div.zw
  published: {{css: 'div.fbsj::text', regex: '发布日期：(.+)', format: '%Y年%m月%d日'}}
"""
API = """
name: apiboard
kind: json
start_urls: ['{base}/api/messages?page=1']
list:
  item: data.list
  fields: {{id: msgId, title: subject, body: content, author: nickName, published: createTime,
           reply_body: answer, reply_time: answerTime, reply_department: answerOrg, likes: praise}}
pagination: {{param: page, max_pages: 5}}
"""
NEWS = """
name: citynews
kind: news
start_urls: [{base}/news/index.html]
list: {{item: div.news, link: 'a::attr(href)', fields: {{published: 'em::text'}}}}
detail: {{title: 'h2.title::text', body: '#article'}}
"""


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.timezone.utc)


def by_source(engine, source: str) -> dict[str, Document]:
    with session_scope(engine, readonly=True) as s:
        docs = {d.external_id: d for d in s.scalars(select(Document).where(Document.source == source))}
        s.expunge_all()
        return docs


def test_feed_gbk_json_then_news_duplicates(sqlite_env, sqlite_engine, site, sites_dir):
    engine = sqlite_engine
    paths = [write(sites_dir, n, t.format(base=site.base)) for n, t in (("cityfeed", FEED), ("gbknews", GBK), ("apiboard", API))]
    result = crawl(sqlite_env, *paths)
    assert result.returncode == 0, result.stderr + result.stdout

    feed = by_source(engine, "cityfeed")
    assert sorted(feed) == ["id:news-1", "id:news-2", "id:news-3"]
    one = feed["id:news-1"]
    assert (one.title, one.body, one.published_at, one.url, one.canonical_url) == (
        "市政府召开防汛工作部署会", "会议要求各区县压实防汛责任，汛期实行二十四小时值班，确保群众生命财产安全。", local(2024, 6, 1, 8, 0),
        f"{site.base}/news/a/1.html?utm_source=rss", f"{site.base}/news/a/1.html")
    assert feed["id:news-3"].published_at == local(2024, 6, 5, 18, 0)

    (gbk,) = by_source(engine, "gbknews").values()
    assert (gbk.title, gbk.body, gbk.published_at) == (
        "县人民政府关于秋季森林防火的通告", "进入秋季森林防火期，严禁在林区野外用火，违者依法追究责任。", local(2024, 9, 20))

    api = by_source(engine, "apiboard")
    assert sorted(api, key=lambda k: int(k[3:])) == [f"id:{i}" for i in range(1, 13)]
    for m in site.board:
        d = api[f"id:{m.id}"]
        assert (d.title, d.body, d.author, d.likes, d.reply_body, d.reply_department, d.url) == (
            m.title, m.body, m.author, m.likes, m.reply, m.reply_dept, None)
        assert d.published_at == dt.datetime.strptime(m.time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SH).astimezone(dt.timezone.utc)
    assert site.fetched("/api/messages") == [f"/api/messages?page={i}" for i in (1, 2, 3, 4)]  # page 4 is empty: stop

    # the same stories under a news list: every article is already in by its canonical URL
    news = write(sites_dir, "citynews", NEWS.format(base=site.base))
    result = crawl(sqlite_env, news)
    assert result.returncode == 0, result.stderr
    assert by_source(engine, "citynews") == {}
    with session_scope(engine, readonly=True) as s:
        run = s.scalar(select(CrawlRun).where(CrawlRun.site == "citynews"))
        assert (run.items_new, run.duplicates, run.errors) == (0, 3, 0)
        seen = {r.url: (r.status, r.document_id) for r in s.scalars(select(SeenUrl).where(SeenUrl.site == "citynews"))}
    assert seen == {f"{site.base}/news/a/{i}.html": ("duplicate", feed[f"id:news-{i}"].id) for i in (1, 2, 3)}

    # a later run of the API re-reads only the unanswered recent entries (messages 12 and 10)
    site.advance()
    site.clear_log()
    result = crawl(sqlite_env, paths[2])
    assert result.returncode == 0, result.stderr
    with session_scope(engine, readonly=True) as s:
        last = s.scalars(select(CrawlRun).where(CrawlRun.site == "apiboard").order_by(CrawlRun.id.desc())).first()
        assert (last.items_new, last.items_updated, last.items_unchanged) == (2, 1, 1)
    assert by_source(engine, "apiboard")["id:10"].reply_body is not None


def test_user_agent_headers_and_proxy_reach_the_server(sqlite_env, sqlite_engine, site, sites_dir):
    """The fixture server doubles as the proxy: the site's host does not even resolve."""
    config = write(sites_dir, "proxied", (
        "kind: feed\nstart_urls: [http://feed.invalid/feed.xml]\n"
        f"proxy: {site.base}\nuser_agent: MinshengTest/1.0\nheaders: {{X-Token: abc}}\n"))
    forbidden = write(sites_dir, "forbidden", f"kind: feed\nstart_urls: [{site.base}/board/private/feed.xml]\n")
    result = crawl(sqlite_env, config, forbidden)
    assert result.returncode == 1, result.stderr  # the forbidden one failed; the proxied one is fine
    assert "proxied.yaml：运行 #" in result.stdout and "forbidden.yaml：运行 #" in result.stdout
    with session_scope(sqlite_engine, readonly=True) as s:
        run = s.scalar(select(CrawlRun).where(CrawlRun.site == "forbidden"))
        assert (run.status, run.pages, run.errors) == ("failed", 0, 1)
        assert s.scalar(select(CrawlError.kind).where(CrawlError.run_id == run.id)) == "robots"
    assert site.fetched("/board/private/") == []
    assert site.fetched("http://feed.invalid/") == ["http://feed.invalid/robots.txt", "http://feed.invalid/feed.xml"]
    feed_headers = site.headers[site.requests.index("http://feed.invalid/feed.xml")]
    assert feed_headers["User-Agent"] == "MinshengTest/1.0" and feed_headers["X-Token"] == "abc"
    assert len(by_source(sqlite_engine, "proxied")) == 3
