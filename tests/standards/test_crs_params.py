"""WGS84 / GCJ-02 / BD-09 at the API's edge, checked against published reference pairs."""

from __future__ import annotations

import pytest

from gis.crs import bd09_to_gcj02, from_wgs84, gcj02_to_bd09, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from tests.factories import incident_body

# WGS84 -> GCJ-02, (lon, lat) pairs published with googollee/eviltransform (python/tests.py: shanghai,
# shenzhen, beijing), the implementation most Chinese-map libraries were checked against.
EVILTRANSFORM_WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]
# wandergis/coordtransform's example point (116.404, 39.915), as its Rust port coordtransform-rs tests it.
COORDTRANSFORM = (116.404, 39.915)
COORDTRANSFORM_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
COORDTRANSFORM_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
COORDTRANSFORM_BD_TO_GCJ = (116.39762729119315, 39.90865673957631)
# coordtransform's GCJ-02 -> WGS84 is the one-step approximation (about 5 cm off); ours iterates.
COORDTRANSFORM_GCJ_TO_WGS = (116.39775550083061, 39.91359571849836)
# hujiulong/gcoord test/unit/crs/GCJ02.spec.js: GCJ02.to.WGS84([123, 45]), checked to 5 decimals.
GCOORD_GCJ_TO_WGS = ((123.0, 45.0), (122.99395597, 44.99804071))

CAIYUAN = (122.45, 30.73)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_WGS_GCJ, ids=["shanghai", "shenzhen", "beijing"])
def test_wgs84_to_gcj02_matches_eviltransform(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-7)


def test_coordtransform_reference_point():
    assert wgs84_to_gcj02(*COORDTRANSFORM) == pytest.approx(COORDTRANSFORM_WGS_TO_GCJ, abs=1e-9)
    assert gcj02_to_bd09(*COORDTRANSFORM) == pytest.approx(COORDTRANSFORM_GCJ_TO_BD, abs=1e-9)
    assert bd09_to_gcj02(*COORDTRANSFORM) == pytest.approx(COORDTRANSFORM_BD_TO_GCJ, abs=1e-9)
    assert gcj02_to_wgs84(*COORDTRANSFORM) == pytest.approx(COORDTRANSFORM_GCJ_TO_WGS, abs=1e-6)


def test_gcoord_reference_point():
    gcj, wgs = GCOORD_GCJ_TO_WGS
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=5e-6)


def test_jurisdiction_accepts_gcj02_and_bd09(client):
    plain = client.get("/api/v1/jurisdiction", query_string={"lon": CAIYUAN[0], "lat": CAIYUAN[1]}).get_json()
    for crs in ("gcj02", "bd09"):
        lon, lat = from_wgs84(*CAIYUAN, crs)
        body = client.get("/api/v1/jurisdiction", query_string={"lon": lon, "lat": lat, "crs": crs}).get_json()
        assert body["region"] == plain["region"]
        assert body["authority"] == plain["authority"]


def test_a_shifted_point_near_a_border_lands_where_the_datum_says():
    # GCJ-02 moves Shengsi about 500 m: taken as WGS84, a GCJ-02 point is in the wrong place.
    gcj = wgs84_to_gcj02(*CAIYUAN)
    metres = ((gcj[0] - CAIYUAN[0]) * 96_000) ** 2 + ((gcj[1] - CAIYUAN[1]) * 110_600) ** 2
    assert 300 < metres**0.5 < 800


def test_intake_location_in_gcj02_is_stored_as_wgs84(client):
    gcj = wgs84_to_gcj02(*CAIYUAN)
    response = client.post("/api/v1/incidents?crs=gcj02", json=incident_body(at=gcj))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["location"]["coordinates"] == pytest.approx(list(CAIYUAN), abs=1e-6)
    assert body["region"]["name"] == "菜园镇"
    shown = client.get(f"/api/v1/incidents/{body['id']}", query_string={"out_crs": "gcj02"}).get_json()
    assert shown["location"]["coordinates"] == pytest.approx(list(gcj), abs=1e-6)


def test_layers_answer_in_gcj02_on_request(client):
    plain = client.get("/api/v1/squads").get_json()["features"]
    shifted = client.get("/api/v1/squads", query_string={"out_crs": "gcj02"})
    assert shifted.headers["X-Coordinate-System"] == "gcj02"
    for a, b in zip(plain, shifted.get_json()["features"], strict=True):
        assert b["geometry"]["coordinates"] == pytest.approx(
            list(wgs84_to_gcj02(*a["geometry"]["coordinates"])), abs=1e-6
        )
    regions = client.get("/api/v1/regions", query_string={"out_crs": "bd09"}).get_json()["features"]
    caiyuan = next(f for f in regions if f["id"] == "330922100")
    first = caiyuan["geometry"]["coordinates"][0][0][0]
    assert to_wgs84(*first, "bd09") == pytest.approx((122.475, 30.704), abs=1e-6)


@pytest.mark.parametrize("params", [{"crs": "utm"}, {"out_crs": "mars"}])
def test_unknown_systems_are_refused(client, params):
    response = client.get("/api/v1/jurisdiction", query_string={"lon": 122.45, "lat": 30.73, **params})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == next(iter(params))


@pytest.mark.parametrize(
    "location",
    [{"type": "Point", "coordinates": ["a", 1]}, {"type": "Point"}, {"type": "Point", "coordinates": [1e309, 0]}, 7],
)
def test_malformed_geometry_with_crs_is_still_a_400(client, location):
    body = incident_body()
    body["location"] = location
    response = client.post("/api/v1/incidents?crs=gcj02", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"].startswith("location")
