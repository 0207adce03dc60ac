"""The NLP worker stage: analyse a document and write the results onto it (idempotent).

Runs at order 100, before routing (cases, 200), indexing (search, 300) and trends (400), so
they all read its topic, tokens, risk flags and fingerprint. A flagged document gets
``has_risk``: the cases and trends owners put it in the urgent queue and notify. A document an
analyst has corrected keeps the analyst's labels when it is processed again.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from core.database import utcnow
from core.models import Document
from core.outbox.stages import register_stage
from nlp.pipeline import Analysis, analyse


def apply_analysis(doc: Document, result: Analysis) -> None:
    """Copy an analysis onto the document's NLP columns."""
    doc.tokens = " ".join(result.tokens)
    doc.title_tokens = " ".join(result.title_tokens)
    doc.topic = result.topic
    doc.topic_score = result.topic_score
    doc.topic_scores = result.topic_scores
    doc.sentiment = result.sentiment
    doc.sentiment_score = result.sentiment_score
    doc.appeal = result.appeal
    doc.appeal_score = result.appeal_score
    doc.risk = list(result.risk)
    doc.has_risk = result.has_risk
    doc.keywords = list(result.keywords)
    doc.places = list(result.places)
    doc.organisations = list(result.organisations)
    doc.simhash = result.simhash_signed
    doc.sim_band0, doc.sim_band1, doc.sim_band2, doc.sim_band3 = result.bands
    doc.needs_review = result.needs_review
    doc.updated_at = utcnow()


@register_stage("nlp", 100)
def nlp_stage(session: Session, document: Document) -> None:
    from nlp.service import apply_correction, latest_correction

    if document is None:
        return
    apply_analysis(document, analyse(document.title or "", document.body or ""))
    correction = latest_correction(session, document.id)
    if correction is not None:
        apply_correction(document, correction)
    session.flush()
