"""Folium maps: served from our own Leaflet, never a CDN."""

import re

from tests.factories import incident_body


def _local_only(html: str) -> None:
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []


def test_the_plan_heat_and_case_maps_use_only_local_assets(client):
    incident = client.post("/api/v1/incidents", json=incident_body(), headers={"X-Actor": "t"}).get_json()
    for path in ("/maps/plan", "/maps/plan/shengsi-2021?lang=en", "/maps/heat", f"/maps/incidents/{incident['id']}"):
        response = client.get(path)
        assert response.status_code == 200, path
        _local_only(response.get_data(as_text=True))
    heat = client.get("/maps/heat").get_data(as_text=True)
    assert '"n": 1' in heat, "the incident is counted in its hexagon"


def test_map_errors_are_json(client):
    assert client.get("/maps/plan/nope").status_code == 404
    assert client.get("/maps/incidents/999999").status_code == 404
    response = client.get("/maps/heat?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "from"
