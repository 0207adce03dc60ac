"""Load on the citizen form of a running server: filings/s and latency percentiles, then kill -9 cycles.

    .venv/bin/python bench/intake_load.py [--pg URL] [--seconds 15] [--kills 10]

Starts its own server (uvicorn, worker threads on) on a temporary home, files complaints through
``POST /file`` exactly as a browser does (CSRF cookie + form), at concurrency 1, 8 and 32; on SQLite
and, with --pg, on PostgreSQL. Then it kills the server with SIGKILL 10 times under load, restarts it,
and compares the filings answered 201 with the cases in the database (must be equal: 0 lost).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r'id="tracking-number">([^<]+)<')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, db_url: str):
        self.home, self.db_url, self.port = home, db_url, free_port()
        self.env = {**os.environ, "MINSHENG_HOME": str(home), "MINSHENG_DATABASE_URL": db_url,
                    "MINSHENG_INTAKE_RATE_LIMIT": "100000000", "MINSHENG_SCHEDULER": "false",
                    "MINSHENG_WORKER_THREADS": "1", "PYTHONPATH": str(ROOT), "MINSHENG_LOG_LEVEL": "WARNING"}
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def init(self) -> None:
        subprocess.run([sys.executable, "-m", "api.cli", "init"], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--log-level", "warning"],
                                     env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/login", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def filing(n: int) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"appeal_type": "投诉", "category": "urban", "title": f"小区道路破损第{n}号反映{tag}",
            "description": f"我们小区门口的道路坑洼不平已经三个月，雨天积水严重，老人小孩出行不便，请尽快修复。编号{tag}",
            "district": "A2区", "place_text": "幸福小区东门", "phone": f"138{n % 100000000:08d}", "consent": "1"}


async def client_loop(base: str, stop_at: float, latencies: list[float], accepted: list[str], errors: list[str],
                      counter: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < stop_at:
            try:
                if "ms_csrf" not in client.cookies:
                    await client.get("/login")
                counter[0] += 1
                data = {**filing(counter[0]), "csrf_token": client.cookies["ms_csrf"]}
                started = time.perf_counter()
                response = await client.post("/file", data=data)
                latencies.append(time.perf_counter() - started)
                if response.status_code == 201:
                    accepted.append(NUMBER.search(response.text).group(1))
                else:
                    errors.append(str(response.status_code))
            except (httpx.HTTPError, KeyError) as exc:
                errors.append(type(exc).__name__)
                client.cookies.clear()
                await asyncio.sleep(0.05)


async def load(base: str, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    accepted: list[str] = []
    errors: list[str] = []
    counter = [0]
    stop_at = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(*(client_loop(base, stop_at, latencies, accepted, errors, counter) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0] * 99
    return {"concurrency": concurrency, "filings": len(accepted), "per_second": len(accepted) / elapsed,
            "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "p99_ms": q[98] * 1000, "errors": len(errors),
            "accepted": accepted}


def count_cases(db_url: str, numbers: list[str]) -> tuple[int, int]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COUNT(*) FROM cases")).scalar()
        present = 0
        for i in range(0, len(numbers), 500):
            chunk = numbers[i:i + 500]
            present += conn.execute(text("SELECT COUNT(*) FROM cases WHERE tracking_number IN :n").bindparams(
                __import__("sqlalchemy").bindparam("n", expanding=True)), {"n": chunk}).scalar()
    engine.dispose()
    return total, present


def run_backend(name: str, db_url: str, home: Path, seconds: float, kills: int) -> None:
    server = Server(home, db_url)
    server.init()
    server.start()
    print(f"\n== {name} ==")
    print(f"{'concurrency':>11} {'filings/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    accepted: list[str] = []
    for concurrency in (1, 8, 32):
        result = asyncio.run(load(server.base, concurrency, seconds))
        accepted += result["accepted"]
        print(f"{concurrency:>11} {result['per_second']:>10.1f} {result['p50_ms']:>8.1f} {result['p95_ms']:>8.1f} "
              f"{result['p99_ms']:>8.1f} {result['errors']:>7}")
    if kills:
        print(f"kill -9 of the server under load (concurrency 8), {kills} cycles:")
        for cycle in range(kills):
            async def load_and_kill() -> dict:
                task = asyncio.create_task(load(server.base, 8, 3.0))
                await asyncio.sleep(1.5)
                server.kill9()
                return await task
            result = asyncio.run(load_and_kill())
            accepted += result["accepted"]
            server.start()
        server.stop()
        total, present = count_cases(db_url, accepted)
        print(f"  accepted (HTTP 201): {len(accepted)}; of those stored: {present}; cases in database: {total}; "
              f"lost: {len(accepted) - present}")
    else:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL URL of an empty database to use (e.g. postgresql+psycopg://postgres@127.0.0.1/bench)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_backend("SQLite (WAL)", f"sqlite:///{tmp}/sqlite/minsheng.db", Path(tmp) / "sqlite", args.seconds, args.kills)
        if args.pg:
            run_backend("PostgreSQL", args.pg, Path(tmp) / "pg", args.seconds, args.kills)


if __name__ == "__main__":
    main()
