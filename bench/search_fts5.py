"""SQLite FTS5 as a candidate embedded backend, only for the comparison in bench/search.py.

It indexes the same token strings (unicode61 splits them on the spaces), keeps the keyword
fields in an ordinary table with indexes, and answers the benchmark's five query kinds.
Not shipped: docs/search.md explains why Tantivy was chosen.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from search.backend import local_day
from search.schema import IndexDoc, time_key

SINGLE = ("source", "topic", "sentiment", "appeal", "department", "status")


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class Fts5Index:
    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        c = self.conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA cache_size=-200000")
        c.execute(f"CREATE TABLE IF NOT EXISTS docs(id INTEGER PRIMARY KEY, {', '.join(f + ' TEXT' for f in SINGLE)},"
                  " tkey INTEGER, lday INTEGER, heat INTEGER, protected INTEGER, src TEXT)")
        c.execute("CREATE TABLE IF NOT EXISTS doc_values(id INTEGER, field TEXT, value TEXT)")
        c.execute("CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, title_tokens, tokenize='unicode61')")

    def create_indexes(self) -> None:
        for f in SINGLE:
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{f} ON docs({f})")
        self.conn.execute("CREATE INDEX IF NOT EXISTS ix_tkey ON docs(tkey)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS ix_values ON doc_values(id, field)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS ix_values_fv ON doc_values(field, value)")

    def add(self, docs: Iterable[IndexDoc], replace: bool = False) -> int:
        c = self.conn
        n = 0
        c.execute("BEGIN")
        for d in docs:
            if replace:
                c.execute("DELETE FROM fts WHERE rowid=?", (d.id,))
                c.execute("DELETE FROM doc_values WHERE id=?", (d.id,))
            c.execute(f"INSERT OR REPLACE INTO docs VALUES (?, {', '.join('?' * len(SINGLE))}, ?, ?, ?, ?, ?)",
                      (d.id, *(getattr(d, f) for f in SINGLE), time_key(d.time, d.id), local_day(d.time), d.heat,
                       int(d.protected), json.dumps({"id": d.id, "title": d.title, "body": d.body}, ensure_ascii=False)))
            c.executemany("INSERT INTO doc_values VALUES (?, ?, ?)",
                          [(d.id, f, v) for f in ("risk", "places", "keywords") for v in getattr(d, f)])
            c.execute("INSERT INTO fts(rowid, tokens, title_tokens) VALUES (?, ?, ?)", (d.id, d.tokens, d.title_tokens))
            n += 1
        c.execute("COMMIT")
        return n

    def optimize(self) -> None:
        self.conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")

    # --- the benchmark's query kinds -----------------------------------------------------------------
    def _match(self, tokens: list[str], phrase: bool) -> str:
        if phrase:
            return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
        return " AND ".join(_quote(t) for t in tokens)

    def search(self, tokens: list[str], phrase: bool = False, filters: dict[str, str] | None = None,
               size: int = 20) -> tuple[int, list[dict]]:
        where, args = "fts MATCH ?", [self._match(tokens, phrase)]
        for f, v in (filters or {}).items():
            where += f" AND docs.{f} = ?"
            args.append(v)
        total = self.conn.execute(
            f"SELECT count(*) FROM fts JOIN docs ON docs.id = fts.rowid WHERE {where}", args).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT docs.src FROM fts JOIN docs ON docs.id = fts.rowid WHERE {where} AND docs.protected = 0 "
            f"ORDER BY bm25(fts, 1.0, 2.0) LIMIT {int(size)}", args).fetchall()
        return total, [json.loads(r[0]) for r in rows]

    def facets(self, tokens: list[str], fields: Iterable[str], size: int = 10) -> dict:
        match = self._match(tokens, False)
        self.conn.execute("DROP TABLE IF EXISTS temp.hits")
        self.conn.execute("CREATE TEMP TABLE hits AS SELECT rowid AS id FROM fts WHERE fts MATCH ?", (match,))
        out = {}
        for f in fields:
            if f in SINGLE:
                sql = (f"SELECT {f}, count(*) c FROM docs WHERE id IN (SELECT id FROM temp.hits) AND {f} IS NOT NULL "
                       f"GROUP BY {f} ORDER BY c DESC LIMIT {int(size)}")
                out[f] = self.conn.execute(sql).fetchall()
            else:
                out[f] = self.conn.execute(
                    "SELECT value, count(*) c FROM doc_values WHERE field = ? AND id IN (SELECT id FROM temp.hits) "
                    f"GROUP BY value ORDER BY c DESC LIMIT {int(size)}", (f,)).fetchall()
        out["_days"] = self.conn.execute(
            "SELECT lday, count(*) FROM docs WHERE id IN (SELECT id FROM temp.hits) GROUP BY lday").fetchall()
        return out

    def size_bytes(self, path: Path) -> int:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))

    def close(self) -> None:
        self.conn.close()
