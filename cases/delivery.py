"""Copies of in-app notices by e-mail (``MINSHENG_SMTP_URL``) and to a webhook (``MINSHENG_WEBHOOK_URL``).

The in-app notice is the record and is written exactly once; delivery marks it
``delivered_at`` after every configured channel accepted it. A crash between sending and
marking repeats the copy on the next sweep (at least once), never the notice itself.
Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two sweepers do not both send.

``MINSHENG_SMTP_URL``: ``smtp://user:pass@host:port/?from=noreply@example.gov.cn&to=duty@example.gov.cn&starttls=1``
(``smtps://`` for implicit TLS). Recipients are the addresses in the contacts table for the
notice's role or department, plus ``to`` as a catch-all.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

import httpx
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from cases.models import Contact
from core.database import session_factory, utcnow
from core.models import Notice
from core.settings import Settings, get_settings

log = logging.getLogger("minsheng.cases.delivery")
MAX_AGE = dt.timedelta(days=2)  # older undelivered copies are given up (the in-app notice stays)


def payload(notice: Notice, settings: Settings) -> dict[str, object]:
    return {
        "id": notice.id, "kind": notice.kind, "level": notice.level, "title": notice.title, "body": notice.body,
        "link": f"{settings.public_base_url.rstrip('/')}{notice.link}" if notice.link else None,
        "recipient_role": notice.recipient_role, "recipient_department": notice.recipient_department,
        "created_at": notice.created_at.isoformat(),
    }


def post_webhook(url: str, data: dict[str, object]) -> bool:
    try:
        response = httpx.post(url, json=data, timeout=5.0)
    except httpx.HTTPError as exc:
        log.warning("webhook delivery failed: %s", exc.__class__.__name__)
        return False
    if response.status_code >= 300:
        log.warning("webhook answered %s", response.status_code)
        return False
    return True


def send_mail(smtp_url: str, recipients: list[str], subject: str, text: str) -> bool:
    parts = urlparse(smtp_url)
    query = parse_qs(parts.query)
    sender = query.get("from", ["minsheng@localhost"])[0]
    if not recipients:
        return True
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message.set_content(text)
    try:
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25), timeout=10) as smtp:
            if query.get("starttls", ["0"])[0] in ("1", "true"):
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail delivery failed: %s", exc.__class__.__name__)
        return False
    return True


def recipients_for(session, notice: Notice, smtp_url: str) -> list[str]:
    clauses = []
    if notice.recipient_role:
        clauses.append(Contact.role == notice.recipient_role)
    if notice.recipient_department:
        clauses.append(Contact.department_code == notice.recipient_department)
    found = list(session.scalars(select(Contact.email).where(or_(*clauses)))) if clauses else []
    fallback = parse_qs(urlparse(smtp_url).query).get("to", [])
    return sorted(set(found) | set(fallback))


def deliver_pending(engine: Engine, now: dt.datetime | None = None, limit: int = 100,
                    settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    if not (settings.smtp_url or settings.webhook_url):
        return 0
    now = now or utcnow()
    delivered = 0
    with session_factory(engine)() as session:
        stmt = (select(Notice).where(Notice.delivered_at.is_(None), Notice.created_at >= utcnow() - MAX_AGE)
                .order_by(Notice.id).limit(limit))
        if engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for notice in session.scalars(stmt):
            ok = True
            if settings.webhook_url:
                ok &= post_webhook(settings.webhook_url, payload(notice, settings))
            if settings.smtp_url and ok:
                link = payload(notice, settings)["link"] or ""
                ok &= send_mail(settings.smtp_url, recipients_for(session, notice, settings.smtp_url),
                                f"[民声] {notice.title}", f"{notice.title}\n\n{notice.body}\n\n{link}")
            if ok:
                notice.delivered_at = utcnow()
                delivered += 1
        session.commit()
    return delivered
