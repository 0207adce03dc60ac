"""The holiday table: administrators enter a year's official schedule (holidays and make-up working
days) when the State Council publishes it; every estimated deadline is then recomputed.

Text format (one entry a line, ``#`` comments; also what ``minsheng cases holidays import`` reads)::

    2027-01-01..2027-01-03, 休, 元旦
    2027-02-07, 班, 春节调休

The second field is ``休``/``holiday`` or ``班``/``workday``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cases import clocks
from cases.errors import InvalidInput
from cases.models import HolidayDay, HolidayYear
from cases.workcal import load_calendar
from core import audit
from core.calendar import builtin_knows

HOLIDAY_WORDS = {"休", "假", "holiday", "off"}
WORKDAY_WORDS = {"班", "workday", "work", "调休上班"}


@dataclass(frozen=True)
class Entry:
    day: dt.date
    workday: bool
    name: str


def _date(text: str, line: int) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"第 {line} 行：日期“{text.strip()}”格式不正确，应为 YYYY-MM-DD。") from None


def parse_schedule(text: str, year: int) -> list[Entry]:
    """Parse the schedule text; every problem names its line."""
    entries: dict[dt.date, Entry] = {}
    for n, raw in enumerate((text or "").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.replace("，", ",").split(",")]
        if len(fields) < 2:
            raise InvalidInput(f"第 {n} 行：应为“日期, 休/班, 名称”。")
        span, kind, name = fields[0], fields[1].lower(), (fields[2] if len(fields) > 2 else "")[:50]
        if kind in HOLIDAY_WORDS:
            workday = False
        elif kind in WORKDAY_WORDS:
            workday = True
        else:
            raise InvalidInput(f"第 {n} 行：第二项应为“休”（放假）或“班”（调休上班）。")
        first, _, last = span.partition("..")
        start = _date(first, n)
        end = _date(last, n) if last else start
        if end < start or (end - start).days > 40:
            raise InvalidInput(f"第 {n} 行：日期范围不正确。")
        day = start
        while day <= end:
            if day.year != year:
                raise InvalidInput(f"第 {n} 行：{day.isoformat()} 不在 {year} 年内。")
            if day in entries and entries[day].workday != workday:
                raise InvalidInput(f"第 {n} 行：{day.isoformat()} 同时被设为放假和上班。")
            entries[day] = Entry(day, workday, name)
            day += dt.timedelta(days=1)
    if not entries:
        raise InvalidInput("没有读到任何日期。请按“日期, 休/班, 名称”每行一条填写。")
    return sorted(entries.values(), key=lambda e: e.day)


def enter_schedule(session: Session, year: int, entries: list[Entry], actor: str) -> int:
    """Replace ``year``'s entries, mark the year known, recompute estimated deadlines; returns how many moved."""
    if not 2000 <= year <= 2200:
        raise InvalidInput("年份不正确。")
    session.execute(delete(HolidayDay).where(HolidayDay.day >= dt.date(year, 1, 1), HolidayDay.day <= dt.date(year, 12, 31)))
    for entry in entries:
        session.add(HolidayDay(day=entry.day, workday=entry.workday, name=entry.name))
    row = session.get(HolidayYear, year)
    if row is None:
        session.add(HolidayYear(year=year, entered_by=actor))
    else:
        row.entered_by = actor
    session.flush()
    audit.append(session, actor, "cases.holidays", f"holidays:{year}",
                 {"holidays": sum(not e.workday for e in entries), "workdays": sum(e.workday for e in entries)})
    return clocks.recompute_estimated(session, load_calendar(session))


def year_status(session: Session, years: list[int]) -> list[dict[str, object]]:
    entered = {y.year: y for y in session.scalars(select(HolidayYear))}
    counts: dict[int, int] = {}
    for day in session.scalars(select(HolidayDay.day)):
        counts[day.year] = counts.get(day.year, 0) + 1
    return [{"year": y, "builtin": builtin_knows(y), "entered": y in entered, "days": counts.get(y, 0),
             "entered_at": entered[y].entered_at if y in entered else None} for y in years]


def entries_for(session: Session, year: int) -> list[HolidayDay]:
    return list(session.scalars(select(HolidayDay).where(HolidayDay.day >= dt.date(year, 1, 1),
                                                         HolidayDay.day <= dt.date(year, 12, 31)).order_by(HolidayDay.day)))
