"""The analyst query language: parsing, and every kind of hostile query from the issue."""
from __future__ import annotations

import pytest

from search.query import And, Match, MatchAll, Not, Or, QuerySyntaxError, parse


def test_words_phrases_or_not_fields():
    q = parse('物业 "停车 收费" -广告 title:小区 OR place:丽发新城')
    assert isinstance(q.node, Or)
    left, right = q.node.children
    assert isinstance(left, And)
    assert left.children[0] == Match("all", ("物业",))
    assert left.children[1] == Match("all", ("停车", "收费"), phrase=True)
    assert left.children[2] == Not(Match("all", ("广告",)))
    assert left.children[3] == Match("title", ("小区",))
    assert right == Match("place", ("丽发", "新城"))
    assert "物业" in q.highlight_terms() and "广告" not in q.highlight_terms()


def test_chinese_quotes_parentheses_and_not_keyword():
    q = parse("（噪音 OR 扰民） NOT 广告 “夜间 施工”")
    assert isinstance(q.node, And)
    assert isinstance(q.node.children[0], Or)
    assert q.node.children[1] == Not(Match("all", ("广告",)))
    assert q.node.children[2].phrase


def test_empty_query_matches_all_and_negative_only_query():
    assert parse("").node == MatchAll() and parse("   ").node == MatchAll()
    q = parse("-广告")
    assert q.node == And((MatchAll(), Not(Match("all", ("广告",)))))
    q = parse("-(广告 OR 推销)")
    assert isinstance(q.node, And) and q.node.children[0] == MatchAll()


@pytest.mark.parametrize("text, where", [('物业 "停车', 4), ("(物业 停车", 1), ("物业) 停车", 3), ("title: 停车", 1)])
def test_unparseable_queries_say_where(text, where):
    with pytest.raises(QuerySyntaxError) as err:
        parse(text)
    assert err.value.position == where
    assert f"第 {where} 个字符" in err.value.message


@pytest.mark.parametrize("text", ["OR 物业", "物业 OR", "物业 OR OR 停车"])
def test_dangling_or(text):
    with pytest.raises(QuerySyntaxError):
        parse(text)


def test_too_long_and_too_many_clauses():
    with pytest.raises(QuerySyntaxError, match="查询过长"):
        parse("物" * 10_000)
    with pytest.raises(QuerySyntaxError, match="检索词过多"):
        parse(" ".join(f"词{i}" for i in range(100)))
    with pytest.raises(QuerySyntaxError, match="嵌套过深"):
        parse("(" * 20 + "物业" + ")" * 20)


@pytest.mark.parametrize("text", ["的 了 吗", "，。！？……", "*** ??? ...", "***", "   -   "])
def test_only_stop_words_or_punctuation_is_an_empty_answer(text):
    q = parse(text)
    assert q.empty and q.node == MatchAll()


@pytest.mark.parametrize("text", [
    "物业* 停?车", ".*", "[a-z]+$", "^(物业|停车){2,}", "a\\b", "物业 AND *:*", "topic:城乡建设 OR _exists_:id",
    "'; DROP TABLE documents; --", "1' OR '1'='1", "{!lucene}物业", "物业~2 停车^10", "\x00物业",
])
def test_metacharacters_are_plain_text(text):
    q = parse(text)  # never raises, never passes syntax through
    for term in q.highlight_terms():
        assert not any(ch in term for ch in "*?^~{}[]|\\:'\"")

