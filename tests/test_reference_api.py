"""The reference layers as GeoJSON, the catalogue, health, and JSON errors everywhere."""

from collections import Counter

PROFESSIONAL_DOMAINS = {
    "market_supervision",
    "ecology_environment",
    "culture_tourism_sport",
    "transport",
    "agriculture_rural",
    "natural_resources_planning",
    "emergency_management",
    "health",
}


def test_health_reports_postgis(client):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    assert body["postgis"].startswith("3.")


def test_regions_are_a_feature_collection_of_multipolygons(client):
    body = client.get("/api/v1/regions").get_json()
    assert body["type"] == "FeatureCollection"
    by_code = {f["properties"]["code"]: f for f in body["features"]}
    assert len([f for f in body["features"] if f["properties"]["level"] == "township"]) == 7
    county = by_code["330922"]
    assert county["properties"]["name"] == "嵊泗县" and county["properties"]["parent"] is None
    yangshan = by_code["330922102"]
    assert yangshan["properties"]["empowered"] is True
    assert yangshan["properties"]["parent"] == "330922"
    assert yangshan["geometry"]["type"] == "MultiPolygon"
    assert len(yangshan["geometry"]["coordinates"]) >= 2, "Yangshan is more than one island"
    lon, lat = yangshan["geometry"]["coordinates"][0][0][0]
    assert 121 < lon < 123 and 30 < lat < 31, "GeoJSON is lon, lat"


def test_zones_of_the_published_plan(client):
    body = client.get("/api/v1/zones").get_json()
    zones = {f["properties"]["code"]: f for f in body["features"]}
    maan = zones["maan"]["properties"]
    assert maan["hub"]["name"] == "嵊山镇"
    assert {r["name"] for r in maan["covered"]} == {"枸杞乡", "花鸟乡"}
    assert maan["plan"]["status"] == "published"
    assert zones["maan"]["geometry"]["type"] == "MultiPolygon"
    # The other four zones each hold a single township.
    assert all(f["properties"]["covered"] == [] for code, f in zones.items() if code != "maan")
    assert len(zones) == 5


def test_zones_of_an_unknown_plan_is_422(client):
    """A well-formed plan code the database does not hold: a rule the document cannot say."""
    response = client.get("/api/v1/zones?plan=nope")
    assert response.status_code == 422
    assert response.get_json()["error"] == {**response.get_json()["error"], "field": "plan", "code": "unknown_plan"}
    assert client.get("/api/v1/zones?plan=no%20pe").status_code == 400, "not a code at all: off the document"


def test_squads_cover_the_1_8_1_forces(client):
    body = client.get("/api/v1/squads").get_json()
    props = [f["properties"] for f in body["features"]]
    forces = Counter(p["force"] for p in props)
    assert forces["comprehensive"] >= 1 and forces["maritime"] >= 1
    domains = {d for p in props if p["force"] == "professional" for d in p["domains"]}
    assert domains >= PROFESSIONAL_DOMAINS
    assert all(f["geometry"]["type"] == "Point" for f in body["features"])
    assert all(p["certified_on_duty"] >= 1 for p in props)


def test_matter_catalogue(client):
    matters = client.get("/api/v1/matters").get_json()["matters"]
    per_domain = Counter(m["domain"] for m in matters)
    assert all(per_domain[d] >= 3 for d in PROFESSIONAL_DOMAINS)
    comprehensive = [m for m in matters if m["domain"] == "comprehensive"]
    assert any(m["township_held"] for m in comprehensive)
    assert any(not m["township_held"] for m in comprehensive)


def test_unknown_route_and_wrong_method_are_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.post("/api/v1/regions")
    assert response.status_code == 405 and response.is_json
