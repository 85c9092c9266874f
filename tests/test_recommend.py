"""Recommendation that knows the sea: ferries, eligibility and the "1+X" tie-break, over real HTTP."""

import datetime as dt

import pytest

from tests.factories import auxiliary, certified, incident_body, make_squad, set_status

pytestmark = pytest.mark.live

WULONG_EAST = (122.53, 30.72)
NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()


def _incident(api, **kwargs):
    response = api.post("/incidents", incident_body(**kwargs))
    assert response.status_code == 201, response.text
    return response.json()


def test_gouqi_comprehensive_incident_goes_first_to_the_shengshan_hub_squad(api):
    incident = _incident(api, at=(122.77, 30.72), matters=["CM-001"])
    body = api.get(f"/incidents/{incident['id']}/recommendations").json()
    ranked = body["recommendations"]
    first = ranked[0]
    assert first["squad"]["code"] == "cb-shengshan"
    assert first["squad"]["station_region"]["name"] == "嵊山镇"
    assert first["covers_place"] is True
    assert [leg["mode"] for leg in first["legs"]] == ["land", "ferry", "land"]
    assert first["legs"][1]["from"]["code"] == "shengshan" and first["legs"][1]["to"]["code"] == "gouqi"
    # The Sijiao squads come later: their ferry is over an hour.
    sijiao = [r for r in ranked if r["squad"]["station_region"]["name"] in ("菜园镇", "五龙乡")]
    assert sijiao and all(r["eta_seconds"] > first["eta_seconds"] + 1800 for r in sijiao)
    assert all("comprehensive" in r["squad"]["domains"] for r in ranked)
    assert [r["eta_seconds"] for r in ranked] == sorted(r["eta_seconds"] for r in ranked)


def test_a_squad_behind_a_ferry_ranks_behind_a_farther_squad_on_the_same_island(api, store):
    set_status(store, domain="health")  # the seeded health squads stand aside
    across = make_squad(store, at=(122.60, 30.68), domains=["health"], region="330922201")  # Huanglong island
    same_island = make_squad(store, at=(122.43, 30.73), domains=["health"])  # west Sijiao, Caiyuan
    health_matter = api.get("/matters").json()["matters"]
    code = next(m["code"] for m in health_matter if m["domain"] == "health")
    incident = _incident(api, at=WULONG_EAST, matters=[code])
    ranked = api.get(f"/incidents/{incident['id']}/recommendations", at=NOON).json()["recommendations"]
    by_id = {r["squad"]["id"]: r for r in ranked}
    near, far = by_id[across.id], by_id[same_island.id]
    assert near["distance_m"] < far["distance_m"], "the Huanglong squad is nearer as the crow flies"
    assert ranked[0]["squad"]["id"] == same_island.id
    assert far["mode"] == "land" and near["mode"] == "ferry"
    ferry = next(leg for leg in near["legs"] if leg["mode"] == "ferry")
    assert ferry["from"]["code"] == "huanglong" and ferry["to"]["code"] == "lizhushan"
    assert near["eta_seconds"] > far["eta_seconds"]


def test_ferry_timetable_adds_the_wait_for_the_next_departure(api, store):
    set_status(store, domain="health")
    across = make_squad(store, at=(122.604, 30.669), domains=["health"], region="330922201")
    code = next(m["code"] for m in api.get("/matters").json()["matters"] if m["domain"] == "health")
    incident = _incident(api, at=(122.425, 30.70), matters=[code])
    # 16:10 local: the 16:00 boat has gone, the next leaves at 06:50 tomorrow.
    late = dt.datetime(2026, 11, 23, 16, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()
    early = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()
    eta_late = api.get(f"/incidents/{incident['id']}/recommendations", at=late).json()["recommendations"]
    eta_early = api.get(f"/incidents/{incident['id']}/recommendations", at=early).json()["recommendations"]
    late_route = next(r for r in eta_late if r["squad"]["id"] == across.id)
    early_route = next(r for r in eta_early if r["squad"]["id"] == across.id)
    assert late_route["eta_seconds"] > early_route["eta_seconds"] + 12 * 3600
    assert next(leg for leg in late_route["legs"] if leg["mode"] == "ferry")["depart_at"].startswith("2026-11-24T06:50")


def test_ineligible_squads_are_left_out_with_reasons(api, store):
    near = (122.775, 30.72)  # on Gouqi, next to the incident
    busy = make_squad(store, at=near, region="330922202", status="busy")
    auxiliaries_only = make_squad(store, at=near, region="330922202", officers=[auxiliary(), auxiliary()])
    expired = make_squad(
        store, at=near, region="330922202", officers=[certified(expires=dt.date(2025, 6, 30)), auxiliary()]
    )
    off_duty_officer = make_squad(store, at=near, region="330922202", officers=[certified(on_duty=False)])
    wrong_force = make_squad(store, at=near, region="330922202", domains=["transport"])
    eligible = make_squad(store, at=near, region="330922202")
    incident = _incident(api, at=(122.77, 30.72), matters=["CM-001"])
    body = api.get(f"/incidents/{incident['id']}/recommendations", explain=1).json()
    ranked_ids = [r["squad"]["id"] for r in body["recommendations"]]
    assert ranked_ids[0] == eligible.id, "on the island itself, no ferry needed"
    left = {entry["squad"]["id"]: entry["reasons"] for entry in body["left_out"]}
    assert left[busy.id] == ["status is busy"]
    assert left[auxiliaries_only.id] == ["no certified officer on duty with a valid certificate"]
    assert left[expired.id] == ["no certified officer on duty with a valid certificate"]
    assert left[off_duty_officer.id] == ["no certified officer on duty with a valid certificate"]
    assert left[wrong_force.id] == ["not competent for comprehensive"]
    for squad in (busy, auxiliaries_only, expired, off_duty_officer, wrong_force):
        assert squad.id not in ranked_ids


def test_at_equal_time_the_squad_whose_zone_covers_the_place_ranks_first(api, store):
    # Two comprehensive squads at the same spot on Gouqi: one of the Ma'an zone (stationed in
    # Shengshan, the hub), one stationed in Caiyuan. Same ETA: the covering one is first.
    spot = (122.772, 30.718)
    outsider = make_squad(store, at=spot, region="330922100")
    covering = make_squad(store, at=spot, region="330922101")
    incident = _incident(api, at=(122.77, 30.72), matters=["CM-001"])
    ranked = api.get(f"/incidents/{incident['id']}/recommendations").json()["recommendations"]
    order = [r["squad"]["id"] for r in ranked]
    assert order.index(covering.id) < order.index(outsider.id)
    assert ranked[order.index(covering.id)]["eta_seconds"] == ranked[order.index(outsider.id)]["eta_seconds"]


def test_maritime_incident_at_sea_gets_a_boat(api):
    code = next(m["code"] for m in api.get("/matters").json()["matters"] if m["domain"] == "maritime")
    incident = _incident(api, at=(122.70, 30.75), matters=[code])
    assert incident["region"]["code"] == "330922", "at sea, the incident belongs to the county"
    assert incident["authority"]["domain"] == "maritime"
    assert incident["jurisdiction"] is None, "no township answers for the open sea"
    ranked = api.get(f"/incidents/{incident['id']}/recommendations").json()["recommendations"]
    assert ranked and ranked[0]["mode"] == "boat" and ranked[0]["squad"]["force"] == "maritime"


def test_recommendations_bad_input(api):
    incident = _incident(api)
    assert api.get("/incidents/999999/recommendations").status_code == 404
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"domain": "nope"}, "domain"),
        ({"at": "yesterday"}, "at"),
    ):
        response = api.get(f"/incidents/{incident['id']}/recommendations", **params)
        assert response.status_code == 400, params
        assert response.json()["error"]["field"] == field
