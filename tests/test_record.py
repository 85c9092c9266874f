"""The full-process record (全过程记录): complete, in order, and immutable in the database itself."""

import psycopg
import pytest

from dispatch.accounts import add_account, add_api_token
from dispatch.tablets import issue_token
from tests.conftest import PASSWORD
from tests.factories import incident_body


def test_the_record_of_an_incident_is_complete_and_in_order(client, session):
    """Each event names the principal who acted; an act-for integration also the person it acted for."""
    account = add_account(session, "wang.hotline", "dispatcher", PASSWORD)
    add_api_token(session, "hotline-bridge", "dispatcher", "dpt_test-bridge", act_for=True)
    add_api_token(session, "dispatcher-wang", "dispatcher", "dpt_test-wang", account_id=account.id)
    session.commit()
    incident = client.post(
        "/api/v1/incidents",
        json=incident_body(),
        headers={"Authorization": "Bearer dpt_test-bridge", "X-Actor": "wang.hotline"},
    ).get_json()
    squads = {
        f["properties"]["code"]: f["properties"]["id"] for f in client.get("/api/v1/squads").get_json()["features"]
    }
    task = client.post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        json={"squad_ids": [squads["cb-shengshan"]]},
        headers={"Authorization": "Bearer dpt_test-wang"},
    ).get_json()["tasks"][0]
    tablet = issue_token(session, squads["cb-shengshan"])[1]
    session.commit()
    client.post(
        f"/api/v1/tasks/{task['id']}/transition",
        json={"to": "declined", "reason": "渡船停航"},
        headers={"Authorization": f"Bearer {tablet}"},
    )
    events = client.get(f"/api/v1/incidents/{incident['id']}/events").get_json()["events"]
    squad = f"squad-{squads['cb-shengshan']}"
    actions = [(e["action"], e["actor"], e["on_behalf_of"]) for e in events]
    assert actions == [
        ("incident.created", "hotline-bridge", "wang.hotline"),
        ("task.dispatched", "wang.hotline", None),  # a person's own token names the person
        ("squad.status", "wang.hotline", None),
        ("incident.status", "wang.hotline", None),
        ("task.transition", squad, None),
        ("squad.status", squad, None),
        ("incident.status", squad, None),
    ]
    assert events[0]["location"]["coordinates"] == incident["location"]["coordinates"]
    assert events[4]["data"] == {"from": "dispatched", "to": "declined", "reason": "渡船停航", "note": None}
    assert events[6]["data"] == {"from": "dispatched", "to": "open"}
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE event SET actor = 'someone else'",
        "DELETE FROM event",
        "TRUNCATE event CASCADE",
    ],
)
def test_the_database_refuses_to_change_the_record(client, database_url, statement):
    client.post("/api/v1/incidents", json=incident_body())
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:  # as the superuser, behind the server's back
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM event").fetchone()[0] == 1


def test_events_of_an_unknown_incident_is_404(client):
    response = client.get("/api/v1/incidents/424242/events")
    assert response.status_code == 404 and response.get_json()["error"]["field"] == "incident_id"
