"""``minsheng trends backtest|briefing|top`` through the real CLI."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from typer.testing import CliRunner

from core.database import session_scope
from search.trends.models import HotTopic, TrendAlert
from tests.trends.helpers import INCIDENT, OTHERS, T0, add_doc


def test_backtest_replays_without_touching_live_state(env, engine, tmp_path):
    from api.cli import app
    with session_scope(engine) as s:
        for day in range(10):
            for i, (t, lbl, p) in enumerate(OTHERS):
                add_doc(s, f"{t}{day}", places=p, label=lbl, at=T0 - dt.timedelta(days=10 - day, hours=i), process=False)
        for i, t in enumerate(INCIDENT):
            add_doc(s, t, places=["丽发新城"], at=T0 + dt.timedelta(minutes=25 * i), process=False)
        add_doc(s, "有人扬言要跳楼", places=["金毛湾"], risk=["self_harm"], at=T0 + dt.timedelta(hours=1), process=False)
    runner = CliRunner()
    result = runner.invoke(app, ["trends", "backtest", "--from", "2026-02-15", "--to", "2026-03-05"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "replayed 73 documents" in out
    assert "[紧急] 新增" in out and "轻生倾向" in out
    assert "热点问题“" in out and "[预警]" in out
    lines = [l for l in out.splitlines() if "热点问题“" in l]
    assert "2026-03-02" in lines[0]  # the incident's day, not the quiet history
    with session_scope(engine) as s:  # nothing written to the live database
        assert s.scalar(select(func.count()).select_from(HotTopic)) == 0
        assert s.scalar(select(func.count()).select_from(TrendAlert)) == 0
    quiet = runner.invoke(app, ["trends", "backtest", "--from", "2026-02-15", "--to", "2026-03-05", "--min-level", "3"])
    assert "[关注]" not in quiet.output and "[紧急]" in quiet.output
    bad = runner.invoke(app, ["trends", "backtest", "--from", "2026-03-05", "--to", "2026-02-01"])
    assert bad.exit_code != 0 and "晚于" in bad.output
    bad = runner.invoke(app, ["trends", "backtest", "--from", "yesterday", "--to", "2026-02-01"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_briefing_and_top_commands(env, engine, tmp_path):
    from api.cli import app
    with session_scope(engine) as s:
        for i, t in enumerate(INCIDENT[:6]):
            add_doc(s, t, places=["丽发新城"], at=T0 + dt.timedelta(minutes=30 * i))
    runner = CliRunner()
    xlsx = tmp_path / "daily.xlsx"
    result = runner.invoke(app, ["trends", "briefing", "--kind", "daily", "--date", "2026-03-02", "--xlsx", str(xlsx)])
    assert result.exit_code == 0, result.output
    assert "舆情日报（2026-03-02）" in result.output and "6 documents" in result.output and "丽发新城" in result.output
    assert xlsx.stat().st_size > 3000
    assert runner.invoke(app, ["trends", "briefing", "--kind", "monthly"]).exit_code == 2
    top = runner.invoke(app, ["trends", "top", "--from", "2026-03-01", "--to", "2026-03-03"])
    assert top.exit_code == 0 and " 1. #" in top.output and "size 6" in top.output
