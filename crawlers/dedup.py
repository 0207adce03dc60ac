"""Near-duplicate linking: the same story on two sites becomes one document plus a linked copy.

The fingerprint is the NLP package's 64-bit simhash (``nlp.simhash.fingerprint``: IDF-weighted
content words of the jieba tokens), stored signed with its four 16-bit bands. Candidates come from
an indexed equality on any band (``nlp.simhash.near_documents``: two hashes within 3 bits share a
band, by pigeonhole) and are then checked bit by bit. The fingerprint is taken at ingestion, not
left to the NLP stage, so a copy crawled a second later is already linked.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Document

MAX_DISTANCE = 3


def fingerprint_text(title: str, body: str) -> int | None:
    """Unsigned 64-bit simhash of a document's title and body; ``None`` when it has no words."""
    from nlp.segment import tokenize
    from nlp.simhash import fingerprint

    tokens = tokenize(f"{title}\n{body}")
    value = fingerprint(tokens) if tokens else 0
    return value or None


def available() -> bool:
    """Whether the NLP package (segmentation and simhash) can be imported here."""
    try:
        import nlp.segment  # noqa: F401
        import nlp.simhash  # noqa: F401
    except ImportError:
        return False
    return True


def warm() -> None:
    """Load the segmenter and IDF table now (seconds, once per process) rather than on the first item."""
    fingerprint_text("预热", "预热")


def fingerprint_and_link(session: Session, doc: Document) -> int | None:
    """Fingerprint a new document and link it to an earlier near-duplicate; returns that one's id."""
    from nlp import simhash as sh

    value = fingerprint_text(doc.title, doc.body)
    if value is None:
        return None
    doc.simhash = sh.to_signed(value)
    doc.sim_band0, doc.sim_band1, doc.sim_band2, doc.sim_band3 = sh.bands(value)
    session.flush()
    near = sh.near_documents(session, value, MAX_DISTANCE, exclude_id=doc.id)
    if not near:
        return None
    earlier = [doc_id for doc_id, _ in near if doc_id < doc.id] or [near[0][0]]
    original_id = earlier[0]
    root = session.scalar(select(Document.duplicate_of_id).where(Document.id == original_id))
    doc.duplicate_of_id = root or original_id  # always point at the first story, never at a copy
    session.flush()
    return doc.duplicate_of_id
