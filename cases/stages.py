"""Worker stage ``route`` (order 200, after NLP): suggest a department for a filed case and put
high-risk cases at the top of the queue with a supervisor notified at once. Idempotent."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import routing
from cases import state
from cases.state import get_meta
from core import audit, notices
from core.database import utcnow
from core.models import Case, Document
from core.outbox.stages import register_stage

ROUTABLE = ("held", "submitted", "accepted", "returned")


@register_stage("route", 200)
def route(session: Session, document: Document) -> None:
    case = session.scalar(select(Case).where(Case.document_id == document.id))
    if case is None:
        return
    state._lock(session, case)  # noqa: SLF001 - same lock order as every transition
    if document.topic and not case.topic:
        case.topic = document.topic
    meta = get_meta(session, case)
    if case.status in ROUTABLE:
        suggestion = routing.suggest(session, case, document)
        meta.suggested_department_code = suggestion.department_code
        meta.suggestion_reason = suggestion.reason
        meta.suggestion_rule_id = suggestion.rule_id
        meta.suggested_at = utcnow()
    risk = list(document.risk or [])
    if risk:
        case.risk = risk
        case.priority = routing.priority_for(risk, case.priority)
        if not meta.urgent:
            meta.urgent = True
            audit.append(session, "worker", "case.risk_flag", f"case:{case.id}", {"risk": risk, "priority": case.priority})
        notices.notify(
            session, f"case:{case.id}:risk", f"高风险诉求：{case.tracking_number}（{'、'.join(risk)}）",
            kind="risk", level="urgent", role="supervisor", link=f"/console/cases/{case.id}", body=case.title,
        )
