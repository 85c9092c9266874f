"""One China clock: at 01:00 in China on a UTC host, a certificate that lapsed the day before
(China's date) is lapsed for recommendation, dispatch and case opening alike.

Between 00:00 and 08:00 China time the host's UTC date is still the day before; a rule that
read the host's date let such a squad be recommended and dispatched while case opening refused
its officer. The clock here is ``gis.clock.utc_now``, set to the moment in question.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from gis import clock
from tests.factories import certified, make_squad
from tests.oversight.factories import CERTIFIED, case_body, new_incident
from tests.oversight.factories import officer_id as seeded

GOUQI = (122.77, 30.72)


@pytest.fixture
def utc_host(monkeypatch):
    """The host keeps UTC, as the Docker image does."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _answers(client, session, incident_id: int, squad_id: int, officer_id: int) -> dict:
    ranked = client.get(f"/api/v1/incidents/{incident_id}/recommendations?limit=50").get_json()["recommendations"]
    # A second enforcer of the county bureau: a case has two (Administrative Penalty Law art. 42).
    case = client.post(
        "/api/v1/cases",
        json=case_body(session, enforcers=(CERTIFIED,), enforcer_ids=[officer_id, seeded(session, CERTIFIED)]),
    )
    return {
        "recommended": squad_id in {r["squad"]["id"] for r in ranked},
        "case": case.status_code,
        "case_error": (case.get_json().get("error") or {}).get("code"),
    }


def test_a_certificate_lapsed_yesterday_in_china_is_lapsed_for_every_rule_at_1am(
    client, session, monkeypatch, utc_host
):
    utc_day = dt.datetime.now(dt.UTC).date()
    squad = make_squad(session, at=GOUQI, region="330922202", officers=[certified(expires=utc_day)])
    officer_id = squad.officers[0].id
    incident = new_incident(client, at=GOUQI)

    # 23:00 in China on the day the certificate expires: valid everywhere.
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime.combine(utc_day, dt.time(15), dt.UTC))
    assert clock.local_day() == utc_day
    assert _answers(client, session, incident["id"], squad.id, officer_id) == {
        "recommended": True,
        "case": 201,
        "case_error": None,
    }

    # 01:00 in China the next day, 17:00 UTC on the host: the host's date is still the expiry day.
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime.combine(utc_day, dt.time(17), dt.UTC))
    assert clock.local_day() == utc_day + dt.timedelta(days=1) and dt.date.today() == utc_day
    assert _answers(client, session, incident["id"], squad.id, officer_id) == {
        "recommended": False,
        "case": 409,
        "case_error": "certificate_expired",
    }
    refused = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_certified_officer"

    # The same dispatch an hour before midnight in China goes through: the refusal was the clock's.
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime.combine(utc_day, dt.time(15), dt.UTC))
    sent = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]})
    assert sent.status_code == 201, sent.get_json()
