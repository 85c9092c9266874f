"""Working days: Monday to Friday, less public holidays, plus 调休 working weekend days.

Seed 000 §2.4 gives a department 5 working days (工作日) for a written opinion.
The exceptions to the weekday rule come from the State Council's holiday notices,
kept as data (gis/data/<county>/oversight.yaml -> table ``calendar_day``).
Time limits end at midnight, China Standard Time (UTC+8, no daylight saving).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.oversight.models import CalendarDay
from gis.clock import CHINA, local_day


def is_working_day(day: dt.date, exceptions: Mapping[dt.date, bool]) -> bool:
    """A weekday unless it is a holiday; a weekend day only when it is a 调休 working day."""
    if day in exceptions:
        return exceptions[day]
    return day.weekday() < 5


def add_working_days(start: dt.date, count: int, exceptions: Mapping[dt.date, bool]) -> dt.date:
    """The ``count``-th working day after ``start`` (the day of sending does not count)."""
    day, left = start, count
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, exceptions):
            left -= 1
    return day


def end_of_day(day: dt.date) -> dt.datetime:
    """The time limit "by day D": midnight at the end of D in China."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), CHINA)


def exceptions_between(session: Session, first: dt.date, last: dt.date) -> dict[dt.date, bool]:
    """The calendar's exceptions in [first, last]: day -> working."""
    rows = session.execute(
        select(CalendarDay.day, CalendarDay.working).where(CalendarDay.day.between(first, last))
    ).all()
    return {day: working for day, working in rows}


def working_days_after(session: Session, moment: dt.datetime, count: int) -> dt.datetime:
    """The end of the ``count``-th working day after the day of ``moment`` (China time)."""
    start = local_day(moment)
    # Even the longest run of holidays (Spring Festival, 9 days) fits in this window.
    exceptions = exceptions_between(session, start, start + dt.timedelta(days=count * 3 + 30))
    return end_of_day(add_working_days(start, count, exceptions))
