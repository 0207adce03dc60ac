"""The worker stage on both databases: grouping, idempotence, risk alerts, surges, bounded cost."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event, func, select

from core.database import session_scope
from core.models import Notice
from search.trends.models import HotTopic, TrendAlert, TrendCount, TrendMember
from search.trends.stages import trends_stage
from tests.trends.helpers import INCIDENT, OTHERS, T0, add_doc


def _topic_of(session, doc) -> int:
    return session.get(TrendMember, doc.id).topic_id


def test_same_problem_same_place_becomes_one_topic(engine):
    with session_scope(engine) as s:
        docs = [add_doc(s, t, f"{t}，希望有关部门尽快处理。", places=["丽发新城"], at=T0 + dt.timedelta(hours=i))
                for i, t in enumerate(INCIDENT[:8])]
        others = [add_doc(s, t, t, places=p, label=lbl, at=T0 + dt.timedelta(minutes=7 * i)) for i, (t, lbl, p) in enumerate(OTHERS)]
        topics = {_topic_of(s, d) for d in docs}
        assert len(topics) == 1
        topic = s.get(HotTopic, topics.pop())
        assert topic.size == 8 and topic.reporters == 8
        assert "丽发新城" in topic.places
        assert "搅拌站" in topic.keywords
        assert topic.first_seen == T0 and topic.last_seen == T0 + dt.timedelta(hours=7)
        assert topic.title in INCIDENT
        assert all(_topic_of(s, o) != topic.id for o in others)
        assert len({_topic_of(s, o) for o in others}) == len(OTHERS)  # unrelated questions stay apart


def test_stage_is_idempotent(engine):
    with session_scope(engine) as s:
        docs = [add_doc(s, t, places=["丽发新城"], at=T0 + dt.timedelta(minutes=i)) for i, t in enumerate(INCIDENT[:4])]
        topic_id = _topic_of(s, docs[0])
        counts = s.scalar(select(func.sum(TrendCount.count)))
        for d in docs:  # a crash after the stage ran: the worker repeats it
            trends_stage(s, d)
        s.flush()
        assert s.get(HotTopic, topic_id).size == 4
        assert s.scalar(select(func.count()).select_from(TrendMember)) == 4
        assert s.scalar(select(func.sum(TrendCount.count))) == counts
        docs[0].likes = 50  # new votes arrive with a re-crawl: the topic follows, nothing is counted twice
        trends_stage(s, docs[0])
        assert s.get(HotTopic, topic_id).likes == 50


def test_risk_document_alerts_analysts_once(engine):
    with session_scope(engine) as s:
        doc = add_doc(s, "多名业主准备明天集体到市政府上访", places=["丽发新城"], risk=["group_action"])
        alerts = s.scalars(select(TrendAlert).where(TrendAlert.kind == "risk")).all()
        assert len(alerts) == 1 and alerts[0].level == 3 and alerts[0].document_id == doc.id
        assert "群体性事件" in alerts[0].title
        trends_stage(s, doc)
        s.flush()
        assert s.scalar(select(func.count()).select_from(TrendAlert)) == 1
        notices = s.scalars(select(Notice).where(Notice.kind == "risk")).all()
        assert len(notices) == 1
        assert notices[0].recipient_role == "analyst" and notices[0].level == "urgent"
        assert notices[0].link == f"/alerts#alert-{alerts[0].id}"


def test_surge_raised_once_and_escalated(engine):
    with session_scope(engine) as s:
        # a quiet history: one document a day for three weeks about the same estate
        for day in range(21):
            add_doc(s, f"丽发新城小区绿化带杂草问题{day}", places=["丽发新城"], at=T0 - dt.timedelta(days=21 - day),
                    label="环境保护")
        start = T0 + dt.timedelta(hours=2)
        for i, t in enumerate(INCIDENT):
            add_doc(s, t, places=["丽发新城"], at=start + dt.timedelta(minutes=20 * i))
        surges = s.scalars(select(TrendAlert).where(TrendAlert.kind == "surge", TrendAlert.scope == "topic")).all()
        assert len(surges) == 1  # one surge, one alert row however many documents follow
        alert = surges[0]
        assert alert.level >= 2
        assert alert.documents_seen >= 3 and alert.evidence["count"] == len(INCIDENT)
        levels = sorted(n.level for n in s.scalars(select(Notice).where(Notice.kind == "alert",
                                                                        Notice.dedupe_key.like(f"trends:alert:{alert.id}:%"))))
        assert len(levels) == alert.level  # one notice per level reached, never repeated
        place = s.scalars(select(TrendAlert).where(TrendAlert.scope == "place", TrendAlert.key == "丽发新城")).all()
        assert len(place) == 1  # the estate's own history was one a day: twelve in hours is a surge too
        label = s.scalars(select(TrendAlert).where(TrendAlert.scope == "label")).all()
        assert [a.key for a in label] == ["城乡建设"]  # the quiet history was 环境保护: only the new label surges


def test_cost_per_document_does_not_grow_with_corpus(engine):
    """Statements issued for one new document are the same at 20 and at 140 stored documents."""
    def statements_for_one(s, title: str) -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            add_doc(s, title, places=["魅力之城"], at=T0 + dt.timedelta(days=3))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    with session_scope(engine) as s:
        for i in range(20):
            add_doc(s, f"{OTHERS[i % 6][0]}第{i}次", places=OTHERS[i % 6][2], label=OTHERS[i % 6][1],
                    at=T0 + dt.timedelta(minutes=i))
        small = statements_for_one(s, "魅力之城小区油烟扰民")
        for i in range(120):
            add_doc(s, f"{OTHERS[i % 6][0]}第{i + 20}次", places=OTHERS[i % 6][2], label=OTHERS[i % 6][1],
                    at=T0 + dt.timedelta(minutes=20 + i))
        large = statements_for_one(s, "魅力之城小区油烟扰民严重")
        assert large <= small + 2, (small, large)


def test_phone_numbers_never_reach_titles_or_alerts(engine):
    with session_scope(engine) as s:
        doc = add_doc(s, "我要跳楼，联系电话13800138000", places=["金毛湾"], risk=["self_harm"])
        topic = s.get(HotTopic, _topic_of(s, doc))
        alert = s.scalars(select(TrendAlert).where(TrendAlert.document_id == doc.id)).one()
        notice = s.scalars(select(Notice).where(Notice.kind == "risk")).one()
        for text in (topic.title, alert.title, notice.title, notice.body):
            assert "13800138000" not in text
        assert "138****8000" in topic.title
