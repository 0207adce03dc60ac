"""Security headers on every response, limits on every endpoint (body, query, headers, page size,
rate), and uploads judged by their bytes and served back inertly."""
from __future__ import annotations

import re
import socket

import httpx
import pytest
from fastapi.testclient import TestClient

from api.policy import CALLERS, POLICY
from core.web.ratelimit import limiter
from tests.hardening.conftest import Caller
from tests.hardening.routes import BODIES, endpoints, fill, samples, schema_operations
from tests.hardening.server import Server

REQUIRED = {
    "content-security-policy": None, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
PAGE_PARAMS = ("limit", "size", "page_size", "per_page", "count")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def missing_headers(response) -> list[str]:
    out = [name for name, value in REQUIRED.items()
           if name not in response.headers or (value and response.headers[name] != value)]
    csp = response.headers.get("content-security-policy", "")
    script = next((p for p in csp.split(";") if p.strip().startswith("script-src")), "")
    if csp and ("'unsafe-inline'" in script or "'unsafe-eval'" in script or "default-src 'self'" not in csp):
        out.append(f"weak CSP {csp!r}")
    return out


def test_security_headers_on_every_response(populated, hardened_app):
    _settings, built = populated
    values = samples(built)
    problems, seen = [], 0
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        for name in ("anonymous", "citizen", "admin", "dept_b"):
            caller = Caller(name, built)
            for e in endpoints(hardened_app):
                path = fill(e.pattern, values)
                if not path:
                    continue
                limiter.reset()
                client.cookies.clear()
                for key, value in caller.cookies().items():
                    client.cookies.set(key, value)
                response = client.request(e.method, path, headers=caller.headers(), follow_redirects=False,
                                          data=None if e.method == "GET" else caller.citizen_fields())
                seen += 1
                bad = missing_headers(response)
                if name != "anonymous" and caller.world.session_cookie(name) and not path.startswith("/static/") \
                        and response.headers.get("cache-control") != "no-store":
                    bad.append("signed-in answer without Cache-Control: no-store")
                if bad:
                    problems.append(f"{e.method} {path} as {name} ({response.status_code}): {bad}")
        # Error answers of every kind carry them too.
        odd = [client.get("/no/such/page"), client.delete("/login"), client.get("/api/v1/cases/abc"),
               client.post("/file", headers={"content-length": str(61 * 1024 * 1024)}, content=b"x"),
               client.get("/search?q=" + "x" * 9000), client.head("/"), client.options("/api/v1/search")]
        for response in odd:
            seen += 1
            if missing_headers(response):
                problems.append(f"{response.request.method} {str(response.request.url)[:60]} "
                                f"({response.status_code}): {missing_headers(response)}")
    print(f"\nsecurity headers checked on {seen} responses")
    assert not problems, "\n".join(problems)


def test_size_limits_on_a_running_server(populated, tmp_path):
    """Through uvicorn: a streamed body with no Content-Length, a huge query, huge headers."""
    settings, _built = populated
    server = Server(settings, tmp_path / "serve.log").start()
    try:
        def stream():
            chunk = b"{" + b" " * (1 << 20)
            for _ in range(70):
                yield chunk

        # (Form posts are cut earlier still: Starlette refuses a form field over 1 MB with a 400.)
        for path, kind in (("/open311/v2/requests.json", "application/json"),
                           ("/api/v1/cases/1/extensions", "application/json")):
            response = httpx.post(server.base + path, content=stream(), headers={"content-type": kind}, timeout=120)
            assert response.status_code == 413, (path, response.status_code, response.text[:200])
            assert CHINESE.search(response.json()["detail"]) and not missing_headers(response)
        for raw, status in ((b"GET /open311/v2/requests.json?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
                            (b"GET /login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", b"431")):
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(raw)
                head = sock.recv(4096)
            assert head.split(b" ")[1] == status, head[:200]
            assert b"content-security-policy" in head.lower()
    finally:
        server.stop()


def test_page_sizes_are_bounded(populated, hardened_app):
    """Every documented GET with a page-size parameter refuses, or caps, a million rows."""
    _settings, built = populated
    schema = hardened_app.openapi()
    values = samples(built)
    token = {"Authorization": f"Bearer {built.api_token('admin')}"}
    checked, problems = 0, []
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        for path, item in schema["paths"].items():
            get = item.get("get")
            if not get:
                continue
            for param in get.get("parameters", []):
                if param.get("in") != "query" or param["name"] not in PAGE_PARAMS:
                    continue
                checked += 1
                limiter.reset()
                response = client.get(fill(path, values), params={param["name"]: "1000000"}, headers=token)
                if response.status_code >= 500:
                    problems.append(f"{path}?{param['name']}=1000000: {response.status_code}")
                elif response.status_code < 300:
                    body = response.json()
                    rows = body if isinstance(body, list) else next(
                        (v for v in body.values() if isinstance(v, list)), []) if isinstance(body, dict) else []
                    maximum = param.get("schema", {}).get("maximum")
                    if maximum is None and "size" not in param["name"]:
                        problems.append(f"{path}: {param['name']} accepted 1000000 and declares no maximum")
                    if len(rows) > 1000:
                        problems.append(f"{path}: returned {len(rows)} rows")
    print(f"\npage-size parameters checked: {checked}")
    assert checked >= 3 and not problems, problems


OUTSIDERS = frozenset({"anonymous", "citizen", "citizen_other"})
#: Unauthenticated writes that need no rate limit, with the reason.
UNLIMITED = {"/logout": "only deletes the caller's own cookie; no server work"}


def test_every_unauthenticated_write_is_rate_limited(populated, hardened_app):
    """The policy names a limiter for every route a caller without an account may write (anyone, or a
    citizen with a code); a burst from one address with a wrong code hits it."""
    _settings, built = populated
    undeclared = [r.pattern for r in POLICY if r.write and r.write & OUTSIDERS and not r.limit
                  and r.pattern not in UNLIMITED]
    assert not undeclared, f"writes open to unauthenticated callers without a declared rate limit: {undeclared}"
    values = samples(built)
    caller = Caller("anonymous", built)
    results = {}
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        for rule in POLICY:
            if not (rule.write and rule.write & OUTSIDERS and rule.limit):
                continue
            limiter.reset()
            path = fill(rule.pattern, values)
            method = "POST"
            for attempt in range(1, 200):
                client.cookies.clear()
                client.cookies.set("ms_csrf", caller.cookies()["ms_csrf"])
                data = {**caller.citizen_fields(), "code": "WRONG-CODE-0000", "username": "nobody", "password": "x",
                        "csrf_token": caller.cookies()["ms_csrf"]}
                sample = BODIES.get((method, rule.pattern))
                if sample is not None:
                    response = client.request(method, path, json=sample(caller), headers=caller.headers())
                else:
                    response = client.request(method, path, data=data, headers=caller.headers(), follow_redirects=False)
                if response.status_code == 429:
                    detail = response.json()["detail"] if "json" in response.headers["content-type"] else response.text
                    assert CHINESE.search(detail) and response.headers.get("retry-after"), (path, detail)
                    results[rule.pattern] = attempt
                    break
                assert response.status_code < 500, (path, response.status_code)
            else:
                results[rule.pattern] = None
    limiter.reset()
    print(f"\nrequests until 429: {results}")
    assert all(results.values()), f"no 429 within 200 requests: {[p for p, n in results.items() if not n]}"
    # Rating through the JSON API shares the citizen's limiter.
    assert schema_operations(hardened_app)  # the schema is live


GIF_JS = b"GIF89a/*\x00\x00\x00\x00\x00\x00\x00*/=1;window.__xss=1;//" + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__xss=1</script></svg>'
HTML = b"<!doctype html><script>window.__xss=1</script>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 64
PNG_THEN_HTML = None  # built from the world's PNG below


@pytest.mark.parametrize("name,data,accepted", [
    ("photo.png", SVG, False), ("photo.jpg", HTML, False), ("scan.pdf", ZIP, False), ("photo.jpg", EXE, False),
    ("photo.gif", GIF_JS, True),  # a real GIF header: accepted as image/gif, served inert below
    ("note.pdf", b"%PDF-1.4\n<script>window.__xss=1</script>", False),  # no %%EOF: not a complete PDF
])
def test_uploads_are_judged_by_content_and_served_inert(populated, hardened_app, name, data, accepted):
    from sqlalchemy import func, select

    from core.database import engine_for, session_scope
    from core.models import Attachment, Case
    settings, built = populated
    engine = engine_for(settings.resolved_database_url)
    with session_scope(engine, readonly=True) as session:
        before = session.scalar(select(func.count()).select_from(Case))
    caller = Caller("anonymous", built)
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        limiter.reset()
        client.cookies.set("ms_csrf", caller.cookies()["ms_csrf"])
        form = {"appeal_type": "投诉", "category": "urban", "consent": "1", "title": "路面塌陷需要修补",
                "description": "小区门口的路面塌陷了一个大坑，晚上很危险，请尽快修补。",
                "csrf_token": caller.cookies()["ms_csrf"]}
        response = client.post("/file", data=form, files={"attachments": ("../../etc/x\r\nSet-Cookie: a=b " + name,
                                                                            data, "image/png")})
        with session_scope(engine, readonly=True) as session:
            after = session.scalar(select(func.count()).select_from(Case))
            row = session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
            stored = type("Stored", (), {k: getattr(row, k) for k in ("id", "case_id", "content_type", "filename")})
        if not accepted:
            assert response.status_code == 422 and "附件" in response.text, response.status_code
            assert after == before, "a refused upload left a case behind"
            return
        assert response.status_code == 201 and after == before + 1
        assert stored.content_type == "image/gif" and "/" not in stored.filename and "\r" not in stored.filename
        client.cookies.set("ms_session", built.session_cookie("dispatcher"))
        served = client.get(f"/console/cases/{stored.case_id}/attachments/{stored.id}")
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-type"] == "image/gif"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-disposition"].startswith("attachment")
        assert "set-cookie" not in {k.lower() for k in served.headers if k.lower() != "set-cookie"} or \
            "a=b" not in served.headers.get("set-cookie", "")
