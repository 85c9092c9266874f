"""Coverage plans over the API: drafts, validation, the optimistic lock, publication."""

import datetime as dt
import json

from sqlalchemy import select, text

from dispatch.store.models import CoveragePlan, Event
from tests.conftest import TOKENS

# A planner acts with their own token (X-Actor is only for integrations granted act-for).
PLANNER = {"Authorization": f"Bearer {TOKENS['planner'][1]}"}
HUANIAO = "330922203"
SHENGSHAN = "330922101"
GOUQI = "330922202"


def _draft(client) -> dict:
    response = client.post("/api/v1/plans", json={}, headers=PLANNER)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _edit(plan: dict, **changes) -> list[dict]:
    """The plan's zones as a save body, with ``changes`` applied per zone code."""
    zones = []
    for z in plan["zones"]:
        zone = {"code": z["code"], "name": z["name"], "name_en": z["name_en"], "hub": z["hub"], "members": z["members"]}
        if z["drawn"]:
            zone["geometry"] = z["geometry"]
        zone.update(changes.get(z["code"], {}))
        zones.append(zone)
    return zones


def test_a_draft_copies_the_plan_in_effect_and_is_valid(client):
    plan = _draft(client)
    assert plan["status"] == "draft" and plan["version"] == 1 and not plan["in_effect"]
    maan = next(z for z in plan["zones"] if z["code"] == "maan")
    assert maan["hub"] == SHENGSHAN and sorted(maan["members"]) == [SHENGSHAN, GOUQI, HUANIAO]
    assert not maan["drawn"]
    assert plan["issues"] == []
    assert len(plan["townships"]) == 7
    listed = client.get("/api/v1/plans").get_json()["plans"]
    assert {p["code"] for p in listed} >= {"shengsi-2021", plan["code"]}


def test_validation_flags_an_uncovered_township_a_hub_outside_and_an_overlap(client):
    plan = _draft(client)
    # Huaniao left out of every zone; Wulong's hub moved to a township of another zone.
    zones = _edit(plan, maan={"members": [SHENGSHAN, GOUQI]}, wulong={"hub": "330922100"})
    issues = client.post(f"/api/v1/plans/{plan['id']}/validate", json={"zones": zones}).get_json()["issues"]
    kinds = {(i["kind"], i.get("zone") or (i.get("region") or {}).get("code")) for i in issues}
    assert ("uncovered", HUANIAO) in kinds
    assert ("hub_outside", "wulong") in kinds
    uncovered = next(i for i in issues if i["kind"] == "uncovered")
    assert uncovered["geometry"]["type"] == "MultiPolygon"
    # Nothing was saved by validating.
    assert client.get(f"/api/v1/plans/{plan['id']}").get_json()["issues"] == []

    # A drawn outline over Caiyuan overlaps the Caiyuan zone; a bow tie is invalid geometry.
    box = {
        "type": "Polygon",
        "coordinates": [[[122.40, 30.69], [122.48, 30.69], [122.48, 30.76], [122.40, 30.76], [122.40, 30.69]]],
    }
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[122.80, 30.70], [122.82, 30.72], [122.82, 30.70], [122.80, 30.72], [122.80, 30.70]]],
    }
    extra = [
        {"code": "drawn", "name": "画的片区", "hub": "330922100", "members": [], "geometry": box},
        {"code": "broken", "name": "坏片区", "hub": GOUQI, "members": [], "geometry": bowtie},
    ]
    issues = client.post(f"/api/v1/plans/{plan['id']}/validate", json={"zones": _edit(plan) + extra}).get_json()[
        "issues"
    ]
    kinds = {i["kind"] for i in issues}
    assert {"overlap", "invalid_geometry"} <= kinds
    overlap = next(i for i in issues if i["kind"] == "overlap")
    assert "drawn" in overlap["zones"] and overlap["geometry"] is not None


def test_a_township_cannot_sit_in_two_zones(client):
    plan = _draft(client)
    zones = _edit(plan, caiyuan={"members": ["330922100", HUANIAO]})
    response = client.put(f"/api/v1/plans/{plan['id']}", json={"version": 1, "zones": zones}, headers=PLANNER)
    assert response.status_code == 422  # well formed: the rule needs the plan's townships
    assert response.get_json()["error"]["code"] == "township_in_two_zones"


def test_the_second_save_on_the_same_version_gets_409_with_both_versions(client):
    plan = _draft(client)
    first = client.put(
        f"/api/v1/plans/{plan['id']}",
        json={"version": 1, "zones": _edit(plan, maan={"members": [SHENGSHAN, GOUQI]})},
        headers=PLANNER,
    )
    assert first.status_code == 200 and first.get_json()["version"] == 2
    # Another planner (the client's own admin token) saves on the version both started from.
    second = client.put(f"/api/v1/plans/{plan['id']}", json={"version": 1, "zones": _edit(plan)})
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "version_conflict" and error["yours"] == 1 and error["current"] == 2
    stored = client.get(f"/api/v1/plans/{plan['id']}").get_json()
    assert [i["kind"] for i in stored["issues"]] == ["uncovered"], "the first save stands"


def test_publish_refuses_problems_then_switches_the_plan_in_effect(client, session):
    plan = _draft(client)
    broken = client.put(
        f"/api/v1/plans/{plan['id']}",
        json={"version": 1, "zones": _edit(plan, maan={"members": [SHENGSHAN, GOUQI]})},
        headers=PLANNER,
    ).get_json()
    refused = client.post(f"/api/v1/plans/{plan['id']}/publish", json={"version": broken["version"]}, headers=PLANNER)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["issues"][0]["kind"] == "uncovered"

    # Fix: Huaniao becomes its own zone with its own hub.
    zones = _edit(broken) + [
        {"code": "huaniao", "name": "花鸟片区", "name_en": "Huaniao zone", "hub": HUANIAO, "members": [HUANIAO]}
    ]
    fixed = client.put(
        f"/api/v1/plans/{plan['id']}", json={"version": broken["version"], "zones": zones}, headers=PLANNER
    ).get_json()
    assert fixed["issues"] == []
    diff = client.get(f"/api/v1/plans/{plan['id']}/compare").get_json()
    assert diff["against"] == "shengsi-2021" and diff["zones_added"] == ["huaniao"]
    assert diff["townships"] == [
        {"region": {"code": HUANIAO, "name": "花鸟乡", "name_en": "Huaniao Township"}, "from": "maan", "to": "huaniao"}
    ]

    stale = client.post(f"/api/v1/plans/{plan['id']}/publish", json={"version": broken["version"]}, headers=PLANNER)
    assert stale.status_code == 409
    published = client.post(f"/api/v1/plans/{plan['id']}/publish", json={"version": fixed["version"]}, headers=PLANNER)
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["status"] == "published" and published.get_json()["in_effect"]
    lon, lat = session.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) p FROM region WHERE code = :c) s"),
        {"c": HUANIAO},
    ).one()
    zone = client.get("/api/v1/jurisdiction", query_string={"lon": lon, "lat": lat}).get_json()["zone"]
    assert zone["code"] == "huaniao" and zone["hub"]["code"] == HUANIAO
    again = client.put(
        f"/api/v1/plans/{plan['id']}", json={"version": fixed["version"] + 1, "zones": zones}, headers=PLANNER
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "plan_published"

    row = session.scalar(select(CoveragePlan).where(CoveragePlan.id == plan["id"]))
    assert row.effective_at <= dt.datetime.now(dt.UTC)
    actions = session.scalars(
        select(Event.action).where(Event.entity_type == "plan", Event.entity_id == plan["id"]).order_by(Event.id)
    ).all()
    assert actions == ["plan.draft_created", "plan.saved", "plan.saved", "plan.published"]


def test_a_plan_published_for_later_is_not_in_effect_yet(client):
    plan = _draft(client)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    published = client.post(
        f"/api/v1/plans/{plan['id']}/publish", json={"version": 1, "effective_at": later}, headers=PLANNER
    )
    assert published.status_code == 200
    assert not published.get_json()["in_effect"]
    zones = client.get("/api/v1/zones").get_json()["features"]
    assert {z["properties"]["plan"]["code"] for z in zones} == {"shengsi-2021"}


def test_a_drawn_outline_takes_the_townships_mostly_inside_it_and_is_kept(client, session):
    plan = _draft(client)
    envelope = session.execute(
        text("SELECT ST_AsGeoJSON(ST_Envelope(ST_Buffer(boundary, 0.01)), 6) FROM region WHERE code = '330922100'")
    ).scalar_one()
    outline = json.loads(envelope)
    zones = _edit(plan, caiyuan={"members": [], "geometry": outline})
    checked = client.post(f"/api/v1/plans/{plan['id']}/validate", json={"zones": zones}).get_json()
    caiyuan = next(z for z in checked["zones"] if z["code"] == "caiyuan")
    assert "330922100" in caiyuan["members"] and caiyuan["drawn"]
    # The envelope reaches into Wulong, its neighbour on the island: that is an overlap.
    assert [(i["kind"], i["zones"]) for i in checked["issues"]] == [("overlap", ["caiyuan", "wulong"])]
    saved = client.put(f"/api/v1/plans/{plan['id']}", json={"version": 1, "zones": zones}, headers=PLANNER).get_json()
    caiyuan = next(z for z in saved["zones"] if z["code"] == "caiyuan")
    assert caiyuan["drawn"] and caiyuan["geometry"]["type"] == "MultiPolygon"
    others = [z for z in saved["zones"] if z["code"] != "caiyuan"]
    assert not any(z["drawn"] for z in others)


def test_a_draft_of_a_plan_with_the_longest_name_gets_a_valid_name(client):
    """A plan may be named with 100 characters (150 in English); its draft's name, marked as a draft,
    must fit too: it was 104 characters and the draft was refused with 400."""
    plan = _draft(client)
    long_zh, long_en = "嵊" * 100, "S" * 150
    saved = client.put(
        f"/api/v1/plans/{plan['id']}", json={"version": 1, "name": long_zh, "name_en": long_en}, headers=PLANNER
    )
    assert saved.status_code == 200, saved.get_json()
    response = client.post("/api/v1/plans", json={"from": plan["code"]}, headers=PLANNER)
    assert response.status_code == 201, response.get_json()
    draft = response.get_json()
    assert len(draft["name"]) == 100 and draft["name"].startswith("嵊" * 95) and draft["name"].endswith("…（草案）")
    assert len(draft["name_en"]) == 150 and draft["name_en"].endswith("… (draft)")
    # A draft of a draft is marked once: no "（草案）（草案）".
    again = client.post("/api/v1/plans", json={"from": draft["code"]}, headers=PLANNER).get_json()
    assert again["name"] == draft["name"] and again["name_en"] == draft["name_en"]


def test_refusals_say_whether_the_request_is_off_the_document_or_refused_by_a_rule(client):
    """400: off the document (it says why and where); 422: well formed, refused by a rule the document
    cannot say (a code the database does not hold, a time in the past); 404: no such plan."""
    plan = _draft(client)
    url = f"/api/v1/plans/{plan['id']}"
    for method, path, body, status, field in (
        ("post", "/api/v1/plans", {"from": "no-such-plan"}, 422, "from"),
        ("post", "/api/v1/plans", {"region": "999999"}, 422, "region"),
        ("post", "/api/v1/plans", {"colour": "red"}, 400, "colour"),
        ("put", url, {"zones": []}, 400, "version"),
        ("put", url, {"version": 1.5}, 400, "version"),
        ("put", url, {"version": 1, "zones": [{"code": "Big", "name": "x", "hub": HUANIAO}]}, 400, "zones[0].code"),
        ("put", url, {"version": 1, "zones": [{"code": "a", "name": "x", "hub": "999"}]}, 422, "zones[0].hub"),
        ("post", f"{url}/validate", {}, 400, "zones"),
        ("post", f"{url}/publish", {"version": 1, "effective_at": "2020-01-01T00:00:00Z"}, 422, "effective_at"),
        ("post", f"{url}/publish", {"version": 1, "effective_at": "tomorrow"}, 400, "effective_at"),
        ("get", f"{url}/compare?with=no-such-plan", None, 422, "with"),
    ):
        response = getattr(client, method)(path, json=body, headers=PLANNER)
        assert response.status_code == status, (method, path, body, response.get_json())
        assert response.get_json()["error"]["field"] == field
    # A version sent as 2.0 is the version 2 (JSON Schema's integer), as the model reads it.
    assert client.put(url, json={"version": 1.0, "name": "方案"}, headers=PLANNER).status_code == 200
    # An id out of range is no plan, whichever method: werkzeug checked methods before ids (405).
    for method in ("get", "put", "post"):
        for plan_id in (0, 2**31):
            assert getattr(client, method)(f"/api/v1/plans/{plan_id}", json={"version": 1}).status_code == 404
    assert client.post("/api/v1/plans/1", json={}).status_code == 405, "a route without POST stays a 405"


def test_trying_edits_on_the_plan_in_effect_is_refused_and_keeps_its_incidents(client, session):
    """Only drafts are edited: the zones of the plan in effect are held by its incidents (schemathesis
    found the what-if check deleting them: a 500 on the foreign key)."""
    from tests.factories import incident_body

    created = client.post("/api/v1/incidents", json=incident_body())
    assert created.status_code == 201, created.get_json()
    in_effect = next(p for p in client.get("/api/v1/plans").get_json()["plans"] if p["in_effect"])
    plan = client.get(f"/api/v1/plans/{in_effect['id']}").get_json()
    refused = client.post(f"/api/v1/plans/{plan['id']}/validate", json={"zones": _edit(plan)}, headers=PLANNER)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "plan_published"
    shown = client.get(f"/api/v1/incidents/{created.get_json()['id']}").get_json()
    assert shown["zone"] == created.get_json()["zone"] and shown["zone"] is not None
