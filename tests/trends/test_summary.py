"""The dashboard's daily roll-ups: kept in step by every writer, back-filled by the migration, rebuilt on demand."""
from __future__ import annotations

import datetime as dt
import random

from alembic import command
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from core.database import dispose_engines, session_scope
from core.migrate import alembic_config
from core.models import Document
from search.trends import dashboard, service, summary
from search.trends.features import SHANGHAI
from search.trends.models import HotTopic, TrendDaily, TrendMember, TrendMemberPlace, TrendPlaceDaily
from search.trends.stages import trends_stage
from tests.trends.helpers import INCIDENT, OTHERS, T0, add_doc

PLACES = ["丽发新城", "魅力之城", "金毛湾", "三一大道", "雨花区"]
LABELS = ["城乡建设", "环境保护", "交通运输", None]
SOURCES = ["gov_messages", "form", "open311"]


def _day(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(0), tzinfo=SHANGHAI)


def _filters(rng: random.Random) -> list[dashboard.Filters]:
    first = T0.astimezone(SHANGHAI).date()
    out = []
    for a, b in ((-3, 8), (0, 1), (2, 5), (-30, 30), (4, 12)):
        start, end = _day(first + dt.timedelta(days=a)), _day(first + dt.timedelta(days=b))
        out += [dashboard.Filters(start, end), dashboard.Filters(start, end, source=rng.choice(SOURCES)),
                dashboard.Filters(start, end, place=rng.choice(PLACES)),
                dashboard.Filters(start, end, source="gov_messages", place="丽发新城")]
    return out


def _raw(f: dashboard.Filters) -> dashboard.Filters:
    return dashboard.Filters(f.start, f.end, f.source, f.place, rollups=False)


def assert_rollups_agree(s, rng: random.Random) -> None:
    assert summary.verify(s) == []
    for f in _filters(rng):
        assert dashboard.use_rollups(f) and not dashboard.use_rollups(_raw(f))
        fast, raw = dashboard.overview(s, f), dashboard.overview(s, _raw(f))
        assert fast == raw, (f, fast, raw)


def _populate(s, rng: random.Random, n: int) -> list[int]:
    texts = INCIDENT + [t for t, _, _ in OTHERS] + ["魅力之城小区楼下夜宵摊油烟扰民", "魅力之城夜宵摊油烟太大", "金毛湾路灯不亮",
                                                  "三一大道公交站台破损", "雨花区学校门口交通拥堵"]
    ids = []
    for i in range(n):
        title = rng.choice(texts) + ("" if i < len(texts) else f"（{i}）")
        doc = add_doc(s, title, places=rng.sample(PLACES, rng.randint(0, 2)), label=rng.choice(LABELS),
                      sentiment=rng.choice(["negative", "neutral", "positive", None]), source=rng.choice(SOURCES),
                      risk=["group_action"] if rng.random() < 0.1 else None,
                      at=T0 + dt.timedelta(hours=rng.randint(-60, 200), minutes=rng.randint(0, 59)))
        ids.append(doc.id)
    return ids


def test_rollups_follow_inserts_corrections_merges_splits_deletions(env, engine):
    rng = random.Random(7)
    with session_scope(engine) as s:
        ids = _populate(s, rng, 45)
        assert s.scalar(select(func.sum(TrendDaily.documents))) == 45
        assert_rollups_agree(s, rng)
    with session_scope(engine) as s:
        # label / sentiment / risk corrections: an update statement, ORM attributes, an ORM bulk update by key
        picked = rng.sample(ids, 8)
        s.execute(update(TrendMember).where(TrendMember.document_id.in_(picked[:4])).values(label="环境保护", sentiment="neutral"))
        for doc_id in picked[4:6]:
            m = s.get(TrendMember, doc_id)
            m.label, m.risk, m.source = None, not m.risk, "form"
        s.execute(update(TrendMember), [{"document_id": d, "sentiment": "positive"} for d in picked[6:]])
        s.execute(update(TrendMember).where(TrendMember.document_id == picked[0]).values(likes=TrendMember.likes + 1))  # free
        # places: one added, one renamed, one removed
        s.add(TrendMemberPlace(document_id=picked[1], place="长沙县", day=s.get(TrendMember, picked[1]).day))
        p = s.scalar(select(TrendMemberPlace).where(TrendMemberPlace.document_id.in_(ids)).limit(1))
        p.place = "岳麓区"
        s.flush()
        gone = s.scalar(select(TrendMemberPlace).where(TrendMemberPlace.place != "岳麓区").limit(1))
        s.delete(gone)
        s.flush()
        assert_rollups_agree(s, rng)
    with session_scope(engine) as s:
        # analysts merge and split topics (members move between topics: the roll-ups do not change, nor break)
        topics = s.scalars(select(HotTopic).where(HotTopic.status == "active").order_by(HotTopic.size.desc())).all()
        service.merge(s, topics[0].id, [topics[-1].id, topics[-2].id], None)
        big = s.scalars(select(HotTopic).where(HotTopic.status == "active", HotTopic.size >= 3)).first()
        members = s.scalars(select(TrendMember.document_id).where(TrendMember.topic_id == big.id)).all()
        service.split(s, big.id, members[:2], None)
        # the same document through the stage again (likes refreshed only)
        trends_stage(s, s.get(Document, ids[3]))
        assert_rollups_agree(s, rng)
    with session_scope(engine) as s:
        # deletions: places then members by statement (the split check's way), a member with its places (cascade)
        doomed = rng.sample(ids, 6)
        s.execute(delete(TrendMemberPlace).where(TrendMemberPlace.document_id.in_(doomed[:3])))
        s.execute(delete(TrendMember).where(TrendMember.document_id.in_(doomed[:4])))
        s.delete(s.get(TrendMember, doomed[4]))
        s.flush()
        s.execute(delete(TrendMember).where(TrendMember.document_id == doomed[5]))
        # more documents after all that
        ids += _populate(s, rng, 10)
        assert_rollups_agree(s, rng)
    with session_scope(engine) as s:  # committed state seen by a new transaction
        assert_rollups_agree(s, rng)
        assert s.scalar(select(func.sum(TrendDaily.documents))) == s.scalar(select(func.count()).select_from(TrendMember))


def test_rolled_back_writes_leave_no_counts(env, engine):
    with session_scope(engine) as s:
        add_doc(s, INCIDENT[0], places=["丽发新城"])
    with session_scope(engine) as s:
        nested = s.begin_nested()
        add_doc(s, INCIDENT[1], places=["丽发新城"])
        nested.rollback()
        assert s.scalar(select(func.sum(TrendDaily.documents))) == 1
        assert s.scalar(select(func.sum(TrendPlaceDaily.documents))) == 1
        assert summary.verify(s) == []


def test_periods_not_whole_days_take_the_raw_path(env, engine):
    rng = random.Random(3)
    with session_scope(engine) as s:
        _populate(s, rng, 20)
        start = T0 - dt.timedelta(hours=5, minutes=30)
        for f in (dashboard.Filters(start, start + dt.timedelta(days=3)),
                  dashboard.Filters(start, start + dt.timedelta(days=3), place="丽发新城")):
            assert not dashboard.use_rollups(f)
            assert dashboard.overview(s, f) == dashboard.overview(s, _raw(f))
        assert dashboard.whole_days(dashboard.Filters(_day(dt.date(2026, 3, 1)), _day(dt.date(2026, 3, 4))))
        assert not dashboard.whole_days(dashboard.Filters(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc),
                                                          dt.datetime(2026, 3, 4, tzinfo=dt.timezone.utc)))


def test_migration_backfills_and_the_command_rebuilds(env, engine, db_url):
    from api.cli import app
    rng = random.Random(11)
    with session_scope(engine) as s:
        _populate(s, rng, 25)
        expected = [(f, dashboard.overview(s, _raw(f))) for f in _filters(random.Random(1))]
    dispose_engines()
    cfg = alembic_config(db_url)
    command.downgrade(cfg, "trends@trends_0001")  # the roll-up tables go
    command.upgrade(cfg, "heads")  # and come back, back-filled from trend_members
    dispose_engines()
    with session_scope(engine) as s:
        assert summary.verify(s) == []
        assert s.scalar(select(func.count()).select_from(TrendPlaceDaily)) > 0
        for f, raw in expected:
            assert dashboard.overview(s, f) == raw
        # damage the roll-ups as a raw bulk load past the ORM would
        s.execute(TrendDaily.__table__.update().values(documents=TrendDaily.__table__.c.documents + 1))
        s.execute(TrendPlaceDaily.__table__.delete())
    runner = CliRunner()
    result = runner.invoke(app, ["trends", "rebuild-summary", "--check"])
    assert result.exit_code == 1 and "differ from a recount" in result.output
    result = runner.invoke(app, ["trends", "rebuild-summary"])
    assert result.exit_code == 0, result.output
    assert "rebuilt trend_daily" in result.output
    result = runner.invoke(app, ["trends", "rebuild-summary", "--check"])
    assert result.exit_code == 0 and "agree" in result.output
    with session_scope(engine) as s:
        for f, raw in expected:
            assert dashboard.overview(s, f) == raw
