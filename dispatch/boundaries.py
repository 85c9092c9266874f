"""Import regions and zones from GIS files (GeoJSON, Shapefile: anything GDAL reads), export a plan.

``flask --app dispatch import-regions PATH`` reads the file with pyogrio, checks it
as a whole with vectorised Shapely (missing or non-polygonal geometries, coordinates
out of range, invalid geometries repaired with ``make_valid`` and listed, duplicate
codes and geometries, overlapping and gapped siblings) and prints the validation
report; then, unless it found errors or ``--dry-run`` was given, loads the regions
with one COPY in one transaction. ``--as zones`` reads zone polygons drawn over the
loaded townships instead and makes a draft coverage plan of them (membership is the
township's point on surface inside the zone, answered by PostGIS).

``flask --app dispatch export-plan [CODE] [-o FILE]`` writes a plan's zones as GeoJSON.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from dispatch.jurisdiction import effective_plan
from dispatch.record import record
from dispatch.seed import refresh_zone_geometry
from dispatch.store.models import CoveragePlan, Region, Zone, ZoneMember
from gis.crs import SYSTEMS, to_wgs84

LEVELS = ("city", "county", "district", "township", "street")
FIELDS = ("code", "parent", "level", "name_zh", "name_en", "empowered")
CHUNK = 5000  # features per progress step
GAP_MIN_M2 = 1.0  # smaller holes between siblings are rounding noise, not gaps
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_WGS84_NAMES = ("EPSG:4326", "OGC:CRS84", "CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84")


class ImportRefused(Exception):
    """The file cannot be read as regions or zones at all (not a per-feature problem)."""


@dataclass
class Report:
    """What the validation found; ``errors`` stop the load, the rest is information."""

    features: int = 0
    errors: list[dict] = field(default_factory=list)
    repaired: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    loaded: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict:
        return {
            "features": self.features,
            "loaded": self.loaded,
            "errors": self.errors,
            "repaired": self.repaired,
            "duplicates": self.duplicates,
            "overlaps": self.overlaps,
            "gaps": self.gaps,
        }

    def lines(self, limit: int = 20) -> list[str]:
        out = [
            f"{self.features} features: {len(self.errors)} errors, {len(self.repaired)} repaired, "
            f"{len(self.duplicates)} duplicates, {len(self.overlaps)} overlaps, {len(self.gaps)} gaps; "
            f"{self.loaded} loaded"
        ]
        for title, items in (
            ("error", self.errors),
            ("repaired", self.repaired),
            ("duplicate", self.duplicates),
            ("overlap", self.overlaps),
            ("gap", self.gaps),
        ):
            for item in items[:limit]:
                out.append(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in item.items()))
            if len(items) > limit:
                out.append(f"  ... and {len(items) - limit} more {title}(s) (--report FILE lists all)")
        return out


# -- reading --------------------------------------------------------------------------------------


@dataclass
class Features:
    """Columns of a GIS file as arrays: the geometries and the text of each wanted field."""

    geoms: np.ndarray
    columns: dict[str, list]

    def __len__(self) -> int:
        return len(self.geoms)


def read_features(path: Path | str, crs: str = "wgs84") -> Features:
    """Read every feature of ``path`` (GeoJSON, Shapefile...) as WGS84 Shapely geometries."""
    import pyogrio.raw

    try:
        meta, _, wkb, field_data = pyogrio.raw.read(str(path), force_2d=True)
    except Exception as exc:  # GDAL's own errors (missing file, unknown format) say what is wrong
        raise ImportRefused(f"{path}: cannot read: {exc}") from None
    file_crs = meta.get("crs")
    if file_crs and file_crs not in _WGS84_NAMES:
        raise ImportRefused(f"{path}: coordinates are in {file_crs}; reproject to WGS84 (EPSG:4326) first")
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.array([], dtype=object)
    if crs != "wgs84":
        if crs not in SYSTEMS:
            raise ImportRefused(f"--crs must be one of {', '.join(SYSTEMS)}")
        convert = np.vectorize(lambda x, y: to_wgs84(x, y, crs), otypes=[float, float])
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(convert(xy[:, 0], xy[:, 1])) if len(xy) else xy)
    columns = {name: list(values) for name, values in zip(meta["fields"], field_data, strict=True)}
    return Features(np.asarray(geoms, dtype=object), columns)


def _text(values: list | None, n: int) -> list[str | None]:
    if values is None:
        return [None] * n
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            s = str(v).strip()
            out.append(s or None)
    return out


# -- validation -----------------------------------------------------------------------------------


def _polygonal(geom):
    """The polygons of a repaired geometry (make_valid may return a collection with lines)."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in _POLYGONAL]
    if not parts:
        return None
    return shapely.multipolygons(list(shapely.get_parts(parts)))


def check_geometries(
    geoms: np.ndarray, labels: list[str], report: Report, optional: np.ndarray | None = None
) -> np.ndarray:
    """Refuse what cannot be an area; repair invalid areas with make_valid and list them. Vectorised.

    ``optional`` marks features that may come without a geometry (a county: the union of its townships).
    """
    geoms = geoms.copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, _POLYGONAL)
    for i in np.flatnonzero(missing & ~(optional if optional is not None else False)):
        report.errors.append({"feature": labels[i], "problem": "no geometry"})
    for i in np.flatnonzero(~missing & ~polygonal):
        report.errors.append({"feature": labels[i], "problem": f"a {shapely.get_type_id(geoms[i])} is not an area"})
    usable = ~missing & polygonal
    bounds = shapely.bounds(geoms[usable]) if usable.any() else np.empty((0, 4))
    bad_range = (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
    for i in np.flatnonzero(usable)[bad_range]:
        report.errors.append({"feature": labels[i], "problem": "coordinates outside lon -180..180 / lat -90..90"})
        usable[i] = False
    valid = np.zeros(len(geoms), dtype=bool)
    valid[usable] = shapely.is_valid(geoms[usable])
    for i in np.flatnonzero(usable & ~valid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = _polygonal(shapely.make_valid(geoms[i]))
        if fixed is None or fixed.is_empty:
            report.errors.append({"feature": labels[i], "problem": f"invalid and not repairable: {reason}"})
            usable[i] = False
            continue
        report.repaired.append({"feature": labels[i], "was": reason,
                                "area_change_pct": round(100 * (fixed.area - geoms[i].area) / geoms[i].area, 2)
                                if geoms[i].area else None})  # fmt: skip
        geoms[i] = fixed
    geoms[~usable] = None  # Polygons become MultiPolygons (the column type) in the database: ST_Multi
    return geoms


def _metres2(area_deg2: float, lat: float) -> float:
    return area_deg2 * 111_320.0 * 110_574.0 * math.cos(math.radians(lat))


def _list_overlaps(geoms: np.ndarray, members: np.ndarray, labels: list[str], report: Report) -> None:
    tree = shapely.STRtree(geoms[members])
    left, right = tree.query(geoms[members], predicate="overlaps")
    keep = left < right
    left, right = members[left[keep]], members[right[keep]]
    if not len(left):
        return
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    lats = shapely.get_y(shapely.centroid(geoms[left]))
    for a, b, area, lat in zip(left, right, shared, lats, strict=True):
        m2 = _metres2(area, lat)
        if m2 >= GAP_MIN_M2:
            report.overlaps.append({"features": f"{labels[a]} / {labels[b]}", "area_m2": round(m2)})


def check_coverage(geoms: np.ndarray, labels: list[str], groups: list, report: Report) -> dict:
    """Overlapping siblings (same group) and gaps: holes enclosed by a group's union; returns the unions.

    The union of a group without overlaps is computed as a coverage union (several times faster);
    the area it covers against the sum of the members' areas says whether any siblings overlap.
    """
    usable = np.flatnonzero(~shapely.is_missing(geoms))
    if len(usable) == 0:
        return {}
    by_group: dict = defaultdict(list)
    for i in usable:
        by_group[groups[i]].append(i)
    unions = {}
    for group, members in by_group.items():
        parts = geoms[members]
        union = shapely.coverage_union_all(parts)  # fast; only right when siblings do not overlap
        expected = float(shapely.area(parts).sum())
        tolerance = max(expected * 1e-9, 1e-12)
        if not union.is_valid or abs(union.area - expected) > tolerance:
            union = shapely.union_all(parts)
            if expected - union.area > tolerance:  # some siblings overlap: find which (the slow path)
                _list_overlaps(geoms, np.asarray(members), labels, report)
        unions[group] = union
        if len(members) < 2:
            continue
        for polygon in shapely.get_parts(union):
            for ring in polygon.interiors:
                hole = shapely.Polygon(ring)
                point = hole.representative_point()
                m2 = _metres2(hole.area, point.y)
                if m2 >= GAP_MIN_M2:
                    report.gaps.append({"among": group if group is not None else "(top level)", "area_m2": round(m2),
                                        "at": f"{point.x:.5f},{point.y:.5f}"})  # fmt: skip
    return unions


def _known_codes(session: Session, codes: list[str]) -> set[str]:
    """Which of ``codes`` are loaded already (one array parameter, not thousands of binds)."""
    if not codes:
        return set()
    return set(session.scalars(text("SELECT code FROM region WHERE code = ANY(:codes)"), {"codes": codes}))


def validate_regions(session: Session, features: Features, report: Report) -> dict:
    """Check a file of regions; return the rows to load (only meaningful when ``report.ok``)."""
    n = len(features)
    report.features = n
    cols = {name: _text(features.columns.get(name), n) for name in FIELDS}
    if features.columns.get("code") is None:
        raise ImportRefused(f"no 'code' field (fields: {', '.join(features.columns) or 'none'})")
    codes = cols["code"]
    labels = [c if c else f"#{i}" for i, c in enumerate(codes)]
    for i, code in enumerate(codes):
        if code is None:
            report.errors.append({"feature": labels[i], "problem": "code is missing"})
        elif len(code) > 32:
            report.errors.append({"feature": labels[i], "problem": "code longer than 32 characters"})
    for i, name in enumerate(cols["name_zh"]):
        if name is None:
            report.errors.append({"feature": labels[i], "problem": "name_zh is missing"})
    levels = [lv or "township" for lv in cols["level"]]
    for i, level in enumerate(levels):
        if level not in LEVELS:
            report.errors.append(
                {"feature": labels[i], "problem": f"level {level!r} is not one of {', '.join(LEVELS)}"}
            )
    counts = Counter(c for c in codes if c)
    for code, count in counts.items():
        if count > 1:
            report.duplicates.append({"code": code, "times": count})
            report.errors.append({"feature": code, "problem": f"code appears {count} times"})
    existing = _known_codes(session, list(counts))
    for code in sorted(existing):
        report.errors.append({"feature": code, "problem": "a region with this code is already loaded"})
    known_parents = set(counts) | _known_codes(session, list({p for p in cols["parent"] if p}))
    for i, parent in enumerate(cols["parent"]):
        if parent and parent not in known_parents:
            report.errors.append({"feature": labels[i], "problem": f"unknown parent region {parent!r}"})
    optional = np.array([level not in ("township", "street") for level in levels], dtype=bool)
    geoms = check_geometries(features.geoms, labels, report, optional)
    # Identical areas under two codes: a copy-paste in the GIS.
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if len(present):
        # Candidates share bounds and area (vectorised); only they are compared vertex by vertex.
        keys = np.column_stack([shapely.bounds(geoms[present]), shapely.area(geoms[present])])
        _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
        seen: dict[tuple, int] = {}
        for k in first[counts > 1]:
            seen[tuple(keys[k])] = present[k]
        for position, i in enumerate(present):
            original = seen.get(tuple(keys[position])) if seen else None
            if original is not None and original != i and shapely.equals(geoms[i], geoms[original]):
                report.duplicates.append({"code": labels[i], "same_geometry_as": labels[original]})
    unions = check_coverage(geoms, labels, cols["parent"], report)
    # A county or district of the file without a boundary takes the union of its children's.
    for i in np.flatnonzero(shapely.is_missing(geoms) & optional):
        union = unions.get(codes[i])
        if union is not None and not union.is_empty:
            geoms[i] = shapely.multipolygons(list(shapely.get_parts(union)))
    empowered = [str(v).lower() in ("1", "true", "yes", "t") for v in _text(features.columns.get("empowered"), n)]
    return {
        "code": codes,
        "parent": cols["parent"],
        "level": levels,
        "name_zh": cols["name_zh"],
        "name_en": [e or z for e, z in zip(cols["name_en"], cols["name_zh"], strict=True)],
        "empowered": empowered,
        "geoms": geoms,
    }


# -- loading --------------------------------------------------------------------------------------


def _copy_field(value) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def load_regions(session: Session, rows: dict, progress=None) -> int:
    """Insert the regions with one COPY into a staging table, then link parents; in the caller's transaction."""
    # Hex WKB, which COPY parses into a geometry column (bytes.hex is four times faster than GEOS' hex writer).
    hexes = [None if wkb is None else wkb.hex() for wkb in shapely.to_wkb(rows["geoms"])]
    conn = session.connection().connection.driver_connection  # psycopg 3
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE region_import (code text, parent text, level text, name_zh text, name_en text,"
            " empowered boolean, boundary geometry) ON COMMIT DROP"
        )
        with cur.copy("COPY region_import FROM STDIN") as copy:
            n = len(hexes)
            for start in range(0, n, CHUNK):
                buffer = io.StringIO()
                for i in range(start, min(n, start + CHUNK)):
                    buffer.write(
                        "\t".join(
                            _copy_field(v)
                            for v in (
                                rows["code"][i],
                                rows["parent"][i],
                                rows["level"][i],
                                rows["name_zh"][i],
                                rows["name_en"][i],
                                "t" if rows["empowered"][i] else "f",
                                hexes[i],
                            )
                        )  # fmt: skip
                        + "\n"
                    )
                copy.write(buffer.getvalue())
                if progress is not None:
                    progress.update(min(CHUNK, n - start))
        # Parents before children: one INSERT per level, each joining the parents loaded by the previous ones.
        inserted = 0
        for level in LEVELS:
            cur.execute(
                "INSERT INTO region (code, parent_id, level, name_zh, name_en, empowered, boundary) "
                "SELECT i.code, p.id, i.level, i.name_zh, left(i.name_en, 100), i.empowered, ST_Multi(ST_SetSRID(i.boundary, 4326)) "
                "FROM region_import i LEFT JOIN region p ON p.code = i.parent WHERE i.level = %s",
                (level,),
            )
            inserted += cur.rowcount
        # A county or district still without a boundary (its children came in another file) takes their union.
        for _ in range(len(LEVELS)):
            cur.execute(
                "UPDATE region r SET boundary = (SELECT ST_Multi(ST_CollectionExtract(ST_Union(c.boundary), 3)) "
                "FROM region c WHERE c.parent_id = r.id) "
                "WHERE r.boundary IS NULL AND r.code IN (SELECT code FROM region_import WHERE boundary IS NULL) "
                "AND EXISTS (SELECT 1 FROM region c WHERE c.parent_id = r.id AND c.boundary IS NOT NULL)"
            )
            if cur.rowcount == 0:
                break
    return inserted


def import_regions(session: Session, path: Path | str, *, crs: str = "wgs84", dry_run: bool = False,
                   progress=None) -> Report:  # fmt: skip
    """Validate a file of regions and, when it has no errors, load it (the caller commits)."""
    report = Report()
    rows = validate_regions(session, read_features(path, crs), report)
    if report.ok and not dry_run:
        report.loaded = load_regions(session, rows, progress)
    return report


def import_zones(session: Session, path: Path | str, *, plan_code: str, root_code: str, crs: str = "wgs84",
                 dry_run: bool = False, actor: str = "import") -> Report:  # fmt: skip
    """Zone polygons -> a draft coverage plan over ``root_code``'s townships and streets."""
    report = Report()
    features = read_features(path, crs)
    n = report.features = len(features)
    root = session.scalar(select(Region).where(Region.code == root_code))
    if root is None:
        raise ImportRefused(f"no region {root_code!r} is loaded")
    if session.scalar(select(CoveragePlan.id).where(CoveragePlan.code == plan_code)) is not None:
        raise ImportRefused(f"a plan {plan_code!r} exists already")
    codes = _text(features.columns.get("code"), n)
    labels = [c if c else f"#{i}" for i, c in enumerate(codes)]
    names = _text(features.columns.get("name_zh"), n)
    hubs = _text(features.columns.get("hub"), n)
    for i, code in enumerate(codes):
        if code is None:
            report.errors.append({"feature": labels[i], "problem": "code is missing"})
    for code, count in Counter(c for c in codes if c).items():
        if count > 1:
            report.duplicates.append({"code": code, "times": count})
            report.errors.append({"feature": code, "problem": f"code appears {count} times"})
    geoms = check_geometries(features.geoms, labels, report)
    check_coverage(geoms, labels, [None] * n, report)
    # Membership in PostGIS: each township or street of the root goes to the zone holding its point on surface.
    wkb = [g.wkb_hex if g is not None else None for g in geoms]
    rows = session.execute(
        text("""
        WITH RECURSIVE tree AS (SELECT id FROM region WHERE id = :root
                                UNION ALL SELECT r.id FROM region r JOIN tree t ON r.parent_id = t.id),
        zones AS (SELECT ordinality - 1 AS idx, ST_SetSRID(ST_GeomFromWKB(decode(hex, 'hex')), 4326) AS geom
                  FROM unnest(CAST(:wkb AS text[])) WITH ORDINALITY AS u(hex, ordinality) WHERE hex IS NOT NULL)
        SELECT r.id, r.code, r.name_zh, array_agg(z.idx ORDER BY z.idx) FILTER (WHERE z.idx IS NOT NULL) AS zones
        FROM region r JOIN tree t ON t.id = r.id
        LEFT JOIN zones z ON ST_Covers(z.geom, ST_PointOnSurface(r.boundary))
        WHERE r.level IN ('township', 'street') GROUP BY r.id, r.code, r.name_zh ORDER BY r.code
    """),
        {"root": root.id, "wkb": wkb},
    ).all()
    members: dict[int, list] = defaultdict(list)
    by_code = {}
    for region_id, code, name, zones in rows:
        by_code[code] = region_id
        if not zones:
            report.gaps.append({"region": code, "name": name, "problem": "in no zone"})
            continue
        if len(zones) > 1:
            report.overlaps.append({"region": code, "zones": ", ".join(labels[z] for z in zones),
                                    "kept_in": labels[zones[0]]})  # fmt: skip
        members[zones[0]].append((region_id, code))
    for i in range(n):
        if geoms[i] is not None and not members.get(i):
            report.errors.append({"feature": labels[i], "problem": "covers no township or street of the region"})
        if hubs[i] and hubs[i] not in {c for _, c in members.get(i, [])}:
            report.errors.append({"feature": labels[i], "problem": f"hub {hubs[i]!r} is not one of its members"})
    if not report.ok or dry_run:
        return report
    plan = CoveragePlan(code=plan_code, region=root, name_zh=f"导入方案 {plan_code}", name_en=f"Imported plan {plan_code}",
                        status="draft")  # fmt: skip
    session.add(plan)
    session.flush()
    for i in sorted(members):
        hub_code = hubs[i] or members[i][0][1]
        zone = Zone(plan=plan, code=codes[i], name_zh=names[i] or codes[i], name_en=names[i] or codes[i],
                    hub_region_id=by_code[hub_code])  # fmt: skip
        session.add(zone)
        session.flush()
        session.add_all(ZoneMember(zone_id=zone.id, region_id=rid, plan_id=plan.id) for rid, _ in members[i])
    session.flush()
    refresh_zone_geometry(session, plan.id)
    record(session, actor=actor, action="plan.imported", entity_type="coverage_plan", entity_id=plan.id,
           data={"file": str(path), "zones": len(members)})  # fmt: skip
    report.loaded = len(members)
    return report


# -- export ---------------------------------------------------------------------------------------


def export_plan(session: Session, code: str | None = None, root_code: str | None = None) -> dict:
    """A plan's zones as a GeoJSON FeatureCollection (default: the effective plan of the first county or city)."""
    if code:
        plan = session.scalar(select(CoveragePlan).where(CoveragePlan.code == code))
        if plan is None:
            raise ImportRefused(f"no plan {code!r}")
    else:
        query = select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)
        if root_code:
            query = query.where(Region.code == root_code)
        plan = next((p for p in (effective_plan(session, r) for r in session.scalars(query)) if p), None)
        if plan is None:
            raise ImportRefused("no effective plan")
    rows = session.execute(
        select(Zone, func.ST_AsGeoJSON(Zone.geometry, 6))
        .where(Zone.plan_id == plan.id)
        .options(selectinload(Zone.members).selectinload(ZoneMember.region), selectinload(Zone.hub_region))
        .order_by(Zone.code)
    ).all()
    return {
        "type": "FeatureCollection",
        "plan": {
            "code": plan.code,
            "name_zh": plan.name_zh,
            "name_en": plan.name_en,
            "status": plan.status,
            "effective_at": plan.effective_at.isoformat() if plan.effective_at else None,
            "version": plan.version,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "features": [
            {
                "type": "Feature",
                "id": zone.code,
                "properties": {
                    "code": zone.code,
                    "name_zh": zone.name_zh,
                    "name_en": zone.name_en,
                    "hub": zone.hub_region.code,
                    "hub_name": zone.hub_region.name_zh,
                    "covered": sorted(r.code for r in zone.covered_regions),
                },
                "geometry": json.loads(geom) if geom else None,
            }
            for zone, geom in rows
        ],
    }
