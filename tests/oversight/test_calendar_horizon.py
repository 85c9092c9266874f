"""The holiday calendar's horizon (issue 32, part C; seed 000 §2.4: 5 working days).

The State Council publishes each year's holidays around November; the calendar is loaded year
by year (``flask --app dispatch calendar load FILE``) and its horizon is the last year's 31
December. Health and /supervisor warn under 60 days before it; a time limit past it is computed
and flagged provisional, and computed again when the year is loaded.

The 2027 file here is a TEST FIXTURE with invented dates (tests/oversight/calendar_2027_test_fixture.yaml).
"""

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from dispatch.oversight.calendar import deadline_after, horizon
from dispatch.oversight.models import CalendarDay, CalendarYear
from dispatch.store.models import Event
from gis import clock
from gis.clock import CHINA

FIXTURE_2027 = Path(__file__).parent / "calendar_2027_test_fixture.yaml"
QUESTION = {"to": "dept-market", "question": "请对抽检的散装白酒出具质量检验意见"}


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: moment.astimezone(dt.UTC))


def test_seed000_2_4_health_gives_the_calendar_horizon_and_warns_under_60_days(client, anonymous, monkeypatch):
    _at(monkeypatch, dt.datetime(2026, 12, 7, 10, tzinfo=CHINA))
    calendar = anonymous.get("/api/v1/health").get_json()["calendar"]
    assert calendar["horizon"] == "2026-12-31" and calendar["days_left"] == 24
    assert "2027" in calendar["warning"] and "calendar load" in calendar["warning"]
    _at(monkeypatch, dt.datetime(2026, 10, 1, 10, tzinfo=CHINA))
    assert anonymous.get("/api/v1/health").get_json()["calendar"] == {"horizon": "2026-12-31"}


def test_seed000_2_4_a_time_limit_past_the_horizon_is_provisional_and_computed_again_on_load(
    client, runner, session, monkeypatch
):
    _at(monkeypatch, dt.datetime(2026, 12, 28, 10, tzinfo=CHINA))
    sent = client.post("/api/v1/assistance-requests", json=QUESTION)
    assert sent.status_code == 201, sent.get_json()
    request = sent.get_json()
    # Weekdays only past 2026-12-31: the fifth working day after Monday 28 December is Monday 4 January.
    assert dt.datetime.fromisoformat(request["due_at"]) == dt.datetime(2027, 1, 5, tzinfo=CHINA)
    assert request["due_provisional"] is True and "provisional" in request["due_note"]

    loaded = runner.invoke(args=["calendar", "load", str(FIXTURE_2027)])
    assert loaded.exit_code == 0, loaded.output
    assert "horizon 2027-12-31" in loaded.output
    listed = client.get("/api/v1/assistance-requests").get_json()["assistance_requests"]
    again = next(r for r in listed if r["id"] == request["id"])
    # The fixture's 1-3 January holiday moves the fifth working day to Tuesday 5 January.
    assert dt.datetime.fromisoformat(again["due_at"]) == dt.datetime(2027, 1, 6, tzinfo=CHINA)
    assert again["due_provisional"] is False
    assert "due_note" not in again
    session.expire_all()
    actions = list(
        session.scalars(
            select(Event.action).where(Event.action.like("%calendar%") | Event.action.like("%due_recomputed"))
        )
    )
    assert actions == ["assistance_request.due_recomputed", "calendar.loaded"]
    assert client.get("/api/v1/health").get_json()["calendar"] == {"horizon": "2027-12-31"}


def test_seed000_2_4_a_deadline_across_the_2027_spring_festival_uses_the_loaded_year(runner, session):
    assert runner.invoke(args=["calendar", "load", str(FIXTURE_2027)]).exit_code == 0
    session.expire_all()
    assert horizon(session) == dt.date(2027, 12, 31)
    sent = dt.datetime(2027, 2, 4, 9, tzinfo=CHINA)  # Thursday before the fixture's 5-13 February holiday
    due, provisional = deadline_after(session, sent, 5)
    # 5-13 Feb off, Sunday 14 Feb a 调休 working day (1), then 15-18 Feb (2-5).
    assert due == dt.datetime(2027, 2, 19, tzinfo=CHINA) and provisional is False
    assert deadline_after(session, dt.datetime(2027, 12, 30, 9, tzinfo=CHINA), 5)[1] is True


def test_seed000_2_4_a_calendar_file_with_a_day_of_another_year_is_refused_and_nothing_loads(runner, session, tmp_path):
    bad = tmp_path / "2027.yaml"
    bad.write_text(
        "year: 2027\nsource: test fixture\ncalendar: [{name_zh: 春节, holiday: ['2027-02-05..2027-02-13', '2028-01-01']}]\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["calendar", "load", str(bad)])
    assert result.exit_code == 1 and "2028-01-01 is not in 2027" in result.output
    session.expire_all()
    assert session.get(CalendarYear, 2027) is None
    assert session.scalar(select(CalendarDay).where(CalendarDay.day == dt.date(2027, 2, 5))) is None
    assert horizon(session) == dt.date(2026, 12, 31)


def test_seed000_2_4_loading_a_year_again_replaces_its_days(runner, session, tmp_path):
    assert runner.invoke(args=["calendar", "load", str(FIXTURE_2027)]).exit_code == 0
    fewer = tmp_path / "2027.yaml"
    fewer.write_text(
        "year: 2027\nsource: test fixture, corrected\ncalendar: [{name_zh: 元旦, holiday: ['2027-01-01']}]\n"
    )
    assert runner.invoke(args=["calendar", "load", str(fewer)]).exit_code == 0
    session.expire_all()
    days = session.scalars(select(CalendarDay.day).where(CalendarDay.day >= dt.date(2027, 1, 1))).all()
    assert days == [dt.date(2027, 1, 1)]
    assert session.get(CalendarYear, 2027).source == "test fixture, corrected"
    assert session.scalar(select(Event.action).where(Event.action == "calendar.reloaded")) == "calendar.reloaded"
