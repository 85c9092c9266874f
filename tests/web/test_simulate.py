"""The demo simulation: fixes and 12345 calls through the real code paths."""

import pytest
from sqlalchemy import func, select

from dispatch.simulate import Simulation
from dispatch.store.db import db
from dispatch.store.models import Incident, PositionFix, Task


def test_a_tick_moves_the_squads_and_a_call_arrives(app):
    simulation = Simulation(app, tick_s=3, seed=7)
    simulation.next_call = 0
    simulation.tick()
    simulation.tick()
    with app.app_context():
        session = db.session
        assert simulation.calls == 1
        incident = session.scalar(select(Incident))
        assert incident.source == "hotline_12345" and incident.external_id.startswith("SIM-")
        assert incident.region is not None and incident.created_by == "simulator"
        fixes = session.execute(select(PositionFix.squad_id, PositionFix.flags)).all()
        assert len({squad for squad, _ in fixes}) >= 10, "most squads moved"
        assert all(flags == [] for _, flags in fixes), "the tracks pass the tablet checks (speed, envelope)"


def test_a_simulated_crew_works_its_task_to_the_end(app, client):
    simulation = Simulation(app, tick_s=3, seed=3, incidents_per_hour=0.001)
    simulation.next_call = float("inf")
    simulation.tick()
    walker = next(w for w in simulation.walkers.values() if w.force == "comprehensive")
    place = [round(walker.lon + 0.0003, 6), round(walker.lat, 6)]
    body = {
        "source": "hotline_12345",
        "matters": ["CM-001"],
        "location": {"type": "Point", "coordinates": place},
        "description": "测试",
        "reported_at": "2026-01-01T00:00:00+08:00",
    }
    incident = client.post("/api/v1/incidents", json=body).get_json()
    if "id" not in incident:  # the walker may stand at the edge of the island: use its own station
        body["location"]["coordinates"] = list(walker.station)
        incident = client.post("/api/v1/incidents", json=body).get_json()
    response = client.post(f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [walker.squad_id]})
    assert response.status_code == 201, response.get_json()
    states = []
    for _ in range(40):
        simulation.tick()
        walker.since -= 100  # let the crew's time pass
        states.append(walker.task_state)
        if walker.task_state is None and "on_scene" in states:
            break
    with app.app_context():
        task = db.session.scalar(select(Task).where(Task.incident_id == incident["id"]))
        assert task.state == "completed", states
        assert db.session.scalar(select(func.count()).select_from(Incident).where(Incident.status == "resolved")) == 1


@pytest.mark.live
def test_make_run_with_the_flag_shows_a_living_map_within_a_minute(start_server):
    import time

    import requests

    from tests.conftest import TOKENS

    server = start_server(DEMO_SIMULATION=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snapshot = requests.get(
            f"{server.url}/api/v1/command/snapshot",
            timeout=10,
            headers={"Authorization": f"Bearer {TOKENS['dispatcher'][1]}"},
        ).json()
        moving = [s for s in snapshot["squads"] if s["last_position_at"]]
        if snapshot["incidents"] and len(moving) >= 10:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no call or no movement within 30 s:\n{server.log()}")
    assert "demo simulation running" in server.log()


def test_the_demo_leaves_the_printed_squad_to_the_person_on_its_tablet(app):
    from dispatch.commands import DEMO_SQUAD
    from dispatch.store.models import Squad

    simulation = Simulation(app, tick_s=3, seed=3, incidents_per_hour=0.001, people=(DEMO_SQUAD,))
    simulation.next_call = float("inf")
    simulation.tick()
    with app.app_context():
        demo = db.session.scalar(select(Squad.id).where(Squad.code == DEMO_SQUAD))
    assert simulation.walkers and demo not in simulation.walkers  # neither moved nor its tasks worked
