"""The embedded backend: a Tantivy index under ``$MINSHENG_HOME/index/tantivy`` (zero set-up).

Layout::

    index/tantivy/CURRENT      the live version's name ("v3"), replaced atomically on a swap
    index/tantivy/v3/          a Tantivy index
    index/tantivy/write.lock   held (flock) by whoever writes or swaps

Writers (worker threads, ``minsheng worker`` processes, ``minsheng reindex``) take the write lock,
read ``CURRENT`` under it, upsert (delete by id + add) and commit, then let merges finish before
releasing. Readers in any process check ``CURRENT`` and the version's ``meta.json`` before each
search and reload when either changed, so every commit is seen by the next search.
Why Tantivy and not SQLite FTS5: docs/search.md (measured).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tantivy
from tantivy import FieldType, Occur, Order, Query

from search.backend import BackendUnavailable, Rebuild, SearchBackend, local_day, roll_up
from search.locking import LockTimeout, exclusive
from search.query import And, Match, MatchAll, Node, Not, Or
from search.schema import KEYWORD_FIELDS, MULTI_VALUED, IndexDoc, heat_key, time_key
from search.types import (
    MAX_RELEVANCE_OFFSET, Bucket, Cursor, Hit, SearchRequest, SearchResult, SignificantBucket, jlh,
)

TITLE_BOOST = 2.0
_VERSION = re.compile(r"^v(\d+)$")
SINGLE_KEYWORDS = tuple(f for f in KEYWORD_FIELDS if f not in MULTI_VALUED)


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", indexed=True, fast=True)
    for name in KEYWORD_FIELDS:
        sb.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_text_field("protected", tokenizer_name="raw", index_option="basic")
    for name in ("tokens", "title_tokens", "place_tokens"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    sb.add_date_field("time", indexed=True, fast=True)
    sb.add_integer_field("lday", fast=True)
    sb.add_unsigned_field("tkey", fast=True)
    sb.add_unsigned_field("hkey", fast=True)
    sb.add_bytes_field("_source", stored=True)
    return sb.build()


def _source(doc: IndexDoc) -> bytes:
    stored = doc.stored()
    stored["time"] = doc.time.astimezone(dt.timezone.utc).isoformat()
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode()


def to_tantivy(doc: IndexDoc) -> tantivy.Document:
    d = tantivy.Document()
    d.add_integer("id", doc.id)
    for name in SINGLE_KEYWORDS:
        value = getattr(doc, name)
        if value:
            d.add_text(name, str(value)[:200])
    for name in MULTI_VALUED:
        for value in dict.fromkeys(getattr(doc, name) or ()):
            if value:
                d.add_text(name, str(value)[:200])
    d.add_text("protected", "1" if doc.protected else "0")
    d.add_text("tokens", doc.tokens or "")
    d.add_text("title_tokens", doc.title_tokens or "")
    if doc.place_tokens:
        d.add_text("place_tokens", doc.place_tokens)
    d.add_date("time", doc.time)
    d.add_integer("lday", local_day(doc.time))
    d.add_unsigned("tkey", time_key(doc.time, doc.id))
    d.add_unsigned("hkey", heat_key(doc.heat, doc.id))
    d.add_bytes("_source", _source(doc))
    return d


class _Compiler:
    """Query tree → Tantivy queries (built through the API: nothing is re-parsed)."""

    def __init__(self, schema: tantivy.Schema):
        self.schema = schema

    def term(self, field: str, value: str) -> Query:
        return Query.term_query(self.schema, field, value, index_option="freq")

    def seq(self, field: str, tokens: tuple[str, ...], phrase: bool) -> Query:
        if phrase and len(tokens) > 1:
            return Query.phrase_query(self.schema, field, list(tokens))
        if len(tokens) == 1:
            return self.term(field, tokens[0])
        return Query.boolean_query([(Occur.Must, self.term(field, t)) for t in tokens])

    def match(self, node: Match) -> Query:
        if node.field == "title":
            return self.seq("title_tokens", node.tokens, node.phrase)
        if node.field == "place":
            return self.seq("place_tokens", node.tokens, node.phrase)
        if node.phrase:
            return Query.boolean_query([
                (Occur.Should, self.seq("tokens", node.tokens, True)),
                (Occur.Should, Query.boost_query(self.seq("title_tokens", node.tokens, True), TITLE_BOOST)),
            ])
        per_token = [
            Query.boolean_query([
                (Occur.Should, self.term("tokens", t)),
                (Occur.Should, Query.boost_query(self.term("title_tokens", t), TITLE_BOOST)),
            ])
            for t in node.tokens
        ]
        return per_token[0] if len(per_token) == 1 else Query.boolean_query([(Occur.Must, q) for q in per_token])

    def node(self, node: Node) -> Query:
        if isinstance(node, MatchAll):
            return Query.all_query()
        if isinstance(node, Match):
            return self.match(node)
        if isinstance(node, Not):
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, self.node(node.child))])
        if isinstance(node, And):
            clauses = [
                (Occur.MustNot, self.node(c.child)) if isinstance(c, Not) else (Occur.Must, self.node(c))
                for c in node.children
            ]
            if all(occ == Occur.MustNot for occ, _ in clauses):
                clauses.append((Occur.Must, Query.all_query()))
            return Query.boolean_query(clauses)
        if isinstance(node, Or):
            return Query.boolean_query([(Occur.Should, self.node(c)) for c in node.children])
        raise TypeError(node)

    def request(self, req: SearchRequest, cursor: bool = True) -> Query:
        clauses: list[tuple[Occur, Query]] = [(Occur.Must, self.node(req.query.node))]
        for name, values in req.filters.items():
            values = [v for v in values if v]
            if values:
                clauses.append((Occur.Must, Query.const_score_query(Query.term_set_query(self.schema, name, values), 0.0)))
        if not req.include_protected:
            clauses.append((Occur.MustNot, self.term("protected", "1")))
        if req.date_from or req.date_to:
            clauses.append((Occur.Must, Query.range_query(
                self.schema, "time", FieldType.Date, req.date_from, req.date_to,
                include_upper=req.date_to is None,
            )))
        if req.id_above is not None or req.id_at_most is not None:
            clauses.append((Occur.Must, Query.range_query(
                self.schema, "id", FieldType.Integer, req.id_above, req.id_at_most,
                include_lower=req.id_above is None,
            )))
        after = req.after
        if cursor and after is not None and after.sort in ("time", "heat") and after.key is not None:
            field = "tkey" if after.sort == "time" else "hkey"
            clauses.append((Occur.Must, Query.range_query(
                self.schema, field, FieldType.Unsigned, None, int(after.key), include_upper=False,
            )))
        return Query.boolean_query(clauses)


class _Builder(Rebuild):
    def __init__(self, index: tantivy.Index, heap: int, threads: int):
        self.index = index
        self.writer = index.writer(heap_size=heap, num_threads=threads)
        self.added = 0

    def add(self, docs: Iterable[IndexDoc]) -> int:
        n = 0
        for doc in docs:
            self.writer.add_document(to_tantivy(doc))
            n += 1
        self.added += n
        return n


class TantivyBackend(SearchBackend):
    name = "embedded"

    def __init__(self, root: Path, lock_timeout: float = 60.0, heap_bytes: int = 32_000_000,
                 bulk_heap_bytes: int = 256_000_000, bulk_threads: int | None = None):
        self.root = Path(root)
        self.lock_path = self.root / "write.lock"
        self.lock_timeout = lock_timeout
        self.heap_bytes = heap_bytes
        self.bulk_heap_bytes = bulk_heap_bytes
        self.bulk_threads = bulk_threads or max(1, min(4, os.cpu_count() or 1))
        self.schema = build_schema()
        self.compiler = _Compiler(self.schema)
        self._open: dict[str, tantivy.Index] = {}
        self._meta_seen: dict[str, tuple[int, int]] = {}
        self._guard = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / "CURRENT").exists():
            with self._write_lock():
                if not (self.root / "CURRENT").exists():
                    self._create_version()

    # --- versions -------------------------------------------------------------------------------
    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        try:
            with exclusive(self.lock_path, self.lock_timeout):
                yield
        except LockTimeout as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _versions(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.root.iterdir() if (m := _VERSION.match(p.name)))

    def _create_version(self, make_current: bool = True) -> str:
        """Under the write lock: a new empty index directory (and maybe point CURRENT at it)."""
        name = f"v{(max(self._versions(), default=0)) + 1}"
        (self.root / name).mkdir()
        tantivy.Index(self.schema, path=str(self.root / name))
        if make_current:
            self._set_current(name)
        return name

    def _set_current(self, name: str) -> None:
        tmp = self.root / f"CURRENT.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(name)
        os.replace(tmp, self.root / "CURRENT")

    def current_version(self) -> str:
        try:
            return (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            raise BackendUnavailable(f"search index at {self.root} has no CURRENT version; run `minsheng reindex`") from None

    def _index(self, name: str) -> tantivy.Index:
        with self._guard:
            index = self._open.get(name)
            if index is None:
                index = tantivy.Index(self.schema, path=str(self.root / name), reuse=True)
                self._open = {name: index}  # forget older versions: their directories may be gone
                self._meta_seen.pop(name, None)
            return index

    def _searcher(self) -> tantivy.Searcher:
        for attempt in range(3):
            name = self.current_version()
            try:
                index = self._index(name)
                break
            except (OSError, ValueError) as exc:  # swapped away under us: read CURRENT again
                if attempt == 2:
                    raise BackendUnavailable(f"cannot open search index {self.root / name}: {exc}") from exc
        try:
            st = os.stat(self.root / name / "meta.json")
            seen = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = (0, 0)
        if self._meta_seen.get(name) != seen:
            index.reload()
            self._meta_seen[name] = seen
        return index.searcher()

    # --- writing ----------------------------------------------------------------------------------
    def index(self, docs: Iterable[IndexDoc]) -> int:
        docs = list(docs)
        if not docs:
            return 0
        with self._write_lock():
            index = self._index(self.current_version())
            writer = index.writer(heap_size=self.heap_bytes, num_threads=1)
            for doc in docs:
                writer.delete_documents_by_term("id", doc.id)
                writer.add_document(to_tantivy(doc))
            writer.commit()
            writer.wait_merging_threads()
        index.reload()
        return len(docs)

    def delete(self, ids: Iterable[int]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        with self._write_lock():
            index = self._index(self.current_version())
            writer = index.writer(heap_size=self.heap_bytes, num_threads=1)
            for doc_id in ids:
                writer.delete_documents_by_term("id", int(doc_id))
            writer.commit()
            writer.wait_merging_threads()
        index.reload()
        return len(ids)

    @contextmanager
    def rebuild(self) -> Iterator[Rebuild]:
        with self._write_lock():
            name = self._create_version(make_current=False)
        path = self.root / name
        try:
            builder = _Builder(tantivy.Index(self.schema, path=str(path), reuse=True),
                               self.bulk_heap_bytes, self.bulk_threads)
            yield builder
            builder.writer.commit()
            builder.writer.wait_merging_threads()
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        with self._write_lock():
            self._set_current(name)
            for version in self._versions():
                if version < int(name[1:]):
                    shutil.rmtree(self.root / f"v{version}", ignore_errors=True)

    def clear(self) -> None:
        with self._write_lock():
            for version in self._versions():
                shutil.rmtree(self.root / f"v{version}", ignore_errors=True)
            with self._guard:
                self._open.clear()
                self._meta_seen.clear()
            self._create_version()

    def optimize(self) -> None:
        """Merge all segments into few (after a bulk load; searches get faster)."""
        with self._write_lock():
            index = self._index(self.current_version())
            writer = index.writer(heap_size=self.heap_bytes, num_threads=1)
            writer.commit()
            writer.wait_merging_threads()
        index.reload()

    # --- reading ----------------------------------------------------------------------------------
    def _hit_source(self, searcher: tantivy.Searcher, address) -> dict[str, Any]:
        raw = searcher.doc(address).get_first("_source")
        return json.loads(bytes(raw))

    def search(self, request: SearchRequest) -> SearchResult:
        searcher = self._searcher()
        query = self.compiler.request(request)
        after = request.after
        limit = request.size + 1
        if request.sort == "relevance":
            offset = after.offset if after else 0
            if offset > MAX_RELEVANCE_OFFSET:
                raise ValueError("relevance paging too deep")
            result = searcher.search(query, limit=limit, count=True, offset=offset)
        else:
            field = "tkey" if request.sort == "time" else "hkey"
            result = searcher.search(query, limit=limit, count=True, order_by_field=field, order=Order.Desc)
        hits = []
        for key, address in result.hits[: request.size]:
            doc = self._hit_source(searcher, address)
            hits.append(Hit(doc["id"], float(key) if request.sort == "relevance" else None, doc))
        total = result.count
        if after is not None and request.sort != "relevance":
            total = searcher.search(self.compiler.request(request, cursor=False), limit=1, count=True).count
        nxt = None
        if len(result.hits) > request.size and hits:
            last_key, _ = result.hits[request.size - 1]
            if request.sort == "relevance":
                offset = (after.offset if after else 0) + request.size
                nxt = Cursor("relevance", offset=offset) if offset <= MAX_RELEVANCE_OFFSET else None
            else:
                nxt = Cursor(request.sort, key=int(last_key), doc_id=hits[-1].id)
        out = SearchResult(total=total, hits=hits, next=nxt)
        if request.facets or request.histogram:
            facets, days = self._aggregate(searcher, self.compiler.request(request, cursor=False),
                                           request.facets, request.facet_size, bool(request.histogram))
            out.facets = facets
            if request.histogram:
                out.histogram = roll_up(days, request.histogram)
        return out

    def _aggregate(self, searcher, query, fields: Iterable[str], size: int, histogram: bool):
        aggs: dict[str, Any] = {f: {"terms": {"field": f, "size": size}} for f in fields}
        if histogram:
            aggs["_days"] = {"histogram": {"field": "lday", "interval": 1, "min_doc_count": 1}}
        if not aggs:
            return {}, []
        raw = searcher.aggregate(query, aggs)
        facets = {
            f: [Bucket(str(b["key"]), int(b["doc_count"])) for b in raw.get(f, {}).get("buckets", [])]
            for f in fields
        }
        days = [(int(b["key"]), int(b["doc_count"])) for b in raw.get("_days", {}).get("buckets", [])]
        return facets, days

    def count(self, request: SearchRequest | None = None) -> int:
        searcher = self._searcher()
        if request is None:
            return searcher.num_docs
        return searcher.search(self.compiler.request(request, cursor=False), limit=1, count=True).count

    def get(self, doc_id: int) -> dict | None:
        searcher = self._searcher()
        result = searcher.search(Query.term_query(self.schema, "id", int(doc_id)), limit=1)
        if not result.hits:
            return None
        return self._hit_source(searcher, result.hits[0][1])

    def terms(self, request: SearchRequest, field: str, size: int = 10) -> list[Bucket]:
        facets, _ = self._aggregate(self._searcher(), self.compiler.request(request, cursor=False), [field], size, False)
        return facets[field]

    def date_histogram(self, request: SearchRequest, interval: str = "day") -> list[Bucket]:
        _, days = self._aggregate(self._searcher(), self.compiler.request(request, cursor=False), [], 0, True)
        return roll_up(days, interval)

    def significant_terms(self, request: SearchRequest, field: str = "keywords", size: int = 10,
                          background: SearchRequest | None = None) -> list[SignificantBucket]:
        searcher = self._searcher()
        fg_query = self.compiler.request(request, cursor=False)
        fg_total = searcher.search(fg_query, limit=1, count=True).count
        if not fg_total:
            return []
        candidates, _ = self._aggregate(searcher, fg_query, [field], max(50, size * 5), False)
        fg = {b.key: b.count for b in candidates[field]}
        if not fg:
            return []
        bg_request = background or SearchRequest(include_protected=request.include_protected)
        bg_query = self.compiler.request(bg_request, cursor=False)
        bg_total = searcher.search(bg_query, limit=1, count=True).count
        restricted = Query.boolean_query([
            (Occur.Must, bg_query), (Occur.Must, Query.term_set_query(self.schema, field, list(fg))),
        ])
        bg_raw = searcher.aggregate(restricted, {field: {"terms": {"field": field, "size": len(fg)}}})
        bg = {str(b["key"]): int(b["doc_count"]) for b in bg_raw.get(field, {}).get("buckets", [])}
        scored = [
            SignificantBucket(key, count, bg.get(key, count), jlh(count, fg_total, bg.get(key, count), bg_total))
            for key, count in fg.items()
        ]
        scored = [b for b in scored if b.score > 0]
        scored.sort(key=lambda b: (-b.score, b.key))
        return scored[:size]

    def close(self) -> None:
        with self._guard:
            self._open.clear()
            self._meta_seen.clear()
