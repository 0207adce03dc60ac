"""From database rows to ``IndexDoc``: what an analyst may find, and nothing more.

Included: the document's masked title and body, its NLP labels, and from its Case (if any) the
tracking number, status and department. Never included: the author field, the case's contact
data, the reporter's identity or the free-text address; phone numbers, ID card numbers, e-mail
addresses and door numbers are masked before anything is stored or tokenised. Reports flagged
``protected`` (whistleblowers) are indexed with a flag that only the supervising role's searches
lift.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.masking import mask_personal_data
from core.models import Case, Document
from search.schema import IndexDoc
from search.tokens import index_field, split_stored, tokenize

MAX_BODY_CHARS = 20_000


def _tokens(raw: str, masked: str, stored: str | None) -> list[str]:
    """The NLP stage's tokens, unless masking changed the text (then tokens of the masked text)."""
    if stored and stored.strip() and masked == raw:
        return split_stored(stored)
    return tokenize(masked)


def _places(doc: Document, case: Case | None) -> list[str]:
    places = [p for p in (doc.places or []) if isinstance(p, str) and p.strip()]
    if case is not None:
        places += [p for p in (case.place_district, case.place_street, case.place_community) if p]
    return list(dict.fromkeys(p.strip()[:100] for p in places))


def build(doc: Document, case: Case | None) -> IndexDoc:
    title_raw, body_raw = doc.title or "", (doc.body or "")[:MAX_BODY_CHARS]
    title, body = mask_personal_data(title_raw), mask_personal_data(body_raw)
    places = _places(doc, case)
    risk = list(doc.risk or []) or list((case.risk if case is not None else None) or [])
    return IndexDoc(
        id=doc.id,
        source=doc.source,
        title=title,
        body=body,
        tokens=index_field(_tokens(body_raw, body, doc.tokens if len(doc.body or "") <= MAX_BODY_CHARS else None)),
        title_tokens=index_field(_tokens(title_raw, title, doc.title_tokens)),
        time=doc.published_at or doc.created_at,
        topic=doc.topic or (case.topic if case is not None else None),
        sentiment=doc.sentiment,
        appeal=doc.appeal or (case.appeal_type if case is not None else None),
        risk=[str(r) for r in risk],
        places=places,
        place_tokens=" ".join(t for p in places for t in tokenize(p)),
        keywords=[k for k in (doc.keywords or []) if isinstance(k, str)][:20],
        department=case.department_code if case is not None else None,
        status=case.status if case is not None else None,
        case=case.tracking_number if case is not None else None,
        heat=int(doc.likes or 0),
        protected=bool(case is not None and case.protected),
        url=doc.url if case is None else None,
    )


def load(session: Session, ids: Iterable[int]) -> tuple[list[IndexDoc], list[int]]:
    """Index documents for ``ids`` (two queries), and the ids to remove from the index: those that no
    longer exist and crawled near-duplicates linked to an earlier document (the same story on two
    sites is indexed once, under the first)."""
    ids = sorted(set(int(i) for i in ids))
    if not ids:
        return [], []
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    cases = {c.document_id: c for c in session.scalars(select(Case).where(Case.document_id.in_(list(docs))))} if docs else {}
    keep = [i for i in ids if i in docs and (docs[i].duplicate_of_id is None or i in cases)]
    built = [build(docs[i], cases.get(i)) for i in keep]
    missing = [i for i in ids if i not in set(keep)]
    return built, missing
