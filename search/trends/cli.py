"""``minsheng trends …``: backtest, briefings, top hot topics, configuration."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(name="trends", help="Hot topics, surge alerts and briefings (analyst console).", no_args_is_help=True)


def _day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} 应为 YYYY-MM-DD 格式的日期（收到“{value}”）。") from None


def _bounds(first: dt.date, last: dt.date):
    from search.trends.briefing import _bounds
    if first > last:
        raise typer.BadParameter(f"--from（{first}）晚于 --to（{last}）。")
    return _bounds(first, last)


@app.command()
def backtest(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, Asia/Shanghai).")],
    end: Annotated[str, typer.Option("--to", help="Last day, inclusive.")],
    source: Annotated[str | None, typer.Option(help="Only documents of this source.")] = None,
    min_level: Annotated[int, typer.Option(min=1, max=3, help="Print alerts of at least this level (1 关注, 2 预警, 3 紧急).")] = 1,
) -> None:
    """Replay stored documents in time order; print each alert it would have raised, and when."""
    from core import plugins
    from core.database import session_scope
    from search.trends.backtest import describe, replay
    a, b = _bounds(_day(start, "--from"), _day(end, "--to"))
    plugins.load("models")

    def show(event) -> None:
        if event.level >= min_level:
            typer.echo(describe(event))

    with session_scope(readonly=True) as live:
        n, raised = replay(live, a, b, source, on_alert=show)
    by_level = {lv: sum(1 for e in raised if e.level == lv and not e.escalation) for lv in (1, 2, 3)}
    typer.echo(f"replayed {n} documents; alerts opened: 关注 {by_level[1]}, 预警 {by_level[2]}, 紧急 {by_level[3]}; "
               f"escalations: {sum(1 for e in raised if e.escalation)}")


@app.command()
def briefing(
    kind: Annotated[str, typer.Option(help="daily (日报) or weekly (周报).")] = "daily",
    date: Annotated[str | None, typer.Option(help="Last day covered (default: yesterday).")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="Also write the Excel file here.")] = None,
) -> None:
    """Generate (or refresh) a briefing now and print its summary."""
    from core import plugins
    from core.database import session_scope, utcnow
    from search.trends import briefing as briefings
    from search.trends.features import SHANGHAI
    from search.trends.service import TrendsError
    plugins.load("models")
    day = _day(date, "--date") if date else utcnow().astimezone(SHANGHAI).date() - dt.timedelta(days=1)
    try:
        with session_scope() as session:
            row = briefings.generate(session, kind, day, by="cli")
            data, rid = row.data, row.id
    except TrendsError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    t = data["totals"]
    typer.echo(f"#{rid} {data['title']}: {t['documents']} documents ({t['negative']} negative, {t['risk']} risk), "
               f"{len(data['hot_topics'])} hot topics, {len(data['surges'])} new surges, {len(data['overdue_cases'])} overdue cases")
    for i, h in enumerate(data["hot_topics"], 1):
        typer.echo(f"  {i:2d}. [{h['heat']:.1f}] {h['title']} ({h['size']} 条; {'、'.join(h['places'])})")
    if xlsx:
        xlsx.write_bytes(briefings.to_xlsx(data))
        typer.echo(f"wrote {xlsx}")


@app.command()
def top(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day, inclusive.")],
    limit: Annotated[int, typer.Option(min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Print the hottest topics of a period (the same ranking as GET /api/v1/hot-topics)."""
    from core import plugins
    from core.database import session_scope
    from search.trends.queries import hot_topics
    plugins.load("models")
    a, b = _bounds(_day(start, "--from"), _day(end, "--to"))
    with session_scope(readonly=True) as session:
        topics = hot_topics(session, a, b, limit=limit)
    if as_json:
        typer.echo(json.dumps(topics, ensure_ascii=False, indent=1))
        return
    for i, t in enumerate(topics, 1):
        typer.echo(f"{i:2d}. #{t['id']} heat {t['heat']:.1f} size {t['size']} {t['title']} ({'、'.join(t['places'])})")


@app.command("rebuild-summary")
def rebuild_summary(
    check: Annotated[bool, typer.Option("--check", help="Only compare the roll-ups with a recount; exit 1 if they differ.")] = False,
) -> None:
    """Recompute the dashboard's daily roll-ups (trend_daily, trend_place_daily) from trend_members."""
    from core import plugins
    from core.database import session_scope
    from search.trends import summary
    plugins.load("models")
    if check:
        with session_scope(readonly=True) as session:
            problems = summary.verify(session)
        for line in problems[:50]:
            typer.echo(line)
        typer.echo(f"{len(problems)} roll-up rows differ from a recount" if problems else "roll-ups agree with trend_members")
        raise typer.Exit(1 if problems else 0)
    with session_scope() as session:
        daily, per_place = summary.rebuild(session)
    typer.echo(f"rebuilt trend_daily ({daily} rows) and trend_place_daily ({per_place} rows)")


@app.command("config")
def show_config(name: Annotated[str, typer.Argument(help="heat | surge | cluster")] = "heat") -> None:
    """Print the effective configuration (defaults merged with stored overrides)."""
    from core import plugins
    from core.database import session_scope
    from search.trends import config
    plugins.load("models")
    if name not in config.DEFAULTS:
        raise typer.BadParameter("可选：heat、surge、cluster。")
    with session_scope(readonly=True) as session:
        typer.echo(json.dumps(config.load(session, name), ensure_ascii=False, indent=1))
