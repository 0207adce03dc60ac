"""Checks of the analyst console on the shared corpus (figures for the closing note).

1. ``top10``: every message of ``unlabeled.jsonl`` + ``labeled_topic.jsonl`` enters through
   ``core.ingest`` in time order and goes through the worker (NLP stage when the NLP package
   provides one, then the trends stage); prints the top 10 hot topics of the ``likes`` rows'
   period with sizes, places, heat and sample titles, and a coherence measure per topic.
2. ``inject``: 30 differently worded complaints about one new incident are mixed into a stream
   of ordinary corpus documents; prints purity / recall of the resulting hot topic and after
   how many of the 30 the surge alert came.

Usage: .venv/bin/python bench/trends_corpus.py [top10|inject|all] [--data DIR] [--db URL]
The corpus is read from ../shared/data/gov_messages (never copied into the repository).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gov_messages"
CST = dt.timezone(dt.timedelta(hours=8))


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=CST).astimezone(dt.timezone.utc)


def read_corpus(data: Path) -> list[dict]:
    rows = []
    for name in ("unlabeled.jsonl", "labeled_topic.jsonl"):
        path = data / name
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                rows += [dict(json.loads(line), _file=name) for line in fh if line.strip()]
    seen, out = set(), []
    for r in rows:
        if r["id"] in seen:
            continue
        seen.add(r["id"])
        out.append(r)
    return sorted(out, key=lambda r: (r["time"], r["id"]))


def fresh_db(url: str | None) -> str:
    from core.database import dispose_engines
    from core.migrate import upgrade
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='trends-bench-')}/minsheng.db"
    os.environ["MINSHENG_DATABASE_URL"] = url
    os.environ.setdefault("MINSHENG_HOME", tempfile.mkdtemp(prefix="trends-home-"))
    from core.settings import reset_settings
    reset_settings()
    upgrade(url)
    dispose_engines()
    return url


def ingest(rows: list[dict], source: str = "gov_messages") -> None:
    from core.database import session_scope
    from core.ingest import IncomingDocument, add_document
    with session_scope() as session:
        for r in rows:
            add_document(session, IncomingDocument(
                source=source, external_id=str(r["id"]), title=r.get("title") or "", body=r.get("text") or "",
                author=r.get("user"), published_at=parse_time(r["time"]),
                likes=int(r["likes"]) if r.get("likes") not in (None, "") else None,
                raw={"dislikes": r.get("dislikes")} if "dislikes" in r else {},
            ))


DIRECT = False
TITLES_OUT: Path | None = None


def classifier_ready() -> bool:
    try:
        from nlp.pipeline import analyse
        analyse("测试", "测试文本")
        return True
    except Exception:  # noqa: BLE001 - untrained or absent model
        return False


def nlp_without_classifier(session, doc) -> None:
    """The NLP stage minus the classifier (``nlp.pipeline.analyse_text``): tokens, keywords, places, simhash, rule risks."""
    from nlp.pipeline import analyse_text
    from nlp.stages import apply_analysis
    apply_analysis(doc, analyse_text(doc.title or "", doc.body or ""))


BATCH_NLP = False


def batch_nlp(batch: int = 256) -> float:
    """The NLP stage's work for every stored document, batched (``nlp.pipeline.analyse_many``): same results,
    the classifier running on batches instead of one document at a time. The worker then skips the NLP stage."""
    from sqlalchemy import select
    from core.database import session_scope
    from core.models import Document
    from nlp.pipeline import analyse_many
    from nlp.stages import apply_analysis
    t = time.perf_counter()
    with session_scope() as session:
        ids = session.scalars(select(Document.id).order_by(Document.id)).all()
    for i in range(0, len(ids), batch):
        with session_scope() as session:
            docs = session.scalars(select(Document).where(Document.id.in_(ids[i:i + batch])).order_by(Document.id)).all()
            for doc, result in zip(docs, analyse_many([(d.title or "", d.body or "") for d in docs])):
                apply_analysis(doc, result)
    return time.perf_counter() - t


def drain() -> tuple[float, list[str]]:
    from core import plugins
    from core.outbox.stages import registered, unregister_stage
    from core.outbox.worker import Worker
    plugins.load("models")
    plugins.load("stages")
    if BATCH_NLP:  # analysed already by batch_nlp(): the worker runs the trends stage
        took = batch_nlp()
        print(f"  NLP (classifier included) in batches: {took:.0f} s")
        for stage in registered():
            if stage.name != "trends":
                unregister_stage(stage.name)
    elif DIRECT:  # tuning runs: NLP (when present) and trends only
        for stage in registered():
            if stage.name not in ("nlp", "trends"):
                unregister_stage(stage.name)
        if not classifier_ready():
            from core.outbox.stages import register_stage
            register_stage("nlp", 100)(nlp_without_classifier)
            print("  NLP classifier not trained yet: NLP stage without the classifier (tokens, keywords, places, "
                  "organisations, simhash, risk rules; no topic/sentiment labels)")
    names = [s.name for s in registered()]
    t = time.perf_counter()
    stats = Worker().drain()
    if stats.failed:
        print(f"  worker failures: {stats.failed} (dead: {stats.dead})")
    return time.perf_counter() - t, names


def top10(data: Path, url: str | None) -> None:
    from sqlalchemy import select
    from core.database import session_scope
    from core.models import Document
    from search.trends import queries as service
    rows = read_corpus(data)
    fresh_db(url)
    t0 = time.perf_counter()
    ingest(rows)
    took, stages = drain()
    print(f"corpus: {len(rows)} documents; ingest+pipeline {time.perf_counter() - t0:.1f} s "
          f"(stages {stages}, worker {took:.1f} s = {len(rows) / took:.0f} docs/s)")
    report_top10(rows, titles_out=TITLES_OUT)


#: The large repeated-complaint clusters of the corpus (the same estate or business reported by many
#: people), each recognised by words its titles share; each must be one of the top 10 hot topics.
KNOWN_CLUSTERS = {
    "丽发新城搅拌站": ("搅拌站",),
    "伊景园滨河苑捆绑车位": ("伊景园",),
    "58车贷案": ("车贷",),
    "五矿万境K9县": ("万境",),
    "魅力之城油烟": ("魅力之城",),
}


def report_top10(rows: list[dict], engine=None, titles_out: Path | None = None) -> None:
    from sqlalchemy import select
    from core.database import session_scope
    from core.models import Document
    from search.trends import queries as service
    liked = [parse_time(r["time"]) for r in rows if "likes" in r]
    start, end = min(liked), max(liked) + dt.timedelta(seconds=1)
    print(f"likes rows' period: {start:%Y-%m-%d} .. {end:%Y-%m-%d} ({sum(1 for r in rows if 'likes' in r)} rows)")
    dump = []
    with session_scope(engine, readonly=True) as session:
        topics = service.hot_topics(session, start, end, limit=10)
        period_titles = dict(session.execute(select(Document.id, Document.title).where(
            func.coalesce(Document.published_at, Document.created_at) >= start,
            func.coalesce(Document.published_at, Document.created_at) < end)).all())
        print("\n| # | heat | size | reporters | likes | places | title | main place or top keyword | main place |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        details = []
        for rank, t in enumerate(topics, 1):
            titles = [period_titles.get(i, "") for i in t["document_ids"]]
            main = t["places"][0] if t["places"] else None
            kw = t["keywords"][:2]
            coherent = sum(1 for x in titles if (main and main in x) or any(k in x for k in kw))
            placed = sum(1 for x in titles if main and main in x)
            print(f"| {rank} | {t['heat']:.1f} | {t['size']} | {t['reporters']} | {t['likes']} | {'、'.join(t['places'])} | "
                  f"{t['title']} | {coherent}/{len(titles)} | {placed}/{len(titles)} |")
            details.append((rank, t, titles))
            dump.append(f"#{rank} {t['title']} (size {t['size']}, places {t['places']}, keywords {t['keywords']})")
            dump += [f"   - {x}" for x in titles]
        for rank, t, titles in details:
            print(f"#{rank} keywords {t['keywords'][:6]}; span {t['first_seen'][:10]} .. {t['last_seen'][:10]}; "
                  f"sample: {' / '.join(titles[:4])}")
        print("\nknown repeated-complaint clusters (titles containing the marker, in the period):")
        for name, words in KNOWN_CLUSTERS.items():
            marked = {i for i, x in period_titles.items() if all(w in (x or "") for w in words)}
            best = max(details, key=lambda d: len(marked & set(d[1]["document_ids"])), default=None)
            got = len(marked & set(best[1]["document_ids"])) if best else 0
            where = f"rank {best[0]} (#{best[1]['id']} {best[1]['title']}), holds {got}/{len(marked)}" if got else "NOT in the top 10"
            print(f"  {name}: {len(marked)} titles -> {where}")
    if titles_out:
        titles_out.write_text("\n".join(dump) + "\n", encoding="utf-8")
        print(f"every member title of the top 10 written to {titles_out}")


def replay_top10(data: Path, url: str) -> None:
    """Re-run only the hot-topic engine over documents already analysed in ``url`` (a previous top10 run)."""
    import tempfile
    from core import plugins
    from core.database import engine_for, make_engine, session_scope
    from search.trends.backtest import replay
    plugins.load("models")
    rows = read_corpus(data)
    folder = Path(tempfile.mkdtemp(prefix="trends-replay-"))
    t = time.perf_counter()
    with session_scope(engine_for(url), readonly=True) as live:
        n, raised = replay(live, dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc),
                           scratch=folder)
    print(f"replayed {n} analysed documents through the hot-topic engine in {time.perf_counter() - t:.0f} s "
          f"({len(raised)} alerts opened or escalated)")
    report_top10(rows, make_engine(f"sqlite:///{folder / 'backtest.db'}"), TITLES_OUT)


INCIDENT = [
    "河西大道星河湾小区旁化工厂昨晚起散发刺鼻气味", "星河湾小区附近化工厂气味刺鼻，孩子咳嗽不止",
    "强烈要求查处星河湾旁边化工厂排放臭气", "星河湾小区居民被化工厂异味熏得无法开窗",
    "化工厂偷排废气，星河湾业主头晕恶心", "请环保部门检查星河湾小区南侧化工厂",
    "星河湾一带空气中有浓烈的化学品味道", "星河湾化工厂废气扰民问题投诉",
    "星河湾小区周边化工厂夜间排放刺激性气体", "关于星河湾小区旁化工企业污染空气的投诉",
    "星河湾小区业主反映化工厂臭味严重", "星河湾化工厂异味持续两天无人处理",
    "化工厂臭气熏天，星河湾居民要求停产整顿", "星河湾小区附近工厂排放有毒气体？",
    "星河湾小区化工厂气味让老人住院", "再次反映星河湾旁化工厂废气问题",
    "星河湾附近化工厂排污，空气质量极差", "星河湾小区南门外化工厂冒黄烟气味刺鼻",
    "投诉星河湾周边化工厂违法排放废气", "星河湾的化工厂异味什么时候能解决",
    "星河湾小区全体业主反对化工厂排放", "星河湾旁化工厂气味导致孩子过敏",
    "星河湾小区附近夜里化学气味很重", "化工厂废气污染星河湾小区，请尽快处理",
    "星河湾居民投诉化工厂臭味扰民", "星河湾化工厂排放异味，多户居民不适",
    "星河湾附近化工厂偷排，晚上味道最大", "星河湾小区化工厂刺鼻气味求监测",
    "星河湾小区旁化工厂气体泄漏担忧", "星河湾一带化工厂异味已严重影响生活",
]
BODIES = [
    "最近几天{t}，晚上尤其严重，家里门窗都不敢开，希望有关部门尽快派人检测处理。",
    "我是附近的住户，{t}。已经打过电话但没有人管，请政府重视。",
    "{t}，空气里一股化学品的味道，很多邻居都有头痛、咽喉不适的症状。",
]


def inject(data: Path, url: str | None, seed: int = 7) -> None:
    from sqlalchemy import select
    from core.database import session_scope
    from core.models import Document
    from search.trends.models import TrendAlert, TrendMember
    rng = random.Random(seed)
    rows = [r for r in read_corpus(data) if "likes" in r][-1500:]  # an ordinary recent stream
    stream = [dict(r) for r in rows]
    base = parse_time(stream[len(stream) // 2]["time"])
    incident = []
    for i, title in enumerate(INCIDENT):
        at = base + dt.timedelta(minutes=23 * i + rng.randint(0, 15))
        incident.append({"id": f"inc{i}", "user": f"U{9000 + i}", "title": title,
                         "text": rng.choice(BODIES).format(t=title), "_at": at, "_incident": True})
    for r in stream:
        r["_at"] = parse_time(r["time"])
    merged = sorted(stream + incident, key=lambda r: r["_at"])
    fresh_db(url)
    from core.database import session_scope as scope
    from core.ingest import IncomingDocument, add_document
    with scope() as session:
        for r in merged:
            add_document(session, IncomingDocument(
                source="inject" if r.get("_incident") else "gov_messages", external_id=str(r["id"]),
                title=r["title"], body=r.get("text") or "", author=r.get("user"), published_at=r["_at"],
                likes=int(r["likes"]) if r.get("likes") not in (None, "") else None))
    took, stages = drain()
    with session_scope(readonly=True) as session:
        inc_ids = {d.id: d.external_id for d in session.scalars(select(Document).where(Document.source == "inject"))}
        topic_of = dict(session.execute(select(TrendMember.document_id, TrendMember.topic_id)
                                        .where(TrendMember.document_id.in_(inc_ids))).all())
        main, got = Counter(topic_of.values()).most_common(1)[0]
        members = session.scalars(select(TrendMember.document_id).where(TrendMember.topic_id == main)).all()
        purity = sum(1 for m in members if m in inc_ids) / len(members)
        recall = got / len(INCIDENT)
        alerts = session.scalars(select(TrendAlert).where(TrendAlert.topic_id == main, TrendAlert.kind == "surge")
                                 .order_by(TrendAlert.id)).all()
        order = sorted(inc_ids, key=lambda i: int(inc_ids[i][3:]))
        print(f"stream: {len(stream)} ordinary + {len(INCIDENT)} injected documents; stages {stages}; worker {took:.1f} s")
        print(f"incident topic #{main}: {len(members)} members, {got}/{len(INCIDENT)} injected "
              f"-> purity {purity:.2f}, recall {recall:.2f}; other topics holding injected docs: "
              f"{dict((t, c) for t, c in Counter(topic_of.values()).items() if t != main)}")
        first_injected = min(inc_ids)
        for a in alerts:
            first = a.document_id
            nth = order.index(first) + 1 if first in order else None
            after = session.scalar(select(func.count()).select_from(Document).where(
                Document.id > first_injected, Document.id <= first))
            print(f"surge alert level {a.level} ({a.title}); raised by injected document #{nth}, i.e. "
                  f"{nth - 1 if nth else '?'} injected and {after} documents of the stream in all after the first "
                  f"injected one (count {a.documents_seen} in the window)")
        if not alerts:
            print("NO surge alert on the incident topic")
        other = session.scalars(select(TrendAlert).where(TrendAlert.kind == "surge", TrendAlert.scope != "topic")).all()
        for a in other:
            if set(a.evidence.get("document_ids", [])) & set(inc_ids):
                print(f"  also: {a.scope} alert level {a.level}: {a.title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", nargs="?", default="all", choices=("top10", "inject", "all"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--db", default=None, help="empty database URL (default: a temporary SQLite file)")
    parser.add_argument("--replay-from", default=None, help="database URL of an earlier top10 run: re-cluster its analysed documents")
    parser.add_argument("--direct", action="store_true", help="run only the NLP and trends stages (faster tuning runs)")
    parser.add_argument("--titles", type=Path, default=None, help="write every member title of the top 10 here (coherence review)")
    parser.add_argument("--batch-nlp", action="store_true",
                        help="run the NLP analysis (with the classifier) in batches before the worker, which then runs trends only")
    args = parser.parse_args()
    global DIRECT, TITLES_OUT, BATCH_NLP
    DIRECT, TITLES_OUT, BATCH_NLP = args.direct, args.titles, args.batch_nlp
    if not args.data.exists():
        sys.exit(f"corpus not found at {args.data}")
    if args.replay_from:
        replay_top10(args.data, args.replay_from)
        return
    if args.check in ("top10", "all"):
        top10(args.data, args.db)
    if args.check in ("inject", "all"):
        print()
        inject(args.data, args.db if args.check == "inject" else None)


if __name__ == "__main__":
    main()
