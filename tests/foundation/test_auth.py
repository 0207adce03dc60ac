"""Staff accounts: login page with CSRF, lock-out, bearer tokens, roles."""
from __future__ import annotations

from tests.conftest import api_token, csrf_token, login


def test_login_sets_httponly_samesite_cookie_and_redirects_by_role(client, make_user):
    make_user("disp", "dispatcher")
    r = client.post("/login", data={"username": "disp", "password": "correct-horse-9", "csrf_token": csrf_token(client)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/dispatch"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/v1/auth/me").json()["role"] == "dispatcher"


def test_login_form_needs_csrf(client, make_user):
    make_user("disp", "dispatcher")
    r = client.post("/login", data={"username": "disp", "password": "correct-horse-9"}, follow_redirects=False)
    assert r.status_code == 403


def test_wrong_password_then_lockout(client, make_user):
    make_user("ana", "analyst")
    for _ in range(4):
        r = client.post("/login", data={"username": "ana", "password": "nope", "csrf_token": csrf_token(client)})
        assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = client.post("/login", data={"username": "ana", "password": "nope", "csrf_token": csrf_token(client)})
    assert "锁定" in r.text
    r = client.post("/login", data={"username": "ana", "password": "correct-horse-9", "csrf_token": csrf_token(client)})
    assert r.status_code == 401 and "锁定" in r.text


def test_token_endpoint_and_bearer_access(client, make_user):
    make_user("admin2", "admin")
    headers = api_token(client, "admin2", "correct-horse-9")
    client.cookies.clear()
    assert client.get("/api/v1/auth/me", headers=headers).json()["username"] == "admin2"
    assert client.get("/api/v1/admin/outbox", headers=headers).status_code == 200
    bad = client.post("/api/v1/auth/token", data={"username": "admin2", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["detail"]
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged.token"}).status_code == 401


def test_roles_are_enforced(client, make_user):
    make_user("ana", "analyst")
    headers = api_token(client, "ana", "correct-horse-9")
    client.cookies.clear()
    r = client.get("/api/v1/admin/outbox", headers=headers)
    assert r.status_code == 403 and r.json()["detail"]
    assert client.get("/api/v1/admin/outbox").status_code == 401


def test_pages_redirect_to_login_when_signed_out(client):
    r = client.get("/admin/outbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_logout_clears_session(client, make_user):
    make_user("sup", "supervisor")
    login(client, "sup", "correct-horse-9")
    assert client.get("/api/v1/auth/me").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert client.get("/api/v1/auth/me").status_code == 401


def test_security_headers_on_every_response(client):
    for path in ("/", "/track", "/login", "/open311/v2/services.json", "/nowhere"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
