"""Every JSON endpoint answers malformed and hostile bodies with a 4xx JSON error, never a 500.

The sweep of every route with every hostile family is tests/test_hostile_input.py.
"""

import json
import math
import re

import pytest
from flask import request

from dispatch import plans
from dispatch.errors import ApiError
from gis.geojson import GeometryError, parse_area, parse_point
from tests.factories import incident_body

SURROGATE = re.compile("[\ud800-\udfff]")

BODIES = [
    None,
    "text",
    [],
    [1, 2],
    5,
    {"x": None},
    {"authority": 5, "matter": 7, "target": "x", "window": 3, "slot": [], "squad_ids": "1"},
    {"source": ["patrol"], "matters": [{"code": 1}], "location": {"type": "Point", "coordinates": [1e308, "a"]}},
    {"to": 7, "reason": {"a": 1}, "location": "here", "fixes": [{"id": 1}]},
    {"of": "1", "name": 5, "department": [], "year": "MMXXVI", "hours": "many", "date": 20260101},
    {"description": "a\u0000b", "external_id": "\u0000"},
]


def _routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.rule.startswith("/api/v1"):
            yield re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)


def test_malformed_bodies_never_cause_a_server_error(app, client):
    failures = []
    for path in sorted(set(_routes(app))):
        for body in BODIES:
            if body is None:
                response = client.post(path, data="{not json", headers={"Content-Type": "application/json"})
            else:
                response = client.post(path, json=body)
            if response.status_code >= 500 or not response.is_json:
                failures.append((path, body, response.status_code, response.get_data(as_text=True)[:200]))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("query", ["lon=1e999&lat=0", "lon=&lat=", "lon=122&lat=30&matter=%00", "year=abc"])
def test_malformed_queries_never_cause_a_server_error(app, client, query):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.rule.startswith("/api/v1") and "<" not in rule.rule:
            response = client.get(f"{rule.rule}?{query}")
            assert response.status_code < 500, (rule.rule, query, response.get_data(as_text=True)[:200])


# -- issue 25, finding 9: the hostile bodies that answered 500 ------------------------------------


def _raw(body: dict, old: str, new: str) -> str:
    """``body`` as JSON text with ``old`` (a JSON token) replaced by ``new`` (raw JSON text)."""
    text = json.dumps(body, ensure_ascii=False)
    assert old in text
    return text.replace(old, new, 1)


_INTAKE = incident_body(matters=["CM-001"], description="DESC", at=(122.45, 30.73))


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('"CM-001"', '"\\ud800"', "matters[0]"),  # a lone high surrogate
        ('"DESC"', '"a\\udfffb"', "description"),  # a lone low surrogate
        ('"source"', '"\\ud800source"', "\\ud800source"),  # in a field name
        ("122.45", "NaN", "location.coordinates[0]"),
        ("30.73", "-Infinity", "location.coordinates[1]"),
        ("122.45", "1e400", "location.coordinates[0]"),
        ('"DESC"', "[" * 1000 + "]" * 1000, "body"),  # nested 1,000 deep
    ],
)
def test_hostile_json_is_a_400_naming_the_field(client, old, new, field):
    response = client.post(
        "/api/v1/incidents",
        data=_raw(_INTAKE, old, new).encode("utf-8", "surrogatepass"),
        content_type="application/json",
    )
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "invalid_body" and error["field"] == field and error["message"]
    assert client.get("/api/v1/incidents").get_json()["incidents"] == [], "nothing stored"


def test_a_body_nested_1000_deep_is_a_400(client):
    for text in ("[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 5000 + "]" * 5000):
        response = client.post("/api/v1/plans", data=text, content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "body"


def test_a_nan_vertex_in_the_planner_is_a_400(client):
    draft = client.post("/api/v1/plans", json={}).get_json()
    ring = [[122.40, 30.70], [122.50, 30.70], [122.50, 30.76], [122.40, 30.70]]
    zone = {"code": "caiyuan", "name": "菜园片区", "hub": "330922100", "members": ["330922100"],
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    body = {"version": draft["version"], "zones": [zone]}
    for path in (f"/api/v1/plans/{draft['id']}", f"/api/v1/plans/{draft['id']}/validate"):
        method = client.put if path.endswith(str(draft["id"])) else client.post
        response = method(path, data=_raw(body, "122.4", "NaN"), content_type="application/json")
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert response.get_json()["error"]["field"] == "zones[0].geometry.coordinates[0][0][0]"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, True, "122.4"])
def test_geometry_validation_refuses_non_finite_coordinates_wherever_they_come_from(value):
    """Sockets, files and the CLI do not pass the JSON decoder: the geometry checks refuse them too."""
    ring = [[value, 30.70], [122.50, 30.70], [122.50, 30.76], [value, 30.70]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    with pytest.raises(GeometryError) as refused:
        parse_area(polygon, "zone")
    assert refused.value.field == "zone.coordinates"
    with pytest.raises(ApiError) as refused:
        plans._parse_geometry(polygon, "zones[0].geometry")
    assert refused.value.field == "zones[0].geometry.coordinates"
    with pytest.raises(GeometryError):
        parse_point({"type": "Point", "coordinates": [value, 30.7]})


def test_surrogates_on_the_wire_never_reach_a_view_as_surrogates(app, monkeypatch):
    """A lone surrogate's UTF-8 bytes (%ED%A0%80) are invalid UTF-8: werkzeug hands a path U+FFFD
    and a query string or form the escape as written, never a surrogate a column could not hold."""
    from dispatch.http import auth

    monkeypatch.setitem(auth.ENDPOINT_ACTIONS, "hostile_echo", "public")
    seen = {}

    @app.post("/hostile-echo/<part>")
    def hostile_echo(part):
        seen.update(path=part, query=request.args["q"], form=request.form["f"])
        return {}

    client = app.test_client()
    client.post(
        "/hostile-echo/%ED%A0%80?q=%ED%A0%80", data=b"f=a%ED%B0%80b", content_type="application/x-www-form-urlencoded"
    )
    assert seen == {"path": "\ufffd" * 3, "query": "%ED%A0%80", "form": "a%ED%B0%80b"}
    assert not any(SURROGATE.search(value) for value in seen.values())


def test_surrogate_bytes_in_queries_are_4xx_json(client):
    response = client.get("/api/v1/jurisdiction?lon=122.45&lat=30.73&matter=%ED%A0%80")
    assert 400 <= response.status_code < 500 and response.get_json()["error"]["code"]
    response = client.get("/api/v1/incidents?status=%ED%A0%80")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "status"
