"""Figures of the analyst console (never part of the test pass/fail).

1. Hot-topic assignment throughput (documents/second through ``engine.process``: candidate
   lookup, scoring, membership, surge counts, heat) with 10k and with 100k documents already
   assigned. The existing state is bulk-loaded (synthetic documents over a 2,000-place and
   3,000-term vocabulary, 4 documents per topic on average), then the same 400 new documents are
   timed on each. The ratio should stay near 1: the cost of a document does not grow with the corpus.
2. Dashboard aggregates over 1M documents (``dashboard.overview``: per-day series by source,
   label and sentiment, totals, label shares, top hot topics with sparklines, risk queue, places,
   departments) for a 30-day window and for the whole span of the million documents (62 days), each
   through the daily roll-ups and through the raw path (``Filters(rollups=False)``: every aggregate
   from trend_members) in the same process, with their ratio and a check that both give the same output.
   The bulk load writes trend_members with raw SQL, so the roll-ups are then rebuilt from scratch
   (``summary.rebuild``, the same statements as the migration's back-fill): that time is printed too.

Usage: .venv/bin/python bench/trends.py [--sizes 10000,100000] [--dashboard 1000000] [--db-dir DIR]
SQLite files are written to a temporary folder (about 1.5 GB for the 1M run).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


T_END = dt.datetime(2026, 6, 30, tzinfo=dt.timezone.utc)
LABELS = ["城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生", "农村农业", "政法", "民政"]
SOURCES = ["form", "gov_messages", "open311", "weibo_city"]
SENTIMENTS = ["negative", "negative", "negative", "neutral", "positive"]


def vocab(rng: random.Random):
    chars = "东西南北中新华兴民安和平康宁福祥瑞金银湖山水河园城苑湾路街村镇桥港庄林泉海星月光明春秋"
    places = sorted({"".join(rng.choice(chars) for _ in range(rng.randint(2, 4))) + rng.choice(["新城", "小区", "花园", "路", "村"])
                     for _ in range(2600)})[:2000]
    terms = sorted({"".join(rng.choice("噪音油烟停车物业拆迁补偿学位公交积水垃圾违建施工漏水电梯供暖燃气欠薪医保户籍绿化路灯")
                            for _ in range(2)) + str(i % 7) for i in range(6000)})[:3000]
    return places, terms


def fresh(url_dir: Path, name: str) -> str:
    from core.database import dispose_engines
    from core.migrate import upgrade
    url = f"sqlite:///{url_dir / name}"
    upgrade(url)
    dispose_engines()
    return url


def _ts(value: dt.datetime) -> str:
    """How SQLAlchemy stores an aware UTC datetime on SQLite (naive ISO text)."""
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def bulk_state(url: str, n: int, rng: random.Random, places, terms) -> None:
    """n documents already assigned: documents, topics, members, places, keys, hourly counts (raw executemany)."""
    import json
    import sqlite3
    topics_n = max(1, n // 4)
    span = 60 * 86400
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    topic_meta, topic_rows, key_rows = [], [], {}
    for t in range(1, topics_n + 1):
        place = rng.choice(places)
        tt = rng.sample(terms, 10)
        last = T_END - dt.timedelta(seconds=rng.random() * span)
        topic_meta.append((place, tt, last))
        ts = _ts(last)
        topic_rows.append((t, f"{place}{tt[0]}{tt[1]}", json.dumps({w: 3.0 - i * 0.2 for i, w in enumerate(tt)}, ensure_ascii=False),
                           json.dumps({place: 4}, ensure_ascii=False), json.dumps([place], ensure_ascii=False),
                           json.dumps(tt[:8], ensure_ascii=False), _ts(last - dt.timedelta(days=2)), ts, ts, ts))
        for k in [f"p:{place}"] + [f"k:{w}" for w in tt[:8]]:
            key_rows[(k, t)] = ts
    conn.executemany(
        "INSERT INTO trend_topics (id, title, title_locked, pinned, status, terms, place_counts, label_counts, places, keywords,"
        " representative_ids, size, reporters, likes, negative, risk, first_seen, last_seen, heat, created_at, updated_at)"
        " VALUES (?, ?, 0, 0, 'active', ?, ?, '{}', ?, ?, '[]', 4, 4, 0, 2, 0, ?, ?, 10.0, ?, ?)", topic_rows)
    conn.executemany("INSERT INTO trend_topic_keys (key, topic_id, last_seen) VALUES (?, ?, ?)",
                     [(k, t, v) for (k, t), v in key_rows.items()])
    counts: dict[tuple[str, int], int] = {}
    batch_docs, batch_members, batch_places = [], [], []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO documents (id, source, title, body, content_hash, raw, created_at, updated_at, published_at, has_risk,"
            " needs_review, simhash, sim_band0, sim_band1, sim_band2, sim_band3) VALUES (?, ?, ?, '', '', '{}', ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
            batch_docs)
        conn.executemany(
            "INSERT INTO trend_members (document_id, topic_id, at, day, source, label, sentiment, risk, reporter, likes, score,"
            " manual, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.5, 0, ?)", batch_members)
        conn.executemany("INSERT INTO trend_member_places (document_id, place, day) VALUES (?, ?, ?)", batch_places)
        batch_docs.clear(); batch_members.clear(); batch_places.clear()

    for d in range(1, n + 1):
        t = rng.randint(1, topics_n)
        place, tt, last = topic_meta[t - 1]
        at = last - dt.timedelta(hours=rng.random() * 48)
        ts = _ts(at)
        sh = rng.getrandbits(64) - (1 << 63)
        u = sh & 0xFFFFFFFFFFFFFFFF
        risk = rng.random() < 0.002
        source = rng.choice(SOURCES)
        batch_docs.append((d, source, f"{place}{tt[0]}", ts, ts, ts, risk, sh, u & 0xFFFF, (u >> 16) & 0xFFFF,
                           (u >> 32) & 0xFFFF, u >> 48))
        day = (at + dt.timedelta(hours=8)).strftime("%Y-%m-%d")
        batch_members.append((d, t, ts, day, source, rng.choice(LABELS), rng.choice(SENTIMENTS), risk,
                              f"u{rng.randint(1, n)}", rng.choice((0, 0, 0, 1, 5)), ts))
        batch_places.append((d, place, day))
        hour = int(at.timestamp() // 3600)
        counts[(str(t), hour)] = counts.get((str(t), hour), 0) + 1
        if len(batch_docs) >= 20000:
            flush()
    flush()
    conn.executemany("INSERT INTO trend_counts (scope, key, hour, count) VALUES ('topic', ?, ?, ?)",
                     [(k, h, c) for (k, h), c in counts.items()])
    conn.commit()
    conn.close()


def new_documents(rng: random.Random, places, terms, count: int, start_id: int):
    from search.trends.features import DocFeatures
    out = []
    for i in range(count):
        place = rng.choice(places)
        tt = rng.sample(terms, 6)
        at = T_END + dt.timedelta(minutes=i)
        sh = rng.getrandbits(64) - (1 << 63)
        u = sh & 0xFFFFFFFFFFFFFFFF
        out.append(DocFeatures(document_id=start_id + i, at=at, source="form", title=f"{place}{tt[0]}{tt[1]}问题",
                               label=rng.choice(LABELS), sentiment="negative", reporter=f"new{i}", places=[place],
                               specific_places=[place], terms={w: 2.0 - 0.1 * j for j, w in enumerate(tt)}, simhash=sh,
                               bands=(u & 0xFFFF, (u >> 16) & 0xFFFF, (u >> 32) & 0xFFFF, u >> 48)))
    return out


def throughput(url: str, feats) -> float:
    from core.database import engine_for, session_factory
    from core.models import Document
    from search.trends import config, engine
    eng = engine_for(url)
    Session = session_factory(eng)
    with Session() as s:
        cfgs = {name: config.load(s, name) for name in ("cluster", "surge", "heat")}
        for f in feats:
            s.add(Document(id=f.document_id, source=f.source, title=f.title, body="", content_hash="", raw={},
                           published_at=f.at, created_at=f.at, simhash=f.simhash, sim_band0=f.bands[0], sim_band1=f.bands[1],
                           sim_band2=f.bands[2], sim_band3=f.bands[3]))
        s.commit()
    t, cpu = time.perf_counter(), time.process_time()
    for f in feats:  # one transaction per document, as the worker runs the stage
        with Session() as s:
            engine.process(s, f, cfgs)
            s.commit()
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    return len(feats) / wall, len(feats) / cpu


def rebuild_rollups(url: str) -> float:
    """The bulk load bypasses the ORM: recompute the roll-ups as ``minsheng trends rebuild-summary`` does."""
    from core.database import engine_for, session_factory
    from search.trends import summary
    t = time.perf_counter()
    with session_factory(engine_for(url))() as s:
        summary.rebuild(s)
        s.commit()
    return time.perf_counter() - t


def _timed(fn, runs: int) -> tuple[float, float, list[float], object]:
    walls, cpus, out = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), walls, out


def dashboard_bench(url: str, n: int, rng: random.Random, places, terms) -> None:
    from core.database import engine_for, session_factory
    from search.trends import dashboard
    t = time.perf_counter()
    bulk_state(url, n, rng, places, terms)
    print(f"  bulk-loaded {n:,} documents in {time.perf_counter() - t:.0f} s; roll-ups rebuilt in {rebuild_rollups(url):.1f} s")
    Session = session_factory(engine_for(url), readonly=True)

    def overview(f):
        with Session() as s:
            return dashboard.overview(s, f)

    for label, days in (("30-day window", 30), ("whole span (63 days, every document)", 63)):
        f = dashboard.Filters(T_END - dt.timedelta(days=days - 1), T_END + dt.timedelta(days=1))
        f = dashboard.Filters(*(x.astimezone(dashboard.SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
                                for x in (f.start, f.end)))  # whole days in Shanghai, as the dashboard asks
        raw_f = dashboard.Filters(f.start, f.end, rollups=False)
        assert dashboard.use_rollups(f) and not dashboard.use_rollups(raw_f)
        wall, cpu, runs, data = _timed(lambda: overview(f), 3)
        raw_wall, raw_cpu, _, raw = _timed(lambda: overview(raw_f), 1)
        print(f"  dashboard over {label}: roll-ups {wall:.2f} s wall, {cpu:.2f} s CPU (runs {', '.join(f'{x:.2f}' for x in runs)}); "
              f"raw path {raw_wall:.2f} s wall, {raw_cpu:.2f} s CPU; ratio {raw_wall / wall:.0f}x wall, {raw_cpu / cpu:.0f}x CPU; "
              f"{data['totals']['documents']:,} documents in the window, {len(data['hot_topics'])} hot topics, "
              f"same output: {'yes' if data == raw else 'NO'}")
        with Session() as s:
            parts = {}
            for name, fn in (("hot topics", lambda: dashboard.queries.hot_topics(s, f.start, f.end, limit=10)),
                             ("totals", lambda: dashboard.totals(s, f)),
                             ("3 series", lambda: [dashboard.per_day(s, f, c) for c in
                                                   (dashboard.TrendMember.source, dashboard.TrendMember.label,
                                                    dashboard.TrendMember.sentiment)]),
                             ("label shares", lambda: dashboard.label_shares(s, f)),
                             ("places", lambda: dashboard.places(s, f)),
                             ("risk queue", lambda: dashboard.risk_queue(s, f)),
                             ("departments", lambda: dashboard.departments(s, f))):
                parts[name] = _timed(fn, 1)[0]
        print("    parts (roll-up path): " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
        pf, raw_pf = (dashboard.Filters(f.start, f.end, place=places[0], rollups=r) for r in (True, False))
        wall, _, _, data = _timed(lambda: overview(pf), 1)
        raw_wall, _, _, raw = _timed(lambda: overview(raw_pf), 1)
        print(f"    with a place filter: roll-ups {wall:.2f} s, raw path {raw_wall:.2f} s, same output: {'yes' if data == raw else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", type=int, default=400, help="new documents timed at each size")
    parser.add_argument("--dashboard", type=int, default=1_000_000, help="documents for the dashboard figure (0: skip)")
    parser.add_argument("--db-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.db_dir or Path(tempfile.mkdtemp(prefix="trends-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MINSHENG_HOME", str(folder))
    from core import plugins
    plugins.load("models")
    rng = random.Random(20260623)
    places, terms = vocab(rng)
    print(f"hot-topic assignment ({args.new} new documents, one transaction each, SQLite WAL at {folder})")
    rates = {}
    for size in [int(x) for x in args.sizes.split(",") if x]:
        url = fresh(folder, f"assign-{size}.db")
        t = time.perf_counter()
        bulk_state(url, size, random.Random(size), places, terms)
        feats = new_documents(random.Random(99), places, terms, args.new, size + 1)
        wall_rate, cpu_rate = throughput(url, feats)
        rates[size] = cpu_rate
        print(f"  {size:>9,} existing documents (loaded in {time.perf_counter() - t:.0f} s): {wall_rate:.0f} documents/s wall, "
              f"{cpu_rate:.0f} documents/s of CPU time (the process's own CPU, independent of other load)")
    if len(rates) >= 2:
        sizes = sorted(rates)
        print(f"  ratio {sizes[0]:,} / {sizes[-1]:,} (CPU-time rates): {rates[sizes[0]] / rates[sizes[-1]]:.2f}")
    if args.dashboard:
        print(f"dashboard aggregates over {args.dashboard:,} documents")
        dashboard_bench(fresh(folder, "dashboard.db"), args.dashboard, random.Random(1), places, terms)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
