"""Alerts a duty dispatcher must see: raised once while their condition holds, cleared, acknowledged."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from dispatch import alerts
from dispatch.store.models import Alert, Event
from tests.factories import incident_body, make_squad

GOUQI = (122.77, 30.72)
CHINA = dt.timezone(dt.timedelta(hours=8))


def _open(client) -> dict[str, dict]:
    return {
        a["kind"] + ":" + str(a["incident_id"] or a["squad_id"]): a
        for a in client.get("/api/v1/alerts").get_json()["alerts"]
    }


def test_an_unacknowledged_p1_task_and_a_breached_sla_raise_once_and_clear(client, app, session):
    squad = make_squad(session, at=GOUQI, region="330922202")
    late = dt.datetime.now(CHINA) - dt.timedelta(hours=3)  # its SLA has passed
    incident = client.post(
        "/api/v1/incidents", json=incident_body(at=GOUQI, source="police_110", reported_at=late)
    ).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squad.id]}).get_json()
    task_id = task["tasks"][0]["id"]
    session.execute(text("UPDATE task SET created_at = now() - interval '5 minutes' WHERE id = :id"), {"id": task_id})
    session.commit()
    with app.app_context():
        first = alerts.check(session, app.config)
        session.commit()
        again = alerts.check(session, app.config)
        session.commit()
    assert first["raised"] >= 2 and again == {"raised": 0, "cleared": 0}  # once while it holds
    shown = _open(client)
    unacked = shown[f"task_unacknowledged:{incident['id']}"]
    assert unacked["task_id"] == task_id and unacked["params"]["minutes"] >= 5
    assert unacked["severity"] == ("critical" if incident["priority"] == 1 else "warning")
    breached = shown[f"sla_breached:{incident['id']}"]
    assert breached["region"]["code"] == "330922202" and "已超到场时限" in breached["message"]
    # the squad acknowledges and arrives: both conditions end, both alerts are cleared
    for to in ("acknowledged", "en_route", "on_scene"):
        client.post(f"/api/v1/tasks/{task_id}/transition", json={"to": to})
    with app.app_context():
        assert alerts.check(session, app.config)["cleared"] >= 2
        session.commit()
    assert f"task_unacknowledged:{incident['id']}" not in _open(client)
    everything = client.get("/api/v1/alerts?status=all").get_json()["alerts"]
    assert any(a["id"] == unacked["id"] and a["cleared_at"] for a in everything)
    recorded = session.scalars(
        select(Event.action).where(Event.entity_type == "alert", Event.entity_id == unacked["id"]).order_by(Event.id)
    ).all()
    assert recorded == ["alert.raised", "alert.cleared"]


def test_an_sla_falling_due_warns_before_it_is_breached(client, app, session):
    incident = client.post("/api/v1/incidents", json=incident_body(at=GOUQI)).get_json()
    session.execute(
        text("UPDATE incident SET sla_deadline = now() + interval '5 minutes' WHERE id = :id"), {"id": incident["id"]}
    )
    session.commit()
    with app.app_context():
        alerts.check(session, app.config)
        session.commit()
    due = _open(client).get(f"sla_due:{incident['id']}")
    assert due is not None and 0 < due["params"]["minutes"] <= 10, incident["sla_deadline"]


def test_ack_is_once_and_by_a_dispatcher_and_bad_ids_are_clear_errors(client, app, session):
    with app.app_context():
        alert_id = alerts.raise_alert(
            session, "position_stale", "position_stale:test", "warning",
            {"squad": "测试中队", "squad_en": "Test", "minutes": 20}, actor="test",
        )  # fmt: skip
        session.commit()
    supervisor = app.test_client()
    from tests.conftest import TOKENS

    refused = supervisor.post(
        f"/api/v1/alerts/{alert_id}/ack", headers={"Authorization": f"Bearer {TOKENS['supervisor'][1]}"}
    )
    assert refused.status_code == 403
    assert client.post("/api/v1/alerts/999999/ack").status_code == 404
    assert client.get("/api/v1/alerts?status=some").status_code == 400
    done = client.post(f"/api/v1/alerts/{alert_id}/ack").get_json()
    assert done["acknowledged_by"] == "api" and done["acknowledged_at"]
    assert session.get(Alert, alert_id, populate_existing=True).acknowledged_by == "api"
