"""Hot-topic evidence on both databases: near-duplicates, labels, automatic merge and split.

Documents are stored rows (the engine's foreign keys need them); their features are given by
hand so each test controls exactly the terms, places and labels the engine sees.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.database import session_scope
from search.trends import cluster, config, engine as trends_engine
from search.trends.features import DocFeatures
from search.trends.models import HotTopic, TrendCount, TrendMember
from tests.trends.helpers import T0, add_doc

CFG = dict(config.CLUSTER_DEFAULTS)


def feed(s, terms: dict[str, float], places: list[str] | None = None, label: str | None = "城乡建设",
         minutes: int = 0, simhash: int | None = None, title: str = "") -> int:
    """Store a document and run it through the engine with exactly these features; returns its topic."""
    doc = add_doc(s, title or "".join(terms), places=places or [], label=label, process=False, simhash=simhash)
    at = T0 + dt.timedelta(minutes=minutes)
    bands = (doc.sim_band0, doc.sim_band1, doc.sim_band2, doc.sim_band3)
    f = DocFeatures(document_id=doc.id, at=at, source="gov_messages", title=doc.title, label=label, sentiment="negative",
                    reporter=f"r{doc.id}", places=list(places or []), specific_places=list(places or []), terms=terms,
                    simhash=simhash, bands=bands)
    return trends_engine.process(s, f).topic_id


def topic_of(s, doc_topic: int) -> HotTopic:
    return cluster._resolve(s, s.get(HotTopic, doc_topic)) or s.get(HotTopic, doc_topic)


def test_near_duplicate_joins_whatever_the_wording(engine):
    """A copy of an earlier text (simhash within 3 bits) joins its topic even with no shared term."""
    fingerprint = 0x1234_5678_9ABC_DEF0
    with session_scope(engine) as s:
        first = feed(s, {"搅拌站": 2.0, "噪音": 2.0}, ["丽发新城"], simhash=fingerprint)
        unrelated = feed(s, {"公积金": 2.0, "贷款": 2.0}, [], minutes=1)
        assert unrelated != first
        copy = feed(s, {"公积金": 2.0, "贷款": 2.0}, [], minutes=2, simhash=fingerprint ^ 0b101)  # 2 bits apart
        assert copy == first
        far = feed(s, {"路灯": 2.0, "损坏": 2.0}, [], minutes=3, simhash=fingerprint ^ 0xF0F0)  # 8 bits apart
        assert far != first


def test_label_and_place_evidence_in_the_score():
    topic = HotTopic(terms={"搅拌站": 4.0, "噪音": 4.0}, place_counts={"丽发新城": 4}, size=4, label="城乡建设")
    base = DocFeatures(document_id=1, at=T0, source="x", title="", label="城乡建设", terms={"搅拌站": 2.0, "噪音": 2.0},
                       places=["丽发新城"], specific_places=["丽发新城"])
    same = cluster.score(base, topic, CFG)
    assert same == pytest.approx(1.0 + CFG["place_bonus"])
    other_label = DocFeatures(**{**base.__dict__, "label": "环境保护"})
    assert cluster.score(other_label, topic, CFG) == pytest.approx(same - CFG["label_penalty"])
    other_place = DocFeatures(**{**base.__dict__, "places": ["魅力之城"], "specific_places": ["魅力之城"]})
    assert cluster.score(other_place, topic, CFG) == pytest.approx(1.0 - CFG["named_conflict"])
    no_place = DocFeatures(**{**base.__dict__, "places": [], "specific_places": []})
    assert cluster.score(no_place, topic, CFG) == pytest.approx(1.0 - CFG["place_conflict"] / 2)
    organisation = DocFeatures(**{**no_place.__dict__, "organisations": ["丽发新城"]})
    assert cluster.score(organisation, topic, CFG) == pytest.approx(same)  # a shared organisation counts like a shared place
    districts = DocFeatures(**{**base.__dict__, "places": ["A5区", "丽发新城"]})
    other_district = HotTopic(terms=topic.terms, place_counts={"丽发新城": 4, "A7县": 4}, size=4, label="城乡建设")
    assert cluster.score(districts, other_district, CFG) == pytest.approx(same - CFG["place_conflict"])


def test_topics_bridged_by_a_document_merge(engine):
    """Two topics about one place, started separately, merge once a document shows they are one problem."""
    with session_scope(engine) as s:
        a = [feed(s, {"搅拌站": 2.0, "噪音": 2.0}, ["丽发新城"], minutes=i) for i in range(2)]
        b = [feed(s, {"粉尘": 2.0, "混凝土": 2.0}, ["丽发新城"], minutes=10 + i) for i in range(2)]
        assert len(set(a)) == 1 and len(set(b)) == 1 and a[0] != b[0]
        bridge = feed(s, {"搅拌站": 2.0, "噪音": 2.0, "粉尘": 2.0, "混凝土": 2.0}, ["丽发新城"], minutes=20)
        keep = topic_of(s, bridge)
        gone = s.get(HotTopic, a[0] if keep.id == b[0] else b[0])
        assert gone.status == "merged" and gone.merged_into_id == keep.id and gone.size == 0
        assert keep.size == 5 and s.scalar(select(func.count()).where(TrendMember.topic_id == keep.id)) == 5
        assert s.scalar(select(func.sum(TrendCount.count)).where(TrendCount.scope == "topic", TrendCount.key == str(keep.id))) == 5
        assert not s.scalar(select(func.count()).where(TrendCount.scope == "topic", TrendCount.key == str(gone.id)))


def test_same_wording_about_two_places_never_merges(engine):
    with session_scope(engine) as s:
        a = {feed(s, {"物业": 2.0, "电梯": 2.0, "维修": 2.0}, ["丽发新城"], minutes=i) for i in range(3)}
        b = {feed(s, {"物业": 2.0, "电梯": 2.0, "停水": 2.0}, ["魅力之城"], minutes=10 + i) for i in range(3)}
        assert len(a) == len(b) == 1 and a != b
        # names both estates and scores high for both topics, whose centroids agree (0.74 + a shared place)
        both = feed(s, {"物业": 2.0, "电梯": 2.0, "维修": 2.0, "停水": 2.0}, ["丽发新城", "魅力之城"], minutes=20)
        assert both in a | b
        assert s.get(HotTopic, a.pop()).status == s.get(HotTopic, b.pop()).status == "active"


def test_member_that_no_longer_fits_is_split_out_as_the_topic_grows(engine):
    """An early member joined on thin evidence; at eight members the centroid shows it is another problem."""
    with session_scope(engine) as s:
        first = feed(s, {"噪音": 2.0, "搅拌站": 2.0, "停车": 2.0}, ["丽发新城"])
        parking = add_doc(s, "丽发新城停车收费", places=["丽发新城"], process=False)
        f = DocFeatures(document_id=parking.id, at=T0 + dt.timedelta(minutes=1), source="gov_messages", title=parking.title,
                        label="城乡建设", reporter="p", places=["丽发新城"], specific_places=["丽发新城"],
                        terms={"停车": 2.0, "收费": 2.0})
        assert trends_engine.process(s, f).topic_id == first  # joins: shared place and 停车
        for i in range(5):
            assert feed(s, {"噪音": 2.0, "搅拌站": 2.0}, ["丽发新城"], minutes=2 + i) == first
        assert s.get(HotTopic, first).size == 7
        # the features the split check reads come from the stored document: give it the same terms
        parking.keywords, parking.title_tokens = ["停车", "收费"], "停车 收费"
        s.flush()
        assert feed(s, {"噪音": 2.0, "搅拌站": 2.0}, ["丽发新城"], minutes=9) == first
        topic = s.get(HotTopic, first)
        moved_to = s.get(TrendMember, parking.id).topic_id
        assert moved_to != first
        assert topic.size == 7 and "收费" not in topic.terms
        assert s.get(HotTopic, moved_to).size == 1
        counts = dict(s.execute(select(TrendCount.key, func.sum(TrendCount.count)).where(TrendCount.scope == "topic")
                                .group_by(TrendCount.key)).all())
        assert counts[str(first)] == 7 and counts[str(moved_to)] == 1


def test_pinned_topics_and_hand_placed_members_stay(engine):
    with session_scope(engine) as s:
        first = feed(s, {"噪音": 2.0, "搅拌站": 2.0, "停车": 2.0}, ["丽发新城"])
        parking = add_doc(s, "丽发新城停车收费", places=["丽发新城"], keywords=["停车", "收费"], process=False)
        parking.title_tokens = "停车 收费"
        f = DocFeatures(document_id=parking.id, at=T0 + dt.timedelta(minutes=1), source="gov_messages", title=parking.title,
                        label="城乡建设", reporter="p", places=["丽发新城"], specific_places=["丽发新城"],
                        terms={"停车": 2.0, "收费": 2.0})
        trends_engine.process(s, f)
        s.get(HotTopic, first).pinned = True
        for i in range(6):
            feed(s, {"噪音": 2.0, "搅拌站": 2.0}, ["丽发新城"], minutes=2 + i)
        assert s.get(HotTopic, first).size == 8 and s.get(TrendMember, parking.id).topic_id == first
