"""The working-day calendar: statutory holidays and make-up working days (调休), in Asia/Shanghai.

Days come from three sources, in this order:

1. an *override* table that administrators fill when the State Council publishes a year's
   schedule (passed in as data, so this module needs no database);
2. the ``chinese-calendar`` package (it knows 2004 up to the last year it was released for);
3. for a year neither knows, Monday to Friday. Any result that relied on such a guess is
   reported as *estimated*, so callers can flag the deadline and recompute it later.

Time is measured in "working seconds": the seconds of a working day count, the others do
not. Deadlines are instants, so a clock that ends with a working day ends at the local
midnight after it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_SECONDS = 86400
#: A walk longer than this many days means a wrong input (e.g. 10,000 working days).
MAX_WALK_DAYS = 3 * 366

Interval = tuple[dt.datetime, dt.datetime | None]


@lru_cache(maxsize=None)
def builtin_knows(year: int) -> bool:
    """True when ``chinese-calendar`` has that year's official schedule."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def local_date(instant: dt.datetime) -> dt.date:
    return _aware(instant).astimezone(SHANGHAI).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant (UTC) at which ``day`` begins in Asia/Shanghai."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)


def next_local_midnight(instant: dt.datetime) -> dt.datetime:
    return local_midnight(local_date(instant) + dt.timedelta(days=1))


def _aware(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime given; use aware datetimes")
    return instant


class WorkCalendar:
    """Working days with admin overrides; every answer says whether it is exact or estimated."""

    def __init__(self, overrides: Mapping[dt.date, bool] | None = None, known_years: Iterable[int] = ()):
        self.overrides = dict(overrides or {})
        self.declared_years = frozenset(known_years)

    # --- days ------------------------------------------------------------------------------
    def year_known(self, year: int) -> bool:
        return year in self.declared_years or builtin_knows(year)

    def day(self, day: dt.date) -> tuple[bool, bool]:
        """``(is_workday, estimated)`` for one local date."""
        known = self.year_known(day.year)
        if day in self.overrides:
            return self.overrides[day], not known
        if builtin_knows(day.year):
            return chinese_calendar.is_workday(day), False
        return day.weekday() < 5, not known

    def is_workday(self, day: dt.date) -> bool:
        return self.day(day)[0]

    def missing_years(self, start: dt.date, end: dt.date) -> list[int]:
        """Years between two dates (inclusive) whose schedule nobody has entered."""
        return [y for y in range(start.year, end.year + 1) if not self.year_known(y)]

    # --- measuring -------------------------------------------------------------------------
    def working_seconds(self, start: dt.datetime, end: dt.datetime) -> tuple[float, bool]:
        """Working seconds in ``[start, end)`` and whether a guessed day was used."""
        start, end = _aware(start), _aware(end)
        if end <= start:
            return 0.0, False
        total, estimated, t = 0.0, False, start
        for _ in range(MAX_WALK_DAYS * 10):
            if t >= end:
                return total, estimated
            day_end = next_local_midnight(t)
            work, guess = self.day(local_date(t))
            estimated |= guess
            if work:
                total += (min(day_end, end) - t).total_seconds()
            t = day_end
        raise ValueError("interval too long for the working-day calendar")

    def advance(self, start: dt.datetime, seconds: float) -> tuple[dt.datetime, bool]:
        """The instant at which ``seconds`` of working time have passed since ``start``."""
        t, remaining, estimated = _aware(start), float(seconds), False
        if remaining < 0:
            raise ValueError("cannot advance by a negative amount")
        for _ in range(MAX_WALK_DAYS):
            if remaining <= 0:
                return t, estimated
            day_end = next_local_midnight(t)
            work, guess = self.day(local_date(t))
            estimated |= guess
            if work:
                available = (day_end - t).total_seconds()
                if remaining <= available:
                    return t + dt.timedelta(seconds=remaining), estimated
                remaining -= available
            t = day_end
        raise ValueError("deadline too far away for the working-day calendar")

    def add_working_days(self, start: dt.datetime, days: float) -> tuple[dt.datetime, bool]:
        """Statutory counting: the day of ``start`` is not counted; the deadline is the end
        (local midnight) of the ``days``-th working day after it."""
        return self.advance(next_local_midnight(start), days * DAY_SECONDS)

    def working_days_between(self, start: dt.datetime, end: dt.datetime) -> float:
        return self.working_seconds(start, end)[0] / DAY_SECONDS


def active_intervals(start: dt.datetime, pauses: Sequence[Interval]) -> list[Interval]:
    """``[start, ∞)`` minus the pauses (sorted, non-overlapping); an open pause ends it."""
    out: list[Interval] = []
    t: dt.datetime | None = start
    for p_from, p_to in sorted(pauses, key=lambda p: p[0]):
        if t is None:
            break
        if p_to is not None and p_to <= t:
            continue
        if p_from > t:
            out.append((t, p_from))
        t = p_to if p_to is None or p_to > t else t
    if t is not None:
        out.append((t, None))
    return out


def points_in_time(
    calendar: WorkCalendar, intervals: Sequence[Interval], targets: Sequence[float], wall_clock: bool = False
) -> list[tuple[dt.datetime | None, bool]]:
    """For each target amount of (working or wall-clock) seconds, the instant it is reached
    while time runs only inside ``intervals``; ``None`` while a pause is still open."""
    order = sorted(range(len(targets)), key=lambda i: targets[i])
    results: list[tuple[dt.datetime | None, bool]] = [(None, False)] * len(targets)
    consumed, estimated = 0.0, False
    k = 0
    for s, e in intervals:
        if k >= len(order):
            break
        if e is None:
            span, guess = float("inf"), False
        elif wall_clock:
            span, guess = (e - s).total_seconds(), False
        else:
            span, guess = calendar.working_seconds(s, e)
        while k < len(order) and targets[order[k]] <= consumed + span:
            need = targets[order[k]] - consumed
            if wall_clock:
                point, g = s + dt.timedelta(seconds=need), False
            else:
                point, g = calendar.advance(s, need)
            results[order[k]] = (point, estimated or g)
            k += 1
        consumed += span
        estimated |= guess
    return results


def standard() -> WorkCalendar:
    """The calendar with no admin overrides (chinese-calendar plus Monday–Friday)."""
    return WorkCalendar()
