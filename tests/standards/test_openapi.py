"""GET /api/v1/openapi.json: the OpenAPI 3.1 document written from the declarations
(dispatch.http.contract, spectree over pydantic), and its local docs page.

tests/test_contract.py holds the document to the whole contract (valid, complete, schemathesis,
a generated client, examples); here, what an integrator reads in it for the core operations.
"""

from __future__ import annotations

import re

from dispatch.errors import MAX_ID
from dispatch.http.contract import document
from tests.test_contract import api_operations, operations

ERROR = {"$ref": "#/components/schemas/ErrorBody"}


def _error_answer(op: dict, status: str) -> dict:
    return op["responses"][status]["content"]["application/json"]["schema"]


def test_the_document_is_openapi_3_1_with_its_security_and_error_model(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "dispatch API"
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an API token (flask api-token) or a tablet token"
    }  # fmt: skip
    assert doc["security"] == [{"bearer": []}, {"session": []}]
    # one error model, {"error": {"code", "message", "field"?}}, for every error of every operation
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert schemas["ErrorBody"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert schemas["ErrorDetail"]["required"] == ["code", "message"]
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "field"}
    assert "Error" not in schemas and "responses" not in doc["components"]  # the old document's
    for path, method, op in operations(doc):
        for status in op["responses"]:
            if status[0] in "45":
                assert _error_answer(op, status) == ERROR, f"{method.upper()} {path} {status}"


def test_the_core_operations_are_described_in_detail(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    intake = doc["paths"]["/api/v1/incidents"]["post"]
    assert intake["operationId"] == "create_incident"
    assert intake["requestBody"]["required"] is True
    assert intake["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IncidentIntake"
    }
    assert set(intake["responses"]) >= {"200", "201", "400", "401", "403", "422", "503"}
    assert intake["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IncidentCreated"
    }
    assert set(intake["responses"]["201"]["links"]) >= {"show", "recommend", "dispatch"}
    assert intake["responses"]["201"]["links"]["show"] == {
        "operationId": "show_incident", "parameters": {"incident_id": "$response.body#/id"}
    }  # fmt: skip
    body = doc["components"]["schemas"]["IncidentIntake"]
    assert set(body["required"]) >= {"source", "matters", "location", "description", "reported_at"}
    assert body["additionalProperties"] is False  # unknown fields are refused
    jurisdiction = doc["paths"]["/api/v1/jurisdiction"]["get"]
    names = {p["name"] for p in jurisdiction["parameters"]}
    assert {"lon", "lat", "matter", "major", "crs", "out_crs"} <= names
    lon = next(p for p in jurisdiction["parameters"] if p["name"] == "lon")
    assert lon["required"] is True
    dispatch = doc["paths"]["/api/v1/incidents/{incident_id}/dispatch"]["post"]
    assert {k: v for k, v in dispatch["parameters"][0].items() if k != "example"} == {
        "name": "incident_id", "in": "path", "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }  # fmt: skip
    assert set(dispatch["responses"]) >= {"201", "404", "409"}
    # plans and oversight operations are declared as fully, with the error schema
    decision = doc["paths"]["/api/v1/cases/{case_id}/decisions"]["post"]
    assert _error_answer(decision, "400") == ERROR
    assert decision["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")


def test_a_route_without_a_declaration_is_missing_from_the_document(app):
    """The document holds the declared operations only (spectree's strict mode): a route added
    without ``operation(...)`` is not in it, which tests/test_contract.py reports."""

    def undeclared_view():
        return "{}"

    app.add_url_rule("/api/v1/not-declared", "api.not_declared", undeclared_view, methods=["GET", "POST"])
    doc = document(app)
    assert "/api/v1/not-declared" not in doc["paths"]
    documented = {(path, method) for path, method, _ in operations(doc)}
    assert api_operations(app) - documented >= {("/api/v1/not-declared", "get"), ("/api/v1/not-declared", "post")}


def test_the_docs_page_uses_local_assets_only(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'fetch("openapi.json"' in page  # the document beside it, same origin
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no CDN, no external asset"
    assert "http://" not in page and "https://" not in page
