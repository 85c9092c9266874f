"""The ``crs`` and ``out_crs`` parameters: Chinese coordinate systems at the edge of the API.

Storage and computation are WGS84. A client may send coordinates in WGS84
(default), GCJ-02 (the datum of Chinese map SDKs: AMap, Tencent) or BD-09
(Baidu) by adding ``?crs=gcj02`` (or ``bd09``), and may ask for the answer's
coordinates in GCJ-02 (or BD-09) with ``?out_crs=gcj02``. On the /api/v1
blueprint two hooks do it for every route (``init_blueprint``):

- before the view: the GeoJSON geometries of a JSON body are converted to WGS84
  in place (query coordinates such as ``lon``/``lat`` are converted by their view
  with ``query_point``);
- after it: every GeoJSON geometry of a JSON answer is converted to ``out_crs``.

The conversions themselves are gis.crs.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Response, request

from dispatch.errors import ApiError
from gis.crs import SYSTEMS, from_wgs84, to_wgs84

OUTPUT_SYSTEMS = SYSTEMS  # wgs84, gcj02 and bd09 out; gcj02 is what Chinese map SDKs want
_GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}

__all__ = ["from_wgs84", "to_wgs84", "parse_crs", "parse_out_crs", "query_point", "init_blueprint"]


def parse_crs(value: str | None, field: str = "crs", error: type[Exception] = ApiError) -> str:
    """The input system named by ``value`` (default wgs84), or an error naming the field."""
    if value is None or value == "":
        return "wgs84"
    name = value.strip().lower()
    if name not in SYSTEMS:
        message = f"{field} must be one of {', '.join(SYSTEMS)}, not {value!r}"
        if error is ApiError:
            raise ApiError(message, field=field, code="invalid_parameter")
        raise error(400, message)
    return name


def parse_out_crs(value: str | None, error: type[Exception] = ApiError) -> str:
    return parse_crs(value, "out_crs", error)


def query_point(lon: float, lat: float) -> tuple[float, float]:
    """Query coordinates in the request's ``crs`` -> WGS84."""
    return to_wgs84(lon, lat, parse_crs(request.args.get("crs")))


def _positions(coords: Any, depth: int) -> bool:
    """Whether ``coords`` is a well-formed nest of ``depth`` levels of finite [x, y, ...] positions."""
    if not isinstance(coords, list):
        return False
    if depth == 0:
        return len(coords) >= 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in coords[:2]
        )
    return all(_positions(c, depth - 1) for c in coords)


_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def _convert_positions(coords: list, depth: int, convert) -> list:
    if depth == 0:
        lon, lat = convert(coords[0], coords[1])
        # BD-09's offset applies everywhere: -180 in BD-09 would be -180.0065, which no check accepts
        # (and no one means: the Chinese systems are China's). Positions stay in range, as the document says.
        lon, lat = min(max(lon, -180.0), 180.0), min(max(lat, -90.0), 90.0)
        return [round(lon, 7), round(lat, 7), *coords[2:]]
    return [_convert_positions(c, depth - 1, convert) for c in coords]


def convert_geojson(obj: Any, convert, _depth: int = 0) -> Any:
    """Convert every GeoJSON geometry found anywhere in ``obj`` (in place where possible); skip malformed ones."""
    if _depth > 64:
        return obj
    if isinstance(obj, dict):
        kind = obj.get("type")
        if kind in _GEOMETRY_TYPES and _positions(obj.get("coordinates"), _DEPTH[kind]):
            obj["coordinates"] = _convert_positions(obj["coordinates"], _DEPTH[kind], convert)
            return obj
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                obj[key] = convert_geojson(value, convert, _depth + 1)
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            if isinstance(value, (dict, list)):
                obj[index] = convert_geojson(value, convert, _depth + 1)
    return obj


def _body_to_wgs84():
    """before_request: validate ``crs``/``out_crs``; bring a JSON body's geometries to WGS84."""
    crs = parse_crs(request.args.get("crs"))
    parse_out_crs(request.args.get("out_crs"))
    if crs == "wgs84" or request.mimetype != "application/json":
        return None
    body = request.get_json(silent=True)  # cached: the view's json_body() sees the converted object
    if isinstance(body, (dict, list)):
        convert_geojson(body, lambda lon, lat: to_wgs84(lon, lat, crs))
    return None


def _answer_from_wgs84(response: Response) -> Response:
    """after_request: the answer's GeoJSON geometries in ``out_crs``."""
    out = request.args.get("out_crs")
    if not out or out.strip().lower() == "wgs84" or response.mimetype != "application/json":
        return response
    try:
        target = parse_out_crs(out)
    except ApiError:
        return response  # refused before the view already
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    convert_geojson(body, lambda lon, lat: from_wgs84(lon, lat, target))
    response.set_data(json.dumps(body, ensure_ascii=False))
    response.headers["X-Coordinate-System"] = target
    return response


def init_blueprint(bp) -> None:
    """Install the two hooks on a blueprint (the /api/v1 one)."""
    bp.before_request(_body_to_wgs84)
    bp.after_request(_answer_from_wgs84)
