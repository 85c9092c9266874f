"""Every incident action of a duty shift through the API: what it changes, its 409s, its record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatch.states import CLOSE_OUTCOMES, INCIDENT_ACTIONS, incident_actions
from dispatch.store.models import Event, Squad, SquadMessage, Task
from tests.conftest import TOKENS, as_org
from tests.factories import incident_body, make_squad

GOUQI = (122.77, 30.72)


def _file(client, **extra):
    response = client.post("/api/v1/incidents", json=incident_body(at=GOUQI, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _dispatch(client, incident_id, *squads):
    response = client.post(f"/api/v1/incidents/{incident_id}/dispatch", json={"squad_ids": [s.id for s in squads]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["tasks"]


def _move(client, task_id, *states, reason=None):
    for to in states:
        body = {"to": to} | ({"reason": reason} if reason else {})
        response = client.post(f"/api/v1/tasks/{task_id}/transition", json=body)
        assert response.status_code == 200, response.get_json()


def _actions(session, incident_id):
    return [
        (e.action, e.data)
        for e in session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.id))
    ]


def test_the_detail_names_the_actions_of_this_user_in_this_state(client, app, session):
    incident = _file(client)
    shown = client.get(f"/api/v1/incidents/{incident['id']}").get_json()
    assert shown["actions"] == list(incident_actions("open"))
    supervisor = app.test_client()
    supervisor.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS['supervisor'][1]}"
    seen = supervisor.get(f"/api/v1/incidents/{incident['id']}")
    assert seen.status_code == 200 and seen.get_json()["actions"] == []  # a supervisor reads, never acts
    squad = make_squad(session, at=GOUQI, region="330922202")
    _dispatch(client, incident["id"], squad)
    shown = client.get(f"/api/v1/incidents/{incident['id']}").get_json()
    assert shown["status"] == "dispatched" and "close" not in shown["actions"]
    assert shown["tasks"][0]["actions"] == ["reassign", "cancel"]


def test_close_with_an_outcome_after_the_work_is_done_and_reopen(client, session):
    incident = _file(client)
    squad = make_squad(session, at=GOUQI, region="330922202")
    task = _dispatch(client, incident["id"], squad)[0]
    refused = client.post(f"/api/v1/incidents/{incident['id']}/close", json={"outcome": "resolved_on_site"})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "illegal_action" and "close" not in error["allowed"] and "cancel" in error["allowed"]
    _move(client, task["id"], "acknowledged", "en_route", "on_scene", "completed")
    resolved = client.get(f"/api/v1/incidents/{incident['id']}").get_json()
    assert resolved["status"] == "resolved" and "close" in resolved["actions"]
    queue = client.get("/api/v1/command/snapshot").get_json()["incidents"]
    assert incident["id"] in [i["id"] for i in queue]  # resolved waits in the queue for its closure
    closed = client.post(
        f"/api/v1/incidents/{incident['id']}/close", json={"outcome": "rectified", "note": "摊位已搬离"}
    )
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert (body["status"], body["outcome"], body["outcome_note"]) == ("closed", "rectified", "摊位已搬离")
    assert body["closed_by"] == "api" and body["closed_at"] and body["actions"] == ["reopen"]
    queue = client.get("/api/v1/command/snapshot").get_json()["incidents"]
    assert incident["id"] not in [i["id"] for i in queue]
    again = client.post(f"/api/v1/incidents/{incident['id']}/close", json={"outcome": "rectified"})
    assert again.status_code == 409 and again.get_json()["error"]["allowed"] == ["reopen"]
    reopened = client.post(f"/api/v1/incidents/{incident['id']}/reopen", json={"reason": "群众再次来电"})
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "open"
    assert reopened.get_json()["outcome"] is None
    recorded = [a for a, _ in _actions(session, incident["id"]) if a.startswith("incident.")]
    assert recorded[-2:] == ["incident.closed", "incident.reopened"]
    assert ("incident.closed", {"from": "resolved", "outcome": "rectified", "note": "摊位已搬离"}) in _actions(
        session, incident["id"]
    )


def test_an_open_incident_closes_without_a_dispatch_and_bad_outcomes_are_400(client):
    incident = _file(client, source="walk_in")  # a citizen at the counter
    bad = client.post(f"/api/v1/incidents/{incident['id']}/close", json={"outcome": "done"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "outcome"
    missing = client.post(f"/api/v1/incidents/{incident['id']}/close", json={})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "outcome"
    ok = client.post(f"/api/v1/incidents/{incident['id']}/close", json={"outcome": "no_violation", "note": ""})
    assert ok.status_code == 200 and ok.get_json()["status"] == "closed" and ok.get_json()["outcome_note"] is None
    assert set(CLOSE_OUTCOMES) >= {"resolved_on_site", "referred", "no_violation", "duplicate"}


def test_cancel_needs_a_reason_and_cancels_the_tasks_telling_the_tablet(client, session):
    incident = _file(client)
    squad = make_squad(session, at=GOUQI, region="330922202")
    task = _dispatch(client, incident["id"], squad)[0]
    blank = client.post(f"/api/v1/incidents/{incident['id']}/cancel", json={"reason": "  "})
    assert blank.status_code == 400 and blank.get_json()["error"]["field"] == "reason"
    done = client.post(f"/api/v1/incidents/{incident['id']}/cancel", json={"reason": "报警人撤回"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "报警人撤回"
    assert body["tasks"][0]["state"] == "cancelled" and "报警人撤回" in body["tasks"][0]["reason"]
    assert session.get(Squad, squad.id, populate_existing=True).status == "available"
    last = session.scalars(
        select(SquadMessage).where(SquadMessage.squad_id == squad.id).order_by(SquadMessage.seq.desc())
    ).first()
    assert last.payload["action"] == "cancelled" and last.task_id == task["id"]
    recorded = [a for a, _ in _actions(session, incident["id"])]
    assert "incident.cancelled" in recorded and "task.transition" in recorded
    twice = client.post(f"/api/v1/incidents/{incident['id']}/cancel", json={"reason": "again"})
    assert twice.status_code == 409 and twice.get_json()["error"]["allowed"] == ["reopen"]


def test_reassign_supersedes_the_task_and_dispatches_the_other_squad_at_once(client, session):
    incident = _file(client)
    first = make_squad(session, at=GOUQI, region="330922202")
    second = make_squad(session, at=(GOUQI[0] + 0.01, GOUQI[1]), region="330922202")
    task = _dispatch(client, incident["id"], first)[0]
    _move(client, task["id"], "acknowledged")
    response = client.post(f"/api/v1/tasks/{task['id']}/reassign", json={"squad_id": second.id, "note": "更近"})
    assert response.status_code == 201, response.get_json()
    old, new = response.get_json()["superseded"], response.get_json()["task"]
    assert old["state"] == "cancelled" and old["superseded_by"] == new["id"]
    assert new["state"] == "dispatched" and new["squad"]["id"] == second.id
    assert session.get(Squad, first.id, populate_existing=True).status == "available"
    assert session.get(Squad, second.id, populate_existing=True).status == "busy"
    entries = [(a, d) for a, d in _actions(session, incident["id"]) if a in ("task.superseded", "task.dispatched")]
    assert entries[-2:] == [
        ("task.dispatched", {"state": "dispatched", "note": "更近", "replaces": task["id"]}),
        (
            "task.superseded",
            {
                "from": "acknowledged",
                "to": "cancelled",
                "superseded_by": new["id"],
                "squad_id": second.id,
                "reason": f"reassigned to squad {second.id} ({second.name_zh}): 更近",
            },
        ),
    ]
    shown = client.get(f"/api/v1/incidents/{incident['id']}").get_json()
    assert shown["status"] == "dispatched"
    assert [t["actions"] for t in shown["tasks"]] == [[], ["reassign", "cancel"]]
    again = client.post(f"/api/v1/tasks/{task['id']}/reassign", json={"squad_id": second.id})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "illegal_action"


@pytest.mark.parametrize("problem", ["busy", "same", "incompetent"])
def test_a_reassignment_the_rules_refuse_changes_nothing(client, session, problem):
    incident = _file(client)
    first = make_squad(session, at=GOUQI, region="330922202")
    task = _dispatch(client, incident["id"], first)[0]
    if problem == "busy":
        other = make_squad(session, at=GOUQI, region="330922202", status="busy")
    elif problem == "incompetent":
        other = make_squad(session, at=GOUQI, region="330922202", domains=("fisheries",))
    else:
        other = first
    response = client.post(f"/api/v1/tasks/{task['id']}/reassign", json={"squad_id": other.id})
    expected = {"busy": (409, "squad_unavailable"), "incompetent": (409, "squad_not_competent"),
                "same": (422, "same_squad")}[problem]  # fmt: skip
    assert (response.status_code, response.get_json()["error"]["code"]) == expected
    assert session.get(Task, task["id"], populate_existing=True).state == "dispatched"
    assert (
        session.scalar(select(Task).where(Task.incident_id == incident["id"]).order_by(Task.id.desc())).id == task["id"]
    )


def test_undo_a_duplicate_brings_it_back_and_both_records_say_so(client):
    original = _file(client)
    repeat = _file(client, description="同一处占道经营")
    assert client.post(f"/api/v1/incidents/{repeat['id']}/duplicate", json={"of": original["id"]}).status_code == 200
    shown = client.get(f"/api/v1/incidents/{repeat['id']}").get_json()
    assert shown["status"] == "duplicate" and shown["actions"] == ["undo_duplicate"]
    undone = client.post(f"/api/v1/incidents/{repeat['id']}/undo-duplicate", json={"reason": "不同摊位"})
    assert undone.status_code == 200 and undone.get_json()["status"] == "open"
    assert undone.get_json()["duplicate_of"] is None
    events = client.get(f"/api/v1/incidents/{original['id']}/events").get_json()["events"]
    assert [e["action"] for e in events][-1] == "incident.duplicate_undone"


def test_a_call_taker_previews_then_attaches_a_call_to_the_incident_it_repeats(client, session):
    incident = _file(client)
    body = incident_body(at=(GOUQI[0] + 0.0002, GOUQI[1]), caller={"name": "王先生", "phone": "13800000000"})
    preview = client.post("/api/v1/incidents/preview", json=body)
    assert preview.status_code == 200, preview.get_json()
    seen = preview.get_json()
    assert seen["jurisdiction"]["region"]["name"] == "枸杞乡" and seen["jurisdiction"]["zone"]["code"] == "maan"
    assert seen["priority"] in (1, 2, 3) and seen["sla_minutes"] > 0
    assert [d["id"] for d in seen["possible_duplicates"]] == [incident["id"]]
    assert (
        session.scalar(select(Event.id).where(Event.incident_id.is_(None), Event.action == "incident.created")) is None
    )
    attach = dict(body)
    del attach["matters"], attach["location"]
    attached = client.post(f"/api/v1/incidents/{incident['id']}/calls", json=attach)
    assert attached.status_code == 201, attached.get_json()
    assert attached.get_json()["caller"] == {"name": "王先生", "phone": "13800000000"}
    assert _actions(session, incident["id"])[-1][0] == "incident.call_attached"
    bad = client.post("/api/v1/incidents/preview", json={**body, "matters": ["NOPE-1"]})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "matters[0]"
    filed = client.post("/api/v1/incidents", json=body).get_json()
    assert filed["caller"] == {"name": "王先生", "phone": "13800000000"}


def test_a_township_acts_only_on_the_incidents_of_its_scope(client, app):
    incident = _file(client)  # in Gouqi, outside Yangshan's scope
    stranger = app.test_client()
    for path, body in (("cancel", {"reason": "x"}), ("close", {"outcome": "unfounded"}), ("calls", None)):
        body = body or incident_body(at=GOUQI)
        response = stranger.post(
            f"/api/v1/incidents/{incident['id']}/{path}", json=body, headers=as_org("yangshan-gov")
        )
        assert response.status_code == 403, (path, response.get_json())
    assert client.get(f"/api/v1/incidents/{incident['id']}").get_json()["status"] == "open"


def test_every_action_name_is_in_the_catalogue():
    for status in ("open", "dispatched", "resolved", "closed", "cancelled", "duplicate"):
        assert set(incident_actions(status)) <= set(INCIDENT_ACTIONS)


def test_a_reassignment_to_another_countys_squad_is_refused_as_a_dispatch_would_be(client, session):
    from sqlalchemy import text

    session.execute(
        text("INSERT INTO region (code, level, name_zh, name_en) VALUES ('990000', 'county', '别县', 'Other county')")
    )
    session.commit()
    incident = _file(client)
    ours = make_squad(session, at=GOUQI, region="330922202")
    theirs = make_squad(session, at=(GOUQI[0] + 0.01, GOUQI[1]), region="990000")
    task = _dispatch(client, incident["id"], ours)[0]
    refused = client.post(f"/api/v1/tasks/{task['id']}/reassign", json={"squad_id": theirs.id})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "outside_county"
    assert session.get(Task, task["id"], populate_existing=True).state == "dispatched"
