"""Protected data sweep: file cases holding a whistleblower's identity, phone and ID-card numbers and a
door address, then look for the raw values in everything each caller can reach.

Channels swept: every GET route of the live app (pages, JSON, CSV/XLSX exports) for each target
case, the search API and pages queried *for the secret values themselves*, the tracking page,
the identity-reveal form, the in-app notices and their webhook copies, the audit log, every log
record written meanwhile, the search index (stored fields and raw files), and the database file
(contact data must be encrypted there). What each caller may see is api/policy.py DATA_POLICY.
"""
from __future__ import annotations

import html
import io
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from api.policy import CALLERS, DATA_POLICY
from core.database import engine_for, session_scope
from core.web.ratelimit import limiter
from tests.hardening.conftest import Caller
from tests.hardening.routes import endpoints, fill, samples
from tests.hardening.world import PROTECTED_MARK, SECRET_KIND, SECRETS

VISIBLE = {rule.kind: rule.visible_to for rule in DATA_POLICY}
#: The protected report's own text, by kind (checked like the planted personal data).
PLANTED = {**SECRETS, "protected_report": PROTECTED_MARK}
KIND = {**SECRET_KIND, "protected_report": "whistleblower_report"}
#: Search results and exports are for analysts: nothing personal in clear, whoever searches.
SEARCH_PREFIXES = ("/api/v1/search", "/search")
SKIP_PREFIXES = ("/static/", "/docs", "/redoc", "/openapi.json")
CLIENT_LOGGERS = ("httpx", "httpcore")


def compact(text: str) -> str:
    return re.sub(r"[\s\-]", "", text)


def response_text(response) -> str:
    kind = response.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        from openpyxl import load_workbook
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                         if v is not None)
    if "json" in kind:
        try:
            return json.dumps(response.json(), ensure_ascii=False)
        except ValueError:
            return response.text
    return html.unescape(response.text)


def leaks(text: str, caller: str, path: str, echo: str = "") -> list[str]:
    """Planted values in ``text`` that ``caller`` may not see (``echo``: the caller's own query, shown back)."""
    found = []
    flat = compact(text)
    for name, value in PLANTED.items():
        if value == echo:
            continue
        if value not in text and compact(value) not in flat:
            continue
        kind = KIND[name]
        allowed = VISIBLE[kind]
        if path.startswith(SEARCH_PREFIXES) and kind != "whistleblower_report":
            allowed = frozenset()
        if caller not in allowed:
            found.append(f"{name} ({kind}) shown to {caller} by {path}")
    return found


class _Capture(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802
        _Capture.received.append(self.rfile.read(int(self.headers.get("content-length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def all_logs():
    """Every log record of every logger, at DEBUG, from before the world is built."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(level=logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def _targets(built, settings):
    """Sample values per target: case A (plain, with personal data) and the protected report."""
    from core.models import Case
    out = {"a": samples(built)}
    p = built.cases["protected"]
    values = dict(out["a"])
    values.update(case_id=str(p.id), id=str(p.id), number=p.number, tracking_number=p.number, request_id=p.number,
                  doc_id=str(p.document_id), document_id=str(p.document_id))
    try:
        from search.trends.models import TrendMember
        with session_scope(engine_for(settings.resolved_database_url)) as session:
            topic = session.scalar(select(TrendMember.topic_id).where(TrendMember.document_id == p.document_id))
            if topic:
                values["topic_id"] = str(topic)
            assert session.get(Case, p.id).protected
    except ImportError:
        pass
    out["protected"] = values
    return out


def test_personal_data_never_reaches_anyone_the_policy_excludes(all_logs, populated, hardened_app, tmp_path,
                                                               monkeypatch):
    settings, built = populated
    found: list[str] = []
    swept = 0
    # --- at rest, before any probe of ours types a secret into a query ----------------------------
    # Notices, and their copies delivered to a webhook.
    from core.models import AuditEntry, Notice
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from cases.delivery import deliver_pending
        settings.webhook_url = f"http://127.0.0.1:{server.server_port}/hook"
        deliver_pending(engine_for(settings.resolved_database_url), settings=settings)
    except ImportError:
        pass
    finally:
        server.shutdown()
    with session_scope(engine_for(settings.resolved_database_url), readonly=True) as session:
        notices = [f"{n.title}\n{n.body}\n{n.link or ''}" for n in session.scalars(select(Notice))]
        audit_rows = [json.dumps({"a": a.actor, "s": a.subject, "d": a.details}, ensure_ascii=False, default=str)
                      for a in session.scalars(select(AuditEntry))]
    for text in notices + [b.decode() for b in _Capture.received]:
        found += [f"{n} in a notice or its webhook copy" for n, v in PLANTED.items() if v in text]
    for text in audit_rows:
        found += [f"{n} in the audit log" for n, v in PLANTED.items() if v in text and n != "protected_report"]

    # The search index: stored fields through the backend, and the raw files on disk.
    found += _index_leaks(settings, built)
    # The database: contact data only encrypted.
    db = Path(make_url(settings.resolved_database_url).database)
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    for name in ("whistleblower_name", "whistleblower_phone", "contact_name", "contact_phone"):
        if SECRETS[name].encode() in raw:
            found.append(f"{name} stored in clear in the database file")
    # --- every route, as every caller -------------------------------------------------------------
    targets = _targets(built, settings)
    gets = [e for e in endpoints(hardened_app) if e.method == "GET" and not e.pattern.startswith(SKIP_PREFIXES)]
    queries = [PLANTED[k] for k in ("whistleblower_name", "whistleblower_phone", "contact_phone", "id_number",
                                    "text_phone")] + ["电梯", "举报", "贿赂"]
    with TestClient(hardened_app, raise_server_exceptions=False) as client:
        for name in CALLERS:
            for target, values in targets.items():
                caller = Caller(name, built, target)
                limiter.reset()
                client.cookies.clear()
                for key, value in caller.cookies().items():
                    client.cookies.set(key, value)
                # Routes without a path parameter answer the same for both targets: swept once.
                requests = [("GET", fill(e.pattern, values), caller.citizen_fields(), "") for e in gets
                            if target == "a" or "{" in e.pattern]
                if target == "a":
                    requests += [("GET", p, {"q": q}, q) for q in queries
                                 for p in ("/api/v1/search", "/search", "/search/export.csv", "/search/export.xlsx")]
                requests += [("POST", "/track", caller.citizen_fields(), ""),
                             ("POST", f"/console/cases/{values['case_id']}/identity", {"purpose": "核查举报线索"}, "")]
                for method, path, params, echo in requests:
                    if not path:
                        continue
                    limiter.reset()
                    if method == "GET":
                        response = client.get(path, params=params, headers=caller.headers())
                    else:
                        response = client.post(path, data={**(params or {}), "csrf_token": caller.cookies()["ms_csrf"]},
                                               headers=caller.headers())
                    swept += 1
                    if response.status_code >= 500:
                        found.append(f"{method} {path} as {name}: {response.status_code} server error")
                    found += leaks(response_text(response), name, path, echo)
    for record in all_logs:
        if record.name.startswith(CLIENT_LOGGERS):
            continue  # the test client's own request lines, not the server's
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        found += [f"{n} in a log line ({record.name}): {text[:120]}" for n, v in PLANTED.items() if v in text]

    print(f"\nprotected-data sweep: {swept} responses, {len(notices)} notices, {len(audit_rows)} audit rows, "
          f"{len(all_logs)} log records")
    assert not found, "\n".join(sorted(set(found)))


def _index_leaks(settings, built) -> list[str]:
    try:
        from search.backends import forget_backends, get_backend
    except ImportError:
        return []
    out = []
    backend = get_backend(settings)
    for key, case in built.cases.items():
        stored = backend.get(case.document_id)
        assert stored is not None, f"case {key} was not indexed"
        text = json.dumps(stored, ensure_ascii=False, default=str)
        for name, value in SECRETS.items():
            if value in text or compact(value) in compact(text):
                out.append(f"{name} stored in the search index (document of case {key})")
    forget_backends()
    for path in settings.index_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out += [f"{n} in raw index file {path.name}" for n, v in SECRETS.items() if v.encode() in data]
    return out


def test_server_log_file_holds_no_personal_data(populated, tmp_path):
    """``minsheng serve`` at INFO (its access log on): search for a phone, file and track a case with
    contact data, sign in; the log file must not contain the values."""
    from tests.hardening.server import Server

    settings, built = populated
    log = tmp_path / "serve.log"
    server = Server(settings, log).start()
    try:
        import httpx
        token = {"Authorization": f"Bearer {built.api_token('analyst')}"}
        for q in (SECRETS["whistleblower_phone"], SECRETS["id_number"], SECRETS["contact_name"]):
            httpx.get(f"{server.base}/api/v1/search", params={"q": q}, headers=token, timeout=30)
        filed = httpx.post(f"{server.base}/open311/v2/requests.json", timeout=30, json={
            "service_code": "urban", "description": f"路灯坏了很久，请维修。我的身份证{SECRETS['id_number']}。",
            "first_name": SECRETS["contact_name"], "phone": SECRETS["contact_phone"],
            "address_string": SECRETS["door_address"]})
        assert filed.status_code == 201, filed.text
        httpx.get(f"{server.base}/open311/v2/requests.json", params={"service_request_id": built.cases["a"].number},
                  timeout=30)
        httpx.post(f"{server.base}/api/v1/auth/token", data={"username": SECRETS["contact_phone"], "password": "x"},
                   timeout=30)
    finally:
        server.stop()
    text = log.read_text()
    assert "GET /api/v1/search" in text, "the access log is expected to be on at INFO"
    found = [name for name, value in SECRETS.items() if value in text or compact(value) in compact(text)]
    assert not found, f"personal data in the server log: {found}\n{text[-3000:]}"
