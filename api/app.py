"""The FastAPI application: every domain's router, static assets, security headers, error pages."""
from __future__ import annotations

import errno
import importlib.util
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.middleware.base import BaseHTTPMiddleware

from core import plugins
from core.settings import get_settings
from core.web import AuthRequired, Forbidden, render
from core.web.csrf import CSRFCookieMiddleware

log = logging.getLogger("minsheng.api")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
MAX_BODY_BYTES = 60 * 1024 * 1024  # 5 attachments of 10 MB plus the form
MAX_QUERY_BYTES = 8 * 1024  # the longest legitimate query (a search with every filter) is far shorter
MAX_HEADER_BYTES = 32 * 1024


def _refuse_oversized(request: Request) -> JSONResponse | None:
    """Requests over the size limits are answered before any handler reads them."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return JSONResponse({"detail": "提交内容过大（上限 60 MB）。"}, status_code=413)
    if len(request.scope.get("query_string", b"")) > MAX_QUERY_BYTES or len(request.url.path) > 2048:
        return JSONResponse({"detail": "请求地址过长（查询参数上限 8 KB），请缩短检索条件。"}, status_code=414)
    if sum(len(k) + len(v) for k, v in request.scope.get("headers", [])) > MAX_HEADER_BYTES:
        return JSONResponse({"detail": "请求头过大（上限 32 KB）。"}, status_code=431)
    return None


class StreamedBodyLimit:
    """Counts a request body's bytes as they arrive: a chunked body declares no Content-Length, so the
    check in ``_refuse_oversized`` alone would let it grow without bound (memory, temporary files)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, "提交内容过大（上限 60 MB）。")
            return message

        await self.app(scope, counted, send)


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = _refuse_oversized(request) or await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        signed_in = ("ms_session" in request.cookies or "authorization" in request.headers) \
            and not request.url.path.startswith("/static/")
        if signed_in or request.url.path.startswith(("/track", "/login", "/api/", "/open311/", "/console", "/admin")):
            response.headers.setdefault("Cache-Control", "no-store")  # staff pages never stay in a shared PC's cache
        return response


class AccessLogWithoutQuery(logging.Filter):
    """Access-log lines keep the path but drop the query string: it carries what staff searched for
    (phone numbers, ID card numbers, names), which must not end up in log files."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


ACCESS_LOG_FILTER = AccessLogWithoutQuery()


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/open311/")) or "application/json" in request.headers.get("accept", "")


def _static_dirs() -> list[tuple[str, Path]]:
    found = []
    for domain in plugins.DOMAINS:
        spec = importlib.util.find_spec(domain)
        if spec and spec.submodule_search_locations:
            base = Path(next(iter(spec.submodule_search_locations)))
            for candidate in (base / "static", base / "web" / "static"):
                if candidate.is_dir():
                    found.append((domain, candidate))
    return found


@asynccontextmanager
async def lifespan(app: FastAPI):
    from api.runtime import start_background, stop_background
    handles = start_background(get_settings())
    try:
        yield
    finally:
        stop_background(handles)


def create_app(background: bool = True) -> FastAPI:
    plugins.load("models")
    plugins.load("stages")
    app = FastAPI(
        title="民声 Minsheng API",
        version="0.1.0",
        description="政务诉求与舆情处理系统的 JSON API（/api/v1）与 Open311 GeoReport v2 接口。",
        lifespan=lifespan if background else None,
    )
    logging.getLogger("uvicorn.access").addFilter(ACCESS_LOG_FILTER)
    app.add_middleware(StreamedBodyLimit)  # innermost: its 413 goes through the handlers and headers below
    app.add_middleware(CSRFCookieMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    for domain, folder in _static_dirs():
        app.mount(f"/static/{domain}", StaticFiles(directory=folder), name=f"static-{domain}")

    from api import admin_views, auth_views, open311
    app.include_router(auth_views.router)
    app.include_router(admin_views.router)
    app.include_router(open311.router)
    for module in plugins.load("views"):
        if module.__name__ == "api.views":
            continue
        app.include_router(module.router)

    @app.exception_handler(AuthRequired)
    async def _auth_required(request: Request, _exc: AuthRequired):
        if _wants_json(request):
            return JSONResponse({"detail": "需要登录或有效的访问令牌。"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return render(request, "error.html", {"status": 403, "message": exc.message}, status_code=403)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        response = render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                          status_code=exc.status_code)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")),
             "message": _chinese_validation_message(err)}
            for err in exc.errors()
        ]
        text = "；".join(f"{p['field']}：{p['message']}" for p in problems)
        return JSONResponse({"detail": f"请求参数有误：{text}", "errors": problems}, status_code=422)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _number_out_of_range(request: Request, exc: Exception):
        # An id or year beyond what the database (64-bit) or the calendar can hold: the caller's input, not a fault.
        message = "参数中的数字或日期超出允许范围，请检查后重试。"
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=422)
        return render(request, "error.html", {"status": 422, "message": message}, status_code=422)

    @app.exception_handler(OSError)
    async def _storage_full(request: Request, exc: OSError):
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise exc
        log.error("storage full: %s", exc.strerror)
        message = "服务器存储空间不足，您的提交未被保存，请稍后重试。"
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=507, headers={"Retry-After": "60"})
        response = render(request, "error.html", {"status": 507, "message": message}, status_code=507)
        response.headers["Retry-After"] = "60"
        return response

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError):
        if "disk is full" in str(exc.orig):  # SQLite on a full disk
            return await _storage_full(request, OSError(errno.ENOSPC, "database or disk is full"))
        log.error("database unavailable: %s", exc.__class__.__name__)
        return JSONResponse({"detail": "数据库暂时不可用，您的请求未被保存，请稍后重试。"}, status_code=503,
                            headers={"Retry-After": "30"})

    _document_validation_errors(app)
    return app


VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "一句中文说明，列出每个有误的字段"},
        "errors": {"type": "array", "title": "Errors", "description": "每个有误字段（参数校验时给出）", "items": {
            "type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            "required": ["field", "message"]}},
    },
    "required": ["detail"],
}


def _document_validation_errors(app: FastAPI) -> None:
    """The OpenAPI schema describes the 422 body the handler above really sends, not FastAPI's default."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in components:
            components["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            components.pop("ValidationError", None)
        return schema

    app.openapi = openapi


def _chinese_validation_message(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "必填"
    if kind.startswith("string_too_long"):
        return f"过长（最多 {err.get('ctx', {}).get('max_length')} 字）"
    if kind.startswith("string_too_short"):
        return f"过短（至少 {err.get('ctx', {}).get('min_length')} 字）"
    if kind in ("int_parsing", "int_type"):
        return "应为整数"
    if kind.startswith("less_than") or kind.startswith("greater_than"):
        return f"超出允许范围（{err.get('msg')}）"
    if "date" in kind:
        return "日期格式应为 YYYY-MM-DD"
    return err.get("msg", "格式不正确")
