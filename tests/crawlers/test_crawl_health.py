"""Source health: last success, items per day, error rate, last errors, and the warnings that catch a
site that suddenly yields nothing; the /sources page and /api/v1/sources for admins and analysts."""
from __future__ import annotations

import datetime as dt

from core.database import session_scope, utcnow
from crawlers.health import source_health
from crawlers.models import CrawlError, CrawlRun
from tests.conftest import csrf_token, login
from tests.crawlers.conftest import board_config, write

FEED = "kind: feed\nstart_urls: [https://news.example.com/rss.xml]\n"
NOW = dt.datetime(2024, 6, 10, 4, 0, tzinfo=dt.timezone.utc)  # 12:00 in Shanghai


def add_run(session, site, hours_ago, status="ok", entries=10, new=2, pages=12, errors=0, error_status=None, kind="http",
            now=NOW):
    start = now - dt.timedelta(hours=hours_ago)
    run = CrawlRun(site=site, trigger="schedule", owner="t", status=status, started_at=start,
                   finished_at=start + dt.timedelta(minutes=1), pages=pages, list_pages=1, entries_found=entries,
                   items_new=new, errors=errors, stats={})
    session.add(run)
    session.flush()
    for _ in range(errors):
        session.add(CrawlError(run_id=run.id, site=site, at=start, url=f"https://{site}.example.com/x", kind=kind,
                               status=error_status, message="页面返回 HTTP %s" % error_status))
    return run


def fixture_runs(engine, sites_dir, now=NOW):
    for name in ("good", "changed", "blocked", "late"):
        write(sites_dir, name, FEED + "schedule: '0 * * * *'\n")
    write(sites_dir, "off", FEED + "enabled: false\n")
    write(sites_dir, "broken", FEED + "kind: forum\n")
    with session_scope(engine) as s:
        add_run(s, "good", 0.5, new=3, now=now)
        add_run(s, "good", 1.5, new=0, now=now)
        add_run(s, "good", 26, new=5)  # yesterday in Shanghai
        add_run(s, "changed", 30, entries=15, now=now)
        add_run(s, "changed", 0.5, entries=0, new=0, pages=1, errors=1, kind="empty_list", now=now)
        add_run(s, "blocked", 48, now=now)
        add_run(s, "blocked", 0.5, status="failed", entries=0, new=0, pages=0, errors=3, error_status=403, now=now)
        add_run(s, "late", 10, now=now)
        add_run(s, "late", 0.5, status="running", now=now)


def test_source_health(env, engine, sites_dir):
    fixture_runs(engine, sites_dir)
    with session_scope(engine) as s:
        health = {h.name: h for h in source_health(s, now=NOW)}
    assert [h for h in health] == ["blocked", "broken", "changed", "late", "good", "off"]  # worst first
    good = health["good"]
    assert good.state == "ok" and good.warnings == []
    assert good.last_success_at == NOW - dt.timedelta(hours=0.5) + dt.timedelta(minutes=1)
    assert good.items_per_day[-1] == ("2024-06-10", 3) and good.items_per_day[-2] == ("2024-06-09", 5)
    assert len(good.items_per_day) == 14 and good.items_total_14d == 8
    assert (good.pages_7d, good.errors_7d, good.error_rate) == (36, 0, 0.0)

    changed = health["changed"]
    assert changed.state == "error"
    assert any(w.startswith("最近一次抓取没有解析出任何条目，而此前正常") and "改版" in w for w in changed.warnings)
    assert changed.last_errors[0].kind == "empty_list"

    blocked = health["blocked"]
    assert blocked.state == "error"
    assert any("HTTP 403" in w and "封禁" in w for w in blocked.warnings)
    assert any(w.startswith("最近一次抓取失败") for w in blocked.warnings)
    assert blocked.error_rate == round(3 / 15, 4) and len(blocked.last_errors) == 3

    late = health["late"]
    assert late.running and late.state == "warning"
    assert late.warnings == ["已有 10 小时没有成功抓取（计划 0 * * * *）"]

    assert health["broken"].state == "error" and "kind" in health["broken"].config_problem
    assert health["off"].state == "disabled"


def test_sources_page_and_api(client, engine, make_user, sites_dir, monkeypatch):
    fixture_runs(engine, sites_dir, now=utcnow())
    assert client.get("/sources", follow_redirects=False).status_code in (302, 303, 401)
    assert client.get("/api/v1/sources").status_code == 401
    login(client, *make_user("dept_user", "department", "housing"))
    assert client.get("/sources").status_code == 403
    assert client.get("/api/v1/sources").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client)})

    login(client, *make_user("analyst1", "analyst"))
    page = client.get("/sources")
    assert page.status_code == 200
    assert "数据源健康" in page.text and "最近一次抓取没有解析出任何条目" in page.text
    assert "<script" not in page.text.split("</header>", 1)[1]  # no inline scripts (CSP)
    assert "立即抓取" not in page.text  # analysts look; admins run
    data = client.get("/api/v1/sources").json()
    by_name = {d["name"]: d for d in data}
    assert by_name["good"]["state"] == "ok" and by_name["changed"]["state"] == "error"
    assert len(by_name["good"]["items_per_day"]) == 14 and "config_path" not in by_name["good"]
    detail = client.get("/api/v1/sources/blocked").json()
    assert [r["status"] for r in detail["runs"]] == ["failed", "ok"]
    assert client.get("/sources/changed").status_code == 200
    missing = client.get("/api/v1/sources/nope")
    assert missing.status_code == 404 and "没有名为 nope 的数据源" in missing.json()["detail"]
    forbidden = client.post("/sources/good/run", data={"csrf_token": csrf_token(client)}, follow_redirects=False,
                            headers={"accept": "application/json"})
    assert forbidden.status_code == 403


def test_admin_starts_a_crawl_from_the_page(client, engine, make_user, site, sites_dir, monkeypatch):
    for key, value in (("DOWNLOAD_DELAY", "0"), ("AUTOTHROTTLE", "0"), ("RETRY_TIMES", "1"), ("RETRY_BACKOFF", "0.05"),
                       ("NEAR_DUPLICATES", "0")):
        monkeypatch.setenv(f"MINSHENG_CRAWL_{key}", value)
    board_config(sites_dir, site)
    login(client, *make_user("admin2", "admin"))
    no_csrf = client.post("/sources/testboard/run", follow_redirects=False)
    assert no_csrf.status_code == 403
    broken = write(sites_dir, "broken", FEED + "kind: forum\n")
    bad = client.post("/sources/broken/run", data={"csrf_token": csrf_token(client)}, follow_redirects=False,
                      headers={"accept": "application/json"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "无法启动 broken 的抓取，配置有误：kind：取值必须是 board、news、feed、json 之一"
    gone = client.post("/sources/nothing/run", data={"csrf_token": csrf_token(client)}, follow_redirects=False,
                       headers={"accept": "application/json"})
    assert gone.status_code == 422 and "找不到名为 nothing 的站点配置" in gone.json()["detail"]
    broken.unlink()
    started = client.post("/sources/testboard/run", data={"csrf_token": csrf_token(client)}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/sources?started=testboard"
    from crawlers import jobs

    assert jobs._running["testboard"].wait(timeout=120) == 0
    data = {d["name"]: d for d in client.get("/api/v1/sources").json()}
    assert data["testboard"]["last_run"]["trigger"] == "manual"
    assert data["testboard"]["last_run"]["items_new"] == 10 and data["testboard"]["state"] == "ok"
    assert "已启动 testboard 的抓取" in client.get("/sources?started=testboard").text
