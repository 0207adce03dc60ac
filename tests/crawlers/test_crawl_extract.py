"""Reading values out of pages: text, times, counts, canonical URLs, JSON paths."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from parsel import Selector

from crawlers.config import FieldSpec
from crawlers.extract import (
    canonical_url, element_text, external_id_for, extract, json_path, parse_count, parse_time,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.timezone.utc)  # 20:00 in Shanghai


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH).astimezone(dt.timezone.utc)


@pytest.mark.parametrize("text, fmt, want", [
    ("2024-05-06 10:20:30", None, utc(2024, 5, 6, 10, 20, 30)),
    ("2024-05-06 10:20", None, utc(2024, 5, 6, 10, 20)),
    ("2024/5/6", None, utc(2024, 5, 6)),
    ("2024年05月06日 10:20", None, utc(2024, 5, 6, 10, 20)),
    ("2024年5月6日", None, utc(2024, 5, 6)),
    ("2024年05月06日 10时20分", None, utc(2024, 5, 6, 10, 20)),
    ("2024-05-06T10:20:00+08:00", None, utc(2024, 5, 6, 10, 20)),
    ("2024-05-06T02:20:00Z", None, utc(2024, 5, 6, 10, 20)),
    ("Mon, 06 May 2024 10:20:00 +0800", None, utc(2024, 5, 6, 10, 20)),
    ("1714962000", None, dt.datetime(2024, 5, 6, 2, 20, tzinfo=dt.timezone.utc)),
    ("1714962000000", None, dt.datetime(2024, 5, 6, 2, 20, tzinfo=dt.timezone.utc)),
    ("06/05/2024 10h20", "%d/%m/%Y %Hh%M", utc(2024, 5, 6, 10, 20)),
    ("2024-05-06　10：20", None, utc(2024, 5, 6, 10, 20)),  # full-width space and colon
    ("3小时前", None, NOW - dt.timedelta(hours=3)),
    ("刚刚", None, NOW),
    ("昨天 09:15", None, utc(2024, 6, 9, 9, 15)),
    ("05-06 10:20", None, utc(2024, 5, 6, 10, 20)),
    ("12-30 10:20", None, utc(2023, 12, 30, 10, 20)),  # a date later than today belongs to last year
    ("不详", None, None),
    ("", None, None),
])
def test_parse_time(text, fmt, want):
    assert parse_time(text, fmt, SH, now=NOW) == want


@pytest.mark.parametrize("text, want", [("点赞(12)", 12), ("1,024", 1024), ("1.2万", 12000), ("3k", 3000), ("无", None), (None, None)])
def test_parse_count(text, want):
    assert parse_count(text) == want


def test_canonical_url():
    assert canonical_url("HTTP://Example.COM:80/a/b.html?utm_source=rss&b=2&a=1#top") == "http://example.com/a/b.html?a=1&b=2"
    assert canonical_url("https://example.com:8443/x?spm=1.2") == "https://example.com:8443/x"
    assert canonical_url("http://example.com") == "http://example.com/"
    long = "https://example.com/" + "x" * 300
    assert external_id_for(canonical_url(long), None).startswith("url-sha1:")
    assert external_id_for("https://example.com/a", "123") == "id:123"
    assert external_id_for("https://example.com/a", None) == "https://example.com/a"


def test_element_text_keeps_paragraphs_and_drops_scripts():
    sel = Selector(text="<div id=c><p>第一段，<b>加粗</b>文字。</p><script>var a='x';</script><p>第二段<br>换行</p>"
                        "<style>.x{}</style>  尾巴 &nbsp; </div>")
    assert element_text(sel.css("#c")[0].root) == "第一段，加粗文字。\n第二段\n换行\n尾巴"


def test_extract_css_xpath_regex_url_default():
    page = Selector(text="<h1> 标题 </h1><span class=t>留言时间：2024-05-06 10:20</span>"
                         "<table><tr><th>来信人</th><td>张三</td></tr></table>")
    assert extract(page, FieldSpec(css="h1::text")) == "标题"
    assert extract(page, FieldSpec(css="h1")) == "标题"
    assert extract(page, FieldSpec(css="span.t::text", regex=r"留言时间：(.+)")) == "2024-05-06 10:20"
    assert extract(page, FieldSpec(xpath='//th[.="来信人"]/following-sibling::td[1]')) == "张三"
    assert extract(page, FieldSpec(source="url", regex=r"id=(?P<value>\d+)"), "http://x/detail?id=42") == "42"
    assert extract(page, FieldSpec(css="h2::text")) is None
    assert extract(page, FieldSpec(css="h2::text", default="无标题")) == "无标题"
    assert extract(page, FieldSpec(css="span.t::text", regex=r"回复时间：(.+)")) is None


def test_json_path():
    data = {"data": {"list": [{"a": {"b": 1}}, {"a": None}]}}
    assert json_path(data, "data.list.0.a.b") == 1
    assert json_path(data, "data.list.-1.a") is None
    assert json_path(data, "data.list.5") is None
    assert json_path(data, "data.missing.x") is None
    assert extract({"tags": ["a", "b"]}, FieldSpec(path="tags", join=",")) == "a,b"
