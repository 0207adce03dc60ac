"""``minsheng cases …``: the sweep at any instant, the holiday table, SLA policies, notice contacts."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(name="cases", help="Case lifecycle: sweep, holidays, SLA policies.", no_args_is_help=True)
holidays_app = typer.Typer(help="The working-day holiday table.", no_args_is_help=True)
app.add_typer(holidays_app, name="holidays")


def _instant(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: --now {value!r} is not an ISO time (e.g. 2026-12-28T09:00+08:00)", err=True)
        raise typer.Exit(2) from None
    if instant.tzinfo is None:
        from core.calendar import SHANGHAI
        instant = instant.replace(tzinfo=SHANGHAI)
    return instant.astimezone(dt.timezone.utc)


@app.command()
def sweep(
    now: Annotated[str | None, typer.Option(help="Sweep as of this instant (ISO; no zone = Asia/Shanghai).")] = None,
    no_deliver: Annotated[bool, typer.Option("--no-deliver", help="Do not send e-mail/webhook copies.")] = False,
) -> None:
    """Send every due reminder, yellow/red card and escalation; close unrated cases."""
    from core import plugins
    from cases.sweep import sweep as run
    plugins.load("models")
    report = run(_instant(now), deliver=not no_deliver)
    typer.echo(f"swept {report.clocks} clocks as of {report.now.isoformat()}: {report.notices} notices, "
               f"{report.escalated} escalated, {report.closed_unrated} closed unrated, {report.failed} failed, "
               f"{report.delivered} delivered ({report.seconds:.3f}s)")
    if report.warning:
        typer.echo(report.warning, err=True)


@app.command()
def recompute() -> None:
    """Recompute every estimated deadline with the current holiday table."""
    from core.database import session_scope
    from cases.clocks import recompute_estimated
    with session_scope() as session:
        changed = recompute_estimated(session)
    typer.echo(f"recomputed; {changed} deadlines moved")


@holidays_app.command("import")
def holidays_import(
    file: Annotated[Path, typer.Argument(help="Lines 'YYYY-MM-DD[..YYYY-MM-DD], 休|班, name'.")],
    year: Annotated[int, typer.Option(help="The year this schedule is for.")],
) -> None:
    """Enter a year's official holiday schedule; estimated deadlines are recomputed."""
    from core.database import session_scope
    from cases.errors import CaseError
    from cases.holidays import enter_schedule, parse_schedule
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        with session_scope() as session:
            entries = parse_schedule(text, year)
            moved = enter_schedule(session, year, entries, "cli")
    except CaseError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{year}: {sum(not e.workday for e in entries)} holidays, {sum(e.workday for e in entries)} make-up "
               f"working days entered; {moved} estimated deadlines recomputed")


@holidays_app.command("status")
def holidays_status() -> None:
    """Which years have an official schedule (built in, or entered)."""
    from core.database import session_scope, utcnow
    from cases.holidays import year_status
    this = utcnow().year
    with session_scope(readonly=True) as session:
        for row in year_status(session, [this - 1, this, this + 1, this + 2]):
            source = "built in" if row["builtin"] else "entered" if row["entered"] else "MISSING (Mon-Fri estimate)"
            typer.echo(f"{row['year']}: {source}; {row['days']} table entries")


@app.command("sla")
def sla_list() -> None:
    """List the SLA policies."""
    from sqlalchemy import select
    from core.database import session_scope
    from cases.models import SlaPolicy
    from cases.policies import describe
    with session_scope(readonly=True) as session:
        for p in session.scalars(select(SlaPolicy).order_by(SlaPolicy.id)):
            cond = ", ".join(f"{k}={v}" for k, v in (("appeal", p.appeal_type), ("topic", p.topic),
                                                     ("priority", p.priority)) if v) or "any"
            typer.echo(f"#{p.id} {p.name} [{cond}] {'' if p.active else '(inactive) '}{describe(p.clocks)}")


@app.command("contact")
def contact_add(
    email: Annotated[str, typer.Argument(help="Address that receives notice copies.")],
    role: Annotated[str | None, typer.Option(help="Role whose notices it receives.")] = None,
    department: Annotated[str | None, typer.Option(help="Department whose notices it receives.")] = None,
) -> None:
    """Add an e-mail address for notice copies (needs MINSHENG_SMTP_URL)."""
    from core.database import session_scope
    from core.models import Department
    from cases.models import Contact
    if "@" not in email or (role is None) == (department is None):
        typer.echo("error: give an e-mail address and exactly one of --role or --department", err=True)
        raise typer.Exit(2)
    with session_scope() as session:
        if department and session.get(Department, department) is None:
            typer.echo(f"error: unknown department {department!r}", err=True)
            raise typer.Exit(1)
        session.add(Contact(email=email, role=role, department_code=department))
    typer.echo(f"{email} receives notices for {role or department}")
