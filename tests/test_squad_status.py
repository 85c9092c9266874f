"""Squad status from the field and the centre (issue 29): PUT /api/v1/squads/<id>/status."""

import pytest
from sqlalchemy import select

from dispatch.store.models import Event, Squad
from dispatch.tablets import issue_token
from tests.factories import incident_body
from tests.realtime_clients import CommandScreen

pytestmark = pytest.mark.live

SHENGSHAN = (122.815, 30.716)


def _squad(session, code: str) -> Squad:
    return session.scalar(select(Squad).where(Squad.code == code))


def _put(client, squad_id, body, **headers):
    return client.put(f"/api/v1/squads/{squad_id}/status", json=body, headers=headers)


def test_out_of_service_needs_a_reason_and_goes_on_the_record(client, session):
    squad = _squad(session, "cb-caiyuan")
    refused = _put(client, squad.id, {"status": "out_of_service"})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "reason"
    unknown = _put(client, squad.id, {"status": "out_of_service", "reason": "nap"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "reason"
    assert _squad(session, "cb-caiyuan").status == "available", "nothing saved on a refusal"
    done = _put(client, squad.id, {"status": "out_of_service", "reason": "vessel_fault"})
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert body["status"] == "out_of_service" and body["status_reason"] == "vessel_fault"
    assert set(body["allowed"]) == {"available", "out_of_service", "off_duty"}
    session.expire_all()
    assert _squad(session, "cb-caiyuan").status_reason == "vessel_fault"
    event = session.get(Event, body["event_id"])
    assert event.action == "squad.status" and event.data["to"] == "out_of_service"
    assert event.data["reason"] == "vessel_fault" and event.actor == "api"
    back = _put(client, squad.id, {"status": "available", "reason": "meal"})
    assert back.status_code == 422 and back.get_json()["error"]["field"] == "reason", "only out of service has one"
    assert _put(client, squad.id, {"status": "available"}).status_code == 200


def test_an_out_of_service_squad_is_neither_recommended_nor_sent(client, session):
    squad = _squad(session, "cb-shengshan")
    assert _put(client, squad.id, {"status": "out_of_service", "reason": "training"}).status_code == 200
    incident = client.post("/api/v1/incidents", json=incident_body(at=SHENGSHAN)).get_json()
    answer = client.get(f"/api/v1/incidents/{incident['id']}/recommendations?explain=1").get_json()
    assert squad.id not in [r["squad"]["id"] for r in answer["recommendations"]]
    left = {e["squad"]["id"]: e["reasons"] for e in answer["left_out"]}
    assert left[squad.id] == ["status is out_of_service"]
    refused = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "squad_unavailable"


def test_a_squad_on_a_task_cannot_be_made_available_nor_on_task_by_hand(client, session):
    squad = _squad(session, "cb-shengshan")
    incident = client.post("/api/v1/incidents", json=incident_body(at=SHENGSHAN)).get_json()
    sent = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]})
    assert sent.status_code == 201
    for status in ("available", "off_duty", "returning", "on_task"):
        refused = _put(client, squad.id, {"status": status})
        assert refused.status_code == 409, status
        error = refused.get_json()["error"]
        assert error["code"] == "illegal_status" and error["field"] == "status" and error["allowed"] == []
    session.expire_all()
    assert _squad(session, "cb-shengshan").status == "busy"
    other = _squad(session, "cb-caiyuan")
    on_task = _put(client, other.id, {"status": "on_task"})
    assert on_task.status_code == 409 and "returning" in on_task.get_json()["error"]["allowed"]


def test_a_returning_squad_may_be_sent_again(client, session):
    squad = _squad(session, "cb-shengshan")
    assert _put(client, squad.id, {"status": "returning"}).status_code == 200
    incident = client.post("/api/v1/incidents", json=incident_body(at=SHENGSHAN)).get_json()
    ranked = client.get(f"/api/v1/incidents/{incident['id']}/recommendations").get_json()["recommendations"]
    assert squad.id in [r["squad"]["id"] for r in ranked]
    sent = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]})
    assert sent.status_code == 201
    event = session.scalars(
        select(Event).where(Event.entity_type == "squad", Event.entity_id == squad.id).order_by(Event.id.desc())
    ).first()
    assert event.data == {"from": "returning", "to": "busy"}


def test_a_tablet_sets_its_own_squads_status_only(app, anonymous, session):
    own, other = _squad(session, "cb-shengshan"), _squad(session, "cb-caiyuan")
    token = issue_token(session, own.id)[1]
    session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    assert _put(anonymous, own.id, {"status": "out_of_service", "reason": "meal"}, **auth).status_code == 200
    refused = _put(anonymous, other.id, {"status": "off_duty"}, **auth)
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "squad_id"
    session.expire_all()
    assert _squad(session, "cb-caiyuan").status == "available"
    planner = anonymous.put(
        f"/api/v1/squads/{own.id}/status", json={"status": "available"},
        headers={"Authorization": "Bearer dpt_test-planner"},
    )  # fmt: skip
    assert planner.status_code == 403


def test_bad_status_bodies_are_400_naming_the_field(client, session):
    squad = _squad(session, "cb-caiyuan")
    for body, field in (
        ({}, "status"),
        ({"status": "asleep"}, "status"),
        ({"status": "off_duty", "extra": 1}, "extra"),
    ):
        response = _put(client, squad.id, body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["field"] == field, response.get_json()
    assert _put(client, 424242, {"status": "off_duty"}).status_code == 404


def test_a_status_change_reaches_the_command_board_and_coverage(api, live_server, store):
    screen = CommandScreen(live_server.url)
    try:
        hub = _squad(store, "cb-shengshan")
        answer = api.http.put(
            f"{api.base}/api/v1/squads/{hub.id}/status", json={"status": "out_of_service", "reason": "vessel_fault"}
        )
        assert answer.status_code == 200, answer.text
        screen.wait_until(
            lambda: any(
                u["id"] == hub.id and u["data"].get("status") == "out_of_service" for u in screen.updates("squad")
            )
        )
        update = next(u for u in screen.updates("squad") if u["id"] == hub.id)
        assert update["data"]["status_reason"] == "vessel_fault" and update["rev"] == answer.json()["event_id"]
        # the hub's islands lose their squad: coverage follows at once
        screen.wait_until(lambda: screen.updates("coverage"), timeout=15)
    finally:
        screen.close()
