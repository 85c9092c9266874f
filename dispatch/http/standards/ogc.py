"""OGC API - Features (part 1, read) at ``/ogc``: the layers as QGIS and OWSLib open them.

Collections ``regions``, ``zones`` (of each county's or city's effective plan),
``squads`` (last known position, else station) and ``incidents`` (temporal on
``reported_at``). Items support ``bbox`` (CRS84), ``limit`` / ``offset`` with
``next``/``prev`` links and ``numberMatched``, ``datetime`` (an instant or an
interval ``start/end`` with ``..`` for an open end; collections without time ignore
it) and answer GeoJSON. Only JSON is served (``f=json``, the default).

Extensions of this server: ``crs=gcj02|bd09`` for the ``bbox`` corners and
``out_crs=gcj02|bd09`` for the geometries answered (see dispatch.http.crs_params).
Errors are OGC exceptions ``{"code", "description"}``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from flask import Blueprint, Response, request, url_for
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from dispatch.errors import ApiError
from dispatch.http import crs_params
from dispatch.store.db import db
from dispatch.store.models import INCIDENT_MATTERS_ORDER_SQL

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
ITEM_PARAMS = {"f", "bbox", "limit", "offset", "datetime", "crs", "out_crs"}
# An incident's personal data, shown only on the dispatch screens and API, never by a standard read
# (this layer, Open311's requests): descriptions and addresses hold callers' names and phone
# numbers, the external id and creator name the caller's ticket, squads say who is coming.
PERSONAL_INCIDENT_FIELDS = frozenset({"description", "address", "external_id", "created_by", "squads", "tasks"})
PUBLIC_DECIMALS = 3  # a published place: about 100 m, the street and not the door


def redact_incident(fields: dict) -> dict:
    """An incident's ``fields`` without its personal data (``PERSONAL_INCIDENT_FIELDS``), ``lat``
    and ``long`` rounded to ``PUBLIC_DECIMALS``: what a standard interface may show of it."""
    public = {name: value for name, value in fields.items() if name not in PERSONAL_INCIDENT_FIELDS}
    for name in ("lat", "long"):
        if public.get(name) is not None:
            public[name] = round(public[name], PUBLIC_DECIMALS)
    return public


# The effective published plan of each root region (the latest whose effective time has passed).
_EFFECTIVE_PLANS = """(SELECT DISTINCT ON (region_id) id FROM coverage_plan
                       WHERE status = 'published' AND effective_at <= now()
                       ORDER BY region_id, effective_at DESC)"""


@dataclass(frozen=True)
class Layer:
    """How one collection is read: its FROM clause, id, geometry and property columns."""

    title: str
    description: str
    source: str  # FROM ... [WHERE ...] without the filters added per request
    fid: str
    geometry: str  # a geometry (not geography) expression in SRID 4326
    properties: dict[str, str]
    order: str
    temporal: str | None = None


LAYERS: dict[str, Layer] = {
    "regions": Layer(
        "Regions",
        "Administrative areas: cities, counties and districts, townships and streets (MultiPolygon)",
        "region r LEFT JOIN region p ON p.id = r.parent_id WHERE r.boundary IS NOT NULL",
        "r.code",
        "r.boundary",
        {"code": "r.code", "name": "r.name_zh", "name_en": "r.name_en", "level": "r.level",
         "parent": "p.code", "empowered": "r.empowered"},
        "r.code",
    ),
    "zones": Layer(
        "Zones",
        "Zones of each county's or city's effective coverage plan: a hub region and the regions it covers",
        f"""zone z JOIN coverage_plan pl ON pl.id = z.plan_id JOIN region h ON h.id = z.hub_region_id
            WHERE z.plan_id IN {_EFFECTIVE_PLANS} AND z.geometry IS NOT NULL""",
        "z.id",
        "z.geometry",
        {"code": "z.code", "name": "z.name_zh", "name_en": "z.name_en", "plan": "pl.code",
         "hub": "h.name_zh", "hub_code": "h.code",
         "covered": """(SELECT string_agg(cr.name_zh, ', ' ORDER BY cr.code) FROM zone_member m
                        JOIN region cr ON cr.id = m.region_id WHERE m.zone_id = z.id AND m.region_id <> z.hub_region_id)"""},
        "z.plan_id, z.code",
    ),
    "squads": Layer(
        "Squads",
        "Enforcement squads at their last known position (else their station)",
        "squad s JOIN authority a ON a.id = s.authority_id JOIN region sr ON sr.id = s.station_region_id",
        "s.id",
        "COALESCE(s.last_position, s.station)::geometry",
        {"code": "s.code", "name": "s.name_zh", "name_en": "s.name_en", "force": "s.force",
         "domains": "array_to_string(s.domains, ',')", "status": "s.status", "scope": "s.scope",
         "authority": "a.name_zh", "station_region": "sr.name_zh", "last_position_at": "s.last_position_at"},
        "s.code",
    ),
    "incidents": Layer(
        "Incidents",
        "Reported incidents with status, priority, competent authority and SLA deadline (temporal: reported_at)",
        "incident i LEFT JOIN authority a ON a.id = i.authority_id LEFT JOIN region rg ON rg.id = i.region_id",
        "i.id",
        "i.location::geometry",
        redact_incident({"status": "i.status", "priority": "i.priority", "source": "i.source",
         "matters": f"""(SELECT string_agg(m.code, ',' ORDER BY {INCIDENT_MATTERS_ORDER_SQL}) FROM incident_matter im
                        JOIN matter m ON m.id = im.matter_id WHERE im.incident_id = i.id)""",
         "authority": "a.name_zh", "region": "rg.name_zh", "reported_at": "i.reported_at",
         "sla_deadline": "i.sla_deadline", "duplicate_of": "i.duplicate_of_id"}),
        "i.reported_at DESC, i.id DESC",
        temporal="i.reported_at",
    ),
}  # fmt: skip


class OgcError(Exception):
    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _json(body: dict, mimetype: str = "application/json", status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=_default), status=status, mimetype=mimetype)


def _default(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@bp.errorhandler(OgcError)
def _ogc_error(exc: OgcError):
    return _json({"code": exc.code, "description": exc.description}, status=exc.status)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return _json({"code": exc.code, "description": exc.message}, status=exc.status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _json({"code": (exc.name or "error").replace(" ", ""), "description": exc.description}, status=exc.code)


@bp.before_request
def _negotiate():
    """JSON only: ``f=json`` (or absent); any other format is refused."""
    f = request.args.get("f")
    if f not in (None, "", "json", "geojson"):
        raise OgcError(400, "InvalidParameterValue", f"f={f!r} is not served; use f=json")


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


# -- landing page, conformance, collections ---------------------------------------------------


@bp.get("/")
def landing():
    return _json(
        {
            "title": "dispatch: enforcement layers",
            "description": "Regions, coverage zones, squads and incidents of comprehensive administrative law "
            "enforcement (OGC API - Features, read only)",
            "links": [
                {"href": _url("ogc.landing", f="json"), "rel": "self", "type": "application/json", "title": "this document"},
                {"href": _url("ogc.conformance", f="json"), "rel": "conformance", "type": "application/json",
                 "title": "conformance classes"},
                {"href": _url("ogc.conformance", f="json"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                 "type": "application/json", "title": "conformance classes"},
                {"href": _url("ogc.collections", f="json"), "rel": "data", "type": "application/json",
                 "title": "feature collections"},
                {"href": _url("ogc.collections", f="json"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/data",
                 "type": "application/json", "title": "feature collections"},
            ],
        }
    )  # fmt: skip


@bp.get("/conformance")
def conformance():
    return _json({"conformsTo": CONFORMANCE})


def _extent(name: str, layer: Layer) -> dict:
    row = db.session.execute(
        text(f"""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM
                 (SELECT ST_Extent({layer.geometry}) AS e FROM {layer.source}) AS x""")
    ).one()
    extent = {"spatial": {"bbox": [[round(v, 6) for v in row]] if row[0] is not None else [[-180, -90, 180, 90]],
                          "crs": CRS84}}  # fmt: skip
    if layer.temporal:
        first, last = db.session.execute(
            text(f"SELECT min({layer.temporal}), max({layer.temporal}) FROM {layer.source}")
        ).one()
        extent["temporal"] = {"interval": [[first.isoformat() if first else None, last.isoformat() if last else None]],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}  # fmt: skip
    return extent


def _collection(name: str, layer: Layer) -> dict:
    return {
        "id": name,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": _extent(name, layer),
        "links": [
            {"href": _url("ogc.collection", collection_id=name, f="json"), "rel": "self", "type": "application/json",
             "title": layer.title},
            {"href": _url("ogc.items", collection_id=name, f="json"), "rel": "items", "type": GEOJSON,
             "title": f"{layer.title} (GeoJSON)"},
        ],
    }  # fmt: skip


@bp.get("/collections")
def collections():
    return _json(
        {
            "links": [{"href": _url("ogc.collections", f="json"), "rel": "self", "type": "application/json"}],
            "collections": [_collection(name, layer) for name, layer in LAYERS.items()],
        }
    )


def _layer(collection_id: str) -> Layer:
    layer = LAYERS.get(collection_id)
    if layer is None:
        raise OgcError(404, "NotFound", f"no collection {collection_id!r}; collections: {', '.join(LAYERS)}")
    return layer


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    return _json(_collection(collection_id, _layer(collection_id)))


# -- items ------------------------------------------------------------------------------------


def _int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OgcError(400, "InvalidParameterValue", f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise OgcError(400, "InvalidParameterValue", f"{name} must lie between {low} and {high}")
    return value


def _bbox(crs: str) -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if raw is None or raw == "":
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise OgcError(400, "InvalidParameterValue", "bbox must be minLon,minLat,maxLon,maxLat") from None
    if len(values) == 6:  # 3D boxes: the heights are ignored
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(v == v and abs(v) != float("inf") for v in values):
        raise OgcError(400, "InvalidParameterValue", "bbox must be four finite numbers minLon,minLat,maxLon,maxLat")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90) or minx > maxx:
        raise OgcError(400, "InvalidParameterValue", "bbox out of range or min > max (lon -180..180, lat -90..90)")
    if crs != "wgs84":
        minx, miny = crs_params.to_wgs84(minx, miny, crs)
        maxx, maxy = crs_params.to_wgs84(maxx, maxy, crs)
    return minx, miny, maxx, maxy


def _instant(value: str) -> dt.datetime | None:
    if value in ("..", ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OgcError(400, "InvalidParameterValue", f"datetime {value!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # RFC 3339 wants an offset; read a bare one as UTC
    return parsed


def _datetime() -> tuple[dt.datetime | None, dt.datetime | None] | None:
    raw = request.args.get("datetime")
    if raw is None or raw == "":
        return None
    if "/" in raw:
        start_raw, _, end_raw = raw.partition("/")
        start, end = _instant(start_raw), _instant(end_raw)
        if start is None and end is None:
            raise OgcError(400, "InvalidParameterValue", "datetime ../.. is not an interval")
        if start and end and end < start:
            raise OgcError(400, "InvalidParameterValue", "datetime interval ends before it starts")
        return start, end
    instant = _instant(raw)
    if instant is None:
        raise OgcError(400, "InvalidParameterValue", "datetime .. alone is not an instant")
    return instant, instant


def _feature(row, layer: Layer, out_crs: str) -> dict:
    geometry = json.loads(row.geom) if row.geom else None
    if geometry is not None and out_crs != "wgs84":
        crs_params.convert_geojson(geometry, lambda lon, lat: crs_params.from_wgs84(lon, lat, out_crs))
    properties = {name: getattr(row, f"p_{index}") for index, name in enumerate(layer.properties)}
    return {"type": "Feature", "id": row.fid, "geometry": geometry, "properties": properties}


def _select(layer: Layer) -> str:
    columns = ", ".join(f"{expr} AS p_{i}" for i, expr in enumerate(layer.properties.values()))
    return f"SELECT {layer.fid} AS fid, ST_AsGeoJSON({layer.geometry}, 7) AS geom, {columns} FROM {layer.source}"


def _and(source: str) -> str:
    return " AND " if " WHERE " in source else " WHERE "


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    layer = _layer(collection_id)
    unknown = sorted(set(request.args) - ITEM_PARAMS)
    if unknown:
        raise OgcError(400, "InvalidParameterValue", f"unknown query parameter(s): {', '.join(unknown)}")
    crs = crs_params.parse_crs(request.args.get("crs"))
    out_crs = crs_params.parse_out_crs(request.args.get("out_crs"))
    limit = _int_param("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param("offset", 0, 0, 10_000_000)
    box = _bbox(crs)
    when = _datetime()
    where, params = [], {}
    if box is not None:
        where.append(f"ST_Intersects({layer.geometry}, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
        params.update(minx=box[0], miny=box[1], maxx=box[2], maxy=box[3])
    if when is not None and layer.temporal:  # collections without time ignore datetime
        if when[0] is not None:
            where.append(f"{layer.temporal} >= :start")
            params["start"] = when[0]
        if when[1] is not None:
            where.append(f"{layer.temporal} <= :end")
            params["end"] = when[1]
    filters = (_and(layer.source) + " AND ".join(where)) if where else ""
    session = db.session
    matched = session.execute(text(f"SELECT count(*) FROM {layer.source}{filters}"), params).scalar_one()
    rows = session.execute(
        text(f"{_select(layer)}{filters} ORDER BY {layer.order} LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset},
    ).all()
    features = [_feature(row, layer, out_crs) for row in rows]
    kept = {k: v for k, v in request.args.items() if k not in ("offset", "f")}
    links = [
        {"href": _url("ogc.items", collection_id=collection_id, f="json", **kept, offset=offset), "rel": "self",
         "type": GEOJSON, "title": "this page"},
        {"href": _url("ogc.collection", collection_id=collection_id, f="json"), "rel": "collection",
         "type": "application/json", "title": layer.title},
    ]  # fmt: skip
    if offset + len(features) < matched:
        links.append({"href": _url("ogc.items", collection_id=collection_id, f="json", **kept, offset=offset + limit),
                      "rel": "next", "type": GEOJSON, "title": "next page"})  # fmt: skip
    if offset > 0:
        links.append({"href": _url("ogc.items", collection_id=collection_id, f="json", **kept,
                                   offset=max(0, offset - limit)), "rel": "prev", "type": GEOJSON, "title": "previous page"})  # fmt: skip
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return _json(body, GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    layer = _layer(collection_id)
    out_crs = crs_params.parse_out_crs(request.args.get("out_crs"))
    if len(feature_id) > 64 or "\x00" in feature_id:
        raise OgcError(404, "NotFound", "no such feature")
    row = db.session.execute(
        text(f"{_select(layer)}{_and(layer.source)}{layer.fid}::text = :fid"), {"fid": feature_id}
    ).first()
    if row is None:
        raise OgcError(404, "NotFound", f"no feature {feature_id!r} in {collection_id}")
    body = _feature(row, layer, out_crs)
    body["links"] = [
        {"href": _url("ogc.item", collection_id=collection_id, feature_id=feature_id, f="json"), "rel": "self",
         "type": GEOJSON},
        {"href": _url("ogc.collection", collection_id=collection_id, f="json"), "rel": "collection",
         "type": "application/json"},
    ]  # fmt: skip
    return _json(body, GEOJSON)
