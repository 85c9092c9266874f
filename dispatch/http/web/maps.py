"""Server-rendered Folium maps: the printable coverage plan, an incident heat map, an incident's case map.

Folium's assets point at our vendored Leaflet (no CDN, no tile server unless
TILE_URL is set); the geometry comes from PostGIS as GeoJSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import folium
from flask import Response, request
from sqlalchemy import select, text

from dispatch.errors import ApiError, NotFound
from dispatch.http.web.i18n import strings
from dispatch.http.web.pages import bp, current_language
from dispatch.incidents import get_incident
from dispatch.jurisdiction import effective_plan
from dispatch.store.db import db
from dispatch.store.models import CoveragePlan, Region
from dispatch.validation import parse_time

# Only Leaflet itself, from our static folder: Folium's defaults (jQuery, Bootstrap,
# Font Awesome...) come from CDNs and none of the maps below needs them.
folium.Map.default_js = [("leaflet", "/static/vendor/leaflet/leaflet.js")]
folium.Map.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]

ZONE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
PRIORITY_COLOUR = {1: "#d7191c", 2: "#fd8d3c", 3: "#e6c229"}


def _map(title: str, bounds: list[list[float]] | None) -> folium.Map:
    tile_url = os.environ.get("TILE_URL")
    fmap = folium.Map(
        location=[30.72, 122.5],
        zoom_start=10,
        tiles=tile_url or None,
        attr=os.environ.get("TILE_ATTRIBUTION", "tiles") if tile_url else None,
        control_scale=True,
        prefer_canvas=True,
    )
    fmap.get_root().header.add_child(
        folium.Element(
            "<style>.leaflet-container{background:#a9cfe8 !important}.map-title{position:absolute;top:8px;left:60px;z-index:1000;"
            "background:#fff;padding:4px 10px;font:600 16px sans-serif;border-radius:4px}</style>"
        )
    )
    fmap.get_root().html.add_child(folium.Element(f'<div class="map-title">{_escape(title)}</div>'))
    if bounds:
        fmap.fit_bounds(bounds)
    return fmap


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _html(fmap: folium.Map) -> Response:
    return Response(fmap.get_root().render(), mimetype="text/html")


def _townships(session):
    rows = session.execute(
        text("""
        SELECT r.code, r.name_zh, r.name_en, ST_AsGeoJSON(r.boundary, 6) AS geom
        FROM region r WHERE r.level IN ('township', 'street') AND r.boundary IS NOT NULL ORDER BY r.code
    """)
    ).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(r.geom),
                "properties": {"code": r.code, "name": r.name_zh, "name_en": r.name_en},
            }
            for r in rows
        ],
    }


def _bounds(session, where_sql: str = "level IN ('township', 'street')", params: dict | None = None):
    row = session.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(boundary) e FROM region WHERE {where_sql}) s"
        ),
        params or {},
    ).one()
    return None if row[0] is None else [[row[1], row[0]], [row[3], row[2]]]


def _add_townships(fmap: folium.Map, session, name_key: str) -> None:
    folium.GeoJson(
        _townships(session),
        name="townships",
        style_function=lambda f: {"color": "#5a6b5a", "weight": 1, "fillColor": "#f3efe0", "fillOpacity": 1},
        tooltip=folium.GeoJsonTooltip(fields=[name_key], labels=False),
    ).add_to(fmap)


def plan_map_html(session, plan: CoveragePlan, lang: str) -> Response:
    """The coverage plan on one printable page: zones coloured, hubs marked, names as labels."""
    t = strings(lang)
    name_key = "name_en" if lang == "en" else "name"
    title = plan.name_en if lang == "en" else plan.name_zh
    when = plan.effective_at.isoformat() if plan.effective_at else t["planner.status.draft"]
    fmap = _map(f"{title} ({when})", _bounds(session))
    _add_townships(fmap, session, name_key)
    zones = session.execute(
        text("""
        SELECT z.code, z.name_zh, z.name_en, ST_AsGeoJSON(z.geometry, 6) AS geom,
               h.name_zh AS hub_zh, h.name_en AS hub_en,
               ST_X(ST_PointOnSurface(h.boundary)) AS hub_lon, ST_Y(ST_PointOnSurface(h.boundary)) AS hub_lat
        FROM zone z JOIN region h ON h.id = z.hub_region_id WHERE z.plan_id = :plan ORDER BY z.code
    """),
        {"plan": plan.id},
    ).all()
    for index, z in enumerate(zones):
        colour = ZONE_COLOURS[index % len(ZONE_COLOURS)]
        label = z.name_en if lang == "en" else z.name_zh
        if z.geom:
            folium.GeoJson(
                {"type": "Feature", "geometry": json.loads(z.geom), "properties": {"zone": label}},
                style_function=lambda f, c=colour: {"color": c, "weight": 3, "fillColor": c, "fillOpacity": 0.3},
                tooltip=folium.GeoJsonTooltip(fields=["zone"], labels=False),
            ).add_to(fmap)
        hub = z.hub_en if lang == "en" else z.hub_zh
        folium.CircleMarker(
            [z.hub_lat, z.hub_lon],
            radius=7,
            color="#000",
            fill=True,
            fill_color=colour,
            fill_opacity=1,
            tooltip=_escape(f"{label} · {t['planner.hub']} {hub}"),
        ).add_to(fmap)
    return _html(fmap)


@bp.get("/maps/plan")
@bp.get("/maps/plan/<code>")
def plan_map(code: str | None = None):
    """A printable map of a coverage plan (default: the county's effective plan)."""
    session = db.session
    if code:
        plan = session.scalar(select(CoveragePlan).where(CoveragePlan.code == code))
    else:
        root = session.scalar(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code))
        plan = effective_plan(session, root) if root else None
    if plan is None:
        raise NotFound(f"no coverage plan {code!r}" if code else "no effective coverage plan", field="code")
    return plan_map_html(session, plan, current_language())


@bp.get("/maps/heat")
def heat_map():
    """Incidents of a period (``from``, ``to``; default the last 30 days) counted on a 1 km hexagon grid."""
    now = dt.datetime.now(dt.UTC)
    end = parse_time(request.args.get("to"), "to") or now
    start = parse_time(request.args.get("from"), "from") or end - dt.timedelta(days=30)
    if start >= end:
        raise ApiError("'from' must be before 'to'", field="from")
    session = db.session
    cells = session.execute(
        text("""
        WITH pts AS (
            SELECT ST_Transform(location::geometry, 3857) AS p FROM incident
            WHERE reported_at >= :start AND reported_at < :end
        ), grid AS (
            SELECT h.geom FROM (SELECT ST_Extent(p) AS e FROM pts) x,
                 LATERAL ST_HexagonGrid(1000, ST_SetSRID(x.e::geometry, 3857)) h WHERE x.e IS NOT NULL
        )
        SELECT ST_AsGeoJSON(ST_Transform(g.geom, 4326), 6) AS geom, count(*) AS n
        FROM grid g JOIN pts ON ST_Intersects(g.geom, pts.p) GROUP BY g.geom
    """),
        {"start": start, "end": end},
    ).all()
    lang = current_language()
    t = strings(lang)
    fmap = _map(f"{t['maps.heat']} {start.date()} – {end.date()}", _bounds(session))
    _add_townships(fmap, session, "name_en" if lang == "en" else "name")
    top = max((c.n for c in cells), default=1)
    for cell in cells:
        share = cell.n / top
        colour = "#fee391" if share < 0.25 else "#fe9929" if share < 0.5 else "#ec7014" if share < 0.75 else "#b30000"
        folium.GeoJson(
            {"type": "Feature", "geometry": json.loads(cell.geom), "properties": {"n": cell.n}},
            style_function=lambda f, c=colour: {"color": c, "weight": 0.5, "fillColor": c, "fillOpacity": 0.75},
            tooltip=str(cell.n),
        ).add_to(fmap)
    return _html(fmap)


@bp.get("/maps/incidents/<int:incident_id>")
def case_map(incident_id: int):
    """The case map for an incident's record: the place, its township, the squads sent and where things happened."""
    session = db.session
    incident = get_incident(session, incident_id)
    lang = current_language()
    place = session.execute(
        text("SELECT ST_X(location::geometry), ST_Y(location::geometry) FROM incident WHERE id = :id"),
        {"id": incident_id},
    ).one()
    fmap = _map(f"#{incident.id} {incident.description[:60]}", None)
    _add_townships(fmap, session, "name_en" if lang == "en" else "name")
    points = [[place[1], place[0]]]
    folium.CircleMarker(
        [place[1], place[0]],
        radius=10,
        color="#000",
        fill=True,
        fill_color=PRIORITY_COLOUR.get(incident.priority, "#999"),
        fill_opacity=1,
        tooltip=_escape(incident.description[:200]),
    ).add_to(fmap)
    squads = session.execute(
        text("""
        SELECT s.name_zh, ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat, t.state
        FROM task t JOIN squad s ON s.id = t.squad_id WHERE t.incident_id = :id AND s.last_position IS NOT NULL
    """),
        {"id": incident_id},
    ).all()
    for s in squads:
        folium.CircleMarker(
            [s.lat, s.lon],
            radius=6,
            color="#0b5cad",
            fill=True,
            fill_opacity=0.9,
            tooltip=_escape(f"{s.name_zh} · {s.state}"),
        ).add_to(fmap)
        points.append([s.lat, s.lon])
    events = session.execute(
        text("""
        SELECT e.action, e.actor, e.occurred_at, ST_X(e.location::geometry) AS lon, ST_Y(e.location::geometry) AS lat
        FROM event e WHERE e.incident_id = :id AND e.location IS NOT NULL ORDER BY e.id
    """),
        {"id": incident_id},
    ).all()
    for e in events:
        folium.CircleMarker(
            [e.lat, e.lon],
            radius=4,
            color="#333",
            fill=True,
            fill_opacity=0.8,
            tooltip=_escape(f"{e.occurred_at:%Y-%m-%d %H:%M} {e.action} ({e.actor})"),
        ).add_to(fmap)
        points.append([e.lat, e.lon])
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    pad = 0.03
    fmap.fit_bounds([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]])
    return _html(fmap)
