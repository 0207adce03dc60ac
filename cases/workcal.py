"""The working-day calendar with the administrators' holiday table applied."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.models import HolidayDay, HolidayYear
from core.calendar import WorkCalendar


def load_calendar(session: Session) -> WorkCalendar:
    overrides = {row.day: row.workday for row in session.scalars(select(HolidayDay))}
    years = set(session.scalars(select(HolidayYear.year)))
    return WorkCalendar(overrides, years)
