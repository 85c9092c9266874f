"""Folium maps: served from our own Leaflet, never a CDN; what users wrote is data, never code."""

import json
import re

from sqlalchemy import text

from tests.factories import incident_body


def _local_only(html: str) -> None:
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []


def test_the_plan_heat_and_case_maps_use_only_local_assets(client):
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
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


# Text a caller or an importer controls, aimed at each place Folium used to write it: a JavaScript
# template literal (Tooltip), innerHTML (GeoJsonTooltip), the page's markup.
BREAKOUT = (
    "`+(globalThis.__pwned='tick')+` ${globalThis.__pwned='literal'}</script><script>globalThis.__pwned=1</script>"
)
IMG = "<img src=x onerror=\"globalThis.__pwned='img'\">"


def _inline_tags(html: str) -> list[str]:
    return re.findall(r"<(?:script|style)\b[^>]*>", html)


def _layer_data(html: str) -> list[dict]:
    """The FeatureCollections Folium embeds, one ``geo_json_..._add({...});`` line per layer."""
    return [json.loads(data) for data in re.findall(r"^\s*geo_json_[0-9a-f]+_add\((\{.*\})\);$", html, re.M)]


def _tips(html: str) -> list[str]:
    return [f["properties"]["tip"] for layer in _layer_data(html) for f in layer["features"]]


def _without_data(html: str) -> str:
    """The page minus its embedded layer data and its (HTML-escaped) title: the code and markup."""
    html = re.sub(r"^\s*geo_json_[0-9a-f]+_add\(\{.*\}\);$", "", html, flags=re.M)
    return re.sub(r'<div class="map-title">.*?</div>', "", html)


def _assert_safe_page(response, *texts: str) -> str:
    """User ``texts`` appear as layer data (tooltips) only; every inline script and style has the nonce."""
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'", policy).group(1)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    tags = _inline_tags(html)
    assert tags and all(f'nonce="{nonce}"' in tag for tag in tags), tags
    tips = _tips(html)
    for value in texts:
        assert any(value in tip for tip in tips), f"{value!r} is not a tooltip's data"
    code = _without_data(html)
    for marker in ("__pwned", "onerror", "${"):
        assert marker not in code, f"{marker!r} reached the page's code or markup"
    assert "innerHTML" not in code and "bindTooltip" not in code, "tooltips are bound by static/app/maps.js"
    return html


def test_descriptions_and_names_reach_the_maps_only_as_text_data(client, session):
    description = f"占道经营 {BREAKOUT} {IMG}"
    incident = client.post("/api/v1/incidents", json=incident_body(description=description)).get_json()
    session.execute(
        text("UPDATE region SET name_zh = :name WHERE code = '330922202'"), {"name": f"枸杞乡{IMG}`${{1}}`"}
    )
    session.commit()
    draft = client.post("/api/v1/plans", json={"name": f"方案{BREAKOUT}"[:100]}).get_json()
    zones = [
        {"code": z["code"], "name": f"{z['name']}{IMG}", "hub": z["hub"], "members": z["members"]}
        for z in draft["zones"]
    ]
    saved = client.put(f"/api/v1/plans/{draft['id']}", json={"version": 1, "zones": zones})
    assert saved.status_code == 200, saved.get_json()

    case = _assert_safe_page(client.get(f"/maps/incidents/{incident['id']}"), description[:200], f"枸杞乡{IMG}")
    assert "占道经营 `+(globalThis.__pwned=&#39;tick&#39;)+`" in case, "the title: the description as escaped text"
    plan = _assert_safe_page(client.get(f"/maps/plan/{draft['code']}"), IMG, f"枸杞乡{IMG}")
    assert "方案`+(globalThis.__pwned=&#39;tick&#39;)+` ${globalThis" in plan
    _assert_safe_page(client.get("/maps/heat"), f"枸杞乡{IMG}")


def test_every_map_layer_is_drawn_from_local_data_with_a_tooltip(client):
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
    html = client.get(f"/maps/incidents/{incident['id']}").get_data(as_text=True)
    layers = _layer_data(html)
    assert len(layers) >= 2 and all(f["properties"]["style"] for layer in layers for f in layer["features"])
    assert "/static/app/maps.js" in html and html.count("dispatchMaps.textTooltip") == len(layers)
