"""Record the examples of the OpenAPI document: a Shengsi day walked through the API.

    .venv/bin/python -m tests.record_examples [--out PATH]

A throwaway PostGIS cluster (var/record-examples-<pid>, destroyed at the end) gets the test
template's data (the Shengsi reference data, the oversight bodies and staff, the test tokens);
the app runs in-process (``app.test_client()``, every answer checked against its declaration).
The day, in order, so that every id exists when it is used: a hotline report in Caiyuan is
taken, recommended, dispatched and worked to completion; a second report of it is marked a
duplicate; the market and health departments ask to inspect one guesthouse on Shengshan and
get one joint visit; a planner drafts, checks, saves and schedules a coverage plan; a tablet
posts its fixes; the county bureau opens cases (legal review, a decision, a criminal referral),
asks for assistance, refers a lead, goes through a jurisdiction dispute; the justice bureau
supervises; records are shared; the annual report is read.

Each operation's first successful request and answer are kept, keyed ``"METHOD /path"`` as in
the document, with the path and query parameters sent. Long lists in answers are cut to a few
items and geometries to a few vertices (still valid GeoJSON), so the file stays readable.
A step that answers an error stops the recording (exit 1, nothing written); an operation of the
document that was not walked, or an example its schema refuses, is reported (exit 1, the file
written all the same). No credential is recorded: only bodies, path and query parameters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select

from dispatch import coverage, create_app
from dispatch.config import PROJECT_ROOT
from dispatch.http.contract import EXAMPLES_FILE, document
from dispatch.store.db import db
from dispatch.store.embedded_pg import EmbeddedPostgres
from dispatch.store.models import Officer, Squad
from dispatch.tablets import issue_token
from tests.conftest import TOKENS, load_template, org_token, person_token

CST = dt.timezone(dt.timedelta(hours=8))
LIST_ITEMS = 3  # items kept of a list in an answer
CREDENTIAL_PREFIXES = ("dpt_", "sqt_")  # API tokens, tablet tokens: never in the examples
GEOMETRIES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Who acts (gis/data/shengsi/authorities.yaml, oversight.yaml; tokens of the test template).
DISPATCHER = bearer(TOKENS["dispatcher-test"][1])  # the command centre's dispatcher (admin)
SCHEDULER = bearer(TOKENS["api"][1])  # an integration token naming no organisation
PLANNER = bearer(TOKENS["planner"][1])
BUREAU = bearer(org_token("county-bureau"))  # 嵊泗县综合行政执法局
MARKET = bearer(org_token("dept-market"))
HEALTH = bearer(org_token("dept-health"))
EMERGENCY = bearer(org_token("dept-emergency"))
CULTURE = bearer(org_token("dept-culture"))
COORDINATION = bearer(org_token("shengsi-coordination"))
GOVERNMENT = bearer(org_token("shengsi-gov"))
JUSTICE = bearer(org_token("shengsi-justice"))
POLICE = bearer(org_token("shengsi-police"))
REVIEWER = bearer(person_token("reviewer-cb-wang"))  # the county bureau's legal reviewer, her own token


class StepFailed(RuntimeError):
    pass


class Recorder:
    """Sends the day's requests and keeps each operation's first success."""

    def __init__(self, client):
        self.client = client
        self.examples: dict[str, dict[str, Any]] = {}
        self.steps = 0

    def call(
        self,
        key: str,
        *,
        path: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> Any:
        """``key`` is the operation, ``"POST /api/v1/incidents/{incident_id}/dispatch"``; ``path``
        fills its parameters. Any answer of 400 or more stops the recording."""
        method, template = key.split(" ", 1)
        url = template.format(**(path or {}))
        query = dict(query or {})  # typed as the document declares them (an example of each parameter)
        sent = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in query.items()}
        kwargs: dict[str, Any] = {"headers": headers or DISPATCHER, "query_string": sent}
        if body is not None:
            kwargs["json"] = body
        response = self.client.open(url, method=method, **kwargs)
        self.steps += 1
        answer = response.get_json(silent=True) if response.is_json else None
        if response.status_code >= 400 or (status is not None and response.status_code != status):
            raise StepFailed(
                f"step {self.steps}: {method} {url}{'?' if query else ''}"
                f"{'&'.join(f'{k}={v}' for k, v in sent.items())} answered {response.status_code}"
                f" (expected {status or '2xx'}):\n{json.dumps(answer, ensure_ascii=False, indent=1)[:3000]}"
            )
        if key not in self.examples and answer is not None:
            example: dict[str, Any] = {"status": response.status_code, "answer": answer}
            if body is not None:
                example["request"] = body
            if path:
                example["path"] = dict(path)
            if query:
                example["query"] = query
            self.examples[key] = example
        return answer

    def send(self, key: str, *, path: dict[str, Any], status: int, headers: dict[str, str], **request) -> Any:
        """A request whose body is not JSON (multipart, a chunk of bytes): its answer is kept, not its body."""
        method, template = key.split(" ", 1)
        response = self.client.open(template.format(**path), method=method, headers=headers, **request)
        self.steps += 1
        answer = response.get_json(silent=True) if response.is_json else None
        if response.status_code != status:
            raise StepFailed(f"step {self.steps}: {method} {template.format(**path)} answered "
                             f"{response.status_code} (expected {status}):\n{answer}")  # fmt: skip
        if key not in self.examples and answer is not None:
            self.examples[key] = {"status": response.status_code, "answer": answer, "path": dict(path)}
            if "query_string" in request:
                self.examples[key]["query"] = dict(request["query_string"])
        return answer


# -- trimming ------------------------------------------------------------------------------------


def _ring(ring: list) -> list:
    """A closed ring of at most five positions taken evenly around ``ring`` (still a valid ring)."""
    if len(ring) <= 5:
        return ring
    step = (len(ring) - 1) / 4
    return [ring[round(i * step)] for i in range(4)] + [ring[0]]


def _geometry(kind: str, coordinates: list) -> list:
    if kind in ("MultiPoint", "LineString"):
        return coordinates[:LIST_ITEMS]
    if kind == "MultiLineString":
        return [line[:LIST_ITEMS] for line in coordinates[:2]]
    if kind == "Polygon":
        return [_ring(coordinates[0])] if coordinates else coordinates
    if kind == "MultiPolygon":
        return [[_ring(polygon[0])] for polygon in coordinates[:2]]
    return coordinates


def trim(value: Any) -> Any:
    """Lists cut to LIST_ITEMS items, geometries to a few vertices, all the way down."""
    if isinstance(value, dict):
        if (
            isinstance(value.get("type"), str)
            and value["type"] in GEOMETRIES
            and isinstance(value.get("coordinates"), list)
        ):
            return {**{k: trim(v) for k, v in value.items() if k != "coordinates"},
                    "coordinates": _geometry(value["type"], value["coordinates"])}  # fmt: skip
        return {key: trim(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trim(item) for item in value[:LIST_ITEMS]]
    return value


def _strip_examples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_examples(v) for k, v in value.items() if k != "example"}
    if isinstance(value, list):
        return [_strip_examples(v) for v in value]
    return value


def trim_document(doc: dict) -> dict:
    """The OpenAPI document as its own example: its frame, one operation, two schemas."""
    first_path = next(iter(doc["paths"]))
    schemas = doc["components"].get("schemas", {})
    return {
        **{k: v for k, v in doc.items() if k not in ("paths", "components")},
        "paths": {first_path: _strip_examples(doc["paths"][first_path])},
        "components": {
            **{k: v for k, v in doc["components"].items() if k != "schemas"},
            "schemas": {name: schemas[name] for name in list(schemas)[:2]},
        },
    }


# -- the day ---------------------------------------------------------------------------------------


def ago(**delta) -> str:
    return (dt.datetime.now(CST) - dt.timedelta(**delta)).replace(microsecond=0).isoformat()


def ahead(**delta) -> str:
    return (dt.datetime.now(CST) + dt.timedelta(**delta)).replace(microsecond=0).isoformat()


def _evidence_from_the_scene(rec: Recorder, task_id: dict[str, int], squad: dict[str, str]) -> None:
    """On scene: a photo of the stall in one piece, then a short video in two chunks (resumable)."""
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 16 + b"\xff\xd9"
    rec.send("POST /api/v1/tasks/{task_id}/evidence", path=task_id, status=201, headers=squad,
             content_type="multipart/form-data",
             data={"file": (io.BytesIO(photo), "IMG_20261123_0917.jpg", "image/jpeg"), "occurred_at": ago(minutes=1),
                   "action_id": "0b6c1d3e-5f7a-4b8c-9d0e-1f2a3b4c5d6e"})  # fmt: skip
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
    upload = rec.call(
        "POST /api/v1/tasks/{task_id}/evidence/uploads",
        path=task_id,
        body={
            "size": len(video),
            "sha256": hashlib.sha256(video).hexdigest(),
            "media_type": "video/mp4",
            "occurred_at": ago(seconds=50),
            "file_name": "VID_20261123_0918.mp4",
            "action_id": "7e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        },  # fmt: skip
        headers=squad,
        status=201,
    )
    where = {**task_id, "upload_id": upload["id"]}
    half = len(video) // 2
    rec.send("PATCH /api/v1/tasks/{task_id}/evidence/uploads/{upload_id}", path=where, status=200,
             headers=squad, query_string={"offset": 0}, data=video[:half],
             content_type="application/offset+octet-stream")  # fmt: skip
    rec.call("GET /api/v1/tasks/{task_id}/evidence/uploads/{upload_id}", path=where, headers=squad)
    done = rec.send("PATCH /api/v1/tasks/{task_id}/evidence/uploads/{upload_id}", path=where, status=201,
                    headers=squad, query_string={"offset": half}, data=video[half:],
                    content_type="application/offset+octet-stream")  # fmt: skip
    rec.call("GET /api/v1/evidence/{sha256}", path={"sha256": done["evidence"]["sha256"]},
             headers={**squad, "Accept": "application/json"})  # fmt: skip


def walk_the_day(rec: Recorder, app) -> None:
    call = rec.call
    with app.app_context():
        squads = {code: squad_id for code, squad_id in db.session.execute(select(Squad.code, Squad.id))}
        officers = {name: officer_id for name, officer_id in db.session.execute(select(Officer.name, Officer.id))}
        _, tablet_token = issue_token(db.session, squads["cb-caiyuan"], label="菜园中队 1号平板")
        db.session.commit()
        db.session.remove()
    tablet = bearer(tablet_token)

    # The reference a client reads first.
    call("GET /api/v1/health")
    call("GET /api/v1/openapi.json")
    call("GET /api/v1/regions")
    call("GET /api/v1/zones")
    call("GET /api/v1/squads")
    call("GET /api/v1/matters")
    call("GET /api/v1/jurisdiction", query={"lon": 122.452, "lat": 30.728})
    # The catalogue's versions; the planner publishes next month's adjustment (seed 004 art. 5).
    versions = call("GET /api/v1/catalogue/versions")["versions"]
    current = call("GET /api/v1/catalogue/versions/{version_id}", path={"version_id": versions[0]["id"]})
    adjusted = [{k: m[k] for k in ("code", "name_en", "domain", "authority_kind", "township_held", "joint_domains",
                                   "priority", "sla_minutes")} | {"name_zh": m["name"]}
                for m in current["matters"]]  # fmt: skip
    adjusted.append({"code": "CM-900", "name_zh": "对违规设置海上养殖浮球的行政处罚",
                     "name_en": "Unlawful aquaculture floats", "domain": "comprehensive",
                     "authority_kind": "county_bureau", "priority": 2, "sla_minutes": 90})  # fmt: skip
    call("POST /api/v1/catalogue/versions", headers=PLANNER, status=201, body={
        "effective_from": ahead(days=30)[:10], "source": "嵊泗县人民政府关于调整综合行政执法事项目录的通知",
        "matters": adjusted})  # fmt: skip

    # 08:40 a 12345 hotline report: a seafood stall on the pavement of Caiyuan's harbour road.
    report = {
        "source": "hotline_12345",
        "external_id": "12345-20261123-0417",
        "matters": ["CM-001"],
        "location": {"type": "Point", "coordinates": [122.4523, 30.7281]},
        "address": "嵊泗县菜园镇沙河路海鲜排档门口",
        "description": "群众反映海鲜排档在人行道上摆放桌椅占道经营,影响行人通行",
        "reported_at": ago(minutes=25),
    }
    incident = call("POST /api/v1/incidents", body=report, status=201)
    incident_id = {"incident_id": incident["id"]}
    call("GET /api/v1/incidents", query={"status": "open", "limit": 20})
    call("GET /api/v1/incidents/{incident_id}", path=incident_id)
    ranked = call("GET /api/v1/incidents/{incident_id}/recommendations", path=incident_id, query={"limit": 3})
    first = ranked["recommendations"][0]["squad"]["id"]
    dispatched = call(
        "POST /api/v1/incidents/{incident_id}/dispatch",
        path=incident_id,
        body={"squad_ids": [first], "note": "请尽快到场劝导,拍照取证"},
        status=201,
    )
    task_id = {"task_id": dispatched["tasks"][0]["id"]}
    call("POST /api/v1/tasks/{task_id}/transition", path=task_id, body={"to": "acknowledged"})
    call("POST /api/v1/tasks/{task_id}/transition", path=task_id, body={"to": "en_route"})
    call("GET /api/v1/tasks/{task_id}", path=task_id)
    call("GET /api/v1/tasks/{task_id}/route", path=task_id)  # the way the tablet draws
    call("POST /api/v1/tasks/{task_id}/transition", path=task_id, body={"to": "on_scene"})
    _evidence_from_the_scene(rec, task_id, tablet if dispatched["tasks"][0]["squad"]["id"] == squads["cb-caiyuan"]
                             else DISPATCHER)  # fmt: skip
    call("POST /api/v1/tasks/{task_id}/transition", path=task_id, body={"to": "completed"})
    call("GET /api/v1/incidents/{incident_id}/events", path=incident_id)

    # The same stall reported again from the street: marked a duplicate of the first report.
    again = call(
        "POST /api/v1/incidents",
        body={
            "source": "hotline_12345",
            "matters": ["CM-001"],
            "location": {"type": "Point", "coordinates": [122.4526, 30.7283]},
            "description": "沙河路有排档占用人行道",
            "reported_at": ago(minutes=15),
        },
        status=201,
    )
    call(
        "POST /api/v1/incidents/{incident_id}/duplicate",
        path={"incident_id": again["id"]},
        body={"of": incident["id"]},
    )

    # It was a different stall after all; then the caller withdraws it; a week-end check reopens it.
    call("POST /api/v1/incidents/{incident_id}/undo-duplicate", path={"incident_id": again["id"]},
         body={"reason": "核实为隔壁另一家排档"})  # fmt: skip
    call("POST /api/v1/incidents/{incident_id}/cancel", path={"incident_id": again["id"]},
         body={"reason": "来电人撤回：排档已自行收摊"})  # fmt: skip
    call("POST /api/v1/incidents/{incident_id}/reopen", path={"incident_id": again["id"]},
         body={"reason": "巡查发现排档再次占道"})  # fmt: skip
    # The first report's work is done: closed with its outcome.
    call("POST /api/v1/incidents/{incident_id}/close", path=incident_id,
         body={"outcome": "rectified", "note": "经劝导，店主已将桌椅收回店内，现场拍照存档"})  # fmt: skip

    # A call-taker checks a call before filing it: it repeats the open one, so it is attached to it.
    call_body = {
        "source": "hotline_12345",
        "matters": ["CM-001"],
        "location": {"type": "Point", "coordinates": [122.4527, 30.7282]},
        "description": "沙河路排档又把桌椅摆到人行道上了",
        "reported_at": ago(minutes=2),
        "caller": {"name": "王先生", "phone": "138****5678"},
    }
    call("POST /api/v1/incidents/preview", body=call_body)
    call("POST /api/v1/incidents/{incident_id}/calls", path={"incident_id": again["id"]},
         body={key: call_body[key] for key in ("source", "description", "reported_at", "caller")}, status=201)  # fmt: skip

    # Shengshan: the Ma'an hub's squad goes, which leaves Gouqi and Huaniao beyond reach.
    harbour = call(
        "POST /api/v1/incidents",
        body={
            "source": "patrol",
            "matters": ["CM-001"],
            "location": {"type": "Point", "coordinates": [122.8152, 30.7163]},
            "description": "嵊山镇箱子岙码头渔具占道堆放",
            "reported_at": ago(minutes=5),
        },
        status=201,
    )
    hub_task = call("POST /api/v1/incidents/{incident_id}/dispatch", path={"incident_id": harbour["id"]},
                    body={"squad_ids": [squads["cb-shengshan"]]}, status=201)["tasks"][0]  # fmt: skip
    with app.app_context():  # what the server's coverage feed does after the dispatch
        coverage.update_for_squads(db.session, [squads["cb-shengshan"]], app.config)
        db.session.commit()
        db.session.remove()
    call("GET /api/v1/coverage")
    raised = call("GET /api/v1/alerts", query={"status": "open", "limit": 20})["alerts"]
    uncovered = next(a for a in raised if a["kind"] == "township_uncovered")
    call("POST /api/v1/alerts/{alert_id}/ack", path={"alert_id": uncovered["id"]})
    # The dispatcher sends the Wulong squad instead and keeps the hub at home.
    call("POST /api/v1/tasks/{task_id}/reassign", path={"task_id": hub_task["id"]},
         body={"squad_id": squads["cb-wulong"], "note": "嵊山中队留守片区"}, status=201)  # fmt: skip

    # The tablet of the Caiyuan squadron flushes its queue of fixes on its way back.
    fixes = [
        {"id": "cy-0917-01", "lon": 122.4531, "lat": 30.7279, "time": ago(minutes=4), "accuracy": 8},
        {"id": "cy-0917-02", "lon": 122.4527, "lat": 30.7273, "time": ago(minutes=2), "accuracy": 6},
    ]
    call(
        "POST /api/v1/squads/{squad_id}/positions",
        path={"squad_id": squads["cb-caiyuan"]},
        body={"fixes": fixes},
        headers=tablet,
    )
    call("GET /api/v1/command/snapshot")
    call("GET /api/v1/tablet/tasks", headers=tablet)  # its work, as a second device restores it

    # Inspect once: the market and health departments both mean to inspect one guesthouse.
    guesthouse = {
        "name": "嵊山镇海景民宿",
        "business_id": "91330922MA2A0B1C2D",
        "location": {"type": "Point", "coordinates": [122.812, 30.722]},
    }
    start = dt.datetime.now(CST).replace(microsecond=0) + dt.timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + dt.timedelta(days=7)).isoformat()}
    for authority, purpose in (("dept-market", "食品经营年度检查"), ("dept-health", "公共场所卫生年度检查")):
        call(
            "POST /api/v1/inspection-requests",
            body={"authority": authority, "target": guesthouse, "window": window, "purpose": purpose},
            status=201,
        )
    call("GET /api/v1/inspection-requests", query={"status": "pending"})
    proposals = call("GET /api/v1/joint-inspections/proposals")["proposals"]
    proposal = next(p for p in proposals if p["reason"] == "pending_requests")
    payload = {key: proposal[key] for key in ("target", "slot", "squad_ids", "lead_squad_id", "request_ids")}
    payload["domains"] = proposal["domains"]
    joint = call("POST /api/v1/joint-inspections", body=payload, status=201)
    call("GET /api/v1/joint-inspections")
    call("GET /api/v1/joint-inspections/{joint_id}", path={"joint_id": joint["id"]})

    # A planner drafts next year's coverage plan: Huaniao becomes a zone of its own.
    plan = call("POST /api/v1/plans", body={}, headers=PLANNER, status=201)
    plan_id = {"plan_id": plan["id"]}
    call("GET /api/v1/plans", headers=PLANNER)
    call("GET /api/v1/plans/{plan_id}", path=plan_id, headers=PLANNER)
    zones = []
    for zone in plan["zones"]:
        edit = {k: zone[k] for k in ("code", "name", "name_en", "hub", "members")}
        if zone["drawn"]:
            edit["geometry"] = zone["geometry"]
        if zone["code"] == "maan":
            edit["members"] = [m for m in zone["members"] if m != "330922203"]
        zones.append(edit)
    call("POST /api/v1/plans/{plan_id}/validate", path=plan_id, body={"zones": zones}, headers=PLANNER)
    zones.append({"code": "huaniao", "name": "花鸟片区", "name_en": "Huaniao zone", "hub": "330922203",
                  "members": ["330922203"]})  # fmt: skip
    saved = call(
        "PUT /api/v1/plans/{plan_id}",
        path=plan_id,
        body={"version": plan["version"], "zones": zones},
        headers=PLANNER,
    )
    call("GET /api/v1/plans/{plan_id}/compare", path=plan_id, headers=PLANNER)
    call(
        "POST /api/v1/plans/{plan_id}/publish",
        path=plan_id,
        body={"version": saved["version"], "effective_at": ahead(days=30)},
        headers=PLANNER,
    )

    # The duty roster: the Shengshan squad's day shift, one officer's own, the week read back; a
    # roster file checked; the maritime squad's boat breaks down and is repaired; a certificate
    # suspended by the bureau's decision, then lifted.
    call("POST /api/v1/shifts", body={"squad_id": squads["cb-shengshan"], "start": ago(hours=2), "end": ahead(hours=10),
                                      "role": "白班"}, status=201)  # fmt: skip
    own = call("POST /api/v1/shifts", body={"officer_id": officers["史晓燕"], "start": ahead(days=2),
                                            "end": ahead(days=2, hours=12), "role": "带班"}, status=201)  # fmt: skip
    call("GET /api/v1/shifts", query={"from": ago(days=1), "to": ahead(days=6), "squads": True})
    call("DELETE /api/v1/shifts/{shift_id}", path={"shift_id": own["id"]})
    roster_csv = (
        "squad,officer,start,end,role\n"
        "cb-wulong,,2026-12-21 08:00,2026-12-21 20:00,白班\n"
        "cb-wulong,,2026-12-21 20:00,2026-12-22 08:00,夜班\n"
    )
    call("POST /api/v1/shifts/import", body={"csv": roster_csv, "dry_run": True})
    call("PUT /api/v1/squads/{squad_id}/status", path={"squad_id": squads["ma-county"]},
         body={"status": "out_of_service", "reason": "vessel_fault"})  # fmt: skip
    call("PUT /api/v1/squads/{squad_id}/status", path={"squad_id": squads["ma-county"]}, body={"status": "available"})
    suspension = call(
        "POST /api/v1/officers/{officer_id}/certificate-actions",
        path={"officer_id": officers["史晓燕"]},
        body={"kind": "suspension", "end": ahead(days=30), "document": "嵊综执〔2026〕12号 暂扣执法证决定书",
              "reason": "执法过程未按规定全程记录"},
        status=201,
    )  # fmt: skip
    call("GET /api/v1/officers/{officer_id}/certificate-actions", path={"officer_id": officers["史晓燕"]})
    call("POST /api/v1/certificate-actions/{action_id}/lift", path={"action_id": suspension["id"]},
         body={"document": "嵊综执〔2026〕15号 恢复执法证决定书"})  # fmt: skip

    # A gale warning: the ferries to Huaniao stop for the afternoon; lifted when the wind drops.
    call("GET /api/v1/transport/network")
    gale = {
        "scope": "pier",
        "pier": "huaniao",
        "vessels": ["ferry", "boat"],
        "from": ahead(hours=1),
        "until": ahead(hours=6),
        "reason": {"kind": "wind", "wind_force": 8, "text": "县气象台大风橙色预警，花鸟码头停航"},
    }
    suspension = call("POST /api/v1/transport/suspensions", body=gale, status=201)
    call("GET /api/v1/transport/suspensions")
    call("DELETE /api/v1/transport/suspensions/{suspension_id}", path={"suspension_id": suspension["id"]})
    call("POST /api/v1/transport/timetables/reload", body={"dataset": "shengsi"}, headers=SCHEDULER)

    # The county bureau's cases: a major penalty passes legal review first.
    case_body = {
        "authority": "county-bureau",
        "matter": "CM-001",
        "incident_id": incident["id"],
        "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"},
        "summary": "占用人行道经营海鲜排档,经责令改正拒不改正",
        "major": True,
        "enforcer_ids": [officers["许海峰"], officers["胡思远"]],
        "assistant_ids": [officers["林伟东"]],
    }
    case = call("POST /api/v1/cases", body=case_body, headers=BUREAU, status=201)
    case_id = {"case_id": case["id"]}
    notice = b"%PDF-1.4\n% scanned notice\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
    rec.send("POST /api/v1/cases/{case_id}/evidence", path=case_id, status=201, headers=BUREAU,
             content_type="multipart/form-data",
             data={"file": (io.BytesIO(notice), "责令改正通知书.pdf", "application/pdf"), "occurred_at": ago(hours=2)})  # fmt: skip
    review = call(
        "POST /api/v1/cases/{case_id}/legal-reviews",
        path=case_id,
        body={"proposed_decision": "拟责令改正,罚款二万元"},
        headers=BUREAU,
        status=201,
    )
    call(
        "POST /api/v1/legal-reviews/{review_id}/outcome",
        path={"review_id": review["id"]},
        body={"outcome": "passed", "reasons": "事实清楚,证据确凿,适用依据正确,程序合法"},
        headers=REVIEWER,
    )
    penalty = call(
        "POST /api/v1/cases/{case_id}/decisions",
        path=case_id,
        body={"number": "嵊综执罚决字〔2026〕第1号", "content": "责令改正,罚款二万元", "fine_yuan": 20000},
        headers=BUREAU,
        status=201,
    )
    call("GET /api/v1/cases/{case_id}", path=case_id, headers=BUREAU)

    # Another stall's case looks like illegal business on a criminal scale: transferred to the police.
    second = call(
        "POST /api/v1/cases",
        body={
            **case_body,
            "major": False,
            "incident_id": again["id"],
            "assistant_ids": [],
            "party": {"name": "嵊泗某某水产商行"},
            "summary": "无证经营水产品,经营额巨大",
        },  # fmt: skip
        headers=BUREAU,
        status=201,
    )
    referral = call(
        "POST /api/v1/cases/{case_id}/criminal-referrals",
        path={"case_id": second["id"]},
        body={"to": "shengsi-police", "suspected_offence": "非法经营罪"},
        headers=BUREAU,
        status=201,
    )
    call(
        "POST /api/v1/criminal-referrals/{referral_id}/status",
        path={"referral_id": referral["id"]},
        body={"to": "accepted", "note": "已立案侦查"},
        headers=POLICE,
    )
    call("GET /api/v1/criminal-referrals", query={"status": "accepted"}, headers=BUREAU)
    call("GET /api/v1/criminal-referrals/{referral_id}", path={"referral_id": referral["id"]}, headers=BUREAU)

    # Assistance: the bureau asks the market department for a quality opinion, urgently.
    question = {"to": "dept-market", "question": "请对抽检的散装白酒出具质量检验意见", "urgent": True}
    assistance = call("POST /api/v1/assistance-requests", body=question, headers=BUREAU, status=201)
    assistance_id = {"request_id": assistance["id"]}
    call(
        "POST /api/v1/assistance-requests/{request_id}/on-site",
        path=assistance_id,
        body={"officers": "李明、王强"},
        headers=MARKET,
    )
    call(
        "POST /api/v1/assistance-requests/{request_id}/extend",
        path=assistance_id,
        body={"until": (dt.date.today() + dt.timedelta(days=20)).isoformat(), "reason": "需送省级机构检测"},
        headers=MARKET,
    )
    call("GET /api/v1/assistance-requests", headers=BUREAU)
    call(
        "POST /api/v1/assistance-requests/{request_id}/answer",
        path=assistance_id,
        body={"opinion": "经检验,甲醇含量超标", "evidence": ["检验报告 ZJ-2026-0012"]},
        headers=MARKET,
    )

    # A lead found on patrol goes to the competent department; an old one is escalated.
    lead = {"to": "dept-emergency", "matter": "EM-001", "summary": "巡查发现某加油站违规储存危险化学品"}
    referred = call("POST /api/v1/referrals", body=lead, headers=BUREAU, status=201)
    call(
        "POST /api/v1/referrals",
        body={**lead, "summary": "巡查发现渔港码头违规堆放液化气钢瓶", "referred_at": ago(hours=30)},
        headers=BUREAU,
        status=201,
    )
    call("POST /api/v1/referrals/escalate-overdue", headers=SCHEDULER)
    call("GET /api/v1/referrals", headers=BUREAU)
    call(
        "POST /api/v1/referrals/{referral_id}/response",
        path={"referral_id": referred["id"]},
        body={"action": "acting", "note": "已派员查处"},
        headers=EMERGENCY,
    )

    # A jurisdiction dispute over tents on Jihu beach, from negotiation to the government's decision.
    beach = call(
        "POST /api/v1/incidents",
        body={
            "source": "patrol",
            "matters": ["CM-001"],
            "location": {"type": "Point", "coordinates": [122.4676, 30.7155]},
            "description": "基湖沙滩有人违规搭建帐篷出租经营",
            "reported_at": ago(hours=2),
        },
        status=201,
    )
    dispute = call(
        "POST /api/v1/disputes",
        body={
            "party_a": "county-bureau",
            "party_b": "dept-culture",
            "incident_id": beach["id"],
            "subject": "基湖沙滩帐篷经营管辖争议",
            "provisional_squad_id": squads["cb-caiyuan"],
        },
        headers=BUREAU,
        status=201,
    )
    dispute_id = {"dispute_id": dispute["id"]}
    points = [
        {
            "point": "海滩违规搭建经营帐篷由谁查处",
            "view_a": "属城市管理范畴,由综合执法局查处",
            "basis_a": "《浙江省综合行政执法事项统一目录》",
            "view_b": "属旅游经营活动,由文广旅体局查处",
            "basis_b": "《旅行社条例》第四十六条",
        }
    ]
    step = "POST /api/v1/disputes/{dispute_id}/steps"
    call(step, path=dispute_id, body={"step": "request", "points": points}, headers=CULTURE)
    call("GET /api/v1/disputes", query={"open": True}, headers=BUREAU)
    call(step, path=dispute_id, body={"step": "coordinate", "opinion": "建议由综合执法局查处", "agreed": False},
         headers=COORDINATION)  # fmt: skip
    call(step, path=dispute_id, body={"step": "consult", "opinion": "会商意见:由综合执法局查处", "accepted": False},
         headers=COORDINATION)  # fmt: skip
    call(step, path=dispute_id, body={"step": "decide", "decision": "县政府决定由综合执法局查处",
                                      "competent_authority": "county-bureau"}, headers=GOVERNMENT)  # fmt: skip
    call("GET /api/v1/disputes/{dispute_id}", path=dispute_id, headers=BUREAU)

    # The justice bureau supervises: a visit, then a notice on the decided case.
    call("GET /api/v1/oversight-staff", headers=JUSTICE)
    call(
        "POST /api/v1/supervision-visits",
        body={"authority": "county-bureau", "method": "case_file_review", "on_site": True,
              "findings": "抽查案卷10件,1件处罚决定未载明法律依据", "supervisors": ["supervisor-zhao", "supervisor-qian"]},
        headers=JUSTICE,
        status=201,
    )  # fmt: skip
    notice = call(
        "POST /api/v1/supervision-notices",
        body={
            "authority": "county-bureau",
            "method": "individual_case",
            "problem": "处罚决定未载明法律依据",
            "required_action": "补正法律依据并重新送达",
            "case_ids": [case["id"]],
        },
        headers=JUSTICE,
        status=201,
    )
    notice_id = {"notice_id": notice["id"]}
    call(
        "POST /api/v1/supervision-notices/{notice_id}/response",
        path=notice_id,
        body={"response": "已补正法律依据"},
        headers=BUREAU,
    )
    call(
        "POST /api/v1/supervision-notices/{notice_id}/review",
        path=notice_id,
        body={"accepted": False, "note": "补正后未重新送达当事人"},
        headers=JUSTICE,
    )
    call(
        "POST /api/v1/supervision-notices/{notice_id}/decisions",
        path=notice_id,
        body={"action": "revoke", "ground": "no_legal_basis", "content": "撤销该处罚决定",
              "penalty_decision_id": penalty["id"]},
        headers=GOVERNMENT,
        status=201,
    )  # fmt: skip
    call("GET /api/v1/supervision-notices", headers=JUSTICE)
    call("GET /api/v1/supervision-notices/{notice_id}", path=notice_id, headers=JUSTICE)

    # Officers' certificates and training hours.
    call(
        "POST /api/v1/officers/{officer_id}/training",
        path={"officer_id": officers["许海峰"]},
        body={"taken_on": dt.date.today().replace(day=1).isoformat(), "hours": 8, "course": "行政处罚法专题"},
        headers=BUREAU,
        status=201,
    )
    call("GET /api/v1/training", query={"year": dt.date.today().year, "under": True}, headers=BUREAU)
    call("GET /api/v1/certificates", query={"within_days": 0}, headers=BUREAU)

    # Sharing: the market department shares a licence; the bureau reads the market department's feed.
    call(
        "POST /api/v1/sharing/records",
        body={
            "kind": "licence",
            "authority": "dept-market",
            "title": "食品经营许可证 JY13309220001234",
            "party": {"name": "嵊泗某某海鲜排档", "business_id": "91330922MA2B3C4D5E"},
            "domains": ["market_supervision"],
            "data": {"licence_no": "JY13309220001234", "valid_until": "2031-11-22"},
        },
        headers=MARKET,
        status=201,
    )
    call("GET /api/v1/sharing/feed", query={"department": "dept-market"}, headers=MARKET)

    # A joint meeting (seed 000 §2.2): its minutes' decisions become tasks; the owner reports back.
    meeting = call(
        "POST /api/v1/meetings",
        body={
            "kind": "regular",
            "title": "综合执法协调联动联席会议",
            "held_at": ago(days=3),
            "convenor": "county-bureau",
            "participants": ["dept-market", "dept-emergency"],
            "agenda": "研究海鲜排档占道经营和燃气安全整治",
            "minutes": "一、市场监管局排查海鲜排档证照;二、应急管理局核查液化气钢瓶。",
        },
        headers=BUREAU,
        status=201,
    )
    meeting_id = {"meeting_id": meeting["id"]}
    meeting_task = call(
        "POST /api/v1/meetings/{meeting_id}/tasks",
        path=meeting_id,
        body={"decision": "排查海鲜排档证照", "owner": "dept-market", "person": "王科长", "working_days": 5},
        headers=BUREAU,
        status=201,
    )
    call("GET /api/v1/meetings/{meeting_id}/tasks", path=meeting_id, headers=BUREAU)
    call(
        "POST /api/v1/meetings/{meeting_id}/tasks/{task_id}/feedback",
        path={**meeting_id, "task_id": meeting_task["id"]},
        body={"feedback": "已排查32家,3家证照过期,已责令整改"},
        headers=MARKET,
    )
    call("GET /api/v1/meetings", headers=BUREAU)
    call("GET /api/v1/meetings/{meeting_id}", path=meeting_id, headers=BUREAU)

    # An inspect-once campaign (seed 001 §3.3.2): a target, every department's findings in one visit, a check.
    campaign = call(
        "POST /api/v1/campaigns",
        body={
            "title": "菜园镇海鲜排档“综合查一次”专项行动",
            "plan": "市场监管、应急管理、综合执法同日入户,一次检查证照、燃气安全和占道经营",
            "lead": "county-bureau",
            "departments": ["dept-market", "dept-emergency"],
            "regions": ["330922100"],
            "industry": "餐饮",
            "starts_on": (dt.date.today() - dt.timedelta(days=5)).isoformat(),
            "ends_on": (dt.date.today() + dt.timedelta(days=25)).isoformat(),
        },
        headers=BUREAU,
        status=201,
    )
    campaign_id = {"campaign_id": campaign["id"]}
    target = call(
        "POST /api/v1/campaigns/{campaign_id}/targets",
        path=campaign_id,
        body={
            "name": "嵊泗某某海鲜排档",
            "business_id": "91330922MA2B3C4D5E",
            "address": "菜园镇沙河路",
            "location": {"type": "Point", "coordinates": [122.452, 30.725]},
        },
        headers=BUREAU,
        status=201,
    )
    visit = call(
        "POST /api/v1/campaigns/{campaign_id}/findings",
        path=campaign_id,
        body={
            "target_id": target["id"],
            "visited_at": ago(hours=2),
            "findings": [
                {"authority": "county-bureau", "result": "compliant", "note": "未发现占道经营"},
                {
                    "authority": "dept-market",
                    "result": "violation",
                    "note": "食品经营许可证过期",
                    "rectify_by": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
                },
                {"authority": "dept-emergency", "result": "compliant", "note": "钢瓶检验合格"},
            ],
        },
        headers=BUREAU,
        status=201,
    )
    violation = next(f for f in visit["findings"] if f["result"] == "violation")
    call(
        "POST /api/v1/campaigns/{campaign_id}/findings/{finding_id}/check",
        path={**campaign_id, "finding_id": violation["id"]},
        body={"rectified": True, "note": "已补办食品经营许可证"},
        headers=MARKET,
    )
    call("GET /api/v1/campaigns/{campaign_id}/targets", path=campaign_id, headers=BUREAU)
    call("GET /api/v1/campaigns", headers=BUREAU)
    call("GET /api/v1/campaigns/{campaign_id}", path=campaign_id, headers=BUREAU)

    # The year's figures.
    call("GET /api/v1/reports/annual", query={"year": dt.date.today().year}, headers=JUSTICE)


# -- checks and the file -------------------------------------------------------------------------------


def _operations(doc: dict) -> dict[str, dict]:
    return {f"{method.upper()} {path}": op for path, item in doc["paths"].items() for method, op in item.items()}


def check(examples: dict[str, dict], doc: dict) -> list[str]:
    """Each example against its operation's schemas (JSON Schema 2020-12, as OpenAPI 3.1 says)."""
    problems = []

    def validate(key: str, what: str, instance: Any, schema: dict) -> None:
        validator = Draft202012Validator(
            {**schema, "components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        for error in list(validator.iter_errors(instance))[:1]:
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{key}: the example {what} breaks its schema at /{where}: {error.message[:200]}")

    for key, op in _operations(doc).items():
        example = examples.get(key)
        if example is None:
            continue
        if "request" in example and "requestBody" in op:
            validate(key, "request", example["request"], op["requestBody"]["content"]["application/json"]["schema"])
        for param in op.get("parameters", []):
            given = example.get(param["in"], {})
            if param["name"] in given:
                validate(key, f"{param['in']} parameter {param['name']}", given[param["name"]], param["schema"])
        answer = op["responses"].get(str(example["status"]), {})
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            problems.append(f"{key}: the document declares no JSON answer {example['status']}")
        else:
            validate(key, f"answer ({example['status']})", example["answer"], schema)
    return problems


def record(out: Path) -> int:
    folder = PROJECT_ROOT / "var" / f"record-examples-{os.getpid()}"
    cluster = EmbeddedPostgres(folder, fsync=False, database="examples")
    cluster.start()
    try:
        url = load_template(cluster.url("examples"))
        app = create_app({
            "TESTING": True, "DATABASE_URL": url, "DATA_DIR": folder, "INTAKE_RATE_PER_MINUTE": 100000,
            "CHECK_ANSWERS": True,
        })  # fmt: skip
        recorder = Recorder(app.test_client())
        try:
            walk_the_day(recorder, app)
        except StepFailed as failure:
            print(f"record_examples: FAILED, nothing written.\n{failure}", file=sys.stderr)
            return 1
        finally:
            with app.app_context():
                db.session.remove()
                db.dispose()
        doc = document(app)
    finally:
        cluster.destroy()

    examples = {key: {**example, "answer": trim(example["answer"])} for key, example in recorder.examples.items()}
    if "GET /api/v1/openapi.json" in examples:
        examples["GET /api/v1/openapi.json"]["answer"] = trim_document(
            recorder.examples["GET /api/v1/openapi.json"]["answer"]
        )
    text = json.dumps(examples, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    leaked = [prefix for prefix in CREDENTIAL_PREFIXES if prefix in text]
    if leaked:
        print(
            f"record_examples: FAILED, a credential ({leaked[0]}...) is in the examples; nothing written.",
            file=sys.stderr,
        )
        return 1
    out.write_text(text, encoding="utf-8")

    operations = _operations(doc)
    missing = sorted(set(operations) - set(examples))
    extra = sorted(set(examples) - set(operations))
    problems = check(examples, doc)
    print(f"record_examples: {recorder.steps} requests, {len(examples)} operations recorded, "
          f"{len(text.encode()) // 1024} KB written to {out}")  # fmt: skip
    print(f"  {len(operations) - len(missing)} of the document's {len(operations)} operations have an example")
    for key in missing:
        print(f"  NOT RECORDED (in the document, not walked): {key}")
    for key in extra:
        print(f"  recorded, not (yet) in the document: {key}")
    for problem in problems:
        print(f"  INVALID: {problem}")
    return 1 if missing or problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=EXAMPLES_FILE, help=f"where to write (default {EXAMPLES_FILE})")
    return record(parser.parse_args(argv).out)


if __name__ == "__main__":
    sys.exit(main())
