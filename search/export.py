"""CSV and Excel exports of a whole result set (masked, like every search result)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from core.models import User
from search.service import SearchParams, iterate, label

MAX_ROWS = 50_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ("编号", "时间", "来源", "标题", "正文（已脱敏）", "主题", "情感", "诉求类型", "风险", "承办部门", "案件状态",
           "案件编号", "热度", "链接")
#: Spreadsheet formula injection: a cell starting with these is prefixed with a quote.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def rows(params: SearchParams, user: User | None, limit: int = MAX_ROWS) -> Iterator[list[Any]]:
    for doc in iterate(params, user, limit):
        yield [_safe(v) for v in (
            doc.get("id"), (doc.get("time") or "")[:19].replace("T", " "), doc.get("source"), doc.get("title"),
            (doc.get("body") or "")[:2000], doc.get("topic"), label("sentiment", doc.get("sentiment") or ""),
            doc.get("appeal"), "、".join(label("risk", r) for r in doc.get("risk") or []), doc.get("department"),
            label("status", doc.get("status") or ""), doc.get("case"), doc.get("heat"), doc.get("url"),
        )]


def csv_chunks(data: list[list[Any]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(COLUMNS)
    for i, row in enumerate(data, 1):
        writer.writerow(row)
        if i % 1000 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_bytes(data: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("检索结果")
    ws.append(list(COLUMNS))
    for row in data:
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
