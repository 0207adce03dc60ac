"""The working-day calendar on real 2025 and 2026 holidays and make-up days, and beyond 2026."""
from __future__ import annotations

import datetime as dt

import pytest

from core.calendar import (SHANGHAI, WorkCalendar, active_intervals, local_midnight, next_local_midnight,
                           points_in_time)

CAL = WorkCalendar()


def at(y, m, d, hh=10, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def end_of(y, m, d) -> dt.datetime:
    return local_midnight(dt.date(y, m, d) + dt.timedelta(days=1))


@pytest.mark.parametrize("day, workday", [
    (dt.date(2026, 2, 14), True),    # Saturday, make-up working day for the Spring Festival
    (dt.date(2026, 2, 16), False),   # Spring Festival
    (dt.date(2026, 10, 10), True),   # Saturday, make-up day after National Day
    (dt.date(2026, 9, 25), False),   # Mid-Autumn Festival (Friday)
    (dt.date(2026, 9, 20), True),    # Sunday, make-up day
    (dt.date(2025, 9, 28), True),    # Sunday, make-up day
    (dt.date(2025, 10, 8), False),   # National Day + Mid-Autumn
    (dt.date(2025, 1, 26), True),    # Sunday, make-up day
    (dt.date(2026, 11, 23), True),   # an ordinary Monday
    (dt.date(2026, 11, 22), False),  # an ordinary Sunday
])
def test_real_days(day, workday):
    assert CAL.day(day) == (workday, False)


def test_answered_on_the_make_up_saturday_is_in_time():
    # assigned Friday 2026-02-13; one working day to sign: the make-up Saturday 2026-02-14
    due, estimated = CAL.add_working_days(at(2026, 2, 13), 1)
    assert (due, estimated) == (end_of(2026, 2, 14), False)
    answered = at(2026, 2, 14, 16, 30)
    assert answered <= due
    assert CAL.working_days_between(at(2026, 2, 13), answered) == pytest.approx((14 + 16.5) / 24)


def test_thirteen_working_days_over_mid_autumn_and_national_day_2026():
    due, estimated = CAL.add_working_days(at(2026, 9, 24), 13)
    assert (due, estimated) == (end_of(2026, 10, 20), False)


def test_spring_festival_2025_and_sunday_make_up_day():
    assert CAL.add_working_days(at(2025, 1, 24), 3) == (end_of(2025, 2, 5), False)
    assert CAL.add_working_days(at(2025, 9, 26), 3) == (end_of(2025, 9, 30), False)


def test_start_on_a_holiday_counts_from_the_next_working_day():
    assert CAL.add_working_days(at(2026, 10, 3), 1) == (end_of(2026, 10, 8), False)


def test_deadline_ending_exactly_at_new_year_is_exact():
    assert CAL.add_working_days(at(2026, 12, 24), 5) == (end_of(2026, 12, 31), False)


def test_deadline_crossing_into_2027_is_estimated_monday_to_friday():
    due, estimated = CAL.add_working_days(at(2026, 12, 25), 13)
    assert (due, estimated) == (end_of(2027, 1, 13), True)  # 2027-01-01 counted as a Friday working day
    assert CAL.missing_years(dt.date(2026, 12, 25), dt.date(2027, 1, 13)) == [2027]


def test_entered_2027_schedule_makes_it_exact():
    cal = WorkCalendar({dt.date(2027, 1, 1): False}, known_years={2027})
    assert cal.add_working_days(at(2026, 12, 25), 13) == (end_of(2027, 1, 14), False)
    # an entered make-up Saturday counts
    cal = WorkCalendar({dt.date(2027, 1, 1): False, dt.date(2027, 1, 9): True}, known_years={2027})
    assert cal.add_working_days(at(2026, 12, 25), 13) == (end_of(2027, 1, 13), False)


def test_override_in_an_unknown_year_is_still_estimated():
    cal = WorkCalendar({dt.date(2027, 1, 1): False})
    due, estimated = cal.add_working_days(at(2026, 12, 25), 13)
    assert (due, estimated) == (end_of(2027, 1, 14), True)


def test_working_seconds_and_advance_are_inverse():
    start = at(2026, 9, 23, 15, 45)
    for hours in (0, 1, 8.25, 24, 100, 300):
        point, _ = CAL.advance(start, hours * 3600)
        assert CAL.working_seconds(start, point)[0] == pytest.approx(hours * 3600)


def test_pauses_are_skipped():
    begin = next_local_midnight(at(2026, 11, 23))  # Tuesday 00:00
    pauses = [(at(2026, 11, 24, 12), at(2026, 11, 26, 12))]  # two working days paused
    intervals = active_intervals(begin, pauses)
    [(due, est)] = points_in_time(CAL, intervals, [3 * 86400])
    assert est is False
    assert due == end_of(2026, 11, 30)  # ½ Tue, paused to Thu noon, ½ Thu, Fri, Mon
    open_pause = active_intervals(begin, [(at(2026, 11, 24, 12), None)])
    assert points_in_time(CAL, open_pause, [3 * 86400]) == [(None, False)]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working_days(dt.datetime(2026, 11, 23, 10), 1)
