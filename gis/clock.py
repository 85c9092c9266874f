"""The one China clock: China Standard Time (UTC+8, no daylight saving) and the local day.

Every rule that speaks of a day (a certificate valid today, a time limit "by day D", a
ferry timetable, a report's year) reads it here, whatever the host's own time zone is.
"""

from __future__ import annotations

import datetime as dt

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def utc_now() -> dt.datetime:
    """Now (aware, UTC): the time every rule reads, from one place (tests set it here)."""
    return dt.datetime.now(dt.UTC)


def local_now() -> dt.datetime:
    """Now, in China."""
    return utc_now().astimezone(CHINA)


def local_day(moment: dt.datetime | None = None) -> dt.date:
    """The date in China at ``moment`` (an aware time; default now)."""
    return (moment or utc_now()).astimezone(CHINA).date()
