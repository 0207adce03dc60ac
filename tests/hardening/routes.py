"""Every route of the live application, from ``app.routes`` and the OpenAPI schema, with sample values
for its path parameters, so tests can call each one without knowing it in advance."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, Route

from tests.hardening.world import World

#: Methods the matrix exercises (HEAD answers like GET; OPTIONS is not routed).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Endpoint:
    pattern: str
    method: str
    in_schema: bool
    roles: tuple[str, ...] | None  # require_roles(...) found in the dependency tree
    endpoint_name: str
    mount: bool = False
    json_body: bool = False  # takes a JSON (not form) body


def _required_roles(route) -> tuple[str, ...] | None:
    dependant = getattr(route, "dependant", None)
    found: list[tuple[str, ...]] = []

    def walk(dep) -> None:
        for sub in dep.dependencies:
            roles = getattr(sub.call, "roles", None)
            if roles is not None:
                found.append(tuple(roles))
            walk(sub)

    if dependant is not None:
        walk(dependant)
    if not found:
        return None
    allowed = set(found[0])
    for more in found[1:]:
        allowed &= set(more)
    return tuple(sorted(allowed))


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (pattern, method) the application answers, mounts as ``<prefix>/{path}``."""
    out: list[Endpoint] = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            out.append(Endpoint(f"{ctx.path.rstrip('/')}/{{path}}", "GET", False, None, f"mount:{ctx.path}", True))
            continue
        methods = ctx.methods or set()
        if not methods and not isinstance(route, Route):
            raise AssertionError(f"unsupported route type {type(route).__name__} at {ctx.path}: extend the matrix")
        dependant = getattr(ctx, "dependant", None)
        takes_json = bool(dependant and any(type(b.field_info).__name__ == "Body" for b in dependant.body_params))
        for method in sorted(m for m in methods if m in METHODS):
            out.append(Endpoint(ctx.path, method, bool(getattr(ctx, "include_in_schema", False)),
                                _required_roles(ctx), getattr(ctx.endpoint, "__qualname__", str(ctx.endpoint)),
                                False, takes_json))
    return out


def schema_operations(app: FastAPI) -> set[tuple[str, str]]:
    schema = app.openapi()
    return {(path, method.upper()) for path, item in schema.get("paths", {}).items()
            for method in item if method.upper() in METHODS}


def samples(world: World) -> dict[str, str]:
    """A value for every path parameter name in use: each names the *target* object of the matrix."""
    a = world.cases["a"]
    values = {
        "case_id": str(a.id), "id": str(a.id), "number": a.number, "tracking_number": a.number,
        "request_id": a.number, "doc_id": str(a.document_id), "document_id": str(a.document_id),
        "notice_id": str(world.notice_id), "saved_id": str(world.saved_id),
        "name": world.source_name or "none", "path": "core/style.css",
        "topic_id": str(world.topic_id), "alert_id": str(world.alert_id), "briefing_id": str(world.briefing_id),
        "extension_id": str(world.extension_id), "attachment_id": str(world.attachment_id),
        "action": "sign", "fmt": "csv", "department_code": "housing", "year": str(dt.date.today().year),
        "policy_id": "1",
    }
    return values


#: Per-route overrides, each with its reason.
ROUTE_SAMPLES: dict[str, dict[str, str]] = {
    # Admin may start a crawl; probing with a name that has no configuration proves the admin gets
    # through (422 "cannot start") without launching a real crawler subprocess against the network.
    "/sources/{name}/run": {"name": "no-such-source"},
    "/api/v1/trends/config/{name}": {"name": "heat"},
}


#: JSON bodies for the API writes, valid enough that the handler runs (so refusals made inside the
#: handler, like another department's case, are reached). ``caller`` gives the citizen's code.
WRONG_CODE = "0000-0000-00000"
BODIES: dict[tuple[str, str], Callable[[object], object]] = {
    ("POST", "/api/v1/admin/outbox/retry"): lambda c: [],
    ("POST", "/api/v1/cases/{case_id}/actions/{action}"): lambda c: {},
    ("POST", "/api/v1/cases/{case_id}/extensions"): lambda c: {"days": 3, "reason": "需要现场勘查"},
    ("POST", "/api/v1/extensions/{extension_id}/decision"): lambda c: {"approve": True, "note": "同意"},
    ("POST", "/api/v1/sla-policies"): lambda c: {"name": "测试时限", "clocks": [{"kind": "answer", "amount": 10}]},
    ("PUT", "/api/v1/sla-policies/{policy_id}"): lambda c: {"name": "测试时限", "clocks": [{"kind": "answer", "amount": 10}]},
    ("PUT", "/api/v1/holidays/{year}"): lambda c: {"schedule": f"{dt.date.today().year}-10-01..{dt.date.today().year}-10-07, 休, 国庆节"},
    ("POST", "/api/v1/track/{number}/rating"): lambda c: {"code": c.code or WRONG_CODE, "rating": "satisfied"},
    ("POST", "/api/v1/search/saved"): lambda c: {"name": "电梯", "params": {"q": "电梯"}},
    ("POST", "/api/v1/hot-topics/{topic_id}/rename"): lambda c: {"title": "电梯故障"},
    ("POST", "/api/v1/hot-topics/{topic_id}/pin"): lambda c: {"pinned": True},
    ("POST", "/api/v1/hot-topics/{topic_id}/merge"): lambda c: {"topic_ids": []},
    ("POST", "/api/v1/hot-topics/{topic_id}/split"): lambda c: {"document_ids": []},
    ("POST", "/api/v1/hot-topics/{topic_id}/master-case"): lambda c: {"case": "1"},
    ("POST", "/api/v1/hot-topics/{topic_id}/assign"): lambda c: {"department_code": "housing"},
    ("POST", "/api/v1/trends/alerts/{alert_id}/ack"): lambda c: {"note": "已知悉"},
    ("PUT", "/api/v1/trends/config/{name}"): lambda c: {},
    ("POST", "/api/v1/trends/briefings"): lambda c: {"kind": "daily"},
    ("POST", "/api/v1/review"): lambda c: {"document_id": 1, "topic": "城乡建设"},
    ("POST", "/api/v1/reply-templates"): lambda c: {"title": "通用答复", "body": "您好，您反映的问题已收悉，正在办理。"},
}


def json_body(app_route_has_body: bool, method: str, pattern: str, caller) -> object | None:
    """The sample JSON body of a route that takes one; a route with a body but no sample fails loudly."""
    if not app_route_has_body:
        return None
    make = BODIES.get((method, pattern))
    if make is None:
        raise AssertionError(f"{method} {pattern} takes a JSON body: add a sample to tests/hardening/routes.py BODIES")
    return make(caller)


def fill(pattern: str, values: dict[str, str]) -> str:
    import re

    values = {**values, **ROUTE_SAMPLES.get(pattern, {})}
    missing = [n for n in re.findall(r"\{([^}:]+)(?::[^}]+)?\}", pattern) if n not in values]
    if missing:
        raise AssertionError(f"{pattern}: no sample value for path parameter(s) {missing}; "
                             "add one to tests/hardening/routes.py:samples()")
    if pattern.endswith("/{path}") and pattern.startswith("/static/") and pattern.count("{") == 1:
        prefix = pattern[: -len("/{path}")]
        found = _static_file(prefix)
        return f"{prefix}/{found}" if found else ""
    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", lambda m: values[m.group(1)], pattern)


def _static_file(prefix: str) -> str | None:
    """An existing file under a mounted static folder (None for an empty folder)."""
    import importlib.util
    from pathlib import Path

    domain = prefix.rsplit("/", 1)[-1]
    spec = importlib.util.find_spec(domain)
    base = Path(next(iter(spec.submodule_search_locations)))
    for folder in (base / "static", base / "web" / "static"):
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        if files:
            return str(files[0].relative_to(folder))
    return None
