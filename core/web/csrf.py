"""CSRF: a random per-browser cookie and the same value in every form (double submit).

The middleware sets the cookie on first visit and exposes the value to templates;
``csrf_protect`` checks form posts. Bearer-token API calls carry no cookies and need no token.
"""
from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware

from core.settings import get_settings

CSRF_COOKIE = "ms_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CSRFCookieMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        token = request.cookies.get(CSRF_COOKIE)
        fresh = not token or len(token) != 43
        if fresh:
            token = secrets.token_urlsafe(32)
        request.state.csrf_token = token
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax",
                                secure=get_settings().cookie_secure, path="/")
        return response


async def csrf_protect(request: Request) -> None:
    """Dependency for state-changing routes reached from a browser (cookies present)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise HTTPException(status_code=403, detail="页面已过期或来源无法验证（CSRF 校验失败），请刷新页面后重新提交。")
