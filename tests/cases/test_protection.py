"""Whistleblower protection: a 举报 about an official keeps the reporter's identity out of every
department view, API answer, export, notification (in-app, e-mail, webhook), audit row and log line;
only a supervisor can open it, and that view is audited. Also proves e-mail and webhook delivery."""
from __future__ import annotations

import email
import email.policy
import io
import json
import logging
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from cases.models import Contact
from cases.stages import route
from cases.sweep import sweep
from core.models import AuditEntry, Case, Document, Notice
from core.settings import reset_settings
from tests.cases.conftest import PASSWORD, WHISTLEBLOWER, local
from tests.conftest import api_token, csrf_token, login

NAME, PHONE = WHISTLEBLOWER["name"], WHISTLEBLOWER["phone"]
SECRETS = (NAME, PHONE, PHONE[-4:] + "", "王*")


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        _Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class _Smtp(socketserver.StreamRequestHandler):
    """A minimal SMTP sink: enough of RFC 5321 for smtplib to deliver a message."""

    messages: list[str] = []

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 sink")
        while True:
            line = self.rfile.readline().decode(errors="replace").strip()
            if not line:
                return
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "DATA":
                self.reply("354 go on")
                data = []
                while (chunk := self.rfile.readline().decode(errors="replace")) not in (".\r\n", ""):
                    data.append(chunk)
                message = email.message_from_string("".join(data), policy=email.policy.default)
                _Smtp.messages.append(f"{message['To']}\n{message['Subject']}\n{message.get_content()}")
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def sinks(monkeypatch):
    _Webhook.received, _Smtp.messages = [], []
    http = HTTPServer(("127.0.0.1", 0), _Webhook)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    smtp.daemon_threads = True
    for server in (http, smtp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MINSHENG_WEBHOOK_URL", f"http://127.0.0.1:{http.server_address[1]}/hook")
    monkeypatch.setenv("MINSHENG_SMTP_URL", f"smtp://127.0.0.1:{smtp.server_address[1]}/?from=minsheng@gov.example&to=duty@gov.example")
    reset_settings()
    yield _Webhook, _Smtp
    http.shutdown()
    smtp.shutdown()
    reset_settings()


def leaks(text: str) -> list[str]:
    return [s for s in (NAME, PHONE, "王**", "139****5678") if s in text]


def test_reporter_identity_reaches_only_supervisors(world, client, sinks, caplog):
    caplog.set_level(logging.DEBUG)
    webhook, smtp = sinks
    t0 = local(2026, 11, 23, 9)
    case_id, _ = world.file(**WHISTLEBLOWER)
    with world.session() as s:
        case = s.get(Case, case_id)
        assert case.protected and case.contact_name_enc and NAME.encode() not in case.contact_name_enc
        s.add(Contact(role="supervisor", email="jiwei@gov.example"))
        route(s, case.document)  # the worker's routing stage
    world.act(case_id, "accept", "disp", now=t0)
    world.act(case_id, "assign", "disp", now=t0, department_code="discipline")
    report = sweep(local(2026, 12, 20), world.engine)  # reminders, cards and escalation, delivered by mail and webhook
    assert report.notices >= 10 and report.escalated == 2 and report.delivered >= report.notices
    world.act(case_id, "sign", "discipline1")

    seen: list[str] = []
    login(client, "discipline1", PASSWORD)
    seen += [client.get("/console/department").text, client.get(f"/console/cases/{case_id}").text]
    assert "举报人身份受保护" in seen[-1]
    dept = api_token(client, "discipline1", PASSWORD)
    seen += [client.get(f"/api/v1/cases/{case_id}", headers=dept).text, client.get("/api/v1/cases", headers=dept).text]
    for who in ("disp", "ana", "admin1"):
        headers = api_token(client, who, PASSWORD)
        seen.append(client.get(f"/api/v1/cases/{case_id}", headers=headers).text)
        login(client, who, PASSWORD)
        seen.append(client.get(f"/console/cases/{case_id}").text)
        forbidden = client.post(f"/console/cases/{case_id}/identity",
                                data={"purpose": "核实", "csrf_token": csrf_token(client)})
        assert forbidden.status_code == 403
        seen.append(forbidden.text)
    analyst = api_token(client, "ana", PASSWORD)  # analysts never read the report itself
    assert client.get(f"/api/v1/cases/{case_id}", headers=analyst).status_code == 403
    assert case_id not in [c["id"] for c in client.get("/api/v1/cases", headers=analyst).json()]
    login(client, "ana", PASSWORD)
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 403 and "收受红包" not in page.text
    login(client, "sup", PASSWORD)
    case_page = client.get(f"/console/cases/{case_id}").text
    seen += [case_page, client.get("/console/supervise").text, client.get("/console/scorecards/discipline").text,
             client.get("/console/scorecards/export.csv").content.decode("utf-8-sig")]
    wb = load_workbook(io.BytesIO(client.get("/console/scorecards/export.xlsx").content))
    seen.append(json.dumps([list(r) for r in wb.active.iter_rows(values_only=True)], ensure_ascii=False, default=str))
    with world.session(readonly=True) as s:
        seen += [f"{n.title} {n.body}" for n in s.scalars(select(Notice))]
        seen += [json.dumps(a.details, ensure_ascii=False) for a in s.scalars(select(AuditEntry))]
        doc = s.get(Document, s.get(Case, case_id).document_id)  # what search indexes
        seen.append(json.dumps([doc.title, doc.body, doc.author, doc.raw], ensure_ascii=False))
    seen += [json.dumps(p, ensure_ascii=False) for p in webhook.received]
    seen += smtp.messages
    seen += [r.getMessage() for r in caplog.records]
    assert webhook.received and smtp.messages and len(seen) > 20
    assert [leaks(text) for text in seen if leaks(text)] == []

    # the supervisor opens it on purpose; the view is audited
    opened = client.post(f"/console/cases/{case_id}/identity", data={"purpose": "核实举报线索", "csrf_token": csrf_token(client)})
    assert opened.status_code == 200 and NAME in opened.text and PHONE in opened.text
    with world.session(readonly=True) as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "case.identity_view"))
        assert row.subject == f"case:{case_id}" and row.details["purpose"] == "核实举报线索"
        assert NAME not in json.dumps(row.details, ensure_ascii=False)
    missing = client.post(f"/console/cases/{case_id}/identity", data={"purpose": "", "csrf_token": csrf_token(client)})
    assert missing.status_code == 422 and "事由" in missing.text


def test_delivery_sends_each_notice_once(world, sinks):
    webhook, smtp = sinks
    t0 = local(2026, 11, 23, 9)
    world.assigned("housing", now=t0)
    with world.session() as s:
        s.add(Contact(department_code="housing", email="zhujian@gov.example"))
    first = sweep(local(2026, 11, 25, 12), world.engine)
    assert first.notices == 3 and first.delivered >= 3
    again = sweep(local(2026, 11, 25, 13), world.engine)
    assert again.notices == 0 and again.delivered == 0
    kinds = [p["kind"] for p in webhook.received]
    assert kinds.count("remind50") == 1 and kinds.count("yellow") == 1
    assert all(p["link"].startswith("http://") for p in webhook.received if p["link"])
    assert any("zhujian@gov.example" in m and "【提醒】" in m for m in smtp.messages)
    with world.session(readonly=True) as s:
        assert all(n.delivered_at for n in s.scalars(select(Notice)))


@pytest.mark.postgres
def test_concurrent_sweepers_deliver_each_copy_once(world, sinks):
    """Two sweepers at once on PostgreSQL: every notice is written once and copied once by e-mail and webhook."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("concurrency of sweepers is a PostgreSQL property (SQLite has one writer)")
    webhook, smtp = sinks
    t0 = local(2026, 11, 23, 9)
    for i in range(6):
        world.assigned("housing" if i % 2 else "ecology", now=t0, phone=f"1380014{i:04d}")
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(sweep(local(2026, 12, 20), world.engine, batch=4))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sum(r.failed for r in reports) == 0
    with world.session(readonly=True) as s:
        ids = [n.id for n in s.scalars(select(Notice))]
        assert all(n.delivered_at for n in s.scalars(select(Notice)))
    assert sum(r.notices for r in reports) == 6 * 2 * 5  # sign and answer clocks: 50 %, 80 %, yellow, red + escalation
    assert sum(r.delivered for r in reports) == len(ids)
    assert sorted(p["id"] for p in webhook.received) == sorted(ids)  # one POST per notice
    assert len(smtp.messages) == len(ids)  # one e-mail per notice (to the duty address)
