"""Every JSON shape that leaves the server: REST answers, the command centre's snapshot, live
updates and tablet messages alike, so a client reads one form of each thing.

Names follow the API's convention: ``name`` is the Chinese (official) name,
``name_en`` the English one. Every place is a GeoJSON Point ``location`` (RFC 7946,
[lon, lat] in WGS84), never separate ``lon``/``lat`` fields.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import to_shape

from dispatch.states import TRANSITIONS
from dispatch.store.models import Incident, Matter, Task
from gis.clock import local_day
from gis.geojson import to_geojson


def iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def point(lon: float, lat: float) -> dict:
    """A GeoJSON Point from coordinates read in SQL (no shapely object: 0.1 ms on the hot path)."""
    return {"type": "Point", "coordinates": [lon, lat]}


def point_json(value) -> dict | None:
    """A geography/geometry point column value -> GeoJSON Point."""
    return None if value is None else to_geojson(to_shape(value))


def region_ref(region) -> dict:
    return {"code": region.code, "name": region.name_zh, "name_en": region.name_en}


def authority_json(authority) -> dict:
    return {
        "code": authority.code,
        "name": authority.name_zh,
        "name_en": authority.name_en,
        "kind": authority.kind,
        "domain": authority.domain,
    }


def matter_json(matter) -> dict:
    return {
        "code": matter.code,
        "name": matter.name_zh,
        "name_en": matter.name_en,
        "domain": matter.domain,
        "authority_kind": matter.authority_kind,
        "township_held": matter.township_held,
        "joint_domains": list(matter.joint_domains),
        "priority": matter.priority,
        "sla_minutes": matter.sla_minutes,
    }


def zone_json(zone) -> dict:
    return {
        "code": zone.code,
        "name": zone.name_zh,
        "name_en": zone.name_en,
        "hub": region_ref(zone.hub_region),
        "covered": [region_ref(r) for r in sorted(zone.covered_regions, key=lambda r: r.code)],
    }


def squad_summary(
    *,
    id,
    code,
    name_zh,
    name_en,
    force,
    domains,
    scope,
    status,
    authority,
    station_region,
    officers,
    certified_on_duty,
    last_position_at,
) -> dict:
    """The squad as every endpoint shows it (``authority`` = (code, name), ``station_region`` = (code, zh, en))."""
    return {
        "id": id,
        "code": code,
        "name": name_zh,
        "name_en": name_en,
        "force": force,
        "domains": list(domains),
        "scope": scope,
        "status": status,
        "authority": {"code": authority[0], "name": authority[1]},
        "station_region": {"code": station_region[0], "name": station_region[1], "name_en": station_region[2]},
        "officers": officers,
        "certified_on_duty": certified_on_duty,
        "last_position_at": iso(last_position_at),
    }


# The squad's own columns that squad_summary shows, read alike from a SQL row and an ORM squad.
_SQUAD_COLUMNS = ("id", "code", "name_zh", "name_en", "force", "domains", "scope", "status", "last_position_at")


def _squad_columns(squad) -> dict:
    return {name: getattr(squad, name) for name in _SQUAD_COLUMNS}


def squad_from_row(row, authority: tuple, station_region: tuple) -> dict:
    """A squad row read in SQL (its columns, ``officer_counts`` = models.OFFICER_COUNTS_SQL) in the
    shape of ``squad_summary``; ``authority`` and ``station_region`` as there."""
    return squad_summary(
        **_squad_columns(row),
        authority=authority,
        station_region=station_region,
        officers=row.officer_counts[0],
        certified_on_duty=row.officer_counts[1],
    )


def squad_json(squad, today: dt.date | None = None) -> dict:
    """An ORM squad (officers loaded) in the shape of ``squad_summary``."""
    today = today or local_day()
    return squad_summary(
        **_squad_columns(squad),
        authority=(squad.authority.code, squad.authority.name_zh),
        station_region=(squad.station_region.code, squad.station_region.name_zh, squad.station_region.name_en),
        officers=len(squad.officers),
        certified_on_duty=sum(1 for o in squad.officers if o.on_duty and o.certified_on(today)),
    )


# -- incidents and tasks: REST, the command centre's snapshot and live updates alike -------------


def ordered_matters(incident: Incident) -> list[Matter]:
    """The incident's matters, its lead matter (the first it was filed with) first, then by code
    (in SQL: ``models.INCIDENT_MATTERS_ORDER_SQL``)."""
    return sorted(incident.matters, key=lambda m: (m.id != incident.lead_matter_id, m.code))


def incident_summary(incident: Incident) -> dict:
    """The small shape pushed to the command centre."""
    return summary_shape(
        id=incident.id,
        status=incident.status,
        priority=incident.priority,
        location=point_json(incident.location),
        sla_deadline=incident.sla_deadline,
        matters=[m.code for m in ordered_matters(incident)],
        description=incident.description,
        region=incident.region.name_zh if incident.region else None,
    )


def summary_shape(
    *, id: int, status: str, priority: int, location, sla_deadline, matters: list[str], description, region
) -> dict:
    """incident_summary from plain values (the dispatch hot path reads them in SQL)."""
    return {
        "id": id,
        "status": status,
        "priority": priority,
        "location": location,
        "sla_deadline": iso(sla_deadline),
        "matters": matters,
        "description": description,
        "region": region,
    }


def incident_json(incident: Incident) -> dict:
    return {
        "id": incident.id,
        "source": incident.source,
        "external_id": incident.external_id,
        "description": incident.description,
        "address": incident.address,
        "location": point_json(incident.location),
        "matters": [{"code": m.code, "name": m.name_zh, "domain": m.domain} for m in ordered_matters(incident)],
        "region": region_ref(incident.region) if incident.region else None,
        "zone": {"code": incident.zone.code, "name": incident.zone.name_zh} if incident.zone else None,
        "authority": authority_json(incident.authority) if incident.authority else None,
        "priority": incident.priority,
        "status": incident.status,
        "reported_at": iso(incident.reported_at),
        "received_at": iso(incident.received_at),
        "sla_deadline": iso(incident.sla_deadline),
        "dispatched_at": iso(incident.dispatched_at),
        "on_scene_at": iso(incident.on_scene_at),
        "resolved_at": iso(incident.resolved_at),
        "duplicate_of": incident.duplicate_of_id,
        "created_by": incident.created_by,
        "caller": {"name": incident.caller_name, "phone": incident.caller_phone}
        if incident.caller_name or incident.caller_phone
        else None,
        "outcome": incident.outcome,
        "outcome_note": incident.outcome_note,
        "cancel_reason": incident.cancel_reason,
        "closed_at": iso(incident.closed_at),
        "closed_by": incident.closed_by,
        "tasks": [task_json(t) for t in incident.tasks],
    }


def task_json(task: Task) -> dict:
    return {
        "id": task.id,
        "kind": task.kind,
        "incident_id": task.incident_id,
        "joint_inspection_id": task.joint_inspection_id,
        "squad": {"id": task.squad.id, "code": task.squad.code, "name": task.squad.name_zh} if task.squad else None,
        "state": task.state,
        "allowed": list(TRANSITIONS[task.state]),
        "reason": task.reason,
        "created_by": task.created_by,
        "created_at": iso(task.created_at),
        "acknowledged_at": iso(task.acknowledged_at),
        "en_route_at": iso(task.en_route_at),
        "on_scene_at": iso(task.on_scene_at),
        "completed_at": iso(task.completed_at),
        "closed_at": iso(task.closed_at),
        "superseded_by": getattr(task, "superseded_by_id", None),
    }


def position_shape(squad_id: int, lon: float, lat: float, time: dt.datetime, speed, heading) -> dict:
    """A squad's position as the command centre shows it (a live ``position`` update's data)."""
    return {
        "id": squad_id,
        "location": point(round(lon, 6), round(lat, 6)),
        "time": time.isoformat(),
        "speed": speed,
        "heading": heading,
    }


# A squad in the command centre's snapshot, built by PostgreSQL as JSON (10,000 squads: 60 ms
# there against 300 ms of Python dicts): its status with ``rev`` and ``status_since``, its position
# with ``position_rev`` (the fix time in ms, as live position updates carry), its station township
# and zone by code (the snapshot's ``regions`` and ``zones`` name them once), officers on duty and
# certified, the task it holds. Over a row of the snapshot's squad query (dispatch.http.api.realtime).
SNAPSHOT_SQUAD_JSON_SQL = """json_build_object(
    'id', id, 'code', code, 'name', name_zh, 'name_en', name_en, 'force', force, 'domains', domains,
    'status', status, 'status_reason', status_reason, 'status_since', status_since,
    'location', CASE WHEN lon IS NULL THEN NULL
                     ELSE json_build_object('type', 'Point', 'coordinates', json_build_array(lon, lat)) END,
    'last_position_at', last_position_at, 'station_region', region_code, 'zone', zone_code,
    'officers_on_duty', on_duty, 'certified_on_duty', officer_counts[2], 'task_id', task_id,
    'incident_id', incident_id, 'rev', rev,
    'position_rev', CASE WHEN last_position_at IS NULL THEN 0
                         ELSE floor(extract(epoch FROM last_position_at) * 1000)::bigint END)"""


def snapshot_incident(row) -> dict:
    """An open incident in the snapshot: the summary live updates carry, with its ``rev``."""
    return {
        **summary_shape(
            id=row.id,
            status=row.status,
            priority=row.priority,
            location=point(row.lon, row.lat),
            sla_deadline=row.sla_deadline,
            matters=list(row.matters or ()),
            description=row.description,
            region=row.region,
        ),
        "rev": row.rev,
    }
