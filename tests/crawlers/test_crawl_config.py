"""Site configuration: the shipped examples validate, and every bad file is rejected with the field
and a reason (nothing crawled, nothing stored)."""
from __future__ import annotations

import sys

import pytest
from sqlalchemy import func, select

from core.database import session_scope
from crawlers.config import SITES_DIR, ConfigError, discover, load_site, parse_site, resolve
from crawlers.models import CrawlRun
from tests.crawlers.conftest import run, write

GOOD = """
name: good
kind: news
start_urls: [https://news.example.com/list.html]
list:
  link: div.news a::attr(href)
detail:
  title: h1::text
  body: div.article
  published: {css: span.date::text, format: '%Y-%m-%d'}
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, "bad.yaml")
    return info.value.problems


def only(text: str) -> tuple[str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_examples_are_valid():
    names = {p.stem for p in SITES_DIR.glob("*.yaml")}
    assert {"leader_board_example", "zmhd_example"} <= names
    for path in SITES_DIR.glob("*.yaml"):
        site = load_site(path)
        assert site.kind == "board" and not site.enabled and site.schedule
        assert site.name == path.stem


def test_good_config_and_shorthands():
    site = parse_site(GOOD + "\nschedule: '*/15 8-20 * * 1-5'\nencoding: GBK\n")
    assert site.listing.link.css == "div.news a::attr(href)"
    assert site.detail["published"].format == "%Y-%m-%d"
    assert site.required_fields == ("title", "body", "published")
    xpath = parse_site(GOOD.replace("h1::text", "//h1/text()").replace("div.article", "xpath:id('a')"))
    assert xpath.detail["title"].xpath == "//h1/text()" and xpath.detail["body"].xpath == "id('a')"


@pytest.mark.parametrize("change, field, reason", [
    (lambda t: t.replace("kind: news", "kind: forum"), "kind", "取值必须是 board、news、feed、json 之一"),
    (lambda t: t.replace("kind: news\n", ""), "kind", "缺少必填字段"),
    (lambda t: t.replace("name: good", "name: Good Site"), "name", "小写字母"),
    (lambda t: t.replace("https://news.example.com/list.html", "ftp://news.example.com/"), "start_urls", "http(s)"),
    (lambda t: t.replace("start_urls: [https://news.example.com/list.html]", "start_urls: []"), "start_urls", "不能为空"),
    (lambda t: t.replace("h1::text", "h1[[::text"), "detail.title.css", "CSS 选择器无法解析"),
    (lambda t: t.replace("h1::text", "//h1[@"), "detail.title.xpath", "XPath 表达式无法解析"),
    (lambda t: t.replace("format: '%Y-%m-%d'", "regex: '(\\d+'"), "detail.published.regex", "正则表达式无效"),
    (lambda t: t.replace("format: '%Y-%m-%d'", "format: 'YYYY-MM-DD'"), "detail.published.format", "strptime"),
    (lambda t: t + "schedule: '*/61 * * * *'\n", "schedule", "cron 表达式无效"),
    (lambda t: t + "schedule: '0 8 * *'\n", "schedule", "5 段"),
    (lambda t: t + "encoding: big-five-ish\n", "encoding", "未知的字符编码"),
    (lambda t: t + "timezone: Mars/Olympus\n", "timezone", "未知的时区"),
    (lambda t: t + "allowed_domains: [other.example.com]\n", "", "不在 allowed_domains 之内"),
    (lambda t: t.replace("  link: div.news a::attr(href)\n", "  item: div.news\n"), "", "需要 list.link"),
    (lambda t: t.replace("  body: div.article\n", ""), "", "需要 detail.body"),
    (lambda t: t.replace("  body: div.article", "  content: div.article"), "detail", "未知的字段 content"),
    (lambda t: t + "start_url: https://x.example.com/\n", "start_url", "未知字段"),
    (lambda t: t + "politeness: {delay: -1}\n", "politeness.delay", "不能小于 0"),
    (lambda t: t + "politeness: {concurrency: many}\n", "politeness.concurrency", "应为整数"),
    (lambda t: t + "pagination: {next: a.next, param: page}\n", "pagination", "只能选一种"),
    (lambda t: t + "pagination: {max_pages: 0}\n", "pagination.max_pages", "不能小于 1"),
    (lambda t: t + "required: [title, summary]\n", "", "summary 不是可用字段"),
    (lambda t: t + "proxy: socks://127.0.0.1:1080\n", "proxy", "http://host:port"),
    (lambda t: t.replace("{css: span.date::text, format: '%Y-%m-%d'}", "{source: url}"), "detail.published", "regex"),
    (lambda t: t.replace("{css: span.date::text, format: '%Y-%m-%d'}", "{css: a, xpath: //a}"), "detail.published", "只能填写一个"),
    (lambda t: t + "headers: [Referer]\n", "headers", "映射"),
])
def test_bad_config_names_field_and_reason(change, field, reason):
    path, why = only(change(GOOD))
    assert path == field and reason in why, (path, why)


def test_json_kind_needs_item_path():
    path, why = only("name: api\nkind: json\nstart_urls: [https://api.example.com/list]\n")
    assert "list.item" in why
    ok = parse_site("name: api\nkind: json\nstart_urls: [https://api.example.com/list]\n"
                    "list: {item: data.list, fields: {title: subject, body: content, id: msgId}}\n")
    assert ok.listing.item.path == "data.list" and ok.listing.fields["id"].path == "msgId"


def test_feed_needs_no_selectors():
    site = parse_site("name: rss\nkind: feed\nstart_urls: [https://news.example.com/rss.xml]\n")
    assert site.required_fields == ("title",)


def test_yaml_errors_and_non_mappings():
    path, why = only("name: x\nkind: [news\n")
    assert path == "" and "YAML 语法错误" in why and "行" in why
    path, why = only("- just\n- a list\n")
    assert "映射" in why
    assert "(整个文件)" in str(ConfigError("x.yaml", [("", "文件内容应是一个映射")]))


def test_several_problems_reported_together():
    found = problems(GOOD.replace("kind: news", "kind: forum") + "encoding: nope\n")
    assert {p for p, _ in found} == {"kind", "encoding"}


def test_load_and_resolve(tmp_path, sites_dir):
    write(sites_dir, "city-news", GOOD.replace("name: good\n", ""))
    assert load_site(sites_dir / "city-news.yaml").name == "city-news"  # the name defaults to the file name
    write(sites_dir, "renamed", GOOD.replace("name: good", "name: other-name"))
    assert resolve("city-news") == (sites_dir / "city-news.yaml").resolve()
    assert resolve("other-name") == (sites_dir / "renamed.yaml").resolve()
    assert resolve(str(sites_dir / "renamed.yaml")) == (sites_dir / "renamed.yaml").resolve()
    assert [p.name for p in discover()] == ["city-news.yaml", "renamed.yaml"]
    with pytest.raises(ConfigError, match="找不到名为 nothing 的站点配置；已知站点：city-news, renamed"):
        resolve("nothing")
    with pytest.raises(ConfigError, match="文件不存在"):
        resolve(str(tmp_path / "missing.yaml"))
    (sites_dir / "latin1.yaml").write_bytes("name: x\ntitle: \xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_site(sites_dir / "latin1.yaml")


def test_runner_rejects_bad_file_before_crawling(sqlite_env, sqlite_engine, sites_dir):
    bad = write(sites_dir, "broken", GOOD.replace("h1::text", "h1[[") + "schedule: every hour\n")
    result = run([sys.executable, "-m", "crawlers.runner", str(bad)], sqlite_env)
    assert result.returncode == 2
    assert "站点配置" in result.stderr and "detail.title.css" in result.stderr and "schedule" in result.stderr
    with session_scope(sqlite_engine, readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(CrawlRun)) == 0  # nothing half-stored
