"""The backend contract: every backend (embedded always, Elasticsearch with MINSHENG_ES_URL) passes it."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from search.query import parse
from search.types import Cursor, SearchRequest

from .conftest import CORPUS, UTC, make_doc


def ids(result) -> list[int]:
    return [h.id for h in result.hits]


def req(q: str = "", **kw) -> SearchRequest:
    return SearchRequest(query=parse(q), **kw)


def test_one_word_matches_and_subwords(loaded):
    # 物业 is found inside the token 物业管理 too (sub-words are indexed)
    assert set(ids(loaded.search(req("物业")))) == {1, 5}


def test_words_are_anded(loaded):
    assert ids(loaded.search(req("物业 停车费"))) == [1]
    assert loaded.search(req("物业 公积金")).total == 0


def test_phrase_or_not_and_fields(loaded):
    assert ids(loaded.search(req('"夜间 施工"'))) == [2]
    assert loaded.search(req('"施工 夜间"')).total == 0
    assert set(ids(loaded.search(req("噪音 OR 公积金")))) == {2, 3}
    assert set(ids(loaded.search(req("物业 -停车费")))) == {5}
    assert set(ids(loaded.search(req("title:停车")))) == {1, 7}
    assert ids(loaded.search(req("place:丽发新城"))) == [1]
    assert set(ids(loaded.search(req("(噪音 OR 公积金) 施工")))) == {2}


def test_only_negation_matches_the_rest(loaded):
    assert set(ids(loaded.search(req("-物业", size=50)))) == {2, 3, 4, 7}


def test_title_match_ranks_first(loaded):
    result = loaded.search(req("停车"))
    assert ids(result)[0] in (1, 7) and set(ids(result)) == {1, 7}


def test_filters_and_dates(loaded):
    assert set(ids(loaded.search(req(filters={"topic": ["城乡建设"]})))) == {1, 5}
    assert ids(loaded.search(req("物业", filters={"source": ["form"]}))) == [5]
    assert set(ids(loaded.search(req(filters={"topic": ["城乡建设", "民政"]})))) == {1, 4, 5}
    assert ids(loaded.search(req(filters={"risk": ["repeat"]}))) == [1]
    assert ids(loaded.search(req(filters={"places": ["万家丽路"]}))) == [2]
    assert ids(loaded.search(req(filters={"status": ["assigned"], "department": ["zjj"]}))) == [5]
    assert loaded.search(req(filters={"topic": ["不存在的主题"]})).total == 0
    start = dt.datetime(2024, 5, 2, tzinfo=UTC)
    end = dt.datetime(2024, 5, 4, tzinfo=UTC)
    assert set(ids(loaded.search(req(date_from=start, date_to=end)))) == {2, 3}


def test_protected_reports_only_for_supervisors(loaded):
    assert loaded.search(req("红包")).total == 0
    assert ids(loaded.search(req("红包", include_protected=True))) == [6]
    assert loaded.count(req()) == 6 and loaded.count(req(include_protected=True)) == 7


def test_sort_by_time_and_heat(loaded):
    assert ids(loaded.search(req(sort="time", size=3))) == [7, 5, 4]
    assert ids(loaded.search(req(sort="heat", size=3))) == [1, 5, 7]


@pytest.mark.parametrize("sort", ["time", "heat", "relevance"])
def test_search_after_pages_through_everything_once(loaded, sort):
    q = "" if sort != "relevance" else "小区 OR 物业 OR 停车 OR 噪音 OR 公积金 OR 网格员"
    seen, after = [], None
    for _ in range(10):
        result = loaded.search(req(q, sort=sort, size=2, after=after))
        assert result.total == (6 if sort != "relevance" else len(seen) + result.total - len(seen))
        seen += ids(result)
        after = result.next
        if after is None:
            break
        after = Cursor.decode(after.encode(), sort)  # round trip through the API's token
    assert len(seen) == len(set(seen))
    expected = loaded.search(req(q, sort=sort, size=50))
    assert seen == ids(expected)


def test_facets_and_histogram(loaded):
    result = loaded.search(req(facets=("topic", "source", "risk"), histogram="day", size=1))
    topics = {b.key: b.count for b in result.facets["topic"]}
    assert topics["城乡建设"] == 2 and "纪检监察" not in topics  # protected excluded from counts too
    assert {b.key: b.count for b in result.facets["source"]} == {"gov_board": 4, "form": 2}
    days = {b.key: b.count for b in result.histogram}
    assert days["2024-05-01"] == 1 and days["2024-05-02"] == 1  # Asia/Shanghai days
    assert sum(days.values()) == 6
    assert len(result.histogram) == 41  # zero-filled from the first to the last day
    months = loaded.date_histogram(req(), "month")
    assert [(b.key, b.count) for b in months] == [("2024-05-01", 5), ("2024-06-01", 1)]
    weeks = loaded.date_histogram(req("物业"), "week")
    assert weeks[0].key == "2024-04-29" and sum(b.count for b in weeks) == 2  # weeks start on Monday


def test_terms_and_significant_terms(loaded):
    assert [(b.key, b.count) for b in loaded.terms(req("物业"), "keywords", 1)] == [("物业", 2)]
    sig = loaded.significant_terms(req(filters={"topic": ["城乡建设"]}), "keywords", 3)
    assert sig and sig[0].key == "物业" and sig[0].count == 2 and sig[0].bg_count == 2


def test_upsert_is_idempotent_and_updates(loaded):
    changed = dataclasses.replace(CORPUS[4], status="answered", topic="环境保护")
    loaded.index([changed])
    loaded.index([changed])
    assert loaded.count(req()) == 6
    assert loaded.get(5)["status"] == "answered"
    assert ids(loaded.search(req(filters={"status": ["answered"]}))) == [4, 5] or \
        set(ids(loaded.search(req(filters={"status": ["answered"]})))) == {4, 5}
    assert 5 not in ids(loaded.search(req(filters={"topic": ["城乡建设"]})))


def test_delete(loaded):
    loaded.delete([2, 999])
    assert loaded.get(2) is None
    assert loaded.search(req("噪音")).total == 0
    assert loaded.count(req()) == 5


def test_rebuild_swaps_atomically(loaded):
    with loaded.rebuild() as build:
        build.add([make_doc(100, "新索引文档", "重建索引后的唯一文档", topic="民政")])
        # the live index keeps serving the old documents meanwhile
        assert loaded.count(req()) == 6
    assert loaded.count(req()) == 1
    assert ids(loaded.search(req("重建"))) == [100]


def test_failed_rebuild_keeps_the_live_index(loaded):
    with pytest.raises(RuntimeError):
        with loaded.rebuild() as build:
            build.add([make_doc(100, "半途", "失败的重建")])
            raise RuntimeError("boom")
    assert loaded.count(req()) == 6


def test_clear(loaded):
    loaded.clear()
    assert loaded.count(req()) == 0
    loaded.index([CORPUS[0]])
    assert loaded.count(req()) == 1


def test_stored_fields_round_trip(loaded):
    doc = loaded.get(4)
    assert doc["case"] == "MS20240504-00001" and doc["department"] == "mzj" and doc["status"] == "answered"
    assert doc["title"] == "表扬社区网格员"
    assert dt.datetime.fromisoformat(doc["time"]) == CORPUS[3].time


def test_id_window(loaded):
    assert set(ids(loaded.search(req(id_above=2, id_at_most=4)))) == {3, 4}
    assert loaded.count(req("物业", id_above=1)) == 1
