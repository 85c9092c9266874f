"""Working days from the holiday calendar in data, and the loader of oversight.yaml."""

import datetime as dt

import pytest

from dispatch.oversight.calendar import add_working_days, end_of_day, is_working_day
from dispatch.oversight.reference import OversightAlreadyLoaded, load_oversight_into, read_oversight
from gis.clock import CHINA
from gis.reference import ReferenceDataError
from tests.conftest import SHENGSI


@pytest.fixture(scope="module")
def calendar():
    days = read_oversight(SHENGSI / "oversight.yaml")["calendar_days"]
    return {day: working for day, (working, _) in days.items()}


def test_seed000_2_4_working_days_skip_the_weekend(calendar):
    monday = dt.date(2026, 11, 23)
    assert add_working_days(monday, 5, calendar) == dt.date(2026, 11, 30)
    friday = dt.date(2026, 11, 27)
    assert add_working_days(friday, 1, calendar) == dt.date(2026, 11, 30)


def test_seed000_2_4_national_day_is_skipped_and_the_adjusted_saturday_counts(calendar):
    # 2026: 1-7 October off, Saturday 10 October a working day (国务院办公厅, 2025-11-04).
    assert not is_working_day(dt.date(2026, 10, 5), calendar)
    assert is_working_day(dt.date(2026, 10, 10), calendar)
    assert add_working_days(dt.date(2026, 9, 30), 5, calendar) == dt.date(2026, 10, 13)


def test_seed000_2_4_spring_festival_is_skipped_and_the_adjusted_saturday_counts(calendar):
    # 2026: 15-23 February off; Saturdays 14 and 28 February working days.
    assert add_working_days(dt.date(2026, 2, 13), 5, calendar) == dt.date(2026, 2, 27)
    assert add_working_days(dt.date(2026, 2, 26), 2, calendar) == dt.date(2026, 2, 28)


def test_a_time_limit_ends_at_midnight_china_time():
    assert end_of_day(dt.date(2026, 11, 30)) == dt.datetime(2026, 12, 1, tzinfo=CHINA)


def test_a_bad_oversight_file_lists_every_problem(tmp_path):
    path = tmp_path / "oversight.yaml"
    path.write_text(
        "county: '330922'\n"
        "policy: {referral_response_hours: 0, urgent_on_site_minutes: 60, notice_days: 15}\n"
        "bodies: [{code: gov, kind: palace, name_zh: 县政府, name_en: Gov}]\n"
        "staff: [{code: s1, name: 某, role: supervisor, body: nowhere}]\n"
        "calendar: [{name_zh: 元旦, holiday: ['2026-01-01', '2026-13-01'], workday: ['2026-01-01'], off: ['2026-01-02']}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ReferenceDataError) as caught:
        read_oversight(path)
    text = "\n".join(caught.value.problems)
    for expected in (
        "policy.referral_response_hours",
        "bodies[0].kind",
        "needs a justice_bureau",
        "unknown body 'nowhere'",
        "certificate_no",
        "'2026-13-01' is not a date",
        "2026-01-01 is listed twice",
        "unknown key False",
    ):
        assert expected in text


def test_the_oversight_data_loads_once(session, runner):
    with pytest.raises(OversightAlreadyLoaded):
        load_oversight_into(session, SHENGSI)
    session.rollback()
    result = runner.invoke(args=["seed-oversight", "shengsi"])
    assert result.exit_code == 0 and "nothing to do" in result.output
