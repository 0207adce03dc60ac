"""Schemathesis against the live OpenAPI schema, in process: no 5xx, and every answer matches the
schema (body, content type, headers) for every operation, as an admin (deepest reach) and anonymously.

Bounded for the test suite (``EXAMPLES`` per operation and caller); set
``MINSHENG_SCHEMATHESIS_EXAMPLES`` (say 100) to run the same with many more examples. Undocumented status codes (401/403/429 on every route)
are not counted: FastAPI does not list dependency-raised errors, and the access matrix proves them.
"""
from __future__ import annotations

import os
import traceback

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
)

from core.web.ratelimit import limiter

EXAMPLES = int(os.environ.get("MINSHENG_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, response_headers_conformance]


def run_schemathesis(app, built, examples: int) -> tuple[int, list[str], int]:
    """Run every operation; returns (cases run, failures, operations)."""
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    callers = {"anonymous": {}, "admin": {"Authorization": f"Bearer {built.api_token('admin')}"},
               "dispatcher": {"Authorization": f"Bearer {built.api_token('dispatcher')}"}}
    failures: list[str] = []
    count = 0
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for who, headers in callers.items():
            seen: list[int] = []

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case) -> None:
                limiter.reset()
                seen.append(1)
                response = case.call(headers=headers, allow_redirects=False)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every failure, report all
                first = str(exc).strip().splitlines()[:12]
                failures.append(f"{operation.method.upper()} {operation.path} as {who}:\n  " + "\n  ".join(first)
                                + ("" if first else traceback.format_exc(limit=3)))
            count += len(seen)
    return count, failures, operations


def test_schemathesis_finds_no_server_error_and_no_schema_violation(populated, hardened_app, record_property):
    _settings, built = populated
    count, failures, operations = run_schemathesis(hardened_app, built, EXAMPLES)
    record_property("schemathesis_cases", count)
    print(f"\nschemathesis: {count} cases over {operations} operations × 3 callers, {len(failures)} failing")
    assert not failures, "\n\n".join(failures)
