"""Live 1+X coverage on the Shengsi archipelago: who reaches each township, and what a dispatch uncovers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from dispatch import coverage
from dispatch.store.models import Event, Squad, TownshipCoverage
from tests.conftest import Api
from tests.factories import incident_body
from tests.realtime_clients import CommandScreen

SHENGSHAN = (122.815, 30.716)  # the Ma'an hub: its squad covers Gouqi and Huaniao too
GOUQI, HUANIAO = "330922202", "330922203"


def _by_code(answer: dict) -> dict:
    return {t["region"]["code"]: t for t in answer["townships"]}


def _squad(session, code: str) -> Squad:
    return session.scalar(select(Squad).where(Squad.code == code))


def test_every_township_is_listed_with_its_zone_target_and_best_squad(client, session):
    answer = client.get("/api/v1/coverage").get_json()
    towns = _by_code(answer)
    assert len(towns) == 7 and answer["uncovered"] == sum(not t["covered"] for t in towns.values())
    gouqi = towns[GOUQI]
    assert gouqi["zone"]["code"] == "maan" and gouqi["target_minutes"] == 45
    assert gouqi["best"]["squad"]["code"] == "cb-shengshan"
    assert 25 * 60 <= gouqi["best"]["eta_seconds"] <= 45 * 60 and gouqi["covered"] is True
    assert gouqi["reference_point"]["type"] == "Point"
    # the same answer as a recommendation for that place (one travel model)
    lon, lat = gouqi["reference_point"]["coordinates"]
    assert client.get(f"/api/v1/jurisdiction?lon={lon}&lat={lat}").get_json()["region"]["code"] == GOUQI


def test_sending_the_hub_squad_uncovers_its_islands_raises_an_alert_and_its_return_covers_them(client, app, session):
    before = _by_code(client.get("/api/v1/coverage").get_json())  # computed once
    assert before[GOUQI]["covered"]  # Huaniao's ferries may not sail for hours (the time of day decides)
    hub = _squad(session, "cb-shengshan")
    incident = client.post("/api/v1/incidents", json=incident_body(at=SHENGSHAN)).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [hub.id]}).get_json()
    with app.app_context():
        changed = coverage.update_for_squads(session, [hub.id], app.config)
        session.commit()
    towns = _by_code(client.get("/api/v1/coverage").get_json())
    assert {GOUQI, HUANIAO, "330922101"} <= {code for code, t in towns.items() if not t["covered"]}
    assert towns[GOUQI]["best"] is None or towns[GOUQI]["best"]["eta_seconds"] > 45 * 60
    assert towns[GOUQI]["id"] in changed
    alerts = client.get("/api/v1/alerts").get_json()["alerts"]
    uncovered = [a for a in alerts if a["kind"] == "township_uncovered"]
    assert {a["region"]["code"] for a in uncovered} >= {GOUQI, HUANIAO}
    assert all(a["severity"] == "critical" for a in uncovered)
    gouqi_alert = next(a for a in uncovered if a["region"]["code"] == GOUQI)
    assert "枸杞乡" in gouqi_alert["message"] and gouqi_alert["params"]["target"] == 45
    # acknowledged by a person, on the record
    acked = client.post(f"/api/v1/alerts/{gouqi_alert['id']}/ack")
    assert acked.status_code == 200 and acked.get_json()["acknowledged_by"] == "api"
    assert client.post(f"/api/v1/alerts/{gouqi_alert['id']}/ack").status_code == 409
    recorded = session.scalars(
        select(Event.action)
        .where(Event.entity_type == "alert", Event.entity_id == gouqi_alert["id"])
        .order_by(Event.id)
    ).all()
    assert recorded == ["alert.raised", "alert.acknowledged"]
    # the squad finishes: the islands are covered again and the alerts cleared
    for to in ("acknowledged", "en_route", "on_scene", "completed"):
        client.post(f"/api/v1/tasks/{task['tasks'][0]['id']}/transition", json={"to": to})
    with app.app_context():
        coverage.update_for_squads(session, [hub.id], app.config)
        session.commit()
    towns = _by_code(client.get("/api/v1/coverage").get_json())
    assert towns[GOUQI]["covered"] and towns[GOUQI]["best"]["squad"]["code"] == "cb-shengshan"
    open_kinds = {
        (a["kind"], a["region"]["code"]) for a in client.get("/api/v1/alerts").get_json()["alerts"] if a["region"]
    }
    assert ("township_uncovered", GOUQI) not in open_kinds
    assert towns[HUANIAO]["covered"] == before[HUANIAO]["covered"]


def test_an_update_after_one_squad_agrees_with_a_full_recomputation(app, session, client):
    client.get("/api/v1/coverage")
    hub = _squad(session, "cb-shengshan")
    hub.status = "off_duty"
    session.commit()
    with app.app_context():
        coverage.update_for_squads(session, [hub.id], app.config)
        session.commit()
        incremental = {r.region_id: (r.covered, r.best_squad_id) for r in session.scalars(select(TownshipCoverage))}
        hub.status = "available"
        session.commit()
        coverage.update_for_squads(session, [hub.id], app.config)
        session.commit()
        back = {
            r.region_id: (r.covered, r.best_squad_id, r.eta_seconds) for r in session.scalars(select(TownshipCoverage))
        }
        coverage.recompute(session, app.config)
        session.commit()
        full = {
            r.region_id: (r.covered, r.best_squad_id, r.eta_seconds) for r in session.scalars(select(TownshipCoverage))
        }
    assert any(not covered for covered, _ in incremental.values())
    assert {k: v[:2] for k, v in back.items()} == {k: v[:2] for k, v in full.items()}
    for region, (_, _, eta) in back.items():  # the squad's own ETA agrees with its ranking within a minute
        assert abs(eta - full[region][2]) <= 60, region


@pytest.mark.parametrize("production", [False, True], ids=["threads", "gevent"])
def test_a_dispatch_reaches_the_command_centre_as_a_coverage_change_within_two_seconds(start_server, store, production):
    server = start_server(production=production)
    api = Api(server.url)
    api.get("/coverage")  # computed before the event
    screen = CommandScreen(server.url)
    try:
        hub = _squad(store, "cb-shengshan")
        incident = api.post("/incidents", incident_body(at=SHENGSHAN)).json()
        sent = time.monotonic()
        assert api.post(f"/incidents/{incident['id']}/dispatch", {"squad_ids": [hub.id]}).status_code == 201

        def gouqi_uncovered():
            return any(
                u["data"]["region"]["code"] == GOUQI and not u["data"]["covered"] for u in screen.updates("coverage")
            )

        screen.wait_until(gouqi_uncovered, timeout=5)
        assert time.monotonic() - sent < 2.0
        screen.wait_until(lambda: any(u["data"]["kind"] == "township_uncovered" for u in screen.updates("alert")))
    finally:
        screen.close()
        api.close()


def test_a_zone_target_from_the_plan_decides_and_a_published_plan_recomputes(client, app, session):
    from tests.web.test_plans_api import PLANNER

    plan = client.post("/api/v1/plans", json={}, headers=PLANNER).get_json()
    zones = [{k: z[k] for k in ("code", "name", "name_en", "hub", "members")} for z in plan["zones"]]
    for zone in zones:
        if zone["code"] == "maan":
            zone["target_minutes"] = 20  # tighter than the hub squad's 33 minutes to Gouqi
    bad = client.put(
        f"/api/v1/plans/{plan['id']}", json={"version": plan["version"], "zones": [{**zones[0], "target_minutes": 2}]},
        headers=PLANNER,
    )  # fmt: skip
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "zones[0].target_minutes"
    saved = client.put(
        f"/api/v1/plans/{plan['id']}", json={"version": plan["version"], "zones": zones}, headers=PLANNER
    )
    assert saved.status_code == 200, saved.get_json()
    assert {z["code"]: z["target_minutes"] for z in saved.get_json()["zones"]}["maan"] == 20
    published = client.post(
        f"/api/v1/plans/{plan['id']}/publish", json={"version": saved.get_json()["version"]}, headers=PLANNER
    )
    assert published.status_code == 200, published.get_json()
    with app.app_context():
        coverage.recompute(session, app.config)  # what the coverage feed does on the plan's update
        session.commit()
    gouqi = _by_code(client.get("/api/v1/coverage").get_json())[GOUQI]
    assert gouqi["target_minutes"] == 20 and not gouqi["covered"]
    assert gouqi["best"]["squad"]["code"] == "cb-shengshan"
