"""Search fixtures: every backend for the contract suite, and a small hand-written corpus.

The Elasticsearch backend runs only when ``MINSHENG_ES_URL`` points at a cluster; otherwise its
tests are skipped with that reason (and the pytest header says so).
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest

from search.schema import IndexDoc
from search.tokens import index_field, tokenize

ES_URL = os.environ.get("MINSHENG_ES_URL")
UTC = dt.timezone.utc


def make_doc(doc_id: int, title: str, body: str, *, days: float = 0, **fields) -> IndexDoc:
    time = fields.pop("time", dt.datetime(2024, 5, 1, 2, 0, tzinfo=UTC) + dt.timedelta(days=days))
    places = fields.pop("places", [])
    return IndexDoc(
        id=doc_id, source=fields.pop("source", "gov_board"), title=title, body=body,
        tokens=index_field(tokenize(body)), title_tokens=index_field(tokenize(title)), time=time,
        places=places, place_tokens=" ".join(t for p in places for t in tokenize(p)), **fields,
    )


CORPUS = [
    make_doc(1, "丽发新城小区物业乱收停车费", "A2区丽发新城小区物业管理公司擅自提高停车费，业主多次反映无果。",
             days=0, topic="城乡建设", sentiment="negative", appeal="投诉", places=["丽发新城"], heat=30,
             keywords=["停车费", "物业"], risk=["repeat"]),
    make_doc(2, "夜间施工噪音扰民", "万家丽路工地夜间施工，噪音很大，严重影响居民休息。",
             days=1, topic="环境保护", sentiment="negative", appeal="投诉", places=["万家丽路"], heat=5,
             keywords=["噪音", "施工"]),
    make_doc(3, "咨询公积金提取流程", "请问异地购房如何提取住房公积金？需要哪些材料？",
             days=2, topic="劳动和社会保障", sentiment="neutral", appeal="咨询", heat=1, keywords=["公积金"]),
    make_doc(4, "表扬社区网格员", "感谢社区网格员耐心帮助老人办理业务，服务态度很好。",
             days=3, topic="民政", sentiment="positive", appeal="表扬", source="form", department="mzj",
             status="answered", case="MS20240504-00001", heat=0, keywords=["网格员"]),
    make_doc(5, "小区物业不作为", "物业管理混乱，垃圾无人清理，业委会也不管。",
             days=4, topic="城乡建设", sentiment="negative", appeal="投诉", source="form", department="zjj",
             status="assigned", case="MS20240505-00002", heat=12, keywords=["物业", "垃圾"]),
    make_doc(6, "举报某局干部收受红包", "某局干部收受企业红包，请纪委调查。",
             days=5, topic="纪检监察", sentiment="negative", appeal="举报", source="form", department="jwjw",
             status="submitted", case="MS20240506-00003", protected=True, keywords=["红包"]),
    make_doc(7, "停车难问题建议", "建议在老旧小区周边增设停车位，缓解停车难。",
             days=40, topic="交通运输", sentiment="neutral", appeal="建议", heat=8, keywords=["停车位"]),
]


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def backend(request, tmp_path) -> Iterator:
    if request.param == "embedded":
        from search.embedded import TantivyBackend

        b = TantivyBackend(tmp_path / "index" / "tantivy")
        yield b
        b.close()
        return
    if not ES_URL:
        pytest.skip("Elasticsearch contract tests skipped: MINSHENG_ES_URL is not set")
    from elasticsearch import Elasticsearch

    from search.elastic import ElasticBackend

    alias = f"minsheng-test-{uuid.uuid4().hex[:8]}"
    b = ElasticBackend(Elasticsearch(ES_URL), alias=alias)
    yield b
    b.client.indices.delete(index=f"{alias}-v*", ignore_unavailable=True)
    b.client.options(ignore_status=404).indices.delete_index_template(name=b.template_name)
    b.close()


@pytest.fixture
def loaded(backend):
    backend.index(CORPUS)
    return backend


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "elasticsearch: needs MINSHENG_ES_URL (a running cluster)")
