"""Search benchmark: bulk indexing speed and query latency at 100k and 1M documents.

    .venv/bin/python bench/search.py                      # 100k and 1M, embedded (Tantivy) backend
    .venv/bin/python bench/search.py --sizes 100000 --compare-fts5
    .venv/bin/python bench/search.py --work /tmp/msbench --keep

Corpora are generated from ../shared/data/gov_messages (sampled and perturbed, see
bench/search_corpus.py) into a temporary folder, never into the repository. Reported:
bulk indexing documents/s (fresh build and batched upserts), p50/p95 latency of five query kinds
(one word, three words, phrase, word + two filters, facets + date histogram), the 1M/100k latency
ratio, and the ratio against a SQL ``LIKE`` scan over the same 100k documents. With
``--compare-fts5`` the same figures for SQLite FTS5 (the other embedded candidate).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_corpus import CorpusGenerator  # noqa: E402
from search.embedded import TantivyBackend  # noqa: E402
from search.query import Match, ParsedQuery  # noqa: E402
from search.schema import FACET_FIELDS  # noqa: E402
from search.types import SearchRequest  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "gov_messages"
KINDS = ("one word", "three words", "phrase", "word + 2 filters", "facets + histogram")
CHUNK = 10_000


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_queries(sample, n: int, seed: int) -> dict[str, list[dict]]:
    """Query words from a sample of the corpus: words in 0.2–5 % of documents (neither rare nor stop-words)."""
    rng = random.Random(seed)
    df = Counter()
    for d in sample:
        df.update(set(d.tokens.split()))
    total = len(sample)
    good = {t for t, c in df.items() if 0.002 * total <= c <= 0.05 * total and len(t) >= 2 and not t.isascii()}
    words = sorted(good)
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for _ in range(n):
        out["one word"].append({"tokens": [rng.choice(words)]})
        d = rng.choice(sample)
        mine = [t for t in dict.fromkeys(d.tokens.split()) if t in good]
        while len(mine) < 3:
            d = rng.choice(sample)
            mine = [t for t in dict.fromkeys(d.tokens.split()) if t in good]
        out["three words"].append({"tokens": rng.sample(mine, 3)})
        toks = d.tokens.split()
        i = rng.randrange(0, max(1, len(toks) - 2))
        out["phrase"].append({"tokens": toks[i:i + 2], "phrase": True})
        out["word + 2 filters"].append({"tokens": [rng.choice(mine)], "filters": {"topic": d.topic, "sentiment": d.sentiment}})
        out["facets + histogram"].append({"tokens": [rng.choice(words)], "facets": True})
    return out


def tantivy_request(q: dict) -> SearchRequest:
    node = Match("all", tuple(q["tokens"]), phrase=q.get("phrase", False))
    return SearchRequest(
        query=ParsedQuery(" ".join(q["tokens"]), node),
        filters={k: [v] for k, v in q.get("filters", {}).items()},
        size=20,
        facets=FACET_FIELDS if q.get("facets") else (),
        histogram="month" if q.get("facets") else None,
    )


def time_queries(run, queries: dict[str, list[dict]]) -> dict[str, dict]:
    out = {}
    for kind, qs in queries.items():
        for q in qs[:5]:  # warm-up
            run(q)
        lat, totals = [], []
        for q in qs:
            t = time.perf_counter()
            totals.append(run(q))
            lat.append((time.perf_counter() - t) * 1000)
        out[kind] = {"p50_ms": round(pct(lat, 50), 2), "p95_ms": round(pct(lat, 95), 2),
                     "mean_hits": round(statistics.mean(totals), 1)}
    return out


def bench_tantivy(gen: CorpusGenerator, size: int, work: Path, queries) -> dict:
    root = work / f"tantivy-{size}"
    shutil.rmtree(root, ignore_errors=True)
    backend = TantivyBackend(root)
    spent, made = 0.0, 0
    with backend.rebuild() as build:
        while made < size:
            chunk = list(gen.docs(min(CHUNK, size - made), start_id=made + 1))
            t = time.perf_counter()
            build.add(chunk)
            spent += time.perf_counter() - t
            made += len(chunk)
            print(f"  tantivy {made:>9,} docs indexed", end="\r", file=sys.stderr)
        t = time.perf_counter()
    spent += time.perf_counter() - t  # final commit and merges
    print(file=sys.stderr)
    # batched upserts of existing ids (the live indexer's path): 20 batches of 500
    upserts = list(gen.docs(10_000, start_id=1))
    t = time.perf_counter()
    for i in range(0, len(upserts), 500):
        backend.index(upserts[i:i + 500])
    upsert_rate = len(upserts) / (time.perf_counter() - t)
    t = time.perf_counter()
    for doc in upserts[:10]:
        backend.index([doc])
    single_ms = (time.perf_counter() - t) / 10 * 1000
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6

    def run(q):
        return backend.search(tantivy_request(q)).total

    result = {
        "docs": backend.count(), "bulk_docs_per_s": round(size / spent), "upsert_batch500_docs_per_s": round(upsert_rate),
        "single_doc_upsert_ms": round(single_ms, 1), "index_mb": round(size_mb, 1),
        "queries": time_queries(run, queries),
    }
    backend.close()
    return result


def bench_fts5(gen: CorpusGenerator, size: int, work: Path, queries) -> dict:
    from bench.search_fts5 import Fts5Index

    path = work / f"fts5-{size}.db"
    for p in work.glob(path.name + "*"):
        p.unlink()
    index = Fts5Index(path)
    spent, made = 0.0, 0
    while made < size:
        chunk = list(gen.docs(min(CHUNK, size - made), start_id=made + 1))
        t = time.perf_counter()
        index.add(chunk)
        spent += time.perf_counter() - t
        made += len(chunk)
        print(f"  fts5 {made:>9,} docs indexed", end="\r", file=sys.stderr)
    t = time.perf_counter()
    index.create_indexes()
    index.optimize()
    spent += time.perf_counter() - t
    print(file=sys.stderr)
    upserts = list(gen.docs(10_000, start_id=1))
    t = time.perf_counter()
    for i in range(0, len(upserts), 500):
        index.add(upserts[i:i + 500], replace=True)
    upsert_rate = len(upserts) / (time.perf_counter() - t)
    t = time.perf_counter()
    for doc in upserts[:10]:
        index.add([doc], replace=True)
    single_ms = (time.perf_counter() - t) / 10 * 1000

    def run(q):
        if q.get("facets"):
            index.facets(q["tokens"], FACET_FIELDS)
            return index.search(q["tokens"])[0]
        return index.search(q["tokens"], q.get("phrase", False), q.get("filters"))[0]

    result = {
        "docs": size, "bulk_docs_per_s": round(size / spent), "upsert_batch500_docs_per_s": round(upsert_rate),
        "single_doc_upsert_ms": round(single_ms, 1), "index_mb": round(index.size_bytes(path) / 1e6, 1),
        "queries": time_queries(run, queries),
    }
    index.close()
    return result


def bench_like(gen: CorpusGenerator, size: int, work: Path, queries) -> dict:
    """The naive alternative: LIKE '%word%' over title and body in a SQL table."""
    path = work / f"like-{size}.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, body TEXT, time TEXT, source TEXT,"
                 " topic TEXT, sentiment TEXT, appeal TEXT, department TEXT, status TEXT)")
    made = 0
    while made < size:
        chunk = list(gen.docs(min(CHUNK, size - made), start_id=made + 1))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)", [
            (d.id, d.title, d.body, d.time.isoformat(), d.source, d.topic, d.sentiment, d.appeal, d.department, d.status)
            for d in chunk])
        conn.execute("COMMIT")
        made += len(chunk)
    conn.execute("CREATE INDEX ix_time ON docs(time)")

    def where(q):
        if q.get("phrase"):
            pats = ["%" + "".join(q["tokens"]) + "%"]
        else:
            pats = ["%" + t + "%" for t in q["tokens"]]
        sql = " AND ".join("(title LIKE ? OR body LIKE ?)" for _ in pats)
        args = [p for p in pats for _ in (0, 1)]
        for f, v in q.get("filters", {}).items():
            sql += f" AND {f} = ?"
            args.append(v)
        return sql, args

    def run(q):
        sql, args = where(q)
        total = conn.execute(f"SELECT count(*) FROM docs WHERE {sql}", args).fetchone()[0]
        conn.execute(f"SELECT id, title, body FROM docs WHERE {sql} ORDER BY time DESC LIMIT 20", args).fetchall()
        if q.get("facets"):
            for f in ("source", "topic", "sentiment", "appeal", "department", "status"):
                conn.execute(f"SELECT {f}, count(*) FROM docs WHERE {sql} GROUP BY {f}", args).fetchall()
            conn.execute(f"SELECT substr(time, 1, 7), count(*) FROM docs WHERE {sql} GROUP BY 1", args).fetchall()
        return total

    out = {"docs": size, "queries": time_queries(run, queries)}
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated corpus sizes")
    ap.add_argument("--queries", type=int, default=50, help="queries per kind")
    ap.add_argument("--compare-fts5", action="store_true", help="also measure SQLite FTS5 (first size only unless --fts5-all)")
    ap.add_argument("--fts5-all", action="store_true", help="measure FTS5 at every size")
    ap.add_argument("--no-like", action="store_true", help="skip the SQL LIKE baseline")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared corpus not found at {DATA}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    work = args.work or Path(tempfile.mkdtemp(prefix="minsheng-search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if ROOT in work.resolve().parents or work.resolve() == ROOT:
        sys.exit("the work folder must be outside the repository")
    print(f"work folder: {work}", file=sys.stderr)
    figures: dict = {"sizes": {}}
    try:
        t = time.perf_counter()
        sample_gen = CorpusGenerator(DATA, work, seed=args.seed + 1)
        print(f"corpus segmented in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        queries = make_queries(list(sample_gen.docs(5000)), args.queries, args.seed)
        for n, size in enumerate(sizes):
            entry = figures["sizes"][size] = {}
            print(f"== {size:,} documents", file=sys.stderr)
            entry["tantivy"] = bench_tantivy(CorpusGenerator(DATA, work, seed=args.seed), size, work, queries)
            if args.compare_fts5 and (n == 0 or args.fts5_all):
                entry["fts5"] = bench_fts5(CorpusGenerator(DATA, work, seed=args.seed), size, work, queries)
            if not args.no_like and n == 0:
                entry["like"] = bench_like(CorpusGenerator(DATA, work, seed=args.seed), size, work, queries)
            shutil.rmtree(work / f"tantivy-{size}", ignore_errors=True)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        report(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def report(figures: dict) -> None:
    sizes = sorted(figures["sizes"])
    for size in sizes:
        entry = figures["sizes"][size]
        print(f"\n## {size:,} documents")
        for name in ("tantivy", "fts5"):
            if name in entry:
                e = entry[name]
                print(f"{name:8s} bulk {e['bulk_docs_per_s']:,} docs/s; batched upserts (500) "
                      f"{e['upsert_batch500_docs_per_s']:,} docs/s; one-document upsert {e['single_doc_upsert_ms']} ms; "
                      f"index {e['index_mb']} MB")
        header = f"{'query kind':22s}" + "".join(f"{n + ' p50/p95 ms':>28s}" for n in ("tantivy", "fts5", "like") if n in entry)
        print(header)
        for kind in KINDS:
            row = f"{kind:22s}"
            for name in ("tantivy", "fts5", "like"):
                if name in entry:
                    q = entry[name]["queries"][kind]
                    row += f"{q['p50_ms']:>15.2f} / {q['p95_ms']:>8.2f}  "
            print(row)
        if "like" in entry:
            print("LIKE / tantivy p50 ratio: " + ", ".join(
                f"{k}: {entry['like']['queries'][k]['p50_ms'] / max(entry['tantivy']['queries'][k]['p50_ms'], 0.001):.0f}x"
                for k in KINDS))
    if len(sizes) > 1:
        small, large = figures["sizes"][sizes[0]]["tantivy"], figures["sizes"][sizes[-1]]["tantivy"]
        print(f"\n{sizes[-1]:,}/{sizes[0]:,} tantivy p50 latency ratio: " + ", ".join(
            f"{k}: {large['queries'][k]['p50_ms'] / max(small['queries'][k]['p50_ms'], 0.001):.1f}" for k in KINDS))
    print(f"peak RSS {figures['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
