"""Worker stage ``trends`` (order 400): after NLP (100), routing (200) and indexing (300)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Case, Document
from core.outbox.stages import register_stage
from search.trends.engine import process
from search.trends.features import features_of


@register_stage("trends", 400)
def trends_stage(session: Session, document: Document) -> None:
    """Assign the document to a hot topic, update surge counts, alert on risk flags at once."""
    if document is None or document.duplicate_of_id is not None:
        return  # the same story on a second site: counted once, through the original
    if session.scalar(select(Case.protected).where(Case.document_id == document.id)):
        return  # a whistleblower report never enters hot topics, counts, alerts or briefings
    process(session, features_of(document))
