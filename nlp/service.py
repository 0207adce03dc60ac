"""The review queue: low-confidence predictions, analysts' corrections, and corrections as training data."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.models import Case, Document, User
from nlp.corpus import Example
from nlp.labels import APPEALS, RISKS, SENTIMENTS, TOPICS
from nlp.models import Correction
from nlp.pipeline import review_thresholds

EXCERPT_CHARS = 240


class ReviewError(ValueError):
    """A correction that cannot be stored; ``message`` is shown to the analyst (Chinese)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class QueueItem:
    id: int
    title: str
    excerpt: str
    source: str
    created_at: Any
    topic: str | None
    topic_score: float | None
    sentiment: str | None
    sentiment_score: float | None
    appeal: str | None
    appeal_score: float | None
    risk: list[str]
    reasons: list[str]

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        return out


def review_reasons(doc: Document) -> list[str]:
    if doc.topic is None:
        return ["empty"]
    return [f"low_{head}" for head, limit in review_thresholds().items()
            if (getattr(doc, f"{head}_score") or 0.0) < limit]


def _excerpt(doc: Document) -> str:
    from core.masking import mask_personal_data

    body = " ".join((doc.body or "").split())
    return mask_personal_data(body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else ""))


#: Roles that may see the text of a protected (whistleblower) report (api.policy DATA_POLICY).
PROTECTED_ROLES = ("supervisor", "dispatcher", "admin")


def _protected_ids():
    return select(Case.document_id).where(Case.protected.is_(True))


def may_see_protected(user: User | None) -> bool:
    return user is None or user.role in PROTECTED_ROLES


def queue(session: Session, limit: int = 50, offset: int = 0, topic: str | None = None,
          include_protected: bool = False) -> tuple[list[QueueItem], int]:
    """Documents waiting for review, least confident first; returns (page, total).

    Protected whistleblower reports stay out unless ``include_protected`` (never shown to analysts).
    """
    where = [Document.needs_review.is_(True)]
    if not include_protected:
        where.append(Document.id.not_in(_protected_ids()))
    if topic:
        where.append(Document.topic == topic)
    total = session.scalar(select(func.count()).select_from(Document).where(*where)) or 0
    docs = session.scalars(
        select(Document).where(*where)
        .order_by(func.coalesce(Document.topic_score, 0.0), Document.id).limit(limit).offset(offset)
    ).all()
    items = [
        QueueItem(
            id=d.id, title=d.title, excerpt=_excerpt(d), source=d.source, created_at=d.created_at,
            topic=d.topic, topic_score=d.topic_score, sentiment=d.sentiment, sentiment_score=d.sentiment_score,
            appeal=d.appeal, appeal_score=d.appeal_score, risk=list(d.risk or []), reasons=review_reasons(d),
        )
        for d in docs
    ]
    return items, int(total)


def _check(value: Any, allowed: tuple[str, ...], field_zh: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ReviewError(f"{field_zh}“{value}”无效，可选值：{'、'.join(allowed)}。")
    return value


def correct(
    session: Session,
    document_id: int,
    user: User | None,
    topic: str | None = None,
    sentiment: str | None = None,
    appeal: str | None = None,
    risk: list[str] | None = None,
    note: str | None = None,
    username: str | None = None,
) -> Correction:
    """Store a correction, apply it to the document (out of the queue) and audit it; caller commits.

    Every value is checked before anything is written, so a bad request stores nothing.
    """
    topic = _check(topic, TOPICS, "主题")
    sentiment = _check(sentiment, SENTIMENTS, "情感")
    appeal = _check(appeal, APPEALS, "诉求类型")
    if risk is not None:
        if not isinstance(risk, list) or any(not isinstance(r, str) or r not in RISKS for r in risk):
            raise ReviewError(f"风险标记无效，可选值：{'、'.join(RISKS)}（可为空列表）。")
        risk = [r for r in RISKS if r in risk]
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ReviewError("备注须为不超过 500 字的文本。")
    doc = session.get(Document, document_id)
    hidden = doc is not None and not may_see_protected(user) and session.scalar(
        select(func.count()).select_from(Case).where(Case.document_id == doc.id, Case.protected.is_(True)))
    if doc is None or hidden:
        raise ReviewError(f"文档 {document_id} 不存在。", status=404)
    if topic is None and sentiment is None and appeal is None and risk is None:
        raise ReviewError("请至少给出一项标注（主题、情感、诉求类型或风险标记）。")
    predicted = {
        "topic": doc.topic, "topic_score": doc.topic_score, "sentiment": doc.sentiment,
        "sentiment_score": doc.sentiment_score, "appeal": doc.appeal, "appeal_score": doc.appeal_score,
        "risk": list(doc.risk or []),
    }
    name = username or (user.username if user else "system")
    row = Correction(
        document_id=doc.id, topic=topic, sentiment=sentiment, appeal=appeal, risk=risk, predicted=predicted,
        user_id=user.id if user else None, username=name, note=note or None,
    )
    session.add(row)
    apply_correction(doc, row)
    session.flush()
    audit.append(session, name, "nlp.correct", f"document:{doc.id}",
                 {"before": predicted, "after": {"topic": topic, "sentiment": sentiment, "appeal": appeal, "risk": risk}})
    return row


def apply_correction(doc: Document, row: Correction) -> None:
    """An analyst's label beats the model's: scores become 1.0 and the document leaves the queue."""
    if row.topic:
        doc.topic, doc.topic_score = row.topic, 1.0
    if row.sentiment:
        doc.sentiment, doc.sentiment_score = row.sentiment, 1.0
    if row.appeal:
        doc.appeal, doc.appeal_score = row.appeal, 1.0
    if row.risk is not None:
        doc.risk, doc.has_risk = list(row.risk), bool(row.risk)
    doc.needs_review = False


def latest_correction(session: Session, document_id: int) -> Correction | None:
    return session.scalars(
        select(Correction).where(Correction.document_id == document_id)
        .order_by(Correction.created_at.desc(), Correction.id.desc()).limit(1)
    ).first()


def training_examples(session: Session) -> list[Example]:
    """The latest correction of each document joined with its text, for ``minsheng train``."""
    latest = (
        select(Correction.document_id, func.max(Correction.id).label("cid"))
        .group_by(Correction.document_id).subquery()
    )
    rows = session.execute(
        select(Correction, Document).join(latest, latest.c.cid == Correction.id)
        .join(Document, Document.id == Correction.document_id).order_by(Correction.id)
    ).all()
    out = []
    for corr, doc in rows:
        out.append(Example(
            id=f"doc{doc.id}", title=doc.title or "", text=doc.body or "",
            topic=corr.topic or None, sentiment=corr.sentiment or None, appeal=corr.appeal or None,
            risk=list(corr.risk) if corr.risk is not None else None, source="correction",
        ))
    return out
