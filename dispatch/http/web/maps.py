"""Server-rendered Folium maps: the printable coverage plan, an incident heat map, an incident's case map.

Folium's assets point at our vendored Leaflet (no CDN, no tile server unless
TILE_URL is set); the geometry comes from PostGIS as GeoJSON.

No text of the database or of a caller is ever written into the page's code: names,
descriptions and actors travel as a GeoJSON property (``tip``, JSON-escaped by Folium) and
static/app/maps.js shows them with textContent. The title is HTML-escaped text. Every inline
``<script>`` and ``<style>`` Folium writes carries the request's CSP nonce, so markup that got
in some other way would not run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import folium
from flask import Response, request
from folium.utilities import JsCode
from markupsafe import escape
from sqlalchemy import select, text

from dispatch.errors import ApiError, NotFound
from dispatch.http.api.params import scope_regions
from dispatch.http.observability import csp_nonce
from dispatch.http.web.i18n import strings
from dispatch.http.web.pages import bp, current_language
from dispatch.incidents import get_incident
from dispatch.jurisdiction import effective_plan
from dispatch.store.db import db
from dispatch.store.models import CoveragePlan, Region
from dispatch.validation import parse_time
from gis.clock import CHINA

# Only Leaflet itself, from our static folder: Folium's defaults (jQuery, Bootstrap,
# Font Awesome...) come from CDNs and none of the maps below needs them.
# static/app/maps.js shows the ``tip`` property of each feature as text (dispatchMaps.textTooltip).
folium.Map.default_js = [
    ("leaflet", "/static/vendor/leaflet/leaflet.js"),
    ("dispatch_maps", "/static/app/maps.js"),
]
folium.Map.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]
_TEXT_TOOLTIP = JsCode("dispatchMaps.textTooltip")
_INLINE_TAG = re.compile(r"<(script|style)\b")

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
            '<link rel="icon" href="data:,">'  # no /favicon.ico request (a 404), as on the screens
            "<style>.leaflet-container{background:#a9cfe8 !important}.map-title{position:absolute;top:8px;left:60px;z-index:1000;"
            "background:#fff;padding:4px 10px;font:600 16px sans-serif;border-radius:4px}</style>"
        )
    )
    fmap.get_root().html.add_child(folium.Element(f'<div class="map-title">{escape(title)}</div>'))
    if bounds:
        fmap.fit_bounds(bounds)
    return fmap


def _html(fmap: folium.Map) -> Response:
    """The page, each inline script and style Folium wrote given this request's nonce.

    Every ``<script`` and ``<style`` in the page is Folium's own: what came from the database is
    JSON-escaped (``\\u003c``) or HTML-escaped, so no ``<`` of it reaches the markup.
    """
    nonce = csp_nonce()
    page = _INLINE_TAG.sub(lambda tag: f'{tag.group(0)} nonce="{nonce}"', fmap.get_root().render())
    return Response(page, mimetype="text/html")


def _feature(geometry: dict, tip: str, style: dict, **properties) -> dict:
    """A GeoJSON feature drawn in ``style`` (Folium applies ``properties.style``) whose ``tip``
    static/app/maps.js shows, as text, in its tooltip."""
    return {"type": "Feature", "geometry": geometry, "properties": {"tip": tip, "style": style, **properties}}


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def _layer(features: list[dict], radius: float | None = None) -> folium.GeoJson:
    """A layer of features (points as circles of ``radius`` pixels), tooltips from their ``tip``.

    Folium's own tooltips would not do: ``Tooltip`` writes its text into a JavaScript template
    literal and ``GeoJsonTooltip`` into innerHTML. Nor its ``style_function``, whose styles it
    keys by a feature property it picks (perhaps ``tip``) written into the script.
    """
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        marker=folium.CircleMarker(radius=radius) if radius is not None else None,
        on_each_feature=_TEXT_TOOLTIP,
    )


def _add_townships(fmap: folium.Map, session, lang: str) -> None:
    """The townships and streets as the land under every map, named in the page's language."""
    style = {"color": "#5a6b5a", "weight": 1, "fillColor": "#f3efe0", "fillOpacity": 1}
    rows = session.execute(
        text("""
        SELECT r.code, r.name_zh, r.name_en, ST_AsGeoJSON(r.boundary, 6) AS geom
        FROM region r WHERE r.level IN ('township', 'street') AND r.boundary IS NOT NULL ORDER BY r.code
    """)
    ).all()
    names = [r.name_en if lang == "en" else r.name_zh for r in rows]
    _layer([_feature(json.loads(r.geom), n, style, code=r.code) for r, n in zip(rows, names, strict=True)]).add_to(fmap)


def _bounds(session, where_sql: str = "level IN ('township', 'street')", params: dict | None = None):
    row = session.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(boundary) e FROM region WHERE {where_sql}) s"
        ),
        params or {},
    ).one()
    return None if row[0] is None else [[row[1], row[0]], [row[3], row[2]]]


def plan_map_html(session, plan: CoveragePlan, lang: str) -> Response:
    """The coverage plan on one printable page: zones coloured, hubs marked, names as labels."""
    t = strings(lang)
    title = plan.name_en if lang == "en" else plan.name_zh
    when = plan.effective_at.isoformat() if plan.effective_at else t["planner.status.draft"]
    fmap = _map(f"{title} ({when})", _bounds(session))
    _add_townships(fmap, session, lang)
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
            zone_style = {"color": colour, "weight": 3, "fillColor": colour, "fillOpacity": 0.3}
            _layer([_feature(json.loads(z.geom), label, zone_style)]).add_to(fmap)
        hub = z.hub_en if lang == "en" else z.hub_zh
        hub_style = {"color": "#000", "weight": 3, "fill": True, "fillColor": colour, "fillOpacity": 1}
        hub_tip = f"{label} · {t['planner.hub']} {hub}"
        _layer([_feature(_point(z.hub_lon, z.hub_lat), hub_tip, hub_style)], radius=7).add_to(fmap)
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
    regions = scope_regions()  # the incidents of the principal's scope
    cells = session.execute(
        text("""
        WITH pts AS (
            SELECT ST_Transform(location::geometry, 3857) AS p FROM incident
            WHERE reported_at >= :start AND reported_at < :end
              AND (CAST(:regions AS integer[]) IS NULL OR region_id = ANY(:regions))
        ), grid AS (
            SELECT h.geom FROM (SELECT ST_Extent(p) AS e FROM pts) x,
                 LATERAL ST_HexagonGrid(1000, ST_SetSRID(x.e::geometry, 3857)) h WHERE x.e IS NOT NULL
        )
        SELECT ST_AsGeoJSON(ST_Transform(g.geom, 4326), 6) AS geom, count(*) AS n
        FROM grid g JOIN pts ON ST_Intersects(g.geom, pts.p) GROUP BY g.geom
    """),
        {"start": start, "end": end, "regions": sorted(regions) if regions is not None else None},
    ).all()
    lang = current_language()
    t = strings(lang)
    fmap = _map(f"{t['maps.heat']} {start.date()} – {end.date()}", _bounds(session))
    _add_townships(fmap, session, lang)
    top = max((c.n for c in cells), default=1)
    for cell in cells:
        share = cell.n / top
        colour = "#fee391" if share < 0.25 else "#fe9929" if share < 0.5 else "#ec7014" if share < 0.75 else "#b30000"
        cell_style = {"color": colour, "weight": 0.5, "fillColor": colour, "fillOpacity": 0.75}
        _layer([_feature(json.loads(cell.geom), str(cell.n), cell_style, n=cell.n)]).add_to(fmap)
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
    _add_townships(fmap, session, lang)
    points = [[place[1], place[0]]]
    place_style = {"color": "#000", "weight": 3, "fill": True, "fillOpacity": 1}
    place_style["fillColor"] = PRIORITY_COLOUR.get(incident.priority, "#999")
    _layer([_feature(_point(place[0], place[1]), incident.description[:200], place_style)], radius=10).add_to(fmap)
    squads = session.execute(
        text("""
        SELECT s.name_zh, ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat, t.state
        FROM task t JOIN squad s ON s.id = t.squad_id WHERE t.incident_id = :id AND s.last_position IS NOT NULL
    """),
        {"id": incident_id},
    ).all()
    squad_style = {"color": "#0b5cad", "weight": 3, "fill": True, "fillColor": "#0b5cad", "fillOpacity": 0.9}
    sent = [_feature(_point(s.lon, s.lat), f"{s.name_zh} · {s.state}", squad_style) for s in squads]
    _layer(sent, radius=6).add_to(fmap)
    points += [[s.lat, s.lon] for s in squads]
    events = session.execute(
        text("""
        SELECT e.action, e.actor, e.occurred_at, ST_X(e.location::geometry) AS lon, ST_Y(e.location::geometry) AS lat
        FROM event e WHERE e.incident_id = :id AND e.location IS NOT NULL ORDER BY e.id
    """),
        {"id": incident_id},
    ).all()
    event_style = {"color": "#333", "weight": 3, "fill": True, "fillColor": "#333", "fillOpacity": 0.8}
    happened = [
        _feature(
            _point(e.lon, e.lat),
            f"{e.occurred_at.astimezone(CHINA):%Y-%m-%d %H:%M} {e.action} ({e.actor})",
            event_style,
        )
        for e in events
    ]
    _layer(happened, radius=4).add_to(fmap)
    points += [[e.lat, e.lon] for e in events]
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    pad = 0.03
    fmap.fit_bounds([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]])
    return _html(fmap)
