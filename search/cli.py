"""``minsheng reindex`` and ``minsheng ingest FILE.jsonl --source NAME``."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from search.backend import SHANGHAI

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
RESERVED_SOURCES = ("form", "open311")
MAX_LINE_BYTES = 1_000_000
BATCH = 500


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="篇", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def reindex(
    batch: Annotated[int, typer.Option(help="Documents read from the database per batch.")] = 1000,
) -> None:
    """Rebuild the search index from the database; the old index serves until the atomic swap."""
    from sqlalchemy import func, select

    from core import plugins
    from core.database import get_engine, session_scope, utcnow
    from core.models import Document
    from search.backend import BackendUnavailable
    from search.backends import get_backend
    from search.documents import load
    from search.indexer import flush, requeue_changed

    plugins.load("models")
    backend = get_backend()
    started = utcnow()
    t0 = time.monotonic()
    with session_scope(readonly=True) as session:
        total = session.scalar(select(func.count()).select_from(Document)) or 0
    done = 0
    try:
        with backend.rebuild() as build, _progress(total, "重建索引") as bar:
            last_id = 0
            while True:
                with session_scope(readonly=True) as session:
                    ids = list(session.scalars(
                        select(Document.id).where(Document.id > last_id).order_by(Document.id).limit(batch)))
                    if not ids:
                        break
                    docs, _missing = load(session, ids)
                build.add(docs)
                done += len(docs)
                last_id = ids[-1]
                bar.update(len(ids))
    except BackendUnavailable as exc:
        typer.echo(f"error: the search index is not available: {exc}", err=True)
        raise typer.Exit(1)
    # Whatever changed while the new index was being filled goes through the queue once more.
    with session_scope() as session:
        caught_up = requeue_changed(session, started - dt.timedelta(seconds=5))
    stats = flush()
    typer.echo(f"reindexed {done} documents into the {backend.name} index in {time.monotonic() - t0:.1f}s "
               f"({caught_up} changed meanwhile, re-queued; {stats.indexed} written from the queue)")


def _time(value: Any, line_no: int) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("time 应为 ISO 格式的字符串，例如 2019-04-25T09:32:09")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"time 无法识别：{value[:40]!r}（应为 ISO 格式，例如 2019-04-25T09:32:09）") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)  # the boards publish local time
    return moment.astimezone(dt.timezone.utc)


def parse_line(raw: bytes, source: str, line_no: int):
    """One JSONL line → ``IncomingDocument``; ``ValueError`` with a Chinese reason when it is unusable."""
    from core.ingest import IncomingDocument

    if len(raw) > MAX_LINE_BYTES:
        raise ValueError(f"该行超过 {MAX_LINE_BYTES // 1000} KB")
    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("不是有效的 UTF-8 文本") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是有效的 JSON（{exc.msg}，第 {exc.colno} 列）") from None
    if not isinstance(row, dict):
        raise ValueError("每行应为一个 JSON 对象")
    title, text = row.get("title"), row.get("text")
    if not isinstance(title, str) or not isinstance(text, str):
        raise ValueError("缺少字符串字段 title 或 text")
    if not title.strip() and not text.strip():
        raise ValueError("title 和 text 都为空")
    likes = row.get("likes")
    if likes is not None and (isinstance(likes, bool) or not isinstance(likes, int) or likes < 0):
        raise ValueError("likes 应为非负整数")
    url = row.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > 2000):
        raise ValueError("url 应为不超过 2000 字符的字符串")
    author = row.get("author", row.get("user"))
    ext = row.get("id")
    if isinstance(ext, bool) or (ext is not None and not isinstance(ext, (str, int))):
        raise ValueError("id 应为字符串或整数")
    if ext is None:  # re-importing the same file must not duplicate: derive a stable id
        ext = url or "sha:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:40]
    reply = row.get("reply")
    return IncomingDocument(
        source=source, title=title, body=text, external_id=str(ext)[:200], url=url,
        author=str(author)[:200] if author is not None else None,
        published_at=_time(row.get("time"), line_no), likes=likes,
        reply_body=reply if isinstance(reply, str) else None,
        reply_at=_time(row.get("reply_time"), line_no) if isinstance(reply, str) else None,
        raw={k: v for k, v in row.items() if k in ("dislikes",)},
    )


def ingest(
    file: Annotated[Path, typer.Argument(help="JSON Lines: title, text, optional time, url, author, likes, id.")],
    source: Annotated[str, typer.Option("--source", help="Source name, e.g. a board's short name (gov_board).")],
) -> None:
    """Bulk-import documents through the same path as crawled posts (idempotent by source and id)."""
    from core import plugins
    from core.database import session_scope
    from core.ingest import upsert_document

    if not SOURCE_NAME.match(source):
        typer.echo("error: --source must be 1-64 lower-case letters, digits, '_', '-' or '.', e.g. gov_board", err=True)
        raise typer.Exit(2)
    if source in RESERVED_SOURCES:
        typer.echo(f"error: --source {source!r} is reserved for citizen filings; name the board or site instead", err=True)
        raise typer.Exit(2)
    if not file.is_file():
        typer.echo(f"error: {file} is not a readable file", err=True)
        raise typer.Exit(2)
    plugins.load("models")
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    bad: list[str] = []
    pending = []
    t0 = time.monotonic()

    def commit(items) -> None:
        with session_scope() as session:
            for item in items:
                _doc, outcome = upsert_document(session, item)
                counts[outcome] += 1

    with file.open("rb") as fh, _progress(None, "导入") as bar:
        for line_no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                pending.append(parse_line(raw.rstrip(b"\r\n"), source, line_no))
            except ValueError as exc:
                bad.append(f"line {line_no}: {exc}")
                continue
            if len(pending) >= BATCH:
                commit(pending)
                bar.update(len(pending))
                pending = []
        if pending:
            commit(pending)
            bar.update(len(pending))
    for message in bad[:50]:
        typer.echo(message, err=True)
    if len(bad) > 50:
        typer.echo(f"… and {len(bad) - 50} more bad lines", err=True)
    typer.echo(f"{file}: {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged, "
               f"{len(bad)} bad lines skipped ({time.monotonic() - t0:.1f}s). Documents are processed and indexed "
               "by the workers (minsheng serve, or minsheng worker --drain).")
    if bad:
        raise typer.Exit(1)


commands = [reindex, ingest]
