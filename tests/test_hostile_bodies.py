"""Every JSON endpoint answers malformed bodies with a 4xx JSON error, never a 500."""

import re

import pytest

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
