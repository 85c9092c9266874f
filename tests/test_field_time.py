"""Field time on the record and tablets' actions answered once (issue 28): what a squad did offline
keeps its time; a retry whose answer was lost gets the first answer; the squad's own work on any device."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from sqlalchemy import select

from dispatch.store.models import Event, Squad, Task
from dispatch.tablets import issue_token
from tests.factories import incident_body, make_squad

GOUQI = (122.77, 30.72)


def _task(client, session):
    squad = make_squad(session, at=GOUQI, region="330922202")
    incident = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]}).get_json()
    token = issue_token(session, squad.id)[1]
    session.commit()
    return incident, squad, task["tasks"][0], {"Authorization": f"Bearer {token}"}


def _created(session, task_id) -> dt.datetime:
    return session.get(Task, task_id, populate_existing=True).created_at


def test_a_step_tapped_offline_keeps_its_time_and_the_record_shows_both(client, anonymous, session):
    incident, _, task, tablet = _task(client, session)
    tapped = _created(session, task["id"]) + dt.timedelta(milliseconds=700)
    time.sleep(1.5)  # tapped offline, synced later
    body = {"to": "acknowledged", "action_id": str(uuid.uuid4()), "occurred_at": tapped.isoformat()}
    answer = anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json=body, headers=tablet)
    assert answer.status_code == 200, answer.get_json()
    assert dt.datetime.fromisoformat(answer.get_json()["acknowledged_at"]) == tapped
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    step = next(e for e in events if e["action"] == "task.transition")
    assert dt.datetime.fromisoformat(step["occurred_at"]) == tapped
    assert dt.datetime.fromisoformat(step["recorded_at"]) > tapped


def test_a_retry_whose_answer_was_lost_gets_the_first_answer(client, anonymous, session):
    incident, _, task, tablet = _task(client, session)
    body = {"to": "acknowledged", "action_id": str(uuid.uuid4()), "note": "收到，马上出发"}
    first = anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json=body, headers=tablet)
    again = anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json=body, headers=tablet)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    steps = session.scalars(select(Event).where(Event.incident_id == incident["id"], Event.action == "task.transition"))
    assert [e.data["note"] for e in steps] == ["收到，马上出发"]  # done once
    other = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    squad2 = make_squad(session, at=GOUQI, region="330922202")
    task2 = client.post(f"/api/v1/incidents/{other['id']}/dispatch", json={"squad_ids": [squad2.id]}).get_json()
    reused = client.post(f"/api/v1/tasks/{task2['tasks'][0]['id']}/transition", json=body)
    assert reused.status_code == 422 and reused.get_json()["error"]["field"] == "action_id"
    bad = client.post(f"/api/v1/tasks/{task['id']}/transition", json={**body, "action_id": "not-a-uuid"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "action_id"


def test_impossible_field_times_are_refused_naming_the_field(client, session):
    _, _, task, _ = _task(client, session)
    created = _created(session, task["id"])
    for when in (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), created - dt.timedelta(minutes=5)):
        refused = client.post(
            f"/api/v1/tasks/{task['id']}/transition", json={"to": "acknowledged", "occurred_at": when.isoformat()}
        )
        assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "occurred_at", (
            when,
            refused.get_json(),
        )
    assert session.get(Task, task["id"], populate_existing=True).state == "dispatched"


def test_a_device_clock_ten_minutes_slow_is_corrected_and_flagged(client, session):
    incident, _, task, _ = _task(client, session)
    slow = dt.timedelta(minutes=10)
    now = dt.datetime.now(dt.UTC)
    body = {"to": "acknowledged", "occurred_at": (now - slow).isoformat(), "sent_at": (now - slow).isoformat()}
    answer = client.post(f"/api/v1/tasks/{task['id']}/transition", json=body)
    assert answer.status_code == 200, answer.get_json()
    step = session.scalars(
        select(Event).where(Event.incident_id == incident["id"], Event.action == "task.transition")
    ).one()
    assert 590 <= step.data["clock_offset_s"] <= 610
    assert abs((step.occurred_at - now).total_seconds()) < 5


def test_a_tablet_restores_its_own_work_on_any_device(client, anonymous, session):
    incident, squad, task, tablet = _task(client, session)
    anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json={"to": "acknowledged"}, headers=tablet)
    mine = anonymous.get("/api/v1/tablet/tasks", headers=tablet)
    assert mine.status_code == 200, mine.get_json()
    body = mine.get_json()
    assert body["squad"]["id"] == squad.id
    assert [(t["id"], t["state"]) for t in body["tasks"]] == [(task["id"], "acknowledged")]
    shown = body["tasks"][0]["incident"]
    assert shown["id"] == incident["id"] and shown["matters"][0]["code"] == "CM-001" and shown["sla_deadline"]
    assert anonymous.get("/api/v1/regions", headers=tablet).status_code == 200  # its map's layers
    assert client.get("/api/v1/tablet/tasks").status_code == 403  # a dispatcher is no tablet
    wrong = anonymous.get("/api/v1/tablet/tasks", headers={"Authorization": "Bearer sqt_nothing"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "unauthorized"
    other = session.scalar(select(Squad).where(Squad.code == "cb-caiyuan"))
    theirs = issue_token(session, other.id)[1]
    session.commit()
    assert (
        anonymous.get("/api/v1/tablet/tasks", headers={"Authorization": f"Bearer {theirs}"}).get_json()["tasks"] == []
    )


def test_a_step_refused_because_the_dispatcher_cancelled_keeps_its_note(client, anonymous, session):
    incident, _, task, tablet = _task(client, session)
    client.post(f"/api/v1/tasks/{task['id']}/transition", json={"to": "cancelled", "reason": "改派"})
    body = {"to": "acknowledged", "action_id": str(uuid.uuid4()), "note": "已到码头，等渡船"}
    refused = anonymous.post(f"/api/v1/tasks/{task['id']}/transition", json=body, headers=tablet)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "illegal_transition"
    notes = session.scalars(select(Event).where(Event.incident_id == incident["id"], Event.action == "task.note"))
    assert [(e.data["note"], e.data["state"]) for e in notes] == [("已到码头，等渡船", "cancelled")]


def test_the_task_card_gets_its_route_with_the_ferry_leg(client, anonymous, session):
    caiyuan = session.scalar(select(Squad).where(Squad.code == "cb-caiyuan"))
    incident = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [caiyuan.id]}).get_json()
    token = issue_token(session, caiyuan.id)[1]
    session.commit()
    answer = anonymous.get(
        f"/api/v1/tasks/{task['tasks'][0]['id']}/route", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    route = answer["route"]
    assert route["mode"] == "ferry" and [leg["mode"] for leg in route["legs"]][0] == "land"
    assert any(leg["mode"] == "ferry" and leg.get("depart_at") for leg in route["legs"])
    assert route["eta_seconds"] > 30 * 60  # across the water from Caiyuan, not a straight line
    other = issue_token(session, session.scalar(select(Squad.id).where(Squad.code == "cb-wulong")))[1]
    session.commit()
    mine_only = anonymous.get(
        f"/api/v1/tasks/{task['tasks'][0]['id']}/route", headers={"Authorization": f"Bearer {other}"}
    )
    assert mine_only.status_code == 403


def test_a_revoked_tablet_token_is_told_so(client, anonymous, session):
    from dispatch.store.models import TabletToken
    from dispatch.tablets import revoke

    _, _, _, tablet = _task(client, session)
    row = session.scalars(select(TabletToken).order_by(TabletToken.id.desc())).first()
    revoke(session, row.id)
    session.commit()
    from dispatch.accounts import forget_tokens

    forget_tokens()
    refused = anonymous.get("/api/v1/tablet/tasks", headers=tablet)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
