"""The OpenAPI 3 document of /api/v1, generated from the routes, and a docs page with no CDN.

``document(app)`` walks ``app.url_map``: every /api/v1 route and method is looked
up in ``OPERATIONS`` (parameters, body, answers of the dispatch routes). Routes of
the coverage-plan editor (dispatch/http/api/plans.py) and of oversight (dispatch/http/oversight.py)
are described generically from their rule and docstring (path parameters, a JSON
answer, the error schema): they are listed in ``GENERIC_MODULES``. A route that is
in neither is reported in ``x-undocumented`` (a test keeps that list empty), so a new
route cannot ship without its description.

Served at ``GET /api/v1/openapi.json``; ``GET /api/v1/docs`` renders it with a small
page of our own (inline script and style carrying the request's CSP nonce, no external assets:
government intranets have no CDN).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, current_app, jsonify

from dispatch.http.api.blueprint import bp
from dispatch.http.observability import csp_nonce
from dispatch.states import INCIDENT_STATUSES, TASK_STATES
from dispatch.store.models import DOMAINS, INCIDENT_SOURCES

GENERIC_MODULES = ("dispatch.http.api.plans", "dispatch.http.oversight")
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _body(schema: dict, description: str = "") -> dict:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def _ok(schema: dict, description: str = "OK", status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


_OBJ = {"type": "object"}
_ACTOR = {"name": "X-Actor", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100},
          "description": "who acts (recorded on every event); default 'api'"}  # fmt: skip
_ID_LIST = {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "example": "outside_jurisdiction"},
                    "message": {"type": "string"},
                    "field": {
                        "type": "string",
                        "description": "where: a parameter, a body path (matters[1]), a header",
                    },
                },
                "additionalProperties": True,
            }
        },
    },
    "Point": {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 2,
                "maxItems": 3,
                "description": "[lon, lat], WGS84 unless ?crs= says otherwise",
            },
        },
    },  # fmt: skip
    "Feature": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": {"type": "object", "nullable": True},
            "properties": _OBJ,
        },
    },
    "FeatureCollection": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref("Feature")},
        },
    },
    "Authority": {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("code", "name", "name_en", "kind", "domain")},
    },
    "Matter": {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "name_en": {"type": "string"},
            "domain": {"type": "string", "enum": list(DOMAINS)},
            "authority_kind": {"type": "string"},
            "township_held": {"type": "boolean"},
            "joint_domains": {"type": "array", "items": {"type": "string"}},
            "priority": {"type": "integer", "minimum": 1, "maximum": 3},
            "sla_minutes": {"type": "integer"},
        },
    },  # fmt: skip
    "Jurisdiction": {
        "type": "object",
        "properties": {
            "region": _OBJ,
            "ancestors": {"type": "array", "items": _OBJ},
            "zone": {**_OBJ, "nullable": True},
            "authority": _ref("Authority"),
            "basis": {"type": "string"},
            "matter": {"allOf": [_ref("Matter")], "nullable": True},
            "squads": {"type": "array", "items": _OBJ},
        },
    },  # fmt: skip
    "IncidentIntake": {
        "type": "object",
        "required": ["source", "matters", "location", "description", "reported_at"],
        "additionalProperties": False,
        "properties": {
            "source": {"type": "string", "enum": list(INCIDENT_SOURCES)},
            "external_id": {"type": "string", "maxLength": 64, "description": "idempotence key with source"},
            "matters": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10},
            "location": _ref("Point"),
            "description": {"type": "string", "maxLength": 4000},
            "address": {"type": "string", "maxLength": 200},
            "reported_at": _TIME,
        },
    },
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["response", "inspection"]},
            "incident_id": {"type": "integer", "nullable": True},
            "joint_inspection_id": {"type": "integer", "nullable": True},
            "squad": _OBJ,
            "state": {"type": "string", "enum": list(TASK_STATES)},
            "allowed": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": "string", "nullable": True},
        },
    },  # fmt: skip
    "Incident": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "source": {"type": "string"},
            "external_id": {"type": "string", "nullable": True},
            "description": {"type": "string"},
            "address": {"type": "string", "nullable": True},
            "location": _ref("Point"),
            "matters": {"type": "array", "items": _OBJ},
            "region": _OBJ,
            "zone": _OBJ,
            "authority": _ref("Authority"),
            "priority": {"type": "integer"},
            "status": {"type": "string", "enum": list(INCIDENT_STATUSES)},
            "reported_at": _TIME,
            "sla_deadline": _TIME,
            "tasks": {"type": "array", "items": _ref("Task")},
            "jurisdiction": {"allOf": [_ref("Jurisdiction")], "nullable": True},
            "possible_duplicates": {"type": "array", "items": _OBJ},
            "possible_duplicates_total": {"type": "integer"},
        },
    },  # fmt: skip
    "Transition": {
        "type": "object",
        "required": ["to"],
        "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "enum": list(TASK_STATES)},
            "reason": {"type": "string"},
            "note": {"type": "string"},
            "location": _ref("Point"),
        },
    },  # fmt: skip
    "InspectionRequest": {
        "type": "object",
        "required": ["authority", "target", "window"],
        "properties": {
            "authority": {"type": "string", "description": "authority code"},
            "domain": {"type": "string"},
            "target": {
                "type": "object",
                "required": ["name", "location"],
                "properties": {
                    "name": {"type": "string"},
                    "business_id": {"type": "string"},
                    "location": _ref("Point"),
                },
            },
            "window": {"type": "object", "properties": {"start": _TIME, "end": _TIME}},
            "purpose": {"type": "string"},
        },
    },  # fmt: skip
    "JointInspection": {
        "type": "object",
        "required": ["target", "slot", "squad_ids"],
        "properties": {
            "target": _OBJ,
            "slot": {"type": "object", "properties": {"start": _TIME, "end": _TIME}},
            "squad_ids": _ID_LIST,
            "lead_squad_id": {"type": "integer"},
            "request_ids": _ID_LIST,
            "incident_id": {"type": "integer"},
            "domains": {"type": "array", "items": {"type": "string"}},
        },
    },  # fmt: skip
    "PositionBatch": {
        "type": "object",
        "required": ["fixes"],
        "properties": {
            "fixes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "lon", "lat", "time"],
                    "properties": {
                        "id": {"type": "string"},
                        "lon": {"type": "number"},
                        "lat": {"type": "number"},
                        "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]},
                        "time": _TIME,
                        "accuracy": {"type": "number"},
                        "speed": {"type": "number"},
                        "heading": {"type": "number"},
                    },
                },
            }
        },
    },  # fmt: skip
}

_PLAN_CODE = _q("plan", {"type": "string"}, "a coverage plan code (default: every effective plan)")
_LIMIT = _q("limit", {"type": "integer", "minimum": 1}, "at most this many")

# (endpoint, method) -> operation; path parameters come from the rule.
OPERATIONS: dict[tuple[str, str], dict] = {
    ("api.health", "get"): {"summary": "Liveness and the PostGIS version", "tags": ["reference"],
                            "responses": {**_ok(_OBJ), "503": {"$ref": "#/components/responses/Error"}}},
    ("api.regions", "get"): {"summary": "Regions as a FeatureCollection (MultiPolygon)", "tags": ["reference"],
                             "responses": _ok(_ref("FeatureCollection"))},
    ("api.zones", "get"): {"summary": "Zones of each effective plan, or of ?plan=", "tags": ["reference"],
                           "parameters": [_PLAN_CODE], "responses": _ok(_ref("FeatureCollection"))},
    ("api.squads", "get"): {"summary": "Squads at their last position (else station)", "tags": ["reference"],
                            "responses": _ok(_ref("FeatureCollection"))},
    ("api.matters", "get"): {"summary": "The matter catalogue", "tags": ["reference"],
                             "responses": _ok({"type": "object", "properties": {"matters": {"type": "array", "items": _ref("Matter")}}})},
    ("api.jurisdiction", "get"): {
        "summary": "Who covers a place and in whose name they act", "tags": ["reference"],
        "parameters": [_q("lon", {"type": "number", "minimum": -180, "maximum": 180}, "longitude (in ?crs=)", True),
                       _q("lat", {"type": "number", "minimum": -90, "maximum": 90}, "latitude (in ?crs=)", True),
                       _q("matter", {"type": "string"}, "a matter code"),
                       _q("major", {"type": "string", "enum": ["1", "true", "yes"]},
                          "a cross-district or major complex case: a city's municipal level answers")],
        "responses": _ok(_ref("Jurisdiction")),
    },
    ("api.create_incident", "post"): {
        "summary": "Intake: a new incident with jurisdiction, priority, SLA and possible duplicates", "tags": ["incidents"],
        "parameters": [_ACTOR], "requestBody": _body(_ref("IncidentIntake")),
        "responses": {**_ok(_ref("Incident"), "created", "201"), **_ok(_ref("Incident"), "the stored incident of a repeated (source, external_id)"),
                      "422": {"$ref": "#/components/responses/Error"}},
    },
    ("api.list_incidents", "get"): {
        "summary": "The queue, most urgent first", "tags": ["incidents"],
        "parameters": [_q("status", {"type": "string"}, f"comma-separated: {', '.join(INCIDENT_STATUSES)}"), _LIMIT],
        "responses": _ok({"type": "object", "properties": {"incidents": {"type": "array", "items": _ref("Incident")}}}),
    },
    ("api.show_incident", "get"): {"summary": "One incident with its tasks and jurisdiction", "tags": ["incidents"],
                                   "responses": _ok(_ref("Incident"))},
    ("api.incident_recommendations", "get"): {
        "summary": "Squads best placed to go, with ETA and legs", "tags": ["incidents"],
        "parameters": [_LIMIT, _q("domain", {"type": "string", "enum": list(DOMAINS)}, "only this domain's squads"),
                       _q("at", _TIME, "ETA as of this time (ferry timetables)"),
                       _q("explain", {"type": "string", "enum": ["1", "true", "yes"]}, "add left_out with reasons")],
        "responses": _ok(_OBJ),
    },
    ("api.dispatch_incident", "post"): {
        "summary": "Dispatch squads: one task each, all or nothing", "tags": ["incidents"], "parameters": [_ACTOR],
        "requestBody": _body({"type": "object", "required": ["squad_ids"], "additionalProperties": False,
                              "properties": {"squad_ids": _ID_LIST, "note": {"type": "string"}}}),
        "responses": {**_ok({"type": "object", "properties": {"tasks": {"type": "array", "items": _ref("Task")}}}, "created", "201"),
                      "409": {"$ref": "#/components/responses/Error"}},
    },
    ("api.mark_incident_duplicate", "post"): {
        "summary": "Mark the incident a duplicate of another", "tags": ["incidents"], "parameters": [_ACTOR],
        "requestBody": _body({"type": "object", "required": ["of"], "properties": {"of": {"type": "integer"}}}),
        "responses": {**_ok(_ref("Incident")), "409": {"$ref": "#/components/responses/Error"}},
    },
    ("api.incident_events", "get"): {"summary": "The full-process record of an incident", "tags": ["incidents"],
                                     "responses": _ok(_OBJ)},
    ("api.show_task", "get"): {"summary": "One task", "tags": ["tasks"], "responses": _ok(_ref("Task"))},
    ("api.transition_task", "post"): {
        "summary": "Move a task through its lifecycle", "tags": ["tasks"], "parameters": [_ACTOR],
        "requestBody": _body(_ref("Transition")),
        "responses": {**_ok(_ref("Task")), "409": {"$ref": "#/components/responses/Error"}},
    },
    ("api.new_inspection_request", "post"): {"summary": "A department's pending inspection of a target", "tags": ["joint"],
                                             "parameters": [_ACTOR], "requestBody": _body(_ref("InspectionRequest")),
                                             "responses": _ok(_OBJ, "created", "201")},
    ("api.list_inspection_requests", "get"): {"summary": "Inspection requests", "tags": ["joint"],
                                              "parameters": [_q("status", {"type": "string"}, "pending, merged, done, cancelled")],
                                              "responses": _ok(_OBJ)},
    ("api.joint_inspection_proposals", "get"): {"summary": "Proposed joint inspections", "tags": ["joint"], "responses": _ok(_OBJ)},
    ("api.new_joint_inspection", "post"): {"summary": "Plan a joint inspection", "tags": ["joint"], "parameters": [_ACTOR],
                                           "requestBody": _body(_ref("JointInspection")),
                                           "responses": {**_ok(_OBJ, "created", "201"), "409": {"$ref": "#/components/responses/Error"}}},
    ("api.list_joint_inspections", "get"): {"summary": "Joint inspections with totals", "tags": ["joint"],
                                            "parameters": [_q("status", {"type": "string"}, "planned, completed, cancelled")],
                                            "responses": _ok(_OBJ)},
    ("api.show_joint_inspection", "get"): {"summary": "One joint inspection", "tags": ["joint"], "responses": _ok(_OBJ)},
    ("api.post_positions", "post"): {
        "summary": "A tablet's batch of position fixes", "tags": ["realtime"],
        "security": [{"tabletToken": []}], "requestBody": _body(_ref("PositionBatch")),
        "responses": {**_ok(_OBJ), "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}},
    },
    ("api.command_snapshot", "get"): {"summary": "What the command centre shows, with revs", "tags": ["realtime"],
                                      "responses": _ok(_OBJ)},
    ("api.openapi_document", "get"): {"summary": "This document (OpenAPI 3)", "tags": ["meta"], "responses": _ok(_OBJ)},
    ("api.openapi_docs", "get"): {"summary": "This document rendered as HTML (no external assets)", "tags": ["meta"],
                                  "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}},
}  # fmt: skip


def _openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def sub(match: re.Match) -> str:
        converter, name = match.group(1) or "string", match.group(2)
        schema = {"type": "integer", "minimum": 1} if converter == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _CONVERTER.sub(sub, rule), params


def _generic(view, method: str) -> dict:
    doc = (view.__doc__ or "").strip().splitlines()
    operation = {
        "summary": doc[0] if doc else view.__name__.replace("_", " "),
        "tags": ["oversight" if view.__module__.startswith("dispatch.oversight") else "plans"],
        "description": "Described generically (path, method, JSON answer and error schema).",
        "responses": _ok(_OBJ),
    }
    if method in ("post", "put", "patch"):
        operation["parameters"] = [_ACTOR]
        operation["requestBody"] = _body(_OBJ)
    return operation


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3 document of every /api/v1 route of ``app``."""
    paths: dict[str, dict] = {}
    undocumented = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        path, path_params = _openapi_path(rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            method = method.lower()
            operation = OPERATIONS.get((rule.endpoint, method))
            if operation is None:
                if view.__module__.startswith(GENERIC_MODULES):
                    operation = _generic(view, method)
                else:
                    undocumented.append(f"{method.upper()} {rule.rule}")
                    continue
            operation = {**operation, "operationId": f"{rule.endpoint.replace('.', '_')}_{method}"}
            operation["parameters"] = [
                *path_params,
                *operation.get("parameters", []),
                {"$ref": "#/components/parameters/crs"},
                {"$ref": "#/components/parameters/out_crs"},
            ]
            responses = dict(operation["responses"])
            responses.setdefault("400", {"$ref": "#/components/responses/Error"})
            responses.setdefault("404", {"$ref": "#/components/responses/Error"})
            responses.setdefault("default", {"$ref": "#/components/responses/Error"})
            operation["responses"] = responses
            paths.setdefault(path, {})[method] = operation
    doc = {
        "openapi": "3.0.3",
        "info": {
            "title": "dispatch API",
            "version": "1",
            "description": "Command and dispatch for comprehensive administrative law enforcement. Geometry is "
            "GeoJSON (RFC 7946), WGS84 lon/lat; ?crs=gcj02|bd09 for input, ?out_crs=gcj02|bd09 for output. "
            'Every error is {"error": {"code", "message", "field"?}}.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": {
                "crs": _q(
                    "crs",
                    {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"},
                    "coordinate system of coordinates sent (query lon/lat, GeoJSON in the body)",
                ),
                "out_crs": _q(
                    "out_crs",
                    {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"},
                    "coordinate system of GeoJSON geometries answered (gcj02 for Chinese map SDKs)",
                ),
            },  # fmt: skip
            "responses": {
                "Error": {"description": "an error", "content": {"application/json": {"schema": _ref("Error")}}}
            },
            "securitySchemes": {"tabletToken": {"type": "http", "scheme": "bearer", "description": "a tablet token"}},
        },
    }
    if undocumented:
        doc["x-undocumented"] = undocumented
    return doc


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document of /api/v1."""
    return jsonify(document(current_app))


@bp.get("/docs")
def openapi_docs():
    """The OpenAPI document rendered in the browser, from this page alone."""
    return Response(_DOCS_PAGE.replace("__CSP_NONCE__", csp_nonce()), mimetype="text/html")


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatch API</title><link rel="icon" href="data:,">
<style nonce="__CSP_NONCE__">
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}
details{border:1px solid #ddd;border-radius:4px;margin:.3em 0;padding:.3em .6em}
summary{cursor:pointer} .m{display:inline-block;width:4.5em;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.put{color:#ef6c00}.delete{color:#c62828}
code,pre{font:12px ui-monospace,monospace;background:#f6f6f6} pre{padding:.5em;overflow:auto}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
</style></head><body>
<h1 id="title">dispatch API</h1><p id="intro"></p><div id="ops">loading openapi.json...</div>
<script nonce="__CSP_NONCE__">
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
fetch("openapi.json").then(r => r.json()).then(doc => {
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("intro").textContent = doc.info.description;
  const params = doc.components.parameters, byTag = {};
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
      (byTag[(op.tags || ["other"])[0]] ||= []).push([path, method, op]);
  let html = "";
  for (const [tag, ops] of Object.entries(byTag)) {
    html += `<h2>${esc(tag)}</h2>`;
    for (const [path, method, op] of ops) {
      const rows = (op.parameters || []).map(p => p.$ref ? params[p.$ref.split("/").pop()] : p)
        .map(p => `<tr><td>${esc(p.name)}</td><td>${esc(p.in)}</td><td>${p.required ? "yes" : ""}</td>` +
                  `<td>${esc(JSON.stringify(p.schema))}</td><td>${esc(p.description)}</td></tr>`).join("");
      const body = op.requestBody ? `<p>Body:</p><pre>${esc(JSON.stringify(op.requestBody.content["application/json"].schema, null, 1))}</pre>` : "";
      const answers = Object.entries(op.responses).map(([s, r]) => `${esc(s)} ${esc(r.description || r.$ref || "")}`).join("; ");
      html += `<details><summary><span class="m ${esc(method)}">${esc(method)}</span><code>${esc(path)}</code> ${esc(op.summary)}</summary>` +
              `<table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>meaning</th></tr>${rows}</table>` +
              `${body}<p>Answers: ${answers}</p></details>`;
    }
  }
  html += `<h2>schemas</h2><pre>${esc(JSON.stringify(doc.components.schemas, null, 1))}</pre>`;
  document.getElementById("ops").innerHTML = html;
}).catch(e => { document.getElementById("ops").textContent = "could not load openapi.json: " + e; });
</script></body></html>
"""
