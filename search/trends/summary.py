"""Daily roll-ups of the dashboard (``trend_daily``, ``trend_place_daily``), kept in step with every write.

A document counts once in ``trend_daily`` under (its day, source, label, sentiment) and once in
``trend_place_daily`` per place it names. The counts are increments (``INSERT … ON CONFLICT DO UPDATE
SET documents = documents + excluded.documents``), applied in the writer's own transaction, so two
workers adding documents to the same day never lose a count and a rolled-back write leaves nothing.

The writers (the trends stage adding a member and its places, the split check deleting and re-adding
members, analysts' merges and splits moving members) do not call this module: session events do.

- A flush with new, changed or deleted ``TrendMember``/``TrendMemberPlace`` objects: the rolled-up facts
  of the documents concerned are read before the flush and after it, and the difference is applied.
- An ``update()``/``delete()`` statement on either table run through a ``Session``: the documents it
  matches are read before and after the statement (on PostgreSQL their member rows are locked first).
  A statement that only sets other columns (``topic_id``, ``manual``, ``likes``…) costs nothing.
- An ``insert()`` statement with a list of parameter dicts (ORM bulk insert): the documents read after it.

Raw SQL past the ORM (``text()``, DBAPI cursors, bulk loads) is not seen: run ``rebuild`` after it
(``minsheng trends rebuild-summary``), which recomputes both tables from scratch.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Table, case, delete, event, func, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, attributes
from sqlalchemy.sql.dml import Delete, Insert, Update

from search.trends.models import TrendDaily, TrendMember, TrendMemberPlace, TrendPlaceDaily

#: Member columns the roll-ups depend on; a change to any other column (topic, likes, score…) is free.
ROLLED = ("day", "source", "label", "sentiment", "risk")
PLACE_ROLLED = ("document_id", "place")
CHUNK = 2000

members_t: Table = TrendMember.__table__
places_t: Table = TrendMemberPlace.__table__
daily_t: Table = TrendDaily.__table__
place_daily_t: Table = TrendPlaceDaily.__table__


class Delta:
    """Signed counts per roll-up key: daily (day, source, label, sentiment) and per place (place, + those)."""

    def __init__(self) -> None:
        self.daily: Counter[tuple] = Counter()
        self.daily_risk: Counter[tuple] = Counter()
        self.places: Counter[tuple] = Counter()
        self.places_risk: Counter[tuple] = Counter()

    def add(self, snapshot: dict[int, tuple], sign: int) -> None:
        for facts, places in snapshot.values():
            key = facts[:4]
            self.daily[key] += sign
            self.daily_risk[key] += sign * facts[4]
            for place in places:
                self.places[(place, *key)] += sign
                self.places_risk[(place, *key)] += sign * facts[4]

    def apply(self, conn) -> None:
        dialect_insert = _dialect_insert(conn.dialect.name)
        rows = [{"day": k[0], "source": k[1], "label": k[2], "sentiment": k[3], "documents": n, "risk": self.daily_risk[k]}
                for k, n in self.daily.items() if n or self.daily_risk[k]]
        _increment(conn, dialect_insert, daily_t, rows, ["day", "source", "label", "sentiment"])
        rows = [{"place": k[0], "day": k[1], "source": k[2], "label": k[3], "sentiment": k[4], "documents": n,
                 "risk": self.places_risk[k]} for k, n in self.places.items() if n or self.places_risk[k]]
        _increment(conn, dialect_insert, place_daily_t, rows, ["place", "day", "source", "label", "sentiment"])


def _dialect_insert(name: str):
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return pg_insert if name == "postgresql" else sqlite_insert


def _increment(conn, dialect_insert, table: Table, rows: list[dict], keys: list[str]) -> None:
    # sorted: concurrent transactions lock the same rows in the same order (no deadlock on PostgreSQL)
    rows.sort(key=lambda r: tuple(r[k] for k in keys))
    for i in range(0, len(rows), 500):
        stmt = dialect_insert(table).values(rows[i:i + 500])
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={
            "documents": table.c.documents + stmt.excluded.documents, "risk": table.c.risk + stmt.excluded.risk})
        conn.execute(stmt)


def _facts(day, source, label, sentiment, risk) -> tuple:
    return (day, source, label or "", sentiment or "", 1 if risk else 0)


def snapshot(conn, ids: Iterable[int], lock: bool = False) -> dict[int, tuple]:
    """document id -> (rolled facts, places) as the database has them now."""
    out: dict[int, tuple] = {}
    ids = sorted(set(ids))
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        q = select(members_t.c.document_id, *(members_t.c[c] for c in ROLLED)).where(members_t.c.document_id.in_(chunk))
        if lock and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        for doc_id, *facts in conn.execute(q):
            out[doc_id] = (_facts(*facts), [])
        if not out:
            continue
        for doc_id, place in conn.execute(select(places_t.c.document_id, places_t.c.place)
                                          .where(places_t.c.document_id.in_(chunk))):
            if doc_id in out:  # a place row without its member is counted nowhere (the raw queries join)
                out[doc_id][1].append(place)
    return out


def _diff(before: dict[int, tuple], after: dict[int, tuple]) -> Delta:
    delta = Delta()
    changed = {d for d in before.keys() | after.keys() if before.get(d) != after.get(d)}
    delta.add({d: before[d] for d in changed if d in before}, -1)
    delta.add({d: after[d] for d in changed if d in after}, +1)
    return delta


# --- flushes of ORM objects ----------------------------------------------------------------------

def _touched(session: Session) -> tuple[set[int], set[int]]:
    """(documents whose rows may exist before the flush, documents only added by it)."""
    old: set[int] = set()
    new_members = {o.document_id for o in session.new if isinstance(o, TrendMember)}
    added: set[int] = set(new_members)
    for o in session.new:
        if isinstance(o, TrendMemberPlace):
            (added if o.document_id in new_members else old).add(o.document_id)
    for o in session.deleted:
        if isinstance(o, TrendMember | TrendMemberPlace):
            old.add(o.document_id)
    for o in session.dirty:
        if isinstance(o, TrendMember):
            names = ROLLED + ("document_id",)
        elif isinstance(o, TrendMemberPlace):
            names = PLACE_ROLLED
        else:
            continue
        state = attributes.instance_state(o)
        if any(state.attrs[n].history.has_changes() for n in names):
            # a changed primary key: the row as loaded and the row as it will be
            old.add(state.committed_state.get("document_id", o.document_id))
            old.add(o.document_id)
    return old, added - old


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, _instances) -> None:
    if not (session.new or session.deleted or session.dirty):
        return
    old, added = _touched(session)
    if not old and not added:
        return
    conn = session.connection()
    flush_context.attributes["trends_rollup"] = (old | added, snapshot(conn, old, lock=True) if old else {})


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    pending = flush_context.attributes.pop("trends_rollup", None)
    if pending is None:
        return
    ids, before = pending
    conn = session.connection()
    _diff(before, snapshot(conn, ids)).apply(conn)


# --- update / delete / insert statements ---------------------------------------------------------

def _table_of(stmt) -> Table | None:
    name = getattr(getattr(stmt, "table", None), "name", None)  # ORM statements carry an annotated copy
    return {members_t.name: members_t, places_t.name: places_t}.get(name)


def _sets_rolled(stmt: Update, table: Table) -> bool:
    names = ROLLED + ("document_id",) if table is members_t else PLACE_ROLLED
    values = dict(stmt._values or {})
    for multi in stmt._multi_values or ():
        for row in multi:
            values.update(row if isinstance(row, dict) else {})
    keys = {getattr(k, "key", k) for k in values}
    return bool(keys & set(names)) or not keys  # no values: set by parameters, assume the worst


def _ids_from_params(params, table: Table) -> set[int] | None:
    rows = params if isinstance(params, list | tuple) else [params] if params else []
    ids = set()
    for row in rows:
        value = row.get("document_id") if isinstance(row, dict) else None
        if value is None:
            return None
        ids.add(int(value))
    return ids or None


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState):
    stmt = state.statement
    if not isinstance(stmt, Update | Delete | Insert):
        return None
    table = _table_of(stmt)
    if table is None:
        return None
    session = state.session
    if isinstance(stmt, Insert):
        ids = _ids_from_params(state.parameters, table)
        if ids is None:
            raise RuntimeError(f"insert into {table.name}: pass rows as parameter dicts with document_id, or add ORM "
                               "objects, so the dashboard roll-ups follow (search.trends.summary)")
        if session.autoflush:
            session.flush()
        conn = session.connection()
        before = snapshot(conn, ids, lock=True)
        result = state.invoke_statement()
        _diff(before, snapshot(conn, ids)).apply(conn)
        return result
    by_key = _ids_from_params(state.parameters, table)  # executemany by primary key (ORM bulk update)
    if isinstance(stmt, Update) and by_key is None and not _sets_rolled(stmt, table):
        return None
    if session.autoflush:
        session.flush()  # the statement would autoflush after this hook: pending objects first, with their roll-ups
    conn = session.connection()
    if by_key is not None:
        ids = by_key
    else:
        q = select(table.c.document_id).distinct()
        if stmt.whereclause is not None:
            q = q.where(stmt.whereclause)
        ids = set(conn.execute(q).scalars())
    if not ids:
        return None
    before = snapshot(conn, ids, lock=True)
    result = state.invoke_statement()
    _diff(before, snapshot(conn, ids)).apply(conn)
    return result


# --- from scratch ------------------------------------------------------------------------------------

def rebuild_statements() -> list:
    """Statements that recompute both roll-ups from trend_members and trend_member_places (also the migration's back-fill)."""
    m, p = members_t.c, places_t.c
    label, sentiment = func.coalesce(m.label, ""), func.coalesce(m.sentiment, "")
    risk = func.sum(_risk_int(m.risk))
    daily = select(m.day, m.source, label, sentiment, func.count(), risk).group_by(m.day, m.source, label, sentiment)
    per_place = (select(p.place, m.day, m.source, label, sentiment, func.count(), risk)
                 .select_from(places_t.join(members_t, m.document_id == p.document_id))
                 .group_by(p.place, m.day, m.source, label, sentiment))
    return [
        delete(daily_t), delete(place_daily_t),
        insert(daily_t).from_select(["day", "source", "label", "sentiment", "documents", "risk"], daily),
        insert(place_daily_t).from_select(["place", "day", "source", "label", "sentiment", "documents", "risk"], per_place),
    ]


def _risk_int(column):
    return case((column.is_(True), 1), else_=0)


def rebuild(session: Session) -> tuple[int, int]:
    """Recompute both roll-ups from scratch in the caller's transaction; returns their row counts."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # writers' increments wait for this transaction; a writer that committed first is in the recount
        conn.exec_driver_sql("LOCK TABLE trend_daily, trend_place_daily IN EXCLUSIVE MODE")
    for stmt in rebuild_statements():
        conn.execute(stmt)
    return (conn.scalar(select(func.count()).select_from(daily_t)) or 0,
            conn.scalar(select(func.count()).select_from(place_daily_t)) or 0)


def verify(session: Session) -> list[str]:
    """Differences between the stored roll-ups and a recount (empty when they agree)."""
    m, p = members_t.c, places_t.c
    label, sentiment = func.coalesce(m.label, ""), func.coalesce(m.sentiment, "")
    out = []
    want = {tuple(r[:4]): (r[4], int(r[5] or 0)) for r in session.execute(
        select(m.day, m.source, label, sentiment, func.count(), func.sum(_risk_int(m.risk)))
        .group_by(m.day, m.source, label, sentiment))}
    have = {tuple(r[:4]): (r[4], r[5]) for r in session.execute(
        select(daily_t.c.day, daily_t.c.source, daily_t.c.label, daily_t.c.sentiment, daily_t.c.documents, daily_t.c.risk)
        .where(daily_t.c.documents != 0))}
    out += [f"trend_daily {k}: stored {have.get(k)}, counted {want.get(k)}" for k in sorted(want.keys() | have.keys())
            if want.get(k) != have.get(k)]
    want = {tuple(r[:5]): (r[5], int(r[6] or 0)) for r in session.execute(
        select(p.place, m.day, m.source, label, sentiment, func.count(), func.sum(_risk_int(m.risk)))
        .select_from(places_t.join(members_t, m.document_id == p.document_id))
        .group_by(p.place, m.day, m.source, label, sentiment))}
    have = {tuple(r[:5]): (r[5], r[6]) for r in session.execute(
        select(place_daily_t.c.place, place_daily_t.c.day, place_daily_t.c.source, place_daily_t.c.label,
               place_daily_t.c.sentiment, place_daily_t.c.documents, place_daily_t.c.risk)
        .where(place_daily_t.c.documents != 0))}
    out += [f"trend_place_daily {k}: stored {have.get(k)}, counted {want.get(k)}" for k in sorted(want.keys() | have.keys())
            if want.get(k) != have.get(k)]
    return out
