"""OGC API - Features at /ogc, read with OWSLib (the client QGIS users script with) from a live server."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from owslib.ogcapi.features import Features

from gis.crs import wgs84_to_gcj02
from tests.conftest import TOKENS
from tests.factories import incident_body

pytestmark = pytest.mark.live

CST = dt.timezone(dt.timedelta(hours=8))
SIJIAO_BOX = [122.39, 30.68, 122.56, 30.76]  # Caiyuan and Wulong


AUTH = {"Authorization": f"Bearer {TOKENS['dispatcher'][1]}"}  # as QGIS sends it (an auth config header)


@pytest.fixture
def ogc(live_server):
    return Features(f"{live_server.url}/ogc/", headers=AUTH)


def test_landing_page_conformance_and_collections(ogc):
    rels = {link["rel"] for link in ogc.links}
    assert {"self", "conformance", "data"} <= rels
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in ogc.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in ogc.conformance()["conformsTo"]
    assert sorted(ogc.feature_collections()) == ["incidents", "regions", "squads", "zones"]
    regions = ogc.collection("regions")
    assert regions["itemType"] == "feature"
    minx, miny, maxx, maxy = regions["extent"]["spatial"]["bbox"][0]
    assert 122.0 < minx < maxx < 123.0 and 30.5 < miny < maxy < 31.0
    assert any(link["rel"] == "items" and link["type"] == "application/geo+json" for link in regions["links"])


def test_regions_with_bbox(ogc):
    page = ogc.collection_items("regions", bbox=SIJIAO_BOX, limit=100)
    assert page["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in page["features"]}
    assert {"菜园镇", "五龙乡", "嵊泗县"} <= names
    assert "嵊山镇" not in names
    caiyuan = next(f for f in page["features"] if f["id"] == "330922100")
    assert caiyuan["geometry"]["type"] == "MultiPolygon"
    assert caiyuan["properties"]["parent"] == "330922" and caiyuan["properties"]["level"] == "township"
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"])


def test_limit_offset_and_next_links_walk_every_feature(ogc):
    everything = ogc.collection_items("squads", limit=1000)
    total = everything["numberMatched"]
    assert total == len(everything["features"]) > 5
    seen, page = [], ogc.collection_items("squads", limit=4)
    while True:
        assert page["numberReturned"] == len(page["features"]) <= 4
        seen += [f["id"] for f in page["features"]]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        page = requests.get(following[0], headers=AUTH, timeout=10).json()
    assert seen == [f["id"] for f in everything["features"]]
    second = ogc.collection_items("squads", limit=4, offset=4)
    assert [link["rel"] for link in second["links"]].count("prev") == 1
    assert second["features"][0]["id"] == everything["features"][4]["id"]
    squad = everything["features"][0]
    assert squad["geometry"]["type"] == "Point"
    assert {"code", "name", "force", "domains", "status", "authority"} <= set(squad["properties"])


def test_zones_of_the_effective_plan(ogc):
    zones = ogc.collection_items("zones", limit=50)["features"]
    maan = next(z for z in zones if z["properties"]["code"] == "maan")
    assert maan["properties"]["hub"] == "嵊山镇"
    assert maan["properties"]["covered"] == "枸杞乡, 花鸟乡"
    assert maan["geometry"]["type"] == "MultiPolygon"


def test_incidents_filtered_by_datetime(ogc, api):
    early = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CST)
    late = dt.datetime.now(CST) - dt.timedelta(minutes=1)
    first = api.post("/incidents", incident_body(reported_at=early, at=(122.45, 30.73))).json()["id"]
    second = api.post("/incidents", incident_body(reported_at=late, at=(122.77, 30.72))).json()["id"]

    def ids(**params):
        return {f["id"] for f in ogc.collection_items("incidents", limit=100, **params)["features"]}

    assert {first, second} <= ids()
    assert ids(datetime_="2026-11-20T00:00:00+08:00/2026-11-21T00:00:00+08:00") == {first}
    assert second in ids(datetime_="2026-11-22T00:00:00Z/..") and first not in ids(datetime_="2026-11-22T00:00:00Z/..")
    assert ids(datetime_="../2026-11-20T01:00:00Z") == {first}
    assert ids(datetime_=early.isoformat()) == {first}
    incident = ogc.collection_item("incidents", str(first))
    assert incident["properties"]["authority"] == "嵊泗县综合行政执法局"
    assert incident["properties"]["matters"] == "CM-001"
    temporal = ogc.collection("incidents")["extent"]["temporal"]["interval"][0]
    assert dt.datetime.fromisoformat(temporal[0]) == early


def test_gcj02_bbox_and_output(ogc, live_server):
    wgs = ogc.collection_item("regions", "330922100")
    ring = wgs["geometry"]["coordinates"][0][0]
    shifted = requests.get(f"{live_server.url}/ogc/collections/regions/items/330922100", headers=AUTH,
                           params={"out_crs": "gcj02"}, timeout=10).json()  # fmt: skip
    assert shifted["geometry"]["coordinates"][0][0][0] == pytest.approx(list(wgs84_to_gcj02(*ring[0])), abs=1e-6)
    # A bbox drawn on a GCJ-02 map: converted to WGS84 before filtering.
    corners = [*wgs84_to_gcj02(*SIJIAO_BOX[:2]), *wgs84_to_gcj02(*SIJIAO_BOX[2:])]
    page = ogc.collection_items("regions", bbox=corners, crs="gcj02", limit=100)
    assert {"菜园镇", "五龙乡"} <= {f["properties"]["name"] for f in page["features"]}


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/collections/rivers", {}, 404),
        ("/collections/regions/items/nope", {}, 404),
        ("/collections/regions/items", {"bbox": "1,2,3"}, 400),
        ("/collections/regions/items", {"bbox": "122,31,123,30"}, 400),
        ("/collections/regions/items", {"limit": "0"}, 400),
        ("/collections/regions/items", {"limit": "many"}, 400),
        ("/collections/regions/items", {"offset": "-1"}, 400),
        ("/collections/incidents/items", {"datetime": "yesterday"}, 400),
        ("/collections/incidents/items", {"datetime": "2026-11-22T00:00:00Z/2026-11-21T00:00:00Z"}, 400),
        ("/collections/regions/items", {"colour": "red"}, 400),
        ("/collections/regions/items", {"f": "html"}, 400),
        ("/collections/regions/items", {"crs": "epsg:3857"}, 400),
    ],
)
def test_errors_are_ogc_exceptions(client, path, params, status):
    response = client.get(f"/ogc{path}", query_string=params)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"code", "description"}
