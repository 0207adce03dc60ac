"""Scheduling: one cron job per enabled scheduled site, crawls in a subprocess, runs never overlap
(in-process guard and the database lock, with stale-lock takeover), every run recorded."""
from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update

from core.database import session_scope, utcnow
from crawlers import jobs, runs
from crawlers.config import parse_site
from crawlers.models import CrawlLock, CrawlRun
from tests.crawlers.conftest import FAST, NO_SIMHASH, board_config, write

FEED = "kind: feed\nstart_urls: [https://news.example.com/rss.xml]\n"


def test_register_one_job_per_enabled_scheduled_site(sites_dir, home):
    write(sites_dir, "hourly", FEED + "schedule: '5 * * * *'\n")
    write(sites_dir, "weekdays", FEED + "schedule: '*/20 8-18 * * 1-5'\ntimezone: Asia/Urumqi\n")
    write(sites_dir, "paused", FEED + "schedule: '5 * * * *'\nenabled: false\n")
    write(sites_dir, "manual", FEED)
    write(sites_dir, "broken", FEED + "schedule: 'whenever'\n")
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    jobs.register(scheduler, None)
    found = {j.id: j for j in scheduler.get_jobs()}
    assert sorted(found) == ["crawl:hourly", "crawl:weekdays"]
    hourly = found["crawl:hourly"]
    assert hourly.func is jobs.launch and hourly.args[0] == "hourly" and hourly.args[1].endswith("hourly.yaml")
    assert hourly.max_instances == 1 and hourly.coalesce
    assert str(hourly.trigger.timezone) == "Asia/Shanghai"
    assert str(found["crawl:weekdays"].trigger.timezone) == "Asia/Urumqi"
    start = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.timezone.utc)  # a Monday, 17:00 in Shanghai
    assert found["crawl:hourly"].trigger.get_next_fire_time(None, start).strftime("%H:%M") == "17:05"


def test_launch_runs_in_a_subprocess_without_overlap(sqlite_env, sqlite_engine, site, sites_dir):
    config = board_config(sites_dir, site)
    proc = jobs.launch("testboard", str(config), FAST + NO_SIMHASH)
    assert proc is not None
    assert jobs.launch("testboard", str(config), FAST + NO_SIMHASH) is None  # the previous one is still running
    assert proc.wait(timeout=120) == 0
    with session_scope(sqlite_engine, readonly=True) as s:
        (run,) = s.scalars(select(CrawlRun)).all()
        assert (run.trigger, run.status, run.items_new) == ("schedule", "partial", 10)
        assert s.scalar(select(CrawlLock)) is None  # released
    log = (sqlite_env.resolved_home / "logs" / "crawl-testboard.log").read_text()
    assert "运行 #1" in log


def test_database_lock_skips_overlap_and_takes_over_stale(env, engine):
    site = parse_site(FEED, "t.yaml", default_name="t")
    first, ok = runs.begin(site, "schedule", owner="host-a:1")
    assert ok
    second, ok2 = runs.begin(site, "schedule", owner="host-b:2")
    assert not ok2
    with session_scope(engine, readonly=True) as s:
        skipped = s.get(CrawlRun, second)
        assert skipped.status == "skipped" and f"#{first}" in skipped.message and "host-a:1" in skipped.message
    # the first process dies: its heartbeat goes stale and the next run takes the lock over
    with session_scope(engine) as s:
        s.execute(update(CrawlLock).values(heartbeat_at=utcnow() - runs.LOCK_TTL - dt.timedelta(seconds=1)))
    third, ok3 = runs.begin(site, "schedule", owner="host-c:3")
    assert ok3
    with session_scope(engine, readonly=True) as s:
        assert s.get(CrawlRun, first).status == "abandoned"
        lock = s.get(CrawlLock, "t")
        assert (lock.run_id, lock.owner) == (third, "host-c:3")
    runs.heartbeat("t", third)
    runs.finish(third, "t", "ok", {"pages": 3, "items_new": 2}, {"x": 1})
    with session_scope(engine, readonly=True) as s:
        done = s.get(CrawlRun, third)
        assert (done.status, done.pages, done.items_new, done.stats) == ("ok", 3, 2, {"x": 1})
        assert s.get(CrawlLock, "t") is None
    fourth, ok4 = runs.begin(site, "manual")
    assert ok4
