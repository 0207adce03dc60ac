"""Fixtures for the crawler tests: the generated site on 127.0.0.1 and a crawl in a subprocess.

Crawls run as ``python -m crawlers.runner`` subprocesses (as the scheduler runs them): Twisted's
reactor cannot be restarted inside one pytest process. Politeness delays are turned down so a
crawl of the fixture site takes a fraction of a second plus the interpreter's start-up.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crawlers.crawl_fixture_site import FixtureSite, Server

ROOT = Path(__file__).resolve().parents[2]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "RETRY_TIMES=1", "-s", "RETRY_BACKOFF_BASE=0.05",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=WARNING"]
#: Near-duplicate fingerprints load the NLP package (seconds per process); only the tests about them turn it on.
NO_SIMHASH = ["-s", "MINSHENG_NEAR_DUPLICATES=0"]

BOARD = """
name: {name}
title: 测试留言板
kind: board
start_urls: [{base}/board/list.html]
list:
  item: ul.msg-list li.msg-item
  link: a.msg-title::attr(href)
pagination:
  next: a.next::attr(href)
  max_pages: 10
revisit_pages: 2
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


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    """A fresh generated site (its own state and request log) on a free port."""
    fixture = FixtureSite()
    with Server(fixture):
        yield fixture


@pytest.fixture
def sites_dir(tmp_path, monkeypatch) -> Path:
    """The only folder of site configurations the code under test sees."""
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("MINSHENG_CRAWL_SITES", str(folder))
    return folder


@pytest.fixture
def sqlite_env(home, sqlite_url, monkeypatch):
    """Like ``env`` but SQLite only, for crawls whose subject is not the database."""
    from core.settings import get_settings, reset_settings

    monkeypatch.setenv("MINSHENG_DATABASE_URL", sqlite_url)
    reset_settings()
    yield get_settings()
    reset_settings()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def board_config(folder: Path, site: FixtureSite, name: str = "testboard") -> Path:
    return write(folder, name, BOARD.format(name=name, base=site.base))


def run(args: list[str], settings, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command with the test's home and database, the repository on PYTHONPATH."""
    environ = {**os.environ, "MINSHENG_HOME": str(settings.resolved_home),
               "MINSHENG_DATABASE_URL": settings.resolved_database_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout)


def crawl(settings, *targets: Path | str, extra: list[str] | None = None, simhash: bool = False) -> subprocess.CompletedProcess:
    """``python -m crawlers.runner TARGET… `` with the politeness delays turned down."""
    options = FAST + ([] if simhash else NO_SIMHASH)
    return run([sys.executable, "-m", "crawlers.runner", *map(str, targets), *options, *(extra or [])], settings)


@pytest.fixture
def sqlite_engine(sqlite_env):
    from core.database import engine_for

    return engine_for(sqlite_env.resolved_database_url)
