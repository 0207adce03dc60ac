"""Crashes and outages, bounded for the test suite (bench/faults.py runs them at full size):
``kill -9`` of the server and of workers under load, the search index unavailable, the database
unavailable, and the home folder's disk full."""
from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest
from sqlalchemy import func, select

from core.database import dispose_engines, engine_for, session_scope
from core.settings import reset_settings
from tests.conftest import PG_URL
from tests.hardening import faults
from tests.hardening.server import Server
from tests.hardening.world import PNG

pytestmark = pytest.mark.slow


def test_kill_9_of_server_and_workers_under_load_loses_nothing(initialised, env, tmp_path):
    figures = faults.kill_cycles(env, tmp_path, cycles=2, seconds=3.0, workers=2, load_threads=3)
    print(f"\nkill -9 ({env.resolved_database_url.split(':')[0]}): {figures}")
    assert figures["lost"] == 0 and figures["accepted"] > 0


def test_search_index_unavailable_filing_goes_on_and_backlog_drains(initialised, sqlite_url, env, tmp_path):
    reason = faults.pipeline_ready()
    if reason:
        pytest.skip(f"documents cannot be processed in this checkout: {reason}")
    figures = faults.search_outage(env, tmp_path, hold=8.0)
    print(f"\nsearch outage: {figures}")


def test_database_unavailable_gives_503_and_recovers_without_restart(initialised, env, tmp_path):
    if not env.resolved_database_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL variant: connections refused, backends terminated "
                    "(SQLite, an embedded file, has no server to lose; see bench/faults.py --only sqlite-lock)")
    figures = faults.database_outage(env, tmp_path, hold=5.0, admin_url=PG_URL)
    print(f"\ndatabase outage: {figures}")


def test_a_filing_waiting_on_the_database_does_not_stall_other_requests(sqlite_env, tmp_path):
    """A filing blocked on the database (here SQLite's write lock, held elsewhere) waits in the thread pool:
    the server keeps answering other requests meanwhile, and the filing itself ends in a clear 503."""
    import threading

    from sqlalchemy.engine import make_url

    from core.bootstrap import initialise
    env = sqlite_env
    initialise(env)
    server = Server(env, tmp_path / "serve.log").start()
    answers: list[httpx.Response] = []
    try:
        with faults.sqlite_write_lock(make_url(env.resolved_database_url).database):
            filing = threading.Thread(target=lambda: answers.append(httpx.post(
                server.base + "/open311/v2/requests.json", timeout=90,
                json={"service_code": "urban", "description": "井盖丢失了，非常危险，请尽快处理一下。"})))
            filing.start()
            time.sleep(1)
            assert filing.is_alive(), f"the filing did not wait on the lock: {answers}"
            other = httpx.get(server.base + "/static/core/style.css", timeout=20)
            assert other.status_code == 200 and filing.is_alive(), "the server stalled behind the waiting filing"
            filing.join(90)
        assert answers and answers[0].status_code == 503 and answers[0].headers.get("retry-after"), answers
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 12 MB tmpfs as the home folder (root only); skipped where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()[:100]})")
    monkeypatch.setenv("MINSHENG_HOME", str(disk / "home"))
    monkeypatch.setenv("MINSHENG_SCHEDULER", "false")
    monkeypatch.delenv("MINSHENG_DATABASE_URL", raising=False)
    reset_settings()
    from core.settings import get_settings
    yield get_settings(), disk
    dispose_engines()
    reset_settings()
    subprocess.run(["umount", "-l", str(disk)])


def test_disk_full_on_home_refuses_cleanly_and_recovers(small_disk, tmp_path):
    from core import audit
    from core.bootstrap import initialise
    from core.models import Attachment, Case
    settings, disk = small_disk
    initialise(settings)
    server = Server(settings, tmp_path / "serve.log").start()
    client = httpx.Client(base_url=server.base, timeout=60)
    client.get("/login")

    def file(n: int):
        return client.post("/file", data={
            "appeal_type": "投诉", "category": "urban", "consent": "1", "title": f"路灯不亮{n}",
            "description": f"小区门口的路灯坏了很久，晚上很黑，请尽快维修。编号{n}", "csrf_token": client.cookies["ms_csrf"]},
            files={"attachments": ("photo.png", PNG + os.urandom(300_000), "image/png")})

    def count() -> int:
        with session_scope(engine_for(settings.resolved_database_url), readonly=True) as session:
            return session.scalar(select(func.count()).select_from(Case))

    try:
        assert file(0).status_code == 201
        with open(disk / "filler", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
                    fh.flush()
            except OSError:
                pass
        before = count()
        answers = [file(n) for n in range(1, 4)]
        answers += [client.post("/open311/v2/requests.json", json={
            "service_code": "urban", "description": f"井盖丢失了，非常危险，请尽快处理。第{n}次。"}) for n in range(3)]
        for response in answers:
            assert response.status_code == 507, (response.status_code, response.text[:300])
            assert "存储空间不足" in response.text and response.headers.get("retry-after")
        assert count() == before, "a refused filing left rows behind"
        assert not list((settings.attachments_dir).rglob("*.part")), "a partial attachment file was left behind"
        os.unlink(disk / "filler")
        assert file(9).status_code == 201, "filing did not recover once space was freed"
        assert server.proc.poll() is None, "the server died"
    finally:
        client.close()
        server.stop()
    with session_scope(engine_for(settings.resolved_database_url), readonly=True) as session:
        assert audit.verify(session).ok
        for att in session.scalars(select(Attachment)):
            assert (settings.attachments_dir / att.storage_path).is_file(), "a stored row names a missing file"
