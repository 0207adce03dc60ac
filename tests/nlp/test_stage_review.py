"""The worker stage writes every NLP column; analysts' corrections fix labels, leave the queue,
survive reprocessing and feed training; the review API checks roles and inputs."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.database import session_scope
from core.ingest import IncomingDocument, add_document
from core.models import AuditEntry, Document
from nlp import service, simhash
from nlp.models import Correction
from nlp.stages import nlp_stage

TITLE = "A2区丽发新城小区物业乱收费"
BODY = "物业公司乱收停车费，业主多次反映没有结果，准备集体上访。联系电话13800138000。"


def _doc(engine, title=TITLE, body=BODY) -> int:
    with session_scope(engine) as session:
        return add_document(session, IncomingDocument(source="test", title=title, body=body)).id


def _process(engine, doc_id: int) -> None:
    with session_scope(engine) as session:
        nlp_stage(session, session.get(Document, doc_id))


def test_stage_writes_every_column_and_is_idempotent(engine, use_tiny_model):
    doc_id = _doc(engine)
    _process(engine, doc_id)
    with session_scope(engine, readonly=True) as session:
        d = session.get(Document, doc_id)
        first = (d.tokens, d.topic, d.topic_score, d.simhash, d.sim_band0, d.risk, d.places, d.keywords)
        assert d.tokens.split()[:2] == ["物业公司", "乱收"] and d.title_tokens.startswith("A2区 丽发")
        assert d.topic and set(d.topic_scores) and d.sentiment and d.appeal and d.appeal_score is not None
        assert d.has_risk and {"repeat", "group_action"} <= set(d.risk)
        assert "丽发新城" in d.places and d.keywords
        assert -(1 << 63) <= d.simhash < 1 << 63
        assert (d.sim_band0, d.sim_band1, d.sim_band2, d.sim_band3) == simhash.bands(d.simhash)
    _process(engine, doc_id)
    with session_scope(engine, readonly=True) as session:
        d = session.get(Document, doc_id)
        assert (d.tokens, d.topic, d.topic_score, d.simhash, d.sim_band0, d.risk, d.places, d.keywords) == first


def test_near_duplicate_documents_are_found_through_their_bands(engine, use_tiny_model):
    a = _doc(engine)
    b = _doc(engine, body=BODY.replace("准备集体上访", "准备集体上访！"))
    c = _doc(engine, "公交班次太少", "公交车班次太少，早高峰等车一个小时，希望增加班次。")
    for doc_id in (a, b, c):
        _process(engine, doc_id)
    with session_scope(engine, readonly=True) as session:
        value = session.get(Document, a).simhash
        assert [i for i, _ in simhash.near_documents(session, value, exclude_id=a)] == [b]


def test_empty_document_goes_to_review(engine, use_tiny_model):
    doc_id = _doc(engine, "", "😀")
    _process(engine, doc_id)
    with session_scope(engine, readonly=True) as session:
        d = session.get(Document, doc_id)
        assert d.topic is None and d.needs_review and d.tokens == ""
        items, total = service.queue(session)
        assert total == 1 and items[0].reasons == ["empty"]


def test_correction_applies_audits_survives_reprocessing_and_feeds_training(engine, use_tiny_model):
    doc_id = _doc(engine)
    _process(engine, doc_id)
    with session_scope(engine) as session:
        session.get(Document, doc_id).needs_review = True
    with session_scope(engine) as session:
        assert service.queue(session)[1] == 1
        item = service.queue(session)[0][0]
        assert "138****8000" in item.excerpt and "13800138000" not in item.excerpt
        service.correct(session, doc_id, None, topic="城乡建设", appeal="投诉", risk=["repeat"], username="ana")
    _process(engine, doc_id)  # the model runs again: the analyst's labels stay
    with session_scope(engine, readonly=True) as session:
        d = session.get(Document, doc_id)
        assert (d.topic, d.topic_score, d.appeal, d.risk, d.needs_review) == ("城乡建设", 1.0, "投诉", ["repeat"], False)
        assert service.queue(session)[1] == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "nlp.correct")) == 1
        examples = service.training_examples(session)
        assert len(examples) == 1 and examples[0].topic == "城乡建设" and examples[0].sentiment is None
        assert examples[0].text == BODY and examples[0].source == "correction"


@pytest.mark.parametrize("kwargs,message", [
    ({"topic": "房地产"}, "主题"), ({"sentiment": "angry"}, "情感"), ({"appeal": "投诉建议"}, "诉求类型"),
    ({"risk": ["fire"]}, "风险标记"), ({"risk": "repeat"}, "风险标记"), ({}, "至少"), ({"topic": 5}, "主题"),
    ({"topic": "城乡建设", "note": "x" * 501}, "备注"),
])
def test_bad_corrections_store_nothing(engine, kwargs, message):
    doc_id = _doc(engine)
    with session_scope(engine) as session:
        with pytest.raises(service.ReviewError) as info:
            service.correct(session, doc_id, None, **kwargs)
        assert message in info.value.message and info.value.status == 422
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Correction)) == 0


def test_correction_of_unknown_document(engine):
    with session_scope(engine) as session:
        with pytest.raises(service.ReviewError) as info:
            service.correct(session, 999999, None, topic="城乡建设")
    assert info.value.status == 404
