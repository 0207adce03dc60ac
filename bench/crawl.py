"""Crawler benchmark: a 1,000-page message board on 127.0.0.1 crawled end to end into the database.

    .venv/bin/python bench/crawl.py                    # SQLite, 1,000 pages, plus a polite-defaults run
    .venv/bin/python bench/crawl.py --db-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/crawl.py --pages 2000 --polite-pages 0

The board (the fixture site of tests/crawlers, 领导留言板 layout) holds real messages from
../shared/data/gov_messages/unlabeled.jsonl when that folder exists (read at run time, never
copied), otherwise generated ones: ``pages`` pages = list pages of 19 entries + their detail pages.
The crawl runs as the scheduler runs it (``python -m crawlers.runner`` in a subprocess).

Reported, from the run record: pages/s and items/s over the crawl's own duration (process start-up
excluded and shown apart), and the share of that time spent parsing (the spider's extraction),
in the incremental seen-URL lookups, and ingesting (Document + outbox row + simhash + seen row,
one transaction per item); the rest is download and Scrapy's engine. Politeness is measured by a
second crawl of ``--polite-pages`` pages with the shipped defaults (robots.txt, AutoThrottle,
1 s download delay, 2 requests per domain): its extra time per page over the unthrottled crawl is
the politeness share, and it gives the time the whole site would take under those defaults.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.crawlers.crawl_fixture_site import FixtureSite, Message, Server, make_message  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "gov_messages" / "unlabeled.jsonl"
PER_PAGE = 19
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        "-s", "LOG_LEVEL=WARNING"]
CONFIG = """
name: {name}
kind: board
start_urls: [{base}/board/list.html]
list: {{item: ul.msg-list li.msg-item, link: 'a.msg-title::attr(href)'}}
pagination: {{next: 'a.next::attr(href)', max_pages: {max_pages}}}
detail:
  id: {{source: url, regex: 'msg/(\\d+)\\.html'}}
  title: h1.msg-title::text
  body: div.msg-content
  author: {{css: span.msg-author::text, regex: '留言人：(.+)'}}
  published: {{css: span.msg-time::text, regex: '(\\d{{4}}-\\d{{2}}-\\d{{2}} \\d{{2}}:\\d{{2}}:\\d{{2}})', format: '%Y-%m-%d %H:%M:%S'}}
  likes: span.msg-likes::text
  reply_department: {{css: div.reply-dept::text, regex: '答复单位：(.+)'}}
  reply_time: {{css: div.reply-time::text, regex: '答复时间：(.+)'}}
  reply_body: div.reply-content
"""


def messages(count: int) -> tuple[list[Message], str]:
    """Newest first, from the shared corpus when present."""
    out: list[Message] = []
    if CORPUS.exists():
        with CORPUS.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                row = json.loads(line)
                text_ = (row.get("text") or "").strip()
                if not text_ or not row.get("title"):
                    continue
                time_ = (row.get("time") or "2019-01-01T00:00:00").replace("T", " ")[:19]
                msg = Message(id=len(out) + 1, title=row["title"].strip(), body=text_, author=row.get("user") or "网友",
                              time=time_, likes=int(row.get("likes") or 0))
                if row.get("reply"):
                    msg.reply, msg.reply_dept = row["reply"], "相关部门"
                    msg.reply_time = (row.get("reply_time") or time_).replace("T", " ")[:19]
                out.append(msg)
                if len(out) == count:
                    break
        source = f"{CORPUS} ({len(out)} real messages)"
    if len(out) < count:
        out.extend(make_message(i, with_reply=i % 2 == 0) for i in range(len(out) + 1, count + 1))
        source = "generated messages" if not CORPUS.exists() else source + " + generated"
    return list(reversed(out)), source


def fresh_database(url: str | None, work: Path) -> tuple[str, callable]:
    from core.migrate import upgrade

    if url is None:
        url = f"sqlite:///{work / 'bench.db'}"
        upgrade(url)
        return url, lambda: None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"ms_crawlbench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    upgrade(target)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return target, drop


def crawl(config: Path, db_url: str, home: Path, settings: list[str]) -> tuple[dict, float]:
    environ = {**os.environ, "MINSHENG_DATABASE_URL": db_url, "MINSHENG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "crawlers.runner", str(config), *settings], cwd=ROOT, env=environ,
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"crawl failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")).mappings().one()
        docs = conn.execute(text("SELECT count(*) FROM documents")).scalar()
        outbox = conn.execute(text("SELECT count(*) FROM outbox")).scalar()
    engine.dispose()
    run = dict(row)
    stats = run["stats"] if isinstance(run["stats"], dict) else json.loads(run["stats"])
    run.update(stats=stats, documents=docs, outbox=outbox)
    return run, wall


def duration(run: dict) -> float:
    import datetime as dt

    def parse(v):
        return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))

    return (parse(run["finished_at"]) - parse(run["started_at"])).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000, help="pages of the site (list + detail)")
    parser.add_argument("--polite-pages", type=int, default=100, help="pages of the polite-defaults run (0 skips it)")
    parser.add_argument("--db-url", help="PostgreSQL server URL (a scratch database is created and dropped)")
    args = parser.parse_args()

    lists = max(1, round(args.pages / (PER_PAGE + 1)))
    board, source = messages(lists * PER_PAGE)
    site = FixtureSite(per_page=PER_PAGE, board=board)
    with tempfile.TemporaryDirectory(prefix="ms-crawlbench-") as tmp, Server(site):
        work = Path(tmp)
        db_url, drop = fresh_database(args.db_url, work)
        try:
            config = work / "bench.yaml"
            config.write_text(CONFIG.format(name="benchboard", base=site.base, max_pages=lists + 1), encoding="utf-8")
            print(f"site: {lists} list pages x {PER_PAGE} entries = {lists * (PER_PAGE + 1)} pages; content: {source}")
            print(f"database: {make_url(db_url).get_backend_name()}; CPU cores: {os.cpu_count()}")
            run, wall = crawl(config, db_url, work / "home", FAST)
            secs = duration(run)
            s = run["stats"]
            parse_s, seen_s, ingest_s = s.get("parse_seconds", 0), s.get("seen_seconds", 0), s.get("ingest_seconds", 0)
            load_s = s.get("nlp_load_seconds", 0)
            other = max(0.0, secs - parse_s - seen_s - ingest_s - load_s)
            print(f"\n[unthrottled] pages {run['pages']} (+{len(site.fetched('/robots.txt'))} robots.txt), "
                  f"items new {run['items_new']}, documents {run['documents']}, outbox rows {run['outbox']}, errors {run['errors']}")
            print(f"  crawl time {secs:.2f} s (process wall {wall:.2f} s incl. start-up {wall - secs:.2f} s)")
            print(f"  pages/s {run['pages'] / secs:.1f}   items/s {run['items_new'] / secs:.1f}   "
                  f"(without the one-off NLP load: {run['pages'] / (secs - load_s):.1f} / {run['items_new'] / (secs - load_s):.1f}); "
                  f"near-duplicates linked {s.get('near_duplicates', 0)}")
            for label, value in (("parsing", parse_s), ("seen-URL lookups", seen_s), ("ingestion", ingest_s),
                                 ("NLP load (once per process)", load_s), ("download + Scrapy engine", other),
                                 ("politeness delays", 0.0)):
                print(f"  {label:<26} {value:7.2f} s  {value / secs:6.1%}")
            if args.polite_pages:
                polite_lists = max(1, round(args.polite_pages / (PER_PAGE + 1)))
                pconf = work / "polite.yaml"
                pconf.write_text(CONFIG.format(name="politeboard", base=site.base, max_pages=polite_lists), encoding="utf-8")
                (work / "polite").mkdir()
                polite_url, polite_drop = fresh_database(args.db_url, work / "polite")
                try:
                    prun, pwall = crawl(pconf, polite_url, work / "home", ["-s", "LOG_LEVEL=WARNING"])
                finally:
                    polite_drop()
                psecs = duration(prun)
                per_fast = secs / run["pages"]
                per_polite = psecs / prun["pages"]
                share = max(0.0, (per_polite - per_fast) / per_polite)
                print(f"\n[shipped defaults: robots.txt, AutoThrottle, DOWNLOAD_DELAY 1 s, 2 per domain] "
                      f"pages {prun['pages']}, items new {prun['items_new']}, crawl time {psecs:.1f} s (fresh database)")
                print(f"  pages/s {prun['pages'] / psecs:.2f}   {per_polite * 1000:.0f} ms/page vs {per_fast * 1000:.1f} ms/page "
                      f"unthrottled -> politeness delays {share:.1%} of the time")
                print(f"  the {run['pages']}-page site under these defaults: about {per_polite * run['pages'] / 60:.1f} min")
        finally:
            drop()


if __name__ == "__main__":
    main()
