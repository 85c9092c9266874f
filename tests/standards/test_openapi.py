"""GET /api/v1/openapi.json: an OpenAPI 3 document generated from the routes, and its local docs page."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from dispatch.http.api.openapi import document


def _api_operations(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            out |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out


def test_the_document_is_valid_openapi_3_and_covers_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    validate(doc)  # raises on an invalid OpenAPI 3.0 document
    assert doc["openapi"].startswith("3.")
    assert "x-undocumented" not in doc
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert documented == _api_operations(app)


def test_the_core_routes_are_described_in_detail(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    intake = doc["paths"]["/api/v1/incidents"]["post"]
    assert intake["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IncidentIntake"
    }
    assert set(intake["responses"]) >= {"200", "201", "400", "422"}
    jurisdiction = doc["paths"]["/api/v1/jurisdiction"]["get"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in jurisdiction["parameters"]}
    assert {"lon", "lat", "matter", "major", "crs", "out_crs"} <= names
    dispatch = doc["paths"]["/api/v1/incidents/{incident_id}/dispatch"]["post"]
    assert dispatch["parameters"][0] == {
        "name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}
    }  # fmt: skip
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    # plans and oversight routes are there generically, with the error schema
    decision = doc["paths"]["/api/v1/cases/{case_id}/decisions"]["post"]
    assert decision["responses"]["400"] == {"$ref": "#/components/responses/Error"}


def test_a_route_without_a_description_is_reported(app):
    def undocumented_view():
        return "{}"

    app.add_url_rule("/api/v1/not-described", "api.not_described", undocumented_view, methods=["GET", "POST"])
    doc = document(app)
    assert doc["x-undocumented"] == ["GET /api/v1/not-described", "POST /api/v1/not-described"]


def test_the_docs_page_uses_local_assets_only(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'fetch("openapi.json")' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no CDN, no external asset"
    assert "http://" not in page and "https://" not in page
