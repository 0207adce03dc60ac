"""Filing a case: one transaction writes the document, its outbox row, the case, its first timeline
step, the attachments' records and the audit row — or nothing at all."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.crypto import encrypt, fingerprint
from core.database import utcnow
from core.ingest import IncomingDocument, add_document, normalise_text
from core.models import Attachment, Case, CaseEvent, Topic
from core.settings import Settings, get_settings
from intake import attachments as files
from intake.codes import hash_query_code, new_query_code, new_tracking_number
from intake.forms import Filing
from intake.screening import hold_reason

DUPLICATE_WINDOW = dt.timedelta(hours=24)
PROTECTED_TOPIC = "discipline"  # 纪检监察


@dataclass
class FilingResult:
    case: Case
    query_code: str | None  # None when an existing case was returned (its code was shown before)
    duplicate: bool


def text_fingerprint(filing: Filing) -> str:
    return hashlib.sha256(f"{normalise_text(filing.title)}\n{normalise_text(filing.description)}".encode()).hexdigest()


def contact_key(filing: Filing, client_ip: str | None, settings: Settings) -> str | None:
    """Who filed it, for the 24-hour repeat check: the phone if given, else the client address."""
    if filing.phone:
        return fingerprint(filing.phone, "contact", settings)
    if client_ip:
        return fingerprint(client_ip, "ip", settings)
    return None


def find_recent_duplicate(session: Session, fingerprint_: str, contact: str | None) -> Case | None:
    if contact is None:
        return None
    since = utcnow() - DUPLICATE_WINDOW
    return session.scalar(
        select(Case).where(Case.text_fingerprint == fingerprint_, Case.contact_hmac == contact, Case.created_at >= since)
        .order_by(Case.id).limit(1)
    )


def file_case(
    session: Session,
    filing: Filing,
    uploads: list[files.CheckedFile],
    client_ip: str | None,
    settings: Settings | None = None,
) -> FilingResult:
    """File a validated complaint. The caller commits; on any error nothing is kept."""
    settings = settings or get_settings()
    fingerprint_ = text_fingerprint(filing)
    contact = contact_key(filing, client_ip, settings)
    existing = find_recent_duplicate(session, fingerprint_, contact)
    if existing is not None:
        return FilingResult(existing, None, True)

    protected = filing.appeal_type == "举报" and filing.category == PROTECTED_TOPIC
    topic = session.get(Topic, filing.category) if filing.category else None
    place = " ".join(p for p in (filing.district, filing.street, filing.community, filing.place_text) if p)
    document = add_document(session, IncomingDocument(
        source="form" if filing.channel == "form" else filing.channel,
        title=filing.title,
        body=filing.description,
        raw={"appeal_type": filing.appeal_type, "category": topic.name if topic else None, "place": place},
    ))
    reason = hold_reason(filing.title, filing.description)
    code = new_query_code()
    case = Case(
        tracking_number=new_tracking_number(session),
        query_code_hash=hash_query_code(code),
        document_id=document.id,
        channel=filing.channel,
        appeal_type=filing.appeal_type,
        category_topic=topic.code if topic else None,
        topic=topic.name if topic else None,
        title=filing.title,
        place_district=filing.district or None,
        place_street=filing.street or None,
        place_community=filing.community or None,
        place_text=filing.place_text or None,
        contact_name_enc=encrypt(filing.name, settings),
        contact_phone_enc=encrypt(filing.phone, settings),
        contact_hmac=contact,
        anonymous=filing.anonymous,
        consent=filing.consent,
        protected=protected,
        status="held" if reason else "submitted",
        held_reason=reason,
        text_fingerprint=fingerprint_,
        client_ip_hash=fingerprint(client_ip, "ip", settings) if client_ip else None,
        extra={},
    )
    session.add(case)
    session.flush()
    session.add(CaseEvent(
        case_id=case.id, kind="submitted", status_after="submitted", public=True,
        public_note="您的诉求已提交，等待受理。", actor_role="citizen",
    ))
    if reason:
        session.add(CaseEvent(case_id=case.id, kind="held", status_after="held", public=True,
                              public_note="您的诉求需经人工审核后受理。", internal_note=reason, actor_role="system"))
    for upload in uploads:
        path = files.store(upload, settings)
        session.add(Attachment(case_id=case.id, purpose="filing", filename=upload.filename,
                               content_type=upload.content_type, size=len(upload.data), sha256=upload.sha256,
                               storage_path=path))
    audit.append(session, "citizen", "case.file", f"case:{case.id}", {
        "tracking_number": case.tracking_number, "channel": filing.channel, "appeal_type": filing.appeal_type,
        "attachments": len(uploads), "held": bool(reason), "protected": protected,
    })
    session.flush()
    return FilingResult(case, code, False)
