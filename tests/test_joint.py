"""Joint inspections: "inspect once" (seed 001 §3.2, seed 003 art. 7)."""

import datetime as dt

import pytest

from tests.factories import incident_body

pytestmark = pytest.mark.live
CST = dt.timezone(dt.timedelta(hours=8))
GUESTHOUSE = {
    "name": "嵊山镇海景民宿",
    "business_id": "91330922MA2A0B1C2D",
    "location": {"type": "Point", "coordinates": [122.812, 30.722]},
}


def _window(days_from_now: float, length_days: float = 7) -> dict:
    start = dt.datetime.now(CST).replace(microsecond=0) + dt.timedelta(days=days_from_now)
    return {"start": start.isoformat(), "end": (start + dt.timedelta(days=length_days)).isoformat()}


def _request(api, authority, target=GUESTHOUSE, window=None):
    response = api.post(
        "/inspection-requests",
        {"authority": authority, "target": target, "window": window or _window(1), "purpose": "年度检查"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_pending_inspections_of_one_business_are_merged_into_one_visit(api):
    market = _request(api, "dept-market")
    health = _request(api, "dept-health", window=_window(2))
    # The same business filed under a slightly different point and no code: merged by distance.
    nearby = dict(GUESTHOUSE, business_id=None, location={"type": "Point", "coordinates": [122.8121, 30.7221]})
    emergency = _request(api, "dept-emergency", target=nearby, window=_window(3))
    elsewhere = _request(
        api,
        "dept-transport",
        target=dict(GUESTHOUSE, business_id="OTHER", location={"type": "Point", "coordinates": [122.45, 30.73]}),
    )
    proposals = api.get("/joint-inspections/proposals").json()["proposals"]
    merged = [p for p in proposals if p["reason"] == "pending_requests"]
    assert len(merged) == 1
    proposal = merged[0]
    assert sorted(proposal["request_ids"]) == sorted([market["id"], health["id"], emergency["id"]])
    assert elsewhere["id"] not in proposal["request_ids"]
    assert proposal["domains"] == ["emergency_management", "health", "market_supervision"]
    assert proposal["visits_replaced"] == 3 and proposal["uncovered_domains"] == []
    slot_start = dt.datetime.fromisoformat(proposal["slot"]["start"])
    assert slot_start >= dt.datetime.fromisoformat(emergency["window"]["start"]), "inside every window"
    assert proposal["lead_squad_id"] in proposal["squad_ids"]

    payload = proposal  # posted as it is
    created = api.post("/joint-inspections", payload)
    assert created.status_code == 201, created.text
    joint = created.json()
    assert joint["visits_avoided"] == 2
    assert {r["status"] for r in joint["requests"]} == {"merged"}
    assert len(joint["tasks"]) == len(proposal["squad_ids"])
    assert all(t["state"] == "scheduled" and t["kind"] == "inspection" for t in joint["tasks"])
    covered = {d for s in proposal["squads"] for d in s["domains"]}
    assert covered == set(proposal["domains"])

    again = api.post("/joint-inspections", payload)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_pending"
    assert api.get("/joint-inspections/proposals").json()["proposals"] == [], "nothing left to merge"
    totals = api.get("/joint-inspections").json()["totals"]
    assert totals == {"joint_inspections": 1, "visits_avoided": 2}
    pending = [r["id"] for r in api.get("/inspection-requests", status="pending").json()["requests"]]
    assert pending == [elsewhere["id"]]


def test_windows_that_do_not_overlap_are_not_merged(api):
    _request(api, "dept-market", window=_window(1, 2))
    _request(api, "dept-health", window=_window(10, 2))
    assert api.get("/joint-inspections/proposals").json()["proposals"] == []


def test_an_incident_whose_matter_needs_several_forces_is_proposed_and_dispatched(api):
    matters = api.get("/matters").json()["matters"]
    joint_matter = next(m for m in matters if len(m["joint_domains"]) >= 2 and m["domain"] == "comprehensive")
    incident = api.post("/incidents", incident_body(at=(122.82, 30.72), matters=[joint_matter["code"]])).json()
    proposal = next(
        p for p in api.get("/joint-inspections/proposals").json()["proposals"] if p["incident_id"] == incident["id"]
    )
    assert set(proposal["domains"]) == {joint_matter["domain"], *joint_matter["joint_domains"]}
    lead = next(s for s in proposal["squads"] if s["squad"]["id"] == proposal["lead_squad_id"])
    assert "comprehensive" in lead["domains"], "the comprehensive force leads"
    payload = {k: v for k, v in proposal.items() if k not in ("reason", "uncovered_domains")}
    joint = api.post("/joint-inspections", payload).json()
    assert joint["incident_id"] == incident["id"]
    assert joint["visits_replaced"] == len(proposal["domains"])
    shown = api.get(f"/incidents/{incident['id']}").json()
    assert shown["status"] == "dispatched"
    assert {t["joint_inspection_id"] for t in shown["tasks"]} == {joint["id"]}
    actions = [e["action"] for e in api.get(f"/incidents/{incident['id']}/events").json()["events"]]
    assert "joint_inspection.created" in actions and actions.count("task.scheduled") == len(joint["tasks"])

    # Every participant completes: the joint inspection completes, the incident is resolved.
    for task in joint["tasks"]:
        for step in ("en_route", "on_scene", "completed"):
            assert api.post(f"/tasks/{task['id']}/transition", {"to": step}).status_code == 200
    assert api.get(f"/joint-inspections/{joint['id']}").json()["status"] == "completed"
    assert api.get(f"/incidents/{incident['id']}").json()["status"] == "resolved"


def test_joint_inspection_by_hand_and_its_refusals(api):
    squads = {f["properties"]["code"]: f["properties"]["id"] for f in api.get("/squads").json()["features"]}
    slot = _window(1, 0.1)
    by_hand = {"target": GUESTHOUSE, "slot": slot, "squad_ids": [squads["cb-shengshan"], squads["ms-shengshan"]]}
    created = api.post("/joint-inspections", by_hand)
    assert created.status_code == 201
    assert created.json()["lead_squad"]["id"] == squads["cb-shengshan"]
    assert created.json()["visits_avoided"] == 1
    # 400: off the document; 422: well formed, refused by a rule the document cannot say; 404: no such id.
    bad = [
        ({**by_hand, "squad_ids": [squads["cb-shengshan"]]}, "squad_ids", 422),
        ({**by_hand, "slot": {"start": slot["end"], "end": slot["start"]}}, "slot.end", 422),
        ({**by_hand, "target": {"name": "x"}}, "target.location", 400),
        ({**by_hand, "lead_squad_id": squads["tr-county"]}, "lead_squad_id", 422),
        ({**by_hand, "request_ids": [424242]}, "request_ids", 404),
        ({**by_hand, "domains": ["health"]}, "squad_ids", 422),
        ({**by_hand, "colour": "red"}, "colour", 400),
        ({**by_hand, "squad_ids": [squads["cb-shengshan"], 0]}, "squad_ids[1]", 400),
    ]
    for body, field, status in bad:
        response = api.post("/joint-inspections", body)
        assert response.status_code == status, (field, response.text)
        assert response.json()["error"]["field"] == field
    bad_requests = [
        ({"authority": "nope", "target": GUESTHOUSE, "window": slot}, "authority", 422),
        ({"authority": "dept-market", "target": GUESTHOUSE, "window": {"start": "x"}}, "window.start", 400),
        (
            {"authority": "dept-market", "target": GUESTHOUSE, "window": {**slot, "end": slot["start"]}},
            "window.end",
            422,
        ),
    ]
    for body, field, status in bad_requests:
        response = api.post("/inspection-requests", body)
        assert response.status_code == status and response.json()["error"]["field"] == field, response.text
