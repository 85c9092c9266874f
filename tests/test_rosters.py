"""Rosters, stale positions and certificate suspensions (issue 29)."""

import datetime as dt

import pytest
from sqlalchemy import select, text

from dispatch.store.models import Event, Officer, Port, Shift, Squad
from tests.conftest import org_token
from tests.factories import certified, incident_body, make_squad
from tests.oversight.factories import CERTIFIED, case_body, officer_id

pytestmark = pytest.mark.live

CST = dt.timezone(dt.timedelta(hours=8))
GOUQI_SPOT = (122.775, 30.72)  # on Gouqi island
GOUQI = "330922202"


def _at(day: int, hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CST).isoformat()


def _officer(squad: Squad) -> Officer:
    return squad.officers[0]


def _recommend(client, incident_id: int, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B")
    response = client.get(f"/api/v1/incidents/{incident_id}/recommendations?explain=1&limit=50&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _incident(client, at=GOUQI_SPOT) -> int:
    response = client.post("/api/v1/incidents", json=incident_body(at=at))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


# -- shifts ------------------------------------------------------------------------------------------


def test_a_squad_whose_only_certified_officers_shift_ends_at_18_is_not_dispatchable_at_18_01(client, session):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI)
    officer = _officer(squad)
    shift = client.post(
        "/api/v1/shifts", json={"officer_id": officer.id, "start": _at(23, 8), "end": _at(23, 18), "role": "leader"}
    )
    assert shift.status_code == 201, shift.get_data(as_text=True)
    assert shift.get_json()["role"] == "leader" and shift.get_json()["officer"]["id"] == officer.id
    incident = _incident(client)
    before = _recommend(client, incident, at=_at(23, 17, 59))
    assert squad.id in [r["squad"]["id"] for r in before["recommendations"]]
    after = _recommend(client, incident, at=_at(23, 18, 1))
    assert squad.id not in [r["squad"]["id"] for r in after["recommendations"]]
    left = {e["squad"]["id"]: e["reasons"] for e in after["left_out"]}
    assert left[squad.id] == ["no certified officer on shift now (roster)"]


def test_dispatch_refuses_a_squad_whose_shift_has_ended(client, session):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI)
    now = dt.datetime.now(CST).replace(microsecond=0)
    body = {"squad_id": squad.id, "start": (now - dt.timedelta(hours=10)).isoformat()}
    body["end"] = (now - dt.timedelta(minutes=1)).isoformat()
    assert client.post("/api/v1/shifts", json=body).status_code == 201
    incident = _incident(client)
    refused = client.post(f"/api/v1/incidents/{incident}/dispatch", json={"squad_ids": [squad.id]})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "no_certified_officer"
    # the next shift starts now: dispatchable at once
    body = {"squad_id": squad.id, "start": (now - dt.timedelta(minutes=1)).isoformat()}
    body["end"] = (now + dt.timedelta(hours=8)).isoformat()
    assert client.post("/api/v1/shifts", json=body).status_code == 201
    sent = client.post(f"/api/v1/incidents/{incident}/dispatch", json={"squad_ids": [squad.id]})
    assert sent.status_code == 201, sent.get_data(as_text=True)


def test_shift_refusals_name_the_field_and_save_nothing(client, session):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI)
    officer = _officer(squad)
    first = client.post("/api/v1/shifts", json={"officer_id": officer.id, "start": _at(24, 8), "end": _at(24, 20)})
    assert first.status_code == 201
    overlap = client.post("/api/v1/shifts", json={"officer_id": officer.id, "start": _at(24, 19), "end": _at(25, 7)})
    assert overlap.status_code == 409
    error = overlap.get_json()["error"]
    assert (
        error["code"] == "shift_overlap" and error["field"] == "start" and error["shift_id"] == first.get_json()["id"]
    )
    backwards = client.post("/api/v1/shifts", json={"officer_id": officer.id, "start": _at(26, 8), "end": _at(26, 7)})
    assert backwards.status_code == 422 and backwards.get_json()["error"]["field"] == "end"
    both = client.post(
        "/api/v1/shifts", json={"officer_id": officer.id, "squad_id": squad.id, "start": _at(27, 8), "end": _at(27, 9)}
    )
    assert both.status_code == 422 and both.get_json()["error"]["field"] == "squad_id"
    no_offset = client.post(
        "/api/v1/shifts", json={"squad_id": squad.id, "start": "2026-11-27T08:00", "end": _at(27, 9)}
    )
    assert no_offset.status_code == 400 and no_offset.get_json()["error"]["field"] == "start"
    too_long = client.post("/api/v1/shifts", json={"squad_id": squad.id, "start": _at(27, 8), "end": _at(30, 8)})
    assert too_long.status_code == 422 and too_long.get_json()["error"]["field"] == "end"
    missing = client.post("/api/v1/shifts", json={"squad_id": 424242, "start": _at(27, 8), "end": _at(27, 9)})
    assert missing.status_code == 404
    assert session.scalar(select(text("count(*)")).select_from(Shift)) == 1, "nothing saved on a refusal"


def test_shifts_are_listed_removed_and_on_the_record(client, session):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI)
    added = client.post("/api/v1/shifts", json={"squad_id": squad.id, "start": _at(23, 8), "end": _at(23, 20)})
    shift_id = added.get_json()["id"]
    listed = client.get("/api/v1/shifts", query_string={"from": _at(23, 0), "to": _at(30, 0), "squads": "1"}).get_json()
    assert [s["id"] for s in listed["shifts"]] == [shift_id]
    assert listed["shifts"][0]["squad"]["code"] == squad.code
    assert any(s["id"] == squad.id for s in listed["squads"])
    wrong = client.get("/api/v1/shifts", query_string={"from": _at(30, 0), "to": _at(23, 0)})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "to"
    assert client.delete(f"/api/v1/shifts/{shift_id}").status_code == 200
    assert client.delete(f"/api/v1/shifts/{shift_id}").status_code == 404
    actions = session.scalars(select(Event.action).where(Event.entity_type == "shift", Event.entity_id == shift_id))
    assert list(actions) == ["shift.added", "shift.removed"]


def test_csv_import_all_or_nothing_with_line_and_column(client, session, runner, tmp_path):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI, officers=[certified(), certified()])
    a, b = squad.officers
    good = (
        "squad,officer,start,end,role\n"
        f"{squad.code},{a.certificate_no},2026-11-23 08:00,2026-11-23 20:00,leader\n"
        f"{squad.code},{b.certificate_no},2026-11-23T08:00:00+08:00,2026-11-23T20:00:00+08:00,crew\n"
        f"{squad.code},,2026-11-24 08:00,2026-11-24 20:00,\n"
    )
    bad = (
        "squad,officer,start,end,role\n"
        f"{squad.code},{a.certificate_no},2026-11-25 08:00,2026-11-25 20:00,leader\n"
        f"no-such-squad,,2026-11-25 08:00,2026-11-25 20:00,\n"
        f"{squad.code},{b.certificate_no},2026-11-25 20:00,2026-11-25 08:00,\n"
        f"{squad.code},{a.certificate_no},2026-11-25 19:00,tomorrow,\n"
        f"{squad.code},{a.certificate_no},2026-11-25 19:00,2026-11-25 22:00,\n"
    )
    refused = client.post("/api/v1/shifts/import", json={"csv": bad})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_csv" and error["field"] == "csv:line 3, column squad"
    assert [(p["line"], p["column"]) for p in error["problems"]] == [
        (3, "squad"),
        (4, "end"),
        (5, "end"),
        (6, "start"),
    ]
    assert "overlaps line 2" in error["problems"][3]["message"]
    assert session.scalar(select(text("count(*)")).select_from(Shift)) == 0, "all or nothing"
    checked = client.post("/api/v1/shifts/import", json={"csv": good, "dry_run": True})
    assert checked.status_code == 200 and checked.get_json()["checked"] == 3
    assert session.scalar(select(text("count(*)")).select_from(Shift)) == 0
    done = client.post("/api/v1/shifts/import", json={"csv": good})
    assert done.status_code == 201 and done.get_json()["imported"] == 3
    first = done.get_json()["shifts"][0]
    assert dt.datetime.fromisoformat(first["start"]) == dt.datetime(2026, 11, 23, 0, tzinfo=dt.UTC)
    assert first["role"] == "leader"
    # the command line reads a file the same way, and names the line and column
    path = tmp_path / "roster.csv"
    path.write_text(bad, encoding="utf-8")
    result = runner.invoke(args=["shifts", "import", str(path)])
    assert result.exit_code == 1 and "line 3, column squad: no squad 'no-such-squad'" in result.output
    path.write_text(good.replace("2026-11-2", "2026-12-1"), encoding="utf-8")
    result = runner.invoke(args=["shifts", "import", str(path)])
    assert result.exit_code == 0 and "imported 3 shift(s)" in result.output, result.output


# -- stale positions ---------------------------------------------------------------------------------


def _fix(session, squad: Squad, lon: float, lat: float, age: dt.timedelta) -> None:
    session.execute(
        text("""UPDATE squad SET last_position = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                                 last_position_at = now() - CAST(:age AS interval) WHERE id = :id"""),
        {"lon": lon, "lat": lat, "age": f"{int(age.total_seconds())} seconds", "id": squad.id},
    )
    session.commit()


def test_a_three_hour_old_fix_does_not_put_a_squad_on_the_incidents_island(client, session):
    # stationed in Caiyuan on Sijiao; its last fix, three hours old, is on Gouqi next to the incident
    squad = make_squad(session, at=(122.45, 30.73), region="330922100", domains=["comprehensive"])
    _fix(session, squad, *GOUQI_SPOT, dt.timedelta(hours=3))
    incident = _incident(client)
    ranked = _recommend(client, incident)["recommendations"]
    mine = [r for r in ranked if r["squad"]["id"] == squad.id]
    assert not mine or mine[0]["mode"] == "ferry", "placed at its Sijiao station, it crosses by ferry"
    land = [r for r in ranked if r["mode"] == "land"]
    assert squad.id not in [r["squad"]["id"] for r in land]
    if mine:
        assert mine[0]["position_basis"] == "station" and mine[0]["position_age_minutes"] >= 179
        assert mine[0]["position_note"]["en"].startswith(f"position {mine[0]['position_age_minutes']} min old")
        assert "分钟" in mine[0]["position_note"]["zh"]
    # the same fix, fresh: on the island, by road
    _fix(session, squad, *GOUQI_SPOT, dt.timedelta(minutes=5))
    ranked = _recommend(client, incident)["recommendations"]
    fresh = next(r for r in ranked if r["squad"]["id"] == squad.id)
    assert fresh["mode"] == "land" and fresh["position_basis"] == "fix" and fresh["position_note"] is None
    assert fresh["position_age_minutes"] in (4, 5)


def test_a_tasks_route_and_coverage_start_where_the_recommendation_places_a_stale_squad(app, client, session):
    from dispatch import coverage

    squad = make_squad(session, at=(122.45, 30.73), region="330922100", domains=["comprehensive"])
    _fix(session, squad, *GOUQI_SPOT, dt.timedelta(hours=3))
    incident = _incident(client)
    answer = client.post(f"/api/v1/incidents/{incident}/dispatch", json={"squad_ids": [squad.id]})
    assert answer.status_code == 201, answer.get_json()
    task = answer.get_json()["tasks"][0]["id"]
    route = client.get(f"/api/v1/tasks/{task}/route").get_json()["route"]
    assert route["mode"] == "ferry", "from its Sijiao station, not from a fix three hours old beside the scene"
    _fix(session, squad, *GOUQI_SPOT, dt.timedelta(minutes=5))
    assert client.get(f"/api/v1/tasks/{task}/route").get_json()["route"]["mode"] == "land"
    # coverage's own pass over a squad that changed: the same placement
    client.post(f"/api/v1/tasks/{task}/transition", json={"to": "cancelled", "reason": "test"})
    _fix(session, squad, *GOUQI_SPOT, dt.timedelta(hours=3))
    [row] = session.execute(
        coverage._SQUAD,
        {
            "ids": [squad.id],
            "domains": ["comprehensive"],
            "today": dt.date.today(),
            "now": dt.datetime.now(dt.UTC),
            "fresh_since": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=app.config["POSITION_STALE_MINUTES"]),
        },
    ).all()
    sijiao = session.execute(
        text("SELECT island_id, ST_X(station::geometry), ST_Y(station::geometry) FROM squad WHERE id = :id"),
        {"id": squad.id},
    ).one()
    assert row.island_id != session.scalar(
        text("SELECT id FROM island WHERE ST_Intersects(outline, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
        {"x": GOUQI_SPOT[0], "y": GOUQI_SPOT[1]},
    ), "not on Gouqi"
    assert (round(row.lon, 4), round(row.lat, 4)) == (round(sijiao[1], 4), round(sijiao[2], 4)), "at its station"


def test_a_stale_fix_at_a_pier_places_the_squad_at_that_pier(client, session):
    pier = session.scalars(select(Port).where(Port.code == "gouqi")).one()
    lon, lat = session.execute(
        text("SELECT ST_X(location::geometry), ST_Y(location::geometry) FROM port WHERE id = :id"), {"id": pier.id}
    ).one()
    squad = make_squad(session, at=(122.45, 30.73), region="330922100")
    _fix(session, squad, lon + 0.002, lat, dt.timedelta(minutes=47))  # about 200 m from the Gouqi pier
    incident = _incident(client)
    ranked = _recommend(client, incident)["recommendations"]
    mine = next(r for r in ranked if r["squad"]["id"] == squad.id)
    assert mine["position_basis"] == "pier" and mine["mode"] == "land"
    assert mine["position_note"]["en"] == "position 47 min old: placed at the pier"


# -- certificates ------------------------------------------------------------------------------------


def test_a_suspended_certificate_counts_as_uncertified_until_lifted(client, session):
    squad = make_squad(session, at=GOUQI_SPOT, region=GOUQI)
    officer = _officer(squad)
    incident = _incident(client)
    suspended = client.post(
        f"/api/v1/officers/{officer.id}/certificate-actions",
        json={"kind": "suspension", "document": "嵊综执〔2026〕12号 暂扣执法证决定", "reason": "违规执法"},
    )
    assert suspended.status_code == 201, suspended.get_data(as_text=True)
    action = suspended.get_json()
    answer = _recommend(client, incident)
    assert squad.id not in [r["squad"]["id"] for r in answer["recommendations"]]
    assert {e["squad"]["id"]: e["reasons"] for e in answer["left_out"]}[squad.id] == [
        "certificate suspended or revoked"
    ]
    refused = client.post(f"/api/v1/incidents/{incident}/dispatch", json={"squad_ids": [squad.id]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_certified_officer"
    lifted = client.post(f"/api/v1/certificate-actions/{action['id']}/lift", json={"document": "嵊综执〔2026〕13号"})
    assert lifted.status_code == 200 and lifted.get_json()["lifted_at"]
    again = client.post(f"/api/v1/certificate-actions/{action['id']}/lift", json={"document": "嵊综执〔2026〕13号"})
    assert again.status_code == 409
    assert squad.id in [r["squad"]["id"] for r in _recommend(client, incident)["recommendations"]]
    listed = client.get(f"/api/v1/officers/{officer.id}/certificate-actions").get_json()["actions"]
    assert [a["kind"] for a in listed] == ["suspension"] and listed[0]["lift_document"] == "嵊综执〔2026〕13号"
    events = session.scalars(select(Event.action).where(Event.entity_type == "officer", Event.entity_id == officer.id))
    assert list(events) == ["certificate.suspension", "certificate.suspension_lifted"]


def test_a_revoked_certificate_is_final_and_refused_at_case_opening(client, anonymous, session):
    enforcer = officer_id(session, CERTIFIED)
    revoked = client.post(
        f"/api/v1/officers/{enforcer}/certificate-actions",
        json={"kind": "revocation", "document": "嵊综执〔2026〕20号 注销执法证决定"},
    )
    assert revoked.status_code == 201
    lift = client.post(f"/api/v1/certificate-actions/{revoked.get_json()['id']}/lift", json={"document": "x号"})
    assert lift.status_code == 409 and lift.get_json()["error"]["code"] == "revocation_final"
    bad = client.post(
        f"/api/v1/officers/{enforcer}/certificate-actions",
        json={"kind": "suspension", "document": "y号", "start": _at(23, 10), "end": _at(23, 9)},
    )
    assert bad.status_code in (422, 409)
    case = anonymous.post(
        "/api/v1/cases",
        json=case_body(session),
        headers={"Authorization": f"Bearer {org_token('county-bureau')}"},
    )
    assert case.status_code == 409
    error = case.get_json()["error"]
    assert error["code"] == "certificate_suspended" and error["field"] == "enforcer_ids[0]"
    dispatcher = client.post(
        f"/api/v1/officers/{enforcer}/certificate-actions",
        json={"kind": "suspension", "document": "z号"},
        headers={"Authorization": "Bearer dpt_test-dispatcher"},
    )
    assert dispatcher.status_code == 403


def test_the_demo_is_rostered_and_stays_dispatchable(client, session):
    from dispatch import rosters

    added = rosters.seed_demo_shifts(session)
    session.commit()
    squads = session.scalar(select(text("count(*)")).select_from(Squad))
    assert added % squads == 0 and 15 <= added // squads <= 17, "yesterday 08:00 to a week ahead, two a day"
    assert rosters.seed_demo_shifts(session) == 0, "topped up only when short"
    assert session.scalar(select(text("count(*)")).select_from(Officer).where(Officer.rostered)) > 0
    incident = _incident(client)
    ranked = _recommend(client, incident)["recommendations"]
    assert ranked and ranked[0]["squad"]["code"] == "cb-shengshan"
