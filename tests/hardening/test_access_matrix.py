"""Access matrix: every route of the live app × every caller × read and write, against api/policy.py.

The routes come from the running application (``app.routes`` and its OpenAPI schema), so a route
added by any package is covered the moment it exists, and one without a policy line fails here.
Writes run against a snapshot of the database that is restored after every probe, so one caller's
successful write never changes what the next caller sees.
"""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.policy import CALLERS, POLICY, READ_METHODS, rule_for, staff_roles
from core.web.ratelimit import limiter
from tests.hardening.conftest import snapshot_of
from tests.hardening.routes import endpoints, fill, json_body, samples, schema_operations

AUTH_DENIED = (401, 403, 404)


def denied(response) -> bool:
    """The shapes a refusal takes: 401, 403, 404 (another's object looks absent), or the sign-in redirect."""
    if response.status_code in AUTH_DENIED:
        return True
    location = response.headers.get("location", "")
    return response.status_code in (302, 303, 307) and location.startswith("/login?")


FORMS = {
    # A representative transition: "sign" belongs to the department holding the case.
    "/console/cases/{case_id}/act": {"action": "sign"},
}


def probe(client: TestClient, caller, endpoint, path: str):
    limiter.reset()
    client.cookies.clear()
    for key, value in caller.cookies().items():
        client.cookies.set(key, value)
    method = endpoint.method
    if method in READ_METHODS:
        return client.request(method, path, params=caller.citizen_fields(), headers=caller.headers(),
                              follow_redirects=False)
    body = json_body(endpoint.json_body, method, endpoint.pattern, caller)
    if body is not None:
        return client.request(method, path, json=body, headers=caller.headers(), follow_redirects=False)
    fields = {**caller.citizen_fields(), **FORMS.get(endpoint.pattern, {}), "csrf_token": caller.cookies()["ms_csrf"]}
    return client.request(method, path, data=fields, headers=caller.headers(), follow_redirects=False)


@pytest.fixture
def matrix_client(hardened_app):
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        yield client


def test_every_route_has_exactly_one_policy_line_and_schema_matches_routes(hardened_app):
    found = endpoints(hardened_app)
    missing = sorted({f"{e.method} {e.pattern}" for e in found
                      if rule_for(e.pattern) is None or rule_for(e.pattern).allowed(e.method) is None})
    assert not missing, f"routes without a line in api/policy.py POLICY: {missing}"
    live = {id(rule_for(e.pattern)) for e in found}
    stale = sorted(r.pattern for r in POLICY if id(r) not in live)
    assert not stale, f"policy lines for routes that no longer exist: {stale}"
    declared_methods = {(r.pattern, kind) for r in POLICY for kind, v in (("read", r.read), ("write", r.write)) if v is not None}
    used = {(rule_for(e.pattern).pattern, "read" if e.method in READ_METHODS else "write") for e in found}
    assert declared_methods <= used, f"policy grants methods the route does not have: {sorted(declared_methods - used)}"
    assert len({r.pattern for r in POLICY}) == len(POLICY), "a route pattern is declared twice"
    in_schema = {(e.pattern, e.method) for e in found if e.in_schema}
    assert schema_operations(hardened_app) == in_schema, "OpenAPI operations and schema routes disagree"


def test_policy_never_grants_more_than_the_code_requires(hardened_app):
    """Where a route declares ``require_roles(...)``, the policy may not let other roles or outsiders in."""
    problems = []
    for e in endpoints(hardened_app):
        rule = rule_for(e.pattern)
        if rule is None or e.roles is None:
            continue
        allowed = rule.allowed(e.method) or frozenset()
        extra = staff_roles(allowed) - set(e.roles) - {"admin"}
        outsiders = allowed & {"anonymous", "citizen", "citizen_other"}
        if extra or outsiders:
            problems.append(f"{e.method} {e.pattern}: code allows {e.roles}, policy also {sorted(extra | outsiders)}")
    assert not problems, problems


def test_access_matrix(populated, hardened_app, matrix_client, callers, record_property):
    settings, built = populated
    snapshot = snapshot_of(settings)
    values = samples(built)
    failures, checked = [], 0
    for e in endpoints(hardened_app):
        rule = rule_for(e.pattern)
        assert rule is not None, f"{e.method} {e.pattern} has no policy line"
        allowed = rule.allowed(e.method)
        path = fill(e.pattern, values)
        if not path:
            continue  # an empty static folder: nothing to serve
        for name in CALLERS:
            response = probe(matrix_client, callers[name], e, path)
            checked += 1
            status = response.status_code
            if e.method not in READ_METHODS and not denied(response):
                snapshot.restore()  # a refused write changed nothing; an accepted one is undone
            if status >= 500:
                failures.append(f"{e.method} {path} as {name}: {status} server error")
                continue
            refused = denied(response)
            if name in allowed:
                if rule.checks_credentials:
                    refused = status == 403 or (status in (302, 303) and
                                                response.headers.get("location", "").startswith("/login?"))
                if refused:
                    failures.append(f"{e.method} {path} as {name}: refused ({status}) but the policy allows it")
            elif not refused:
                failures.append(f"{e.method} {path} as {name}: got {status} but the policy refuses it")
    record_property("probes", checked)
    print(f"\naccess matrix: {checked} probes over {len(endpoints(hardened_app))} route×method pairs "
          f"× {len(CALLERS)} callers")
    assert not failures, "\n".join(failures)


def test_bearer_tokens_reach_the_api_like_sessions(populated, hardened_app, matrix_client):
    """API clients use bearer tokens, which skip CSRF; they must meet exactly the same refusals."""
    settings, built = populated
    failures = []
    for e in endpoints(hardened_app):
        if not e.pattern.startswith("/api/") or e.method not in READ_METHODS:
            continue
        rule = rule_for(e.pattern)
        path = fill(e.pattern, samples(built))
        for name in ("dept_a", "dept_b", "dispatcher", "analyst", "supervisor", "admin"):
            matrix_client.cookies.clear()
            response = matrix_client.get(path, headers={"Authorization": f"Bearer {built.api_token(name)}"})
            if (name in rule.read) == denied(response):
                failures.append(f"GET {path} with {name}'s bearer token: {response.status_code}")
        forged = matrix_client.get(path, headers={"Authorization": f"Bearer {built.session_cookie('admin')}"})
        if "anonymous" not in rule.read and not denied(forged):
            failures.append(f"GET {path}: a session cookie value accepted as a bearer token")
    assert not failures, failures
