"""Scheduled briefings: registered in APScheduler, and a run stores exactly one briefing per period."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.database import session_scope, utcnow
from search.trends import jobs
from search.trends.features import SHANGHAI
from search.trends.models import Briefing


def test_jobs_registered_and_idempotent(env, engine):
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    jobs.register(scheduler, env)
    found = {j.id: j for j in scheduler.get_jobs()}
    assert set(found) == {"trends-daily-briefing", "trends-weekly-briefing"}
    assert "hour='7'" in str(found["trends-daily-briefing"].trigger)
    assert "day_of_week='mon'" in str(found["trends-weekly-briefing"].trigger)
    jobs._generate("daily")
    jobs._generate("daily")  # a second scheduler firing the same job
    jobs._generate("weekly")
    with session_scope(engine) as s:
        rows = s.scalars(select(Briefing).order_by(Briefing.kind)).all()
        assert [(b.kind, b.generated_by) for b in rows] == [("daily", "schedule"), ("weekly", "schedule")]
        yesterday = (utcnow().astimezone(SHANGHAI).date() - dt.timedelta(days=1)).isoformat()
        assert rows[0].period_start == rows[0].period_end == yesterday
        assert rows[1].period_end == yesterday
        assert s.scalar(select(func.count()).select_from(Briefing)) == 2
