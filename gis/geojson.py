"""GeoJSON (RFC 7946, WGS84 lon/lat) at the edges; Shapely inside."""

from __future__ import annotations

import math
from typing import Any

from shapely import MultiPolygon, Point, Polygon
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity


class GeometryError(ValueError):
    """A geometry that cannot be accepted; ``field`` says where it was found."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def check_lon_lat(lon: Any, lat: Any, field: str) -> tuple[float, float]:
    """Validate one WGS84 position and return it as floats."""
    for value, name in ((lon, "longitude"), (lat, "latitude")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
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


def parse_area(obj: Any, field: str, max_vertices: int = 100_000) -> MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon -> a valid Shapely MultiPolygon."""
    if not isinstance(obj, dict) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise GeometryError("must be a GeoJSON Polygon or MultiPolygon", field)
    try:
        geom = shape(obj)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise GeometryError(f"malformed coordinates: {exc}", f"{field}.coordinates") from None
    polygons = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    vertices = 0
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            coords = list(ring.coords)
            vertices += len(coords)
            for lon, lat, *_ in coords:
                check_lon_lat(lon, lat, f"{field}.coordinates")
    if vertices > max_vertices:
        raise GeometryError(f"{vertices} vertices, more than the limit of {max_vertices}", field)
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
