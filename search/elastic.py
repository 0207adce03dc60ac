"""The Elasticsearch backend (``MINSHENG_ES_URL``), with the official ``elasticsearch`` 8.x client.

* An index template (``minsheng-docs-template``) for ``minsheng-docs-v*``: a custom analyzer of
  the whitespace tokenizer plus lowercase on the token fields (the text is segmented by the same
  jieba before it is sent, so no IK plugin is needed and results match the embedded backend),
  keyword fields for filters and facets, a date and numeric fields for sorting, and token fields
  left out of ``_source``.
* Versioned indices behind the alias ``minsheng-docs``; ``rebuild()`` fills ``-v<N+1>`` and swaps
  the alias in one atomic ``_aliases`` call, so searches never see a half-built index.
* Writes with ``helpers.bulk`` (retries with exponential backoff on 429/rejections) and
  ``refresh=wait_for``, so a document is searchable when the call returns.
* Queries are built as DSL objects (term, match_phrase, bool, terms, range): no ``query_string``,
  so nothing an analyst types is interpreted by Lucene.

The request bodies are built by pure functions (``template_body``, ``QueryBuilder``) so they
can be checked without a cluster.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from search.backend import BackendUnavailable, Rebuild, SearchBackend, fill_buckets
from search.query import And, Match, MatchAll, Node, Not, Or
from search.schema import KEYWORD_FIELDS, IndexDoc
from search.types import (
    Bucket, Cursor, Hit, SearchRequest, SearchResult, SignificantBucket,
)

TITLE_BOOST = 2.0
TOKEN_FIELDS = ("tokens", "title_tokens", "place_tokens")
ANALYZER = "ms_whitespace"
TIME_ZONE = "Asia/Shanghai"
BULK_CHUNK = 500


def template_body(alias: str, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The composable index template for every ``<alias>-v<N>`` index."""
    keyword = {"type": "keyword", "ignore_above": 256}
    properties: dict[str, Any] = {name: dict(keyword) for name in KEYWORD_FIELDS}
    properties.update({
        "id": {"type": "long"},
        "title": {"type": "text", "index": False},
        "body": {"type": "text", "index": False},
        "time": {"type": "date"},
        "heat": {"type": "integer"},
        "protected": {"type": "boolean"},
        "case": {"type": "keyword", "index": False},
        "url": {"type": "keyword", "index": False, "doc_values": False},
    })
    for name in TOKEN_FIELDS:
        properties[name] = {"type": "text", "analyzer": ANALYZER, "index_options": "positions"}
    return {
        "index_patterns": [f"{alias}-v*"],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "refresh_interval": "1s",
                "max_result_window": 10_000,
                "analysis": {"analyzer": {ANALYZER: {
                    "type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"],
                }}},
            },
            "mappings": {
                "dynamic": "strict",
                "_source": {"excludes": list(TOKEN_FIELDS)},
                "properties": properties,
            },
        },
        "_meta": {"description": "Minsheng documents: jieba tokens (space-joined), keyword labels, dates"},
    }


def doc_body(doc: IndexDoc) -> dict[str, Any]:
    body = doc.stored()
    body["time"] = doc.time.astimezone(dt.timezone.utc).isoformat()
    body["tokens"] = doc.tokens
    body["title_tokens"] = doc.title_tokens
    body["place_tokens"] = doc.place_tokens
    for name in ("risk", "places", "keywords"):
        body[name] = list(dict.fromkeys(getattr(doc, name) or ()))
    return body


class QueryBuilder:
    """Query tree and request → Elasticsearch DSL."""

    @staticmethod
    def _seq(field: str, tokens: tuple[str, ...], phrase: bool, boost: float | None = None) -> dict:
        if phrase and len(tokens) > 1:
            inner: dict[str, Any] = {"query": " ".join(tokens), "analyzer": ANALYZER}
            if boost:
                inner["boost"] = boost
            return {"match_phrase": {field: inner}}
        terms = [{"term": {field: {"value": t, **({"boost": boost} if boost else {})}}} for t in tokens]
        return terms[0] if len(terms) == 1 else {"bool": {"must": terms}}

    def match(self, node: Match) -> dict:
        if node.field == "title":
            return self._seq("title_tokens", node.tokens, node.phrase)
        if node.field == "place":
            return self._seq("place_tokens", node.tokens, node.phrase)
        if node.phrase:
            return {"bool": {"should": [
                self._seq("tokens", node.tokens, True),
                self._seq("title_tokens", node.tokens, True, TITLE_BOOST),
            ], "minimum_should_match": 1}}
        per_token = [
            {"bool": {"should": [
                {"term": {"tokens": {"value": t}}},
                {"term": {"title_tokens": {"value": t, "boost": TITLE_BOOST}}},
            ], "minimum_should_match": 1}}
            for t in node.tokens
        ]
        return per_token[0] if len(per_token) == 1 else {"bool": {"must": per_token}}

    def node(self, node: Node) -> dict:
        if isinstance(node, MatchAll):
            return {"match_all": {}}
        if isinstance(node, Match):
            return self.match(node)
        if isinstance(node, Not):
            return {"bool": {"must": [{"match_all": {}}], "must_not": [self.node(node.child)]}}
        if isinstance(node, And):
            must = [self.node(c) for c in node.children if not isinstance(c, Not)]
            must_not = [self.node(c.child) for c in node.children if isinstance(c, Not)]
            body: dict[str, Any] = {"must": must or [{"match_all": {}}]}
            if must_not:
                body["must_not"] = must_not
            return {"bool": body}
        if isinstance(node, Or):
            return {"bool": {"should": [self.node(c) for c in node.children], "minimum_should_match": 1}}
        raise TypeError(node)

    def filters(self, req: SearchRequest) -> tuple[list[dict], list[dict]]:
        flt: list[dict] = []
        for name, values in req.filters.items():
            values = [v for v in values if v]
            if values:
                flt.append({"terms": {name: values}})
        if req.date_from or req.date_to:
            rng: dict[str, Any] = {}
            if req.date_from:
                rng["gte"] = req.date_from.astimezone(dt.timezone.utc).isoformat()
            if req.date_to:
                rng["lt"] = req.date_to.astimezone(dt.timezone.utc).isoformat()
            flt.append({"range": {"time": rng}})
        if req.id_above is not None or req.id_at_most is not None:
            ids: dict[str, int] = {}
            if req.id_above is not None:
                ids["gt"] = req.id_above
            if req.id_at_most is not None:
                ids["lte"] = req.id_at_most
            flt.append({"range": {"id": ids}})
        must_not = [] if req.include_protected else [{"term": {"protected": True}}]
        return flt, must_not

    def query(self, req: SearchRequest) -> dict:
        flt, must_not = self.filters(req)
        body: dict[str, Any] = {"must": [self.node(req.query.node)]}
        if flt:
            body["filter"] = flt
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}

    @staticmethod
    def sort(req: SearchRequest) -> list[dict]:
        if req.sort == "time":
            return [{"time": {"order": "desc"}}, {"id": {"order": "desc"}}]
        if req.sort == "heat":
            return [{"heat": {"order": "desc"}}, {"id": {"order": "desc"}}]
        return [{"_score": {"order": "desc"}}, {"id": {"order": "desc"}}]

    @staticmethod
    def histogram(interval: str) -> dict:
        return {"date_histogram": {
            "field": "time", "calendar_interval": interval, "time_zone": TIME_ZONE,
            "min_doc_count": 1, "format": "yyyy-MM-dd",
        }}

    def search_body(self, req: SearchRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": self.query(req),
            "size": req.size + 1,
            "sort": self.sort(req),
            "track_total_hits": True,
        }
        if req.after is not None and req.after.key is not None and req.after.doc_id is not None:
            body["search_after"] = [req.after.key, req.after.doc_id]
        aggs: dict[str, Any] = {f: {"terms": {"field": f, "size": req.facet_size}} for f in req.facets}
        if req.histogram:
            aggs["_histogram"] = self.histogram(req.histogram)
        if aggs:
            body["aggs"] = aggs
        return body

    def significant_body(self, req: SearchRequest, field: str, size: int,
                         background: SearchRequest | None) -> dict[str, Any]:
        agg: dict[str, Any] = {"field": field, "size": size, "jlh": {}}
        if background is not None:
            agg["background_filter"] = self.query(background)
        return {"query": self.query(req), "size": 0, "track_total_hits": True,
                "aggs": {"significant": {"significant_terms": agg}}}


class _Builder(Rebuild):
    def __init__(self, backend: "ElasticBackend", index: str):
        self.backend = backend
        self.index_name = index
        self.added = 0

    def add(self, docs: Iterable[IndexDoc]) -> int:
        n = self.backend._bulk(({"_op_type": "index", "_index": self.index_name, "_id": str(d.id),
                                 "_source": doc_body(d)} for d in docs), refresh=False)
        self.added += n
        return n


class ElasticBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, client, alias: str = "minsheng-docs", shards: int = 1, replicas: int = 0,
                 max_retries: int = 5):
        self.client = client
        self.alias = alias
        self.shards = shards
        self.replicas = replicas
        self.max_retries = max_retries
        self.builder = QueryBuilder()
        self._ready = False

    @classmethod
    def from_settings(cls, settings) -> "ElasticBackend":
        from elasticsearch import Elasticsearch

        client = Elasticsearch(settings.es_url, request_timeout=30, retry_on_timeout=True, max_retries=3)
        return cls(client, settings.es_index, settings.es_shards, settings.es_replicas)

    # --- index management -------------------------------------------------------------------------
    @property
    def template_name(self) -> str:
        return f"{self.alias}-template"

    def _version_indices(self) -> list[tuple[int, str]]:
        pattern = re.compile(rf"^{re.escape(self.alias)}-v(\d+)$")
        names = self.client.indices.get(index=f"{self.alias}-v*", expand_wildcards="open,closed").body
        return sorted((int(m.group(1)), name) for name in names if (m := pattern.match(name)))

    def _alias_targets(self) -> list[str]:
        from elasticsearch import NotFoundError

        try:
            return sorted(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def ensure(self) -> None:
        """Template, a first index and the alias, if absent (idempotent)."""
        if self._ready:
            return
        from elasticsearch import ApiError, TransportError

        try:
            self.client.indices.put_index_template(name=self.template_name,
                                                   body=template_body(self.alias, self.shards, self.replicas))
            if not self._alias_targets():
                if self.client.indices.exists(index=self.alias).body:
                    raise BackendUnavailable(
                        f"an index literally named {self.alias!r} exists; Minsheng needs that name for an alias")
                versions = self._version_indices()
                name = versions[-1][1] if versions else f"{self.alias}-v1"
                if not versions:
                    self.client.indices.create(index=name)
                self.client.indices.update_aliases(actions=[{"add": {"index": name, "alias": self.alias}}])
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch: {exc}") from exc
        self._ready = True

    # --- writing ----------------------------------------------------------------------------------
    def _bulk(self, actions: Iterable[dict], refresh: bool | str = "wait_for") -> int:
        from elasticsearch import ApiError, TransportError, helpers

        ok = 0
        errors = []
        try:
            for success, info in helpers.streaming_bulk(
                self.client, actions, chunk_size=BULK_CHUNK, max_retries=self.max_retries,
                initial_backoff=1, max_backoff=30, raise_on_error=False, raise_on_exception=True,
                refresh=refresh,
            ):
                op, result = next(iter(info.items()))
                if success or (op == "delete" and result.get("status") == 404):
                    ok += 1
                else:
                    errors.append(result)
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch bulk request failed: {exc}") from exc
        if errors:
            raise BackendUnavailable(f"Elasticsearch rejected {len(errors)} documents, first: {errors[0]}")
        return ok

    def index(self, docs: Iterable[IndexDoc]) -> int:
        self.ensure()
        docs = list(docs)
        if not docs:
            return 0
        return self._bulk({"_op_type": "index", "_index": self.alias, "_id": str(d.id), "_source": doc_body(d)}
                          for d in docs)

    def delete(self, ids: Iterable[int]) -> int:
        self.ensure()
        ids = list(ids)
        if not ids:
            return 0
        return self._bulk({"_op_type": "delete", "_index": self.alias, "_id": str(i)} for i in ids)

    @contextmanager
    def rebuild(self) -> Iterator[Rebuild]:
        from elasticsearch import ApiError, TransportError

        self.ensure()
        try:
            versions = self._version_indices()
            name = f"{self.alias}-v{(versions[-1][0] if versions else 0) + 1}"
            # Faster bulk loading: no refreshes and no replicas until the swap.
            self.client.indices.create(index=name, settings={"refresh_interval": "-1", "number_of_replicas": 0})
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch: cannot create a new index: {exc}") from exc
        try:
            builder = _Builder(self, name)
            yield builder
            self.client.indices.put_settings(index=name, settings={
                "refresh_interval": "1s", "number_of_replicas": self.replicas})
            self.client.indices.refresh(index=name)
        except BaseException:
            self.client.indices.delete(index=name, ignore_unavailable=True)
            raise
        old = self._alias_targets()
        actions = [{"remove": {"index": o, "alias": self.alias}} for o in old if o != name]
        actions.append({"add": {"index": name, "alias": self.alias}})
        self.client.indices.update_aliases(actions=actions)
        for o in old:
            if o != name:
                self.client.indices.delete(index=o, ignore_unavailable=True)

    def clear(self) -> None:
        for _n, name in self._version_indices():
            self.client.indices.delete(index=name, ignore_unavailable=True)
        self._ready = False
        self.ensure()

    # --- reading ----------------------------------------------------------------------------------
    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        from elasticsearch import ApiError, TransportError

        self.ensure()
        try:
            return self.client.search(index=self.alias, **body).body
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch search failed: {exc}") from exc

    def search(self, request: SearchRequest) -> SearchResult:
        raw = self._search(self.builder.search_body(request))
        hits_raw = raw["hits"]["hits"]
        hits = [Hit(int(h["_source"]["id"]), h.get("_score"), h["_source"]) for h in hits_raw[: request.size]]
        nxt = None
        if len(hits_raw) > request.size and hits:
            sort_values = hits_raw[request.size - 1]["sort"]
            nxt = Cursor(request.sort, key=sort_values[0], doc_id=int(sort_values[1]))
        out = SearchResult(total=int(raw["hits"]["total"]["value"]), hits=hits, next=nxt)
        aggs = raw.get("aggregations", {})
        out.facets = {f: [Bucket(str(b["key"]), int(b["doc_count"])) for b in aggs.get(f, {}).get("buckets", [])]
                      for f in request.facets}
        if request.histogram:
            out.histogram = self._histogram_buckets(aggs.get("_histogram", {}), request.histogram)
        return out

    @staticmethod
    def _histogram_buckets(agg: dict, interval: str) -> list[Bucket]:
        counts = {dt.date.fromisoformat(b["key_as_string"]): int(b["doc_count"]) for b in agg.get("buckets", [])}
        return fill_buckets(counts, interval)

    def count(self, request: SearchRequest | None = None) -> int:
        from elasticsearch import ApiError, TransportError

        self.ensure()
        query = self.builder.query(request) if request is not None else {"match_all": {}}
        try:
            return int(self.client.count(index=self.alias, query=query).body["count"])
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch count failed: {exc}") from exc

    def get(self, doc_id: int) -> dict | None:
        from elasticsearch import ApiError, NotFoundError, TransportError

        self.ensure()
        try:
            return self.client.get(index=self.alias, id=str(doc_id)).body["_source"]
        except NotFoundError:
            return None
        except (ApiError, TransportError) as exc:
            raise BackendUnavailable(f"Elasticsearch get failed: {exc}") from exc

    def terms(self, request: SearchRequest, field: str, size: int = 10) -> list[Bucket]:
        raw = self._search({"query": self.builder.query(request), "size": 0,
                            "aggs": {"t": {"terms": {"field": field, "size": size}}}})
        return [Bucket(str(b["key"]), int(b["doc_count"])) for b in raw["aggregations"]["t"]["buckets"]]

    def date_histogram(self, request: SearchRequest, interval: str = "day") -> list[Bucket]:
        raw = self._search({"query": self.builder.query(request), "size": 0,
                            "aggs": {"h": self.builder.histogram(interval)}})
        return self._histogram_buckets(raw["aggregations"]["h"], interval)

    def significant_terms(self, request: SearchRequest, field: str = "keywords", size: int = 10,
                          background: SearchRequest | None = None) -> list[SignificantBucket]:
        raw = self._search(self.builder.significant_body(request, field, size, background))
        agg = raw["aggregations"]["significant"]
        return [SignificantBucket(str(b["key"]), int(b["doc_count"]), int(b["bg_count"]), float(b["score"]))
                for b in agg.get("buckets", [])]

    def close(self) -> None:
        self.client.close()
