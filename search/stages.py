"""Worker stage ``index`` (order 300): queue the document for the index, durably and idempotently.

The stage records the document in ``search_pending`` inside its own transaction (so the outbox
marker and the queue row commit together) and wakes this process's drainer once that
transaction has committed; the drainer writes queued documents in batches (search.indexer).
Re-running the stage only re-queues the same id. The stage also serves the ``reindex`` pipeline,
so a package that changed something the index shows (a case's status or department) can call
``core.outbox.service.enqueue(session, document_id, pipeline="reindex")`` without re-running NLP.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.models import Document
from core.outbox.stages import register_stage
from search.indexer import enqueue, wake


@register_stage("index", 300, pipelines=("document", "reindex"))
def index_document(session: Session, document: Document) -> None:
    enqueue(session, document.id)
    engine = session.get_bind()
    event.listen(session, "after_commit", lambda _s: wake(engine), once=True)
