"""The Elasticsearch request bodies, checked without a cluster (the contract suite needs MINSHENG_ES_URL)."""
from __future__ import annotations

import datetime as dt

from search.elastic import ANALYZER, QueryBuilder, doc_body, template_body
from search.query import parse
from search.types import Cursor, SearchRequest

from .conftest import CORPUS

B = QueryBuilder()


def test_template_whitespace_analyzer_keywords_dates_and_alias_pattern():
    body = template_body("minsheng-docs", shards=3, replicas=1)
    assert body["index_patterns"] == ["minsheng-docs-v*"]
    settings = body["template"]["settings"]
    assert settings["number_of_shards"] == 3 and settings["number_of_replicas"] == 1
    assert settings["analysis"]["analyzer"][ANALYZER] == {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
    props = body["template"]["mappings"]["properties"]
    for name in ("tokens", "title_tokens", "place_tokens"):
        assert props[name]["analyzer"] == ANALYZER and props[name]["type"] == "text"
    for name in ("source", "topic", "sentiment", "appeal", "risk", "department", "status", "places", "keywords"):
        assert props[name]["type"] == "keyword"
    assert props["time"] == {"type": "date"} and props["id"] == {"type": "long"}
    assert body["template"]["mappings"]["dynamic"] == "strict"
    assert set(body["template"]["mappings"]["_source"]["excludes"]) == {"tokens", "title_tokens", "place_tokens"}
    # every field a document carries is mapped (dynamic: strict would reject anything else)
    assert set(doc_body(CORPUS[0])) <= set(props)


def test_words_become_term_queries_never_query_string():
    body = B.search_body(SearchRequest(query=parse('物业 停车费 "夜间 施工" -广告 OR title:噪音'), size=10))
    text = repr(body)
    assert "query_string" not in text and "simple_query_string" not in text
    should = body["query"]["bool"]["must"][0]["bool"]["should"]
    left = should[0]["bool"]
    assert left["must"][0] == {"bool": {"should": [
        {"term": {"tokens": {"value": "物业"}}},
        {"term": {"title_tokens": {"value": "物业", "boost": 2.0}}},
    ], "minimum_should_match": 1}}
    phrase = left["must"][2]["bool"]["should"][0]
    assert phrase == {"match_phrase": {"tokens": {"query": "夜间 施工", "analyzer": ANALYZER}}}
    assert left["must_not"][0]["bool"]["should"][0] == {"term": {"tokens": {"value": "广告"}}}
    assert should[1] == {"term": {"title_tokens": {"value": "噪音"}}}


def test_lucene_syntax_is_inert():
    body = B.query(SearchRequest(query=parse("topic:城乡建设 AND *:* OR _exists_:id")))
    values = [v for v in _walk(body) if isinstance(v, str)]
    assert "*:*" not in values and not any(v.startswith("_exists_") for v in values)


def _walk(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def test_filters_dates_protection_and_id_window():
    req = SearchRequest(filters={"topic": ["城乡建设", "民政"], "places": ["丽发新城"]},
                        date_from=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
                        date_to=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc), id_above=10, id_at_most=20)
    q = B.query(req)["bool"]
    assert {"terms": {"topic": ["城乡建设", "民政"]}} in q["filter"]
    assert {"terms": {"places": ["丽发新城"]}} in q["filter"]
    assert {"range": {"time": {"gte": "2024-05-01T00:00:00+00:00", "lt": "2024-06-01T00:00:00+00:00"}}} in q["filter"]
    assert {"range": {"id": {"gt": 10, "lte": 20}}} in q["filter"]
    assert q["must_not"] == [{"term": {"protected": True}}]
    assert "must_not" not in B.query(SearchRequest(include_protected=True))["bool"]


def test_sorting_search_after_facets_and_histogram():
    req = SearchRequest(sort="time", size=20, after=Cursor("time", key=1714521600000, doc_id=42),
                        facets=("topic", "places"), facet_size=5, histogram="week")
    body = B.search_body(req)
    assert body["sort"] == [{"time": {"order": "desc"}}, {"id": {"order": "desc"}}]
    assert body["search_after"] == [1714521600000, 42]
    assert body["size"] == 21 and body["track_total_hits"] is True
    assert body["aggs"]["topic"] == {"terms": {"field": "topic", "size": 5}}
    assert body["aggs"]["_histogram"]["date_histogram"] == {
        "field": "time", "calendar_interval": "week", "time_zone": "Asia/Shanghai", "min_doc_count": 1,
        "format": "yyyy-MM-dd"}
    assert B.sort(SearchRequest(sort="relevance"))[0] == {"_score": {"order": "desc"}}
    assert B.sort(SearchRequest(sort="heat"))[0] == {"heat": {"order": "desc"}}


def test_significant_terms_body():
    body = B.significant_body(SearchRequest(filters={"topic": ["城乡建设"]}), "keywords", 10,
                              SearchRequest(date_from=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)))
    agg = body["aggs"]["significant"]["significant_terms"]
    assert agg["field"] == "keywords" and agg["size"] == 10 and "jlh" in agg
    assert agg["background_filter"]["bool"]["filter"][0]["range"]["time"]["gte"].startswith("2024-01-01")


def test_document_body_is_masked_source_plus_tokens():
    body = doc_body(CORPUS[3])
    assert body["case"] == "MS20240504-00001" and body["status"] == "answered"
    assert body["time"] == "2024-05-04T02:00:00+00:00"
    assert "网格员" in body["tokens"].split()
    assert "author" not in body and "contact" not in repr(body)


def test_every_call_is_accepted_by_the_real_client_and_outages_are_reported():
    """Against a port where nothing listens: each operation must reach the network (the official
    client accepted its arguments) and end in BackendUnavailable, never a TypeError."""
    import pytest
    from elasticsearch import Elasticsearch

    from search.backend import BackendUnavailable
    from search.elastic import ElasticBackend

    backend = ElasticBackend(Elasticsearch("http://127.0.0.1:9", max_retries=0), alias="minsheng-docs", max_retries=0)
    with pytest.raises(BackendUnavailable):
        backend.ensure()
    backend._ready = True  # skip ensure() to reach each call
    req = SearchRequest(query=parse("物业"), facets=("topic",), histogram="day")
    calls = [
        lambda: backend.index(CORPUS[:2]), lambda: backend.delete([1]), lambda: backend.search(req),
        lambda: backend.count(req), lambda: backend.get(1), lambda: backend.terms(req, "topic"),
        lambda: backend.date_histogram(req, "month"), lambda: backend.significant_terms(req, "keywords", 5, req),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable):
            call()
    with pytest.raises(BackendUnavailable):
        with backend.rebuild():
            pass
