"""The shipped example configurations on fixture boards shaped like them, and the three ways to
start a crawl: ``scrapy crawl site`` from ``crawlers/``, ``minsheng crawl``, and its ``--check``."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import typer
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from core.database import session_scope
from core.models import Document
from crawlers.cli import crawl as crawl_command
from crawlers.config import SITES_DIR
from crawlers.models import CrawlError, CrawlRun
from tests.crawlers.conftest import FAST, NO_SIMHASH, ROOT, board_config, crawl, run, write


def localised(name: str, base: str, path: str, folder: Path) -> Path:
    """An example configuration pointed at the fixture site instead of its placeholder address."""
    data = yaml.safe_load((SITES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    data["start_urls"] = [base + path]
    data["allowed_domains"] = ["127.0.0.1"]
    data.pop("headers", None)
    return write(folder, name, yaml.safe_dump(data, allow_unicode=True))


def test_example_configs_on_fixture_boards(sqlite_env, sqlite_engine, site, sites_dir):
    """Both shipped examples crawl boards shaped like them; the same messages on the two boards are
    stored once each plus a near-duplicate link (the second board's copy points at the first's)."""
    leader = localised("leader_board_example", site.base, "/board/list.html", sites_dir)
    zmhd = localised("zmhd_example", site.base, "/zmhd/list?page=1", sites_dir)
    simhash = importlib.util.find_spec("nlp.simhash") is not None
    for config in (leader, zmhd):
        result = crawl(sqlite_env, config, simhash=simhash)
        assert result.returncode == 0, result.stderr + result.stdout
    with session_scope(sqlite_engine, readonly=True) as s:
        docs = {(d.source, d.external_id): d for d in s.scalars(select(Document))}
        errors = sorted((e.site, e.kind, e.field, e.url.replace(site.base, "")) for e in s.scalars(select(CrawlError)))
        zmhd_run = s.scalars(select(CrawlRun).where(CrawlRun.site == "zmhd_example")).one()
        s.expunge_all()
    messages = {m.id: m for m in site.board}
    leader_ids = {int(k[1][3:]) for k in docs if k[0] == "leader_board_example"}
    zmhd_ids = {int(k[1][3:]) for k in docs if k[0] == "zmhd_example"}
    assert leader_ids == {1, 2, 4, 5, 7, 8, 9, 10, 11, 12}
    assert zmhd_ids == set(range(1, 13)) - {6}  # the zmhd board has no 500 page; 6 lacks its time on both
    for (source, ext), d in docs.items():
        m = messages[int(ext[3:])]
        # the GB18030 pages (declared UTF-8) decode through the configured encoding
        assert (d.title, d.body, d.author, d.reply_body, d.reply_department) == (m.title, m.body, m.author, m.reply, m.reply_dept)
    assert ("zmhd_example", "missing_field", "published", "/zmhd/detail?id=6") in errors
    assert ("leader_board_example", "http", None, "/board/msg/3.html") in errors

    if not simhash:
        pytest.skip("near-duplicate fingerprints come from nlp.simhash, not installed")
    for (source, ext), d in docs.items():
        if source == "zmhd_example" and ("leader_board_example", ext) in docs:
            assert d.duplicate_of_id == docs[("leader_board_example", ext)].id, ext
        else:
            assert d.duplicate_of_id is None, (source, ext)  # originals, and message 3 (only on the zmhd board)
    assert zmhd_run.stats.get("near_duplicates") == 10


def test_scrapy_crawl_and_minsheng_crawl(sqlite_env, sqlite_engine, site, sites_dir):
    config = board_config(sites_dir, site)
    # the Scrapy way, from the crawlers/ folder, without the repository on PYTHONPATH
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(MINSHENG_HOME=str(sqlite_env.resolved_home), MINSHENG_DATABASE_URL=sqlite_env.resolved_database_url)
    import subprocess

    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run([str(scrapy), "crawl", "site", "-a", f"config={config}", *FAST, *NO_SIMHASH], cwd=ROOT / "crawlers",
                            env=environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # ... and `minsheng crawl NAME` (the configuration found by name) writes to the same database
    site.advance()
    result = run([sys.executable, "-m", "api.cli", "crawl", "testboard", *FAST, *NO_SIMHASH], sqlite_env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "testboard：运行 #2：完成；页面 6，新增 2，更新 1，错误 0" in result.stdout
    with session_scope(sqlite_engine, readonly=True) as s:
        runs = [(r.trigger, r.items_new, r.items_updated) for r in s.scalars(select(CrawlRun).order_by(CrawlRun.id))]
    assert runs == [("scrapy", 10, 0), ("cli", 2, 1)]


def test_cli_check_and_bad_configuration(sites_dir, home):
    app = typer.Typer()
    app.command()(crawl_command)
    app.command("noop")(lambda: None)  # keep `crawl` a named sub-command
    write(sites_dir, "good", "kind: feed\nstart_urls: [https://news.example.com/rss.xml]\nschedule: '0 * * * *'\n")
    write(sites_dir, "bad", "kind: feed\nstart_urls: [news.example.com]\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["crawl", "good", "--check"])
    assert ok.exit_code == 0 and "good：配置有效（feed，1 个起始网址，计划 0 * * * *）" in ok.output
    bad = runner.invoke(app, ["crawl", "bad", "--check"])
    assert bad.exit_code == 2 and "start_urls：不是有效的 http(s) 网址：news.example.com" in bad.output
    missing = runner.invoke(app, ["crawl", "nowhere"])
    assert missing.exit_code == 2 and "找不到名为 nowhere 的站点配置" in missing.output
    wrong = runner.invoke(app, ["crawl", "good", "-s", "DOWNLOAD_DELAY"])
    assert wrong.exit_code == 2 and "NAME=VALUE" in wrong.output
