"""JSON shapes of the domain objects, shared by every endpoint that shows them.

Names follow the API's convention: ``name`` is the Chinese (official) name,
``name_en`` the English one.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import to_shape

from gis.geojson import to_geojson


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


def squad_json(squad, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    officers = squad.officers
    return {
        "id": squad.id,
        "code": squad.code,
        "name": squad.name_zh,
        "name_en": squad.name_en,
        "force": squad.force,
        "domains": list(squad.domains),
        "scope": squad.scope,
        "status": squad.status,
        "authority": {"code": squad.authority.code, "name": squad.authority.name_zh},
        "station_region": region_ref(squad.station_region),
        "officers": len(officers),
        "certified_on_duty": sum(1 for o in officers if o.on_duty and o.certified_on(today)),
        "last_position_at": iso(squad.last_position_at),
    }
