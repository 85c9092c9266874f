"""Working days: Monday to Friday, less public holidays, plus 调休 working weekend days.

Seed 000 §2.4 gives a department 5 working days (工作日) for a written opinion.
The exceptions to the weekday rule come from the State Council's holiday notices,
kept as data (gis/data/<county>/oversight.yaml -> table ``calendar_day``).
Time limits end at midnight, China Standard Time (UTC+8, no daylight saving).

The calendar is known year by year (table ``calendar_year``): its **horizon** is the last loaded
year's 31 December. The State Council publishes next year's notice around November; a year is
loaded without a code change by ``flask --app dispatch calendar load FILE`` (one year of the
notice as data, ``gis/data/calendar/README.md``). A deadline computed past the horizon is
computed with weekdays only and flagged ``provisional`` (never silently); loading that year
computes the open provisional deadlines again, on the record. ``GET /api/v1/health`` and
/supervisor warn while the horizon is under ``HORIZON_WARNING_DAYS`` away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from dispatch.oversight.models import AssistanceRequest, CalendarDay, CalendarYear
from dispatch.record import record
from gis.clock import CHINA, local_day

HORIZON_WARNING_DAYS = 60
ASSISTANCE_WORKING_DAYS = 5  # seed 000 §2.4: a written opinion within 5 working days


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


def horizon(session: Session) -> dt.date | None:
    """The last day the holiday calendar knows: 31 December of the last loaded year (None: none loaded)."""
    year = session.scalar(select(func.max(CalendarYear.year)))
    return dt.date(year, 12, 31) if year is not None else None


def deadline_after(session: Session, moment: dt.datetime, count: int) -> tuple[dt.datetime, bool]:
    """``working_days_after`` and whether it is provisional (its last day lies past the horizon)."""
    due = working_days_after(session, moment, count)
    last = horizon(session)
    return due, last is None or local_day(due - dt.timedelta(seconds=1)) > last


def calendar_status(session: Session, today: dt.date) -> dict:
    """``{"horizon": "YYYY-MM-DD", "warning"?: "..."}`` for health and /supervisor."""
    last = horizon(session)
    if last is None:
        return {"horizon": None, "warning": "no holiday calendar is loaded: working days are weekdays only"}
    status: dict = {"horizon": last.isoformat()}
    left = (last - today).days
    if left < HORIZON_WARNING_DAYS:
        status["days_left"] = left
        status["warning"] = (
            f"the holiday calendar ends on {last.isoformat()} ({left} days): load the State Council's "
            f"notice for {last.year + 1} (flask --app dispatch calendar load FILE); deadlines past it are provisional"
        )
    return status


def load_year(
    session: Session, year: int, source: str, days: Mapping[dt.date, tuple[bool, str]], *, actor: str
) -> dict:
    """Put one year's notice in place of what was there, and compute again the open assistance
    time limits that were provisional (sent on or before the horizon moved). On the record."""
    previous = session.get(CalendarYear, year)
    session.execute(delete(CalendarDay).where(CalendarDay.day.between(dt.date(year, 1, 1), dt.date(year, 12, 31))))
    if days:
        session.execute(
            insert(CalendarDay).values([{"day": d, "working": w, "name_zh": n} for d, (w, n) in sorted(days.items())])
        )
    if previous is None:
        session.add(CalendarYear(year=year, source=source, loaded_by=actor))
    else:
        previous.source, previous.loaded_by, previous.loaded_at = source, actor, func.now()
    session.flush()
    recomputed = []
    requests = session.scalars(
        select(AssistanceRequest)
        .where(AssistanceRequest.due_provisional, AssistanceRequest.status == "sent")
        .where(AssistanceRequest.extension_reason.is_(None))
        .with_for_update()
    )
    for request in requests:
        due, provisional = deadline_after(session, request.sent_at, ASSISTANCE_WORKING_DAYS)
        before = request.due_at
        request.due_at, request.due_provisional = due, provisional
        if due != before or not provisional:
            recomputed.append(request.id)
            record(
                session,
                actor=actor,
                action="assistance_request.due_recomputed",
                entity_type=AssistanceRequest.__tablename__,
                entity_id=request.id,
                incident_id=request.incident_id,
                data={"from": before.isoformat(), "to": due.isoformat(), "provisional": provisional, "year": year},
            )
    record(
        session,
        actor=actor,
        action="calendar.loaded" if previous is None else "calendar.reloaded",
        entity_type=CalendarYear.__tablename__,
        entity_id=year,
        data={
            "year": year,
            "source": source,
            "holidays": sum(1 for w, _ in days.values() if not w),
            "workdays": sum(1 for w, _ in days.values() if w),
            "recomputed_assistance": recomputed,
        },
    )
    session.flush()
    return {"year": year, "days": len(days), "recomputed": recomputed, "horizon": horizon(session).isoformat()}
