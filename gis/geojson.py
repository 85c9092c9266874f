"""GeoJSON (RFC 7946, WGS84 lon/lat) at the edges; Shapely inside."""

from __future__ import annotations

import math
from typing import Any

from shapely import MultiPolygon, Point, Polygon
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

# How deep each GeoJSON geometry nests its positions: a Point's coordinates are one position.
POSITION_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


class GeometryError(ValueError):
    """A geometry that cannot be accepted; ``field`` says where it was found."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def is_finite_number(value: Any) -> bool:
    """A number a coordinate or a measure may be: not a bool, NaN, an infinity or an integer
    beyond a double (``math.isfinite(10**400)`` raises)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_lon_lat(lon: Any, lat: Any, field: str) -> tuple[float, float]:
    """Validate one WGS84 position and return it as floats."""
    for value, name in ((lon, "longitude"), (lat, "latitude")):
        if not is_finite_number(value):
            raise GeometryError(f"{name} must be a finite number", field)
    if not -180 <= lon <= 180:
        raise GeometryError(f"longitude {lon} is outside -180..180", field)
    if not -90 <= lat <= 90:
        raise GeometryError(f"latitude {lat} is outside -90..90", field)
    return float(lon), float(lat)


def parse_point(obj: Any, field: str = "location") -> Point:
    """A GeoJSON Point object -> a Shapely Point, or a GeometryError naming ``field``."""
    if not isinstance(obj, dict) or obj.get("type") != "Point":
        raise GeometryError('must be a GeoJSON Point: {"type": "Point", "coordinates": [lon, lat]}', field)
    coords = obj.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        raise GeometryError("coordinates must be [lon, lat]", f"{field}.coordinates")
    lon, lat = check_lon_lat(coords[0], coords[1], f"{field}.coordinates")
    return Point(lon, lat)


def check_coordinates(obj: dict, field: str, max_vertices: int = 100_000) -> int:
    """Every position of a GeoJSON geometry's ``coordinates`` is [lon, lat, ...] in WGS84 range,
    finite numbers, checked before Shapely sees them (GEOS raises on a NaN vertex, or keeps
    it); at most ``max_vertices`` of them. Returns how many there are."""
    depth = POSITION_DEPTH.get(obj.get("type"))
    if depth is None:
        raise GeometryError(f"must be a GeoJSON geometry ({', '.join(POSITION_DEPTH)})", field)
    where = f"{field}.coordinates"
    vertices = 0
    stack = [(obj.get("coordinates"), depth)]
    while stack:
        coords, level = stack.pop()
        if not isinstance(coords, list):
            raise GeometryError("malformed coordinates: nested lists of [lon, lat] expected", where)
        if level > 0:
            stack.extend((inner, level - 1) for inner in coords)
            continue
        if len(coords) not in (2, 3):
            raise GeometryError("a position is [lon, lat] or [lon, lat, height]", where)
        if len(coords) == 3 and not is_finite_number(coords[2]):
            raise GeometryError("height must be a finite number", where)
        check_lon_lat(coords[0], coords[1], where)
        vertices += 1
        if vertices > max_vertices:
            raise GeometryError(f"more than the limit of {max_vertices} vertices", field)
    return vertices


def parse_area(obj: Any, field: str, max_vertices: int = 100_000) -> MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon -> a valid Shapely MultiPolygon."""
    if not isinstance(obj, dict) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise GeometryError("must be a GeoJSON Polygon or MultiPolygon", field)
    check_coordinates(obj, field, max_vertices)
    try:
        geom = shape(obj)
    except (ValueError, TypeError, IndexError, AttributeError, ShapelyError) as exc:
        raise GeometryError(f"malformed coordinates: {exc}", f"{field}.coordinates") from None
    if geom.is_empty:
        raise GeometryError("geometry is empty", field)
    if not geom.is_valid:
        raise GeometryError(f"invalid geometry: {explain_validity(geom)}", field)
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def as_multipolygon(geom) -> MultiPolygon:
    """Polygon or MultiPolygon (e.g. a union) -> MultiPolygon."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return MultiPolygon([g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)])


def feature(geometry: dict | None, properties: dict, feature_id: Any = None) -> dict:
    out = {"type": "Feature", "geometry": geometry, "properties": properties}
    if feature_id is not None:
        out["id"] = feature_id
    return out


def feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def to_geojson(geom) -> dict | None:
    return None if geom is None else mapping(geom)
