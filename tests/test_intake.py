"""POST /api/v1/incidents: validation, jurisdiction, priority and SLA, idempotence, duplicates."""

import datetime as dt
import threading

import pytest

from tests.factories import incident_body

pytestmark = pytest.mark.live
CST = dt.timezone(dt.timedelta(hours=8))


def test_created_incident_carries_jurisdiction_priority_and_sla(api):
    matters = {m["code"]: m for m in api.get("/matters").json()["matters"]}
    held = next(m for m in matters.values() if m["township_held"])
    reported = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST)
    response = api.post(
        "/incidents",
        incident_body(at=(122.07, 30.62), matters=[held["code"]], reported_at=reported, external_id="12345-0001"),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "open"
    assert body["jurisdiction"]["authority"]["name"] == "洋山镇人民政府"
    assert body["authority"]["name"] == "洋山镇人民政府"
    assert body["region"]["name"] == "洋山镇"
    assert body["priority"] == held["priority"]
    deadline = dt.datetime.fromisoformat(body["sla_deadline"])
    assert deadline == reported + dt.timedelta(minutes=held["sla_minutes"])
    assert body["possible_duplicates"] == [] and body["possible_duplicates_total"] == 0
    assert body["created_by"] == "dispatcher-test"


def test_the_first_matter_decides_the_authority_and_the_jurisdiction_shown_ever_after(api):
    # Filed as a food-safety case that also obstructs the road: the market regulation bureau is
    # competent (the first matter), though CM-001 comes first by code.
    created = api.post("/incidents", incident_body(matters=["MS-001", "CM-001"]))
    assert created.status_code == 201, created.text
    body = created.json()
    assert [m["code"] for m in body["matters"]] == ["MS-001", "CM-001"], "the lead matter first"
    assert body["authority"]["code"] == "dept-market"
    assert body["jurisdiction"]["matter"]["code"] == "MS-001"
    assert body["jurisdiction"]["authority"]["code"] == "dept-market"
    again = api.get(f"/incidents/{body['id']}").json()
    assert [m["code"] for m in again["matters"]] == ["MS-001", "CM-001"]
    assert again["authority"]["code"] == "dept-market"
    assert again["jurisdiction"]["matter"]["code"] == "MS-001", "read back: the lead matter, not the first by code"
    assert again["jurisdiction"]["authority"]["code"] == again["authority"]["code"]
    # The POST answers with the place intake found (not looked up twice): the same as read back.
    assert body["jurisdiction"] == again["jurisdiction"] and body["jurisdiction"]["squads"]
    # Open311 reads show only what came in through Open311 (issue 25): not this incident.
    filed = api.http.get(f"{api.base}/open311/v2/requests/{body['id']}.json", timeout=30)
    assert filed.status_code in (403, 404)


def test_police_110_linkage_is_one_level_more_urgent(api):
    normal = api.post("/incidents", incident_body(matters=["CM-001"])).json()
    linked = api.post("/incidents", incident_body(matters=["CM-001"], source="police_110", at=(122.45, 30.73))).json()
    assert linked["priority"] == max(1, normal["priority"] - 1)


def test_intake_is_idempotent_on_source_and_external_id(api):
    body = incident_body(external_id="HOT-20261123-0042")
    first = api.post("/incidents", body)
    again = api.post("/incidents", {**body, "description": "再次来电"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["description"] == first.json()["description"], "the stored incident, untouched"
    other_source = api.post("/incidents", {**body, "source": "police_110"})
    assert other_source.status_code == 201 and other_source.json()["id"] != first.json()["id"]
    open_ids = [i["id"] for i in api.get("/incidents").json()["incidents"]]
    assert open_ids.count(first.json()["id"]) == 1


def test_the_same_ticket_posted_concurrently_is_stored_once(api, live_server):
    body = incident_body(external_id="HOT-RACE-1")
    barrier = threading.Barrier(6)
    results = []

    def post():
        from tests.conftest import Api

        client = Api(live_server.url)
        barrier.wait()
        response = client.post("/incidents", body)
        results.append((response.status_code, response.json()["id"]))
        client.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _ in results).count(201) == 1
    assert {code for code, _ in results} <= {200, 201}
    assert len({incident_id for _, incident_id in results}) == 1


def test_possible_duplicates_then_marked_as_one(api):
    first = api.post("/incidents", incident_body(at=(122.45, 30.73), matters=["CM-001"])).json()
    near = api.post("/incidents", incident_body(at=(122.451, 30.7305), matters=["CM-001", "CM-002"])).json()
    assert [d["id"] for d in near["possible_duplicates"]] == [first["id"]]
    assert near["possible_duplicates"][0]["shared_matters"] == ["CM-001"]
    assert 0 < near["possible_duplicates"][0]["distance_m"] < 300
    far = api.post("/incidents", incident_body(at=(122.47, 30.73), matters=["CM-001"])).json()
    assert first["id"] not in [d["id"] for d in far["possible_duplicates"]]
    other_matter = api.post("/incidents", incident_body(at=(122.4505, 30.73), matters=["CM-003"])).json()
    assert other_matter["possible_duplicates"] == []
    old = api.post(
        "/incidents",
        incident_body(at=(122.45, 30.73), matters=["CM-001"], reported_at=dt.datetime.now(CST) - dt.timedelta(days=3)),
    ).json()
    assert first["id"] not in [d["id"] for d in old["possible_duplicates"]]

    marked = api.post(f"/incidents/{near['id']}/duplicate", {"of": first["id"]})
    assert marked.status_code == 200
    assert marked.json()["status"] == "duplicate" and marked.json()["duplicate_of"] == first["id"]
    assert api.get(f"/incidents/{first['id']}").json()["status"] == "open"
    for incident_id in (first["id"], near["id"]):
        actions = [e["action"] for e in api.get(f"/incidents/{incident_id}/events").json()["events"]]
        assert "incident.marked_duplicate" in actions
    # Nothing points at a duplicate: the chain is refused; marking twice is harmless.
    chained = api.post(f"/incidents/{far['id']}/duplicate", {"of": near["id"]})
    assert chained.status_code == 409 and chained.json()["error"]["code"] == "duplicate_chain"
    assert api.post(f"/incidents/{near['id']}/duplicate", {"of": first["id"]}).status_code == 200
    assert api.post(f"/incidents/{first['id']}/duplicate", {"of": first["id"]}).status_code == 422


def test_possible_duplicates_are_the_nearest_few_and_counted(app, client):
    """A spot that draws a call an hour: the answer lists the nearest DUPLICATE_LIMIT, nearest
    first, and counts them all."""
    app.config["DUPLICATE_LIMIT"] = 3
    earlier = []
    for k in range(5):  # 0, 20, 40, 60, 80 m or so east of the spot
        body = incident_body(at=(122.45 + 0.0002 * k, 30.73), matters=["CM-001"])
        answer = client.post("/api/v1/incidents", json=body).get_json()
        assert answer["possible_duplicates_total"] == k
        assert len(answer["possible_duplicates"]) == min(k, 3)
        earlier.append(answer["id"])
    spot = client.post("/api/v1/incidents", json=incident_body(at=(122.45, 30.73), matters=["CM-001"])).get_json()
    assert spot["possible_duplicates_total"] == 5
    assert [d["id"] for d in spot["possible_duplicates"]] == earlier[:3]
    distances = [d["distance_m"] for d in spot["possible_duplicates"]]
    assert distances == sorted(distances) and distances[0] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": None}, "source"),
        ({"source": "fax"}, "source"),
        ({"matters": []}, "matters"),
        ({"matters": "CM-001"}, "matters"),
        ({"matters": ["CM-001", 7]}, "matters[1]"),
        ({"location": {"type": "Point", "coordinates": [122.77]}}, "location.coordinates"),
        ({"location": {"type": "Polygon", "coordinates": []}}, "location.type"),
        ({"location": {"type": "Point", "coordinates": [122.77, 95]}}, "location.coordinates"),
        ({"location": {"type": "Point", "coordinates": ["122.77", 30.72]}}, "location.coordinates[0]"),
        ({"description": ""}, "description"),
        ({"description": "x" * 5000}, "description"),
        ({"reported_at": "2026-11-23T09:00:00"}, "reported_at"),
        ({"reported_at": "yesterday"}, "reported_at"),
        ({"external_id": 42}, "external_id"),
        ({"priority": 1}, "priority"),
    ],
)
def test_bad_intake_is_400_naming_the_field(client, change, field):
    body = {**incident_body(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/api/v1/incidents", json=body)
    assert response.status_code == 400, response.text
    assert response.get_json()["error"]["field"] == field
    assert client.get("/api/v1/incidents").get_json()["incidents"] == [], "nothing stored"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"matters": ["NOPE-1"]}, "matters[0]", "unknown_matter"),
        ({"reported_at": "2099-01-01T00:00:00+08:00"}, "reported_at", "in_the_future"),
    ],
)
def test_intake_a_rule_refuses_is_422_naming_the_field(client, change, field, code):
    """Well-formed by the document, refused by a rule it cannot say (a code unknown to the county, a time ahead)."""
    response = client.post("/api/v1/incidents", json={**incident_body(), **change})
    assert response.status_code == 422, response.text
    assert response.get_json()["error"] == {
        "code": code,
        "message": response.get_json()["error"]["message"],
        "field": field,
    }
    assert client.get("/api/v1/incidents").get_json()["incidents"] == [], "nothing stored"


def test_not_json_and_open_sea(api):
    response = api.post("/incidents", data="source=patrol", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_body"
    response = api.post("/incidents", data="{broken", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    sea = api.post("/incidents", incident_body(at=(122.70, 30.75), matters=["CM-001"]))
    assert sea.status_code == 422
    assert sea.json()["error"] == {**sea.json()["error"], "code": "outside_jurisdiction", "field": "location"}
