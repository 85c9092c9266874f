"""JSON shapes of the domain objects, shared by every endpoint that shows them.

Names follow the API's convention: ``name`` is the Chinese (official) name,
``name_en`` the English one.
"""

from __future__ import annotations

import datetime as dt

import orjson
from flask import current_app, jsonify
from geoalchemy2.shape import to_shape

from gis.geojson import to_geojson


def json_response(body):
    """``jsonify(body)`` for a body of plain JSON values (str, int, float, bool, None, lists and
    dicts with str keys), serialised by orjson: the same bytes (compact, UTF-8, a final newline)
    in a tenth of the time. In debug mode Flask's own, which indents."""
    if current_app.debug:
        return jsonify(body)
    return current_app.response_class(orjson.dumps(body) + b"\n", mimetype=current_app.json.mimetype)


def iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


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
    today = today or dt.date.today()
    return squad_summary(
        **_squad_columns(squad),
        authority=(squad.authority.code, squad.authority.name_zh),
        station_region=(squad.station_region.code, squad.station_region.name_zh, squad.station_region.name_en),
        officers=len(squad.officers),
        certified_on_duty=sum(1 for o in squad.officers if o.on_duty and o.certified_on(today)),
    )
