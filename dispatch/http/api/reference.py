"""Health, the reference layers (regions, zones, squads, matters) and jurisdiction."""

from __future__ import annotations

import json

import orjson
from flask import jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dispatch.errors import ApiError
from dispatch.http import crs_params
from dispatch.http.api.blueprint import bp
from dispatch.http.contract import operation
from dispatch.http.contract.common import GeoOnly, Plain
from dispatch.http.contract.incidents import Jurisdiction
from dispatch.http.contract.reference import (
    Health,
    JurisdictionQuery,
    Matters,
    Regions,
    Squads,
    ZoneQuery,
    Zones,
)
from dispatch.http.responses import json_response
from dispatch.jurisdiction import effective_plan, jurisdiction_at
from dispatch.oversight.calendar import calendar_status
from dispatch.shapes import matter_json, region_ref, squad_json, zone_json
from dispatch.store.db import db
from dispatch.store.models import CoveragePlan, Matter, Region, Squad, Zone, ZoneMember
from gis.clock import local_day
from gis.geojson import feature, feature_collection

crs_params.init_blueprint(bp)  # ?crs= / ?out_crs= on every /api/v1 route (Chinese coordinate systems)


def _geojson(column):
    return func.ST_AsGeoJSON(column, 6)


@bp.get("/health")
@operation(answers={200: Health}, tags=["reference"], public=True)
def health():
    """Liveness plus the PostGIS version (a failing database answers 503), and the holiday
    calendar's horizon, with a warning while it is under 60 days away (dispatch.oversight.calendar)."""
    version = db.postgis_version()
    return jsonify({"status": "ok", "postgis": version, "calendar": calendar_status(db.session, local_day())})


@bp.get("/regions")
@operation(query=GeoOnly, answers={200: Regions}, tags=["reference"])
def regions():
    session = db.session
    rows = session.execute(
        select(Region, _geojson(Region.boundary)).options(selectinload(Region.parent)).order_by(Region.code)
    ).all()
    return json_response(  # the geometries as PostGIS wrote them (orjson.Fragment: not parsed again)
        feature_collection(
            [
                feature(
                    orjson.Fragment(geom) if geom else None,
                    {
                        **region_ref(r),
                        "level": r.level,
                        "empowered": r.empowered,
                        "parent": r.parent.code if r.parent else None,
                    },
                    r.code,
                )
                for r, geom in rows
            ]
        )
    )


@bp.get("/zones")
@operation(query=ZoneQuery, answers={200: Zones}, errors=(422,), tags=["reference"])
def zones():
    """Zones of every county's effective plan, or of ``?plan=CODE``."""
    session = db.session
    plan_code = request.context.query.plan
    if plan_code:
        plan = session.scalar(select(CoveragePlan).where(CoveragePlan.code == plan_code))
        if plan is None:
            raise ApiError(f"no coverage plan {plan_code!r}", field="plan", status=422, code="unknown_plan")
        plans = [plan]
    else:
        roots = session.scalars(select(Region).where(Region.parent_id.is_(None))).all()
        plans = [p for p in (effective_plan(session, root) for root in roots) if p is not None]
    rows = session.execute(
        select(Zone, _geojson(Zone.geometry))
        .where(Zone.plan_id.in_([p.id for p in plans]))
        .options(
            selectinload(Zone.members).selectinload(ZoneMember.region),
            selectinload(Zone.hub_region),
            selectinload(Zone.plan),
        )
        .order_by(Zone.plan_id, Zone.code)
    ).all()
    return json_response(
        feature_collection(
            [
                feature(
                    orjson.Fragment(geom) if geom else None,
                    {
                        **zone_json(z),
                        "plan": {
                            "code": z.plan.code,
                            "status": z.plan.status,
                            "effective_at": z.plan.effective_at.isoformat() if z.plan.effective_at else None,
                        },
                    },
                    z.id,
                )
                for z, geom in rows
            ]
        )
    )


@bp.get("/squads")
@operation(query=GeoOnly, answers={200: Squads}, tags=["reference"])
def squads():
    session = db.session
    rows = session.execute(
        select(Squad, _geojson(func.coalesce(Squad.last_position, Squad.station)))
        .options(selectinload(Squad.authority), selectinload(Squad.station_region), selectinload(Squad.officers))
        .order_by(Squad.code)
    ).all()
    return jsonify(feature_collection([feature(json.loads(geom), squad_json(s), s.id) for s, geom in rows]))


@bp.get("/matters")
@operation(query=Plain, answers={200: Matters}, tags=["reference"])
def matters():
    rows = db.session.scalars(select(Matter).order_by(Matter.code)).all()
    return jsonify({"matters": [matter_json(m) for m in rows]})


@bp.get("/jurisdiction")
@operation(query=JurisdictionQuery, answers={200: Jurisdiction}, errors=(404, 422), tags=["reference"])
def jurisdiction():
    """Who covers the place ``lon``/``lat`` and in whose name they act (``matter`` optional)."""
    query = request.context.query
    lon, lat = crs_params.to_wgs84(query.lon, query.lat, query.crs)
    # major: a cross-district or major complex case (a city's municipal tier)
    return jsonify(jurisdiction_at(db.session, lon, lat, query.matter, major=query.major).to_json())
