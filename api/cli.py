"""The ``minsheng`` command line: init, serve, worker, users, audit, plus every domain's commands."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from core import plugins
from core.settings import get_settings

app = typer.Typer(help="民声 Minsheng: complaint and public-opinion processing.", no_args_is_help=True,
                  add_completion=False)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
outbox_app = typer.Typer(help="The processing queue.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")


def _logging() -> None:
    logging.basicConfig(level=get_settings().log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def init(admin: Annotated[str, typer.Option(help="Username of the first admin.")] = "admin") -> None:
    """Create the home folder, migrate the database, load topics and departments, create the admin."""
    from core.bootstrap import initialise
    settings = get_settings()
    result = initialise(settings, admin)
    typer.echo(f"home: {settings.resolved_home}")
    typer.echo(f"database: {settings.resolved_database_url.split('@')[-1]}")
    typer.echo(f"topics added: {result.topics_added}, departments added: {result.departments_added}")
    if result.admin_password:
        typer.echo(f"admin account created: username '{admin}', password '{result.admin_password}'")
        typer.echo("  (shown once: write it down and change it after signing in)")
    else:
        typer.echo("admin account already exists; nothing changed")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (MINSHENG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (MINSHENG_PORT).")] = None,
) -> None:
    """Serve the web application with worker threads and scheduled jobs."""
    import uvicorn
    from core.bootstrap import needs_init
    _logging()
    settings = get_settings()
    if needs_init(settings):
        typer.echo("the database is not initialised or needs migrating: run `minsheng init` first", err=True)
        raise typer.Exit(2)
    host, port = host or settings.host, port or settings.port
    base = f"http://{host}:{port}"
    typer.echo(f"Minsheng is serving on {base}")
    typer.echo(f"  citizen form:    {base}/")
    typer.echo(f"  case tracking:   {base}/track")
    typer.echo(f"  staff sign-in:   {base}/login")
    typer.echo(f"  API (OpenAPI):   {base}/docs")
    typer.echo(f"  Open311:         {base}/open311/v2/services.json")
    uvicorn.run("api.main:app", host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False)


@app.command()
def worker(
    drain: Annotated[bool, typer.Option(help="Process until the outbox is empty, then exit.")] = False,
    threads: Annotated[int, typer.Option(help="Worker threads in this process.")] = 1,
    timeout: Annotated[float | None, typer.Option(help="With --drain: give up after this many seconds.")] = None,
) -> None:
    """Run outbox workers standalone (any number of processes, on any machine)."""
    import signal
    import threading
    from core.outbox.worker import Worker
    _logging()
    plugins.load("models")
    plugins.load("stages")
    if drain:
        w = Worker()
        stats = w.drain(timeout)
        from core.database import session_scope
        from core.outbox.service import counts
        with session_scope() as session:
            left = counts(session)
        typer.echo(f"processed {stats.processed}, failures {stats.failed}, dead-lettered {stats.dead}; queue: {left}")
        return
    workers = [Worker(name=None) for _ in range(max(1, threads))]
    stop = threading.Event()

    def _stop(*_args) -> None:
        stop.set()
        for w in workers:
            w.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool = [threading.Thread(target=w.run_forever, daemon=True) for w in workers]
    for t in pool:
        t.start()
    typer.echo(f"{len(workers)} worker thread(s) running; Ctrl-C to stop")
    while not stop.is_set():
        stop.wait(1)
    for t in pool:
        t.join(timeout=30)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username.")],
    role: Annotated[str, typer.Option(help="admin, supervisor, dispatcher, analyst or department.")],
    department: Annotated[str | None, typer.Option(help="Department code (role department).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown to colleagues.")] = None,
) -> None:
    """Add a staff account. Without --password-stdin a password is generated and printed once."""
    from core import accounts
    from core.database import session_scope
    password = sys.stdin.readline().rstrip("\n") if password_stdin else accounts.generate_password()
    try:
        with session_scope() as session:
            user = accounts.create_user(session, name, role, password, department, display_name)
            user_id = user.id
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"user {name} (id {user_id}, role {role}) created")
    if not password_stdin:
        typer.echo(f"password: {password}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain; report the first altered or missing row."""
    from core import audit
    from core.database import session_scope
    with session_scope(readonly=True) as session:
        result = audit.verify(session)
    if result.ok:
        typer.echo(f"audit chain intact: {result.rows} rows")
        return
    typer.echo(f"AUDIT CHAIN BROKEN at row {result.first_bad_seq}: {result.reason}", err=True)
    raise typer.Exit(1)


@outbox_app.command("status")
def outbox_status() -> None:
    """Counts by status, and the dead-letter rows."""
    from sqlalchemy import select
    from core.database import session_scope
    from core.models import OutboxItem
    from core.outbox.service import counts
    with session_scope(readonly=True) as session:
        typer.echo(f"queue: {counts(session)}")
        for item in session.scalars(select(OutboxItem).where(OutboxItem.status == "dead").limit(50)):
            last = (item.last_error or "").strip().splitlines()[-1:] or [""]
            typer.echo(f"  dead #{item.id} document {item.document_id} after {item.attempts} attempts: {last[0]}")


@outbox_app.command("retry")
def outbox_retry(ids: Annotated[list[int] | None, typer.Argument(help="Row ids; all dead rows if none.")] = None) -> None:
    """Put dead-letter rows back in the queue."""
    from core import audit
    from core.database import session_scope
    from core.outbox.service import retry_dead
    with session_scope() as session:
        n = retry_dead(session, ids or None)
        audit.append(session, "cli", "outbox.retry", "outbox", {"ids": ids, "requeued": n})
    typer.echo(f"requeued {n}")


@app.command()
def backup(
    directory: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup into.")],
    with_secrets: Annotated[bool, typer.Option(
        "--with-secrets", help="Also copy the secret and data keys (keep such a backup as safe as the keys).")] = False,
) -> None:
    """Back up the database (consistently, while serving), attachments and settings without secrets."""
    from core.backup import BackupError
    from core.backup import backup as run_backup
    try:
        result = run_backup(directory, get_settings(), with_secrets=with_secrets)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"backup written to {result.path} in {result.seconds:.1f}s ({result.database})")
    typer.echo(f"  cases {result.tables.get('cases', 0)}, documents {result.tables.get('documents', 0)}, "
               f"audit rows {result.tables.get('audit_log', 0)}, attachments {result.attachments} "
               f"({result.attachment_bytes / 1e6:.1f} MB)")
    if not with_secrets:
        typer.echo("  keys NOT included: keep MINSHENG_SECRET_KEY / MINSHENG_DATA_KEY (or $MINSHENG_HOME/secrets/) "
                   "safe elsewhere; a restore needs them")


@app.command()
def restore(
    directory: Annotated[Path, typer.Argument(help="A folder written by `minsheng backup`.")],
    force: Annotated[bool, typer.Option(help="Replace a database that already holds data.")] = False,
) -> None:
    """Restore a backup into an empty home and database, then verify row counts and the audit chain."""
    from core.backup import BackupError
    from core.backup import restore as run_restore
    try:
        result = run_restore(directory, get_settings(), force=force)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"restored in {result.seconds:.1f}s: cases {result.tables.get('cases', 0)}, "
               f"documents {result.tables.get('documents', 0)}, attachments {result.attachments}; "
               f"audit chain intact ({result.audit_rows} rows)")
    for note in result.notes:
        typer.echo(f"  {note}")


def _register_domain_commands() -> None:
    for module in plugins.load("cli"):
        if module.__name__ == "api.cli":
            continue
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=sub.info.name or module.__name__.split(".")[0])
        for fn in getattr(module, "commands", []):
            app.command()(fn)
        for name, sub in getattr(module, "typers", {}).items():
            app.add_typer(sub, name=name)


_register_domain_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
