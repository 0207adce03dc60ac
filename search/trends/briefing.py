"""Daily and weekly briefings (舆情日报 / 周报): built from the dashboard aggregates, stored, exported.

A briefing covers whole days in Asia/Shanghai: the daily one the given day, the weekly one
the seven days ending on it. It is stored once per (kind, period) — generating it again
(schedule and a button on the same day) replaces the stored data instead of adding a copy.
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import utcnow
from core.models import Case, Department
from search.trends import dashboard
from search.trends.features import SHANGHAI
from search.trends.models import ALERT_LEVELS, Briefing, TrendAlert
from search.trends.service import OPEN_STATES, TrendsError

KINDS = {"daily": ("舆情日报", 1), "weekly": ("舆情周报", 7)}


def period(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    if kind not in KINDS:
        raise TrendsError("简报类型只能是 daily（日报）或 weekly（周报）。")
    length = KINDS[kind][1]
    return day - dt.timedelta(days=length - 1), day


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(first, dt.time(), SHANGHAI).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI).astimezone(dt.timezone.utc)
    return start, end


def build(session: Session, kind: str, day: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    first, last = period(kind, day)
    start, end = _bounds(first, last)
    f = dashboard.Filters(start, end)
    now = now or utcnow()
    alerts = session.scalars(select(TrendAlert).where(TrendAlert.kind == "surge", TrendAlert.first_at >= start,
                                                      TrendAlert.first_at < end)
                             .order_by(TrendAlert.level.desc(), TrendAlert.first_at).limit(50)).all()
    overdue = session.execute(
        select(Case.tracking_number, Case.title, Case.department_code, Case.due_at, Department.name)
        .outerjoin(Department, Department.code == Case.department_code)
        .where(Case.status.in_(OPEN_STATES), Case.due_at.is_not(None), Case.due_at < min(now, end), Case.protected.is_(False))
        .order_by(Case.due_at).limit(50)
    ).all()
    hot = dashboard.queries.hot_topics(session, start, end, limit=10)
    for t in hot:
        t.pop("document_ids", None)
        t.pop("factors", None)
    return {
        "kind": kind, "title": f"{KINDS[kind][0]}（{first.isoformat()}" + ("" if first == last else f" 至 {last.isoformat()}") + "）",
        "period_start": first.isoformat(), "period_end": last.isoformat(), "generated_at": now.isoformat(),
        "totals": dashboard.totals(session, f),
        "label_shares": dashboard.label_shares(session, f)[:15],
        "hot_topics": hot,
        "surges": [{"id": a.id, "level": a.level, "level_label": ALERT_LEVELS[a.level], "title": a.title,
                    "first_at": a.first_at.isoformat(), "scope": a.scope, "key": a.key} for a in alerts],
        "risk_items": dashboard.risk_queue(session, f, limit=30),
        "overdue_cases": [{"tracking_number": tn, "title": title, "department": name or code,
                           "due_at": due.isoformat() if due else None} for tn, title, code, due, name in overdue],
        "departments": dashboard.departments(session, f, now=now),
        "places": dashboard.places(session, f, limit=10),
    }


def generate(session: Session, kind: str, day: dt.date, by: str = "schedule") -> Briefing:
    """Build and store (or refresh) the briefing of ``kind`` ending on ``day``."""
    data = build(session, kind, day)
    first, last = period(kind, day)
    row = session.scalar(select(Briefing).where(Briefing.kind == kind, Briefing.period_start == first.isoformat()))
    if row is None:
        row = Briefing(kind=kind, period_start=first.isoformat(), period_end=last.isoformat(), title=data["title"])
        session.add(row)
    row.data, row.title, row.generated_at, row.generated_by = data, data["title"], utcnow(), by[:64]
    session.flush()
    return row


def to_xlsx(data: dict[str, Any]) -> bytes:
    """The briefing as an Excel workbook: a summary sheet plus one sheet per table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "概要"
    bold = Font(bold=True)
    totals = data.get("totals", {})
    ws.append([data.get("title", "")])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["统计期间", f"{data.get('period_start')} 至 {data.get('period_end')}"])
    ws.append(["信息总量", totals.get("documents", 0)])
    ws.append(["上期总量", totals.get("previous_documents", 0)])
    change = totals.get("change")
    ws.append(["环比变化", f"{change * 100:.1f}%" if change is not None else "—"])
    ws.append(["负面信息", totals.get("negative", 0)])
    ws.append(["风险信息", totals.get("risk", 0)])
    ws.append([])
    ws.append(["类别", "数量"])
    for row in data.get("label_shares", []):
        ws.append([row["name"], row["value"]])

    def sheet(name: str, header: list[str], rows: list[list[Any]]) -> None:
        s = wb.create_sheet(name)
        s.append(header)
        for cell in s[1]:
            cell.font = bold
        for r in rows:
            s.append([_safe(v) for v in r])

    sheet("热点问题", ["排名", "标题", "热度", "信息数", "反映人数", "地点", "关键词", "首次出现", "最近出现"],
          [[i + 1, t["title"], t["heat"], t["size"], t.get("reporters"), "、".join(t.get("places", [])),
            "、".join(t.get("keywords", [])[:5]), (t.get("first_seen") or "")[:10], (t.get("last_seen") or "")[:10]]
           for i, t in enumerate(data.get("hot_topics", []))])
    sheet("新增异常", ["级别", "说明", "开始时间"], [[a["level_label"], a["title"], a["first_at"][:16]] for a in data.get("surges", [])])
    sheet("风险信息", ["信息编号", "标题", "风险标记", "时间"],
          [[r["document_id"], r["title"], "、".join(r.get("flags") or []), (r.get("at") or "")[:16]] for r in data.get("risk_items", [])])
    sheet("超期诉求", ["受理号", "标题", "承办部门", "办理期限"],
          [[c["tracking_number"], c["title"], c["department"], (c.get("due_at") or "")[:16]] for c in data.get("overdue_cases", [])])
    sheet("部门排名", ["部门", "诉求数", "在办", "超期", "按期答复率", "满意率", "评价数"],
          [[d["name"], d["cases"], d["open"], d["overdue"], _pct(d.get("on_time_rate")), _pct(d.get("satisfaction")), d["rated"]]
           for d in data.get("departments", [])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _safe(value: Any) -> Any:
    """Cells never start with a formula character (CSV/Excel injection from citizens' text)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
