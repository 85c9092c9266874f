"""HTTP side of real time: batched positions from tablets, and the command centre's snapshot."""

from __future__ import annotations

import datetime as dt

import orjson
from flask import current_app, jsonify, request
from sqlalchemy import text

from dispatch.errors import ApiError
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import json_body, scope_regions
from dispatch.http.auth import current_principal
from dispatch.http.contract import operation
from dispatch.http.contract.common import GeoOnly
from dispatch.http.contract.realtime import PositionBatch, PositionCounts, Snapshot
from dispatch.http.responses import json_response
from dispatch.positions import ingest, parse_batch
from dispatch.shapes import SNAPSHOT_SQUAD_JSON_SQL, snapshot_incident
from dispatch.states import ASSIGNED, QUEUE_STATUSES, sql_list
from dispatch.store.db import db
from dispatch.store.models import INCIDENT_MATTERS_ORDER_SQL, OFFICER_COUNTS_SQL, ON_DUTY_SQL
from dispatch.tablets import squad_for_token
from gis import clock
from gis.clock import local_day


def _tablet_squad() -> int:
    principal = current_principal()
    if principal is not None and principal.kind == "tablet":
        return principal.squad_id  # the auth gate identified the token (dispatch.accounts: remembered 10 s)
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    squad_id = squad_for_token(db.session, token)
    if squad_id is None:
        raise ApiError(
            "a valid tablet token is required (Authorization: Bearer ...)",
            status=401,
            code="unauthorized",
            field="Authorization",
        )
    return squad_id


@bp.post("/squads/<int:squad_id>/positions")
@operation(body=PositionBatch, answers={200: PositionCounts}, errors=(404, 422), tags=["real time"])
def post_positions(squad_id: int):
    """A tablet flushes its offline queue: ``{"fixes": [...]}``, idempotent on each fix id.

    Only the squad's own tablet token (Authorization: Bearer sqt_...); 422 ``time_in_future`` for a
    fix dated more than FIX_MAX_AHEAD_S ahead of the server's clock.
    """
    if _tablet_squad() != squad_id:
        raise ApiError("this token belongs to another squad", status=403, code="forbidden", field="Authorization")
    # the hot path: the body is checked by hand, as PositionBatch declares it (no pydantic per fix)
    fixes = parse_batch(json_body(), max_ahead=dt.timedelta(seconds=current_app.config["FIX_MAX_AHEAD_S"]))
    result = ingest(db.session, squad_id, fixes)
    db.session.commit()
    return jsonify(result)


@bp.get("/command/snapshot")
@operation(query=GeoOnly, answers={200: Snapshot}, tags=["real time"])
def command_snapshot():
    """Everything a command-centre screen shows, with the ``rev`` of each entity.

    A screen subscribes to ``/command`` first, then loads this, then applies
    only updates whose ``rev`` is newer than the one it holds: no gap, no step back.
    Squads and incidents have the shapes live updates carry (``dispatch.shapes``).
    """
    session = db.session
    covered = scope_regions()
    regions = sorted(covered) if covered is not None else None  # a township sees its zone's squads and incidents
    as_of = session.scalar(text("SELECT coalesce(max(id), 0) FROM event"))
    squads = session.execute(
        text(f"""
        WITH plan_zone AS (  -- each township's zone under the plan in force in its county
            SELECT DISTINCT ON (zm.region_id) zm.region_id, z.code, z.name_zh, z.name_en
            FROM zone_member zm JOIN zone z ON z.id = zm.zone_id JOIN coverage_plan p ON p.id = zm.plan_id
            WHERE p.status = 'published' AND p.effective_at <= now()
            ORDER BY zm.region_id, p.effective_at DESC
        ), shown AS (
            SELECT s.id, s.code, s.name_zh, s.name_en, s.force, s.domains, s.status, s.status_reason,
                   ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat,
                   s.last_position_at, r.code AS region_code, r.name_zh AS region_name, r.name_en AS region_name_en,
                   pz.code AS zone_code, pz.name_zh AS zone_name, pz.name_en AS zone_name_en,
                   {OFFICER_COUNTS_SQL} AS officer_counts,
                   (SELECT count(*) FROM officer o WHERE o.squad_id = s.id AND {ON_DUTY_SQL}) AS on_duty,
                   t.id AS task_id, t.incident_id,
                   rev.id AS rev, rev.occurred_at AS status_since
            FROM squad s JOIN region r ON r.id = s.station_region_id
            LEFT JOIN plan_zone pz ON pz.region_id = s.station_region_id
            LEFT JOIN LATERAL (SELECT t.id, t.incident_id FROM task t
                               WHERE t.squad_id = s.id AND t.state IN {sql_list(ASSIGNED)}
                               ORDER BY t.id DESC LIMIT 1) t ON true
            LEFT JOIN LATERAL (SELECT e.id, e.occurred_at FROM event e
                               WHERE e.entity_type = 'squad' AND e.entity_id = s.id
                               ORDER BY e.id DESC LIMIT 1) rev ON true
            WHERE CAST(:regions AS integer[]) IS NULL OR s.station_region_id = ANY(:regions)
        )
        SELECT coalesce((SELECT json_agg({SNAPSHOT_SQUAD_JSON_SQL} ORDER BY id) FROM shown), '[]')::text,
               coalesce((SELECT json_object_agg(region_code, json_build_object(
                            'code', region_code, 'name', region_name, 'name_en', region_name_en))
                         FROM (SELECT DISTINCT region_code, region_name, region_name_en FROM shown) d), '{{}}')::text,
               coalesce((SELECT json_object_agg(zone_code, json_build_object(
                            'code', zone_code, 'name', zone_name, 'name_en', zone_name_en))
                         FROM (SELECT DISTINCT zone_code, zone_name, zone_name_en FROM shown
                               WHERE zone_code IS NOT NULL) d), '{{}}')::text
    """),
        {"regions": regions, "today": local_day(), "now": clock.utc_now()},
    ).one()
    incidents = session.execute(
        text(f"""
        SELECT i.id, i.status, i.priority, i.sla_deadline, i.description, r.name_zh AS region,
               ST_X(i.location::geometry) AS lon, ST_Y(i.location::geometry) AS lat,
               (SELECT array_agg(m.code ORDER BY {INCIDENT_MATTERS_ORDER_SQL}) FROM incident_matter im
                JOIN matter m ON m.id = im.matter_id
                WHERE im.incident_id = i.id) AS matters,
               (SELECT max(e.id) FROM event e WHERE e.entity_type = 'incident' AND e.entity_id = i.id) AS rev
        FROM incident i LEFT JOIN region r ON r.id = i.region_id
        WHERE i.status IN {sql_list(QUEUE_STATUSES)}
          AND (CAST(:regions AS integer[]) IS NULL OR i.region_id = ANY(:regions))
        ORDER BY i.priority, i.sla_deadline
    """),
        {"regions": regions},
    ).all()
    tasks = (
        session.execute(
            text(f"""
        SELECT t.id, t.kind, t.incident_id, t.joint_inspection_id, t.squad_id, t.state,
               (SELECT max(e.id) FROM event e WHERE e.entity_type = 'task' AND e.entity_id = t.id) AS rev
        FROM task t WHERE t.state IN {sql_list(ASSIGNED)}
          AND (CAST(:regions AS integer[]) IS NULL
               OR t.squad_id IN (SELECT id FROM squad WHERE station_region_id = ANY(:regions)))
        ORDER BY t.id
    """),
            {"regions": regions},
        )
        .mappings()
        .all()
    )
    squads_json, stations_json, zones_json = squads  # JSON built by PostgreSQL, passed through
    return json_response(
        {
            "as_of": as_of,
            "regions": orjson.Fragment(stations_json),
            "zones": orjson.Fragment(zones_json),
            "squads": orjson.Fragment(squads_json),
            "incidents": [snapshot_incident(i) for i in incidents],
            "tasks": [dict(t) for t in tasks],
        }
    )
