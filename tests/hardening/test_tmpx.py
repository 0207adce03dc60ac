import httpx, os, subprocess
from pathlib import Path
from core.settings import reset_settings
from tests.hardening.server import Server
from tests.hardening.world import PNG
def test_x(tmp_path, monkeypatch):
    disk = tmp_path / "disk"; disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk)], check=True)
    try:
        monkeypatch.setenv("MINSHENG_HOME", str(disk / "home")); monkeypatch.delenv("MINSHENG_DATABASE_URL", raising=False)
        reset_settings()
        from core.settings import get_settings
        from core.bootstrap import initialise
        s = get_settings(); initialise(s)
        srv = Server(s, tmp_path / "log").start()
        try:
            c = httpx.Client(base_url=srv.base, timeout=60)
            c.get("/login")
            def file(n):
                return c.post("/file", data={"appeal_type": "投诉", "category": "urban", "consent": "1", "title": f"路灯不亮{n}", "description": f"小区门口的路灯坏了很久，晚上很黑，请尽快维修。编号{n}", "csrf_token": c.cookies["ms_csrf"]}, files={"attachments": ("a.png", PNG + os.urandom(200000), "image/png")})
            print("before", file(0).status_code)
            with open(disk / "filler", "wb") as f:
                try:
                    while True: f.write(b"\0" * (1 << 20)); f.flush()
                except OSError as e: print("filled", e)
            for n in range(1, 4):
                r = file(n); print("full", r.status_code, r.text[:150])
                r = c.post("/open311/v2/requests.json", json={"service_code": "urban", "description": f"井盖丢失了，很危险，请尽快处理{n}。"}); print("full311", r.status_code, r.text[:150])
            os.unlink(disk / "filler")
            print("after", file(9).status_code)
        finally:
            srv.stop()
            print("LOG", open(tmp_path/"log").read()[-6000:])
    finally:
        reset_settings()
        subprocess.run(["umount", "-l", str(disk)])
