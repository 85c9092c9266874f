"""Coverage plans (覆盖方案): drafts, zone edits, validation, comparison and publication.

A planner copies the published plan into a draft, assigns townships to zones
and picks each zone's hub (or draws a zone's outline), and publishes it with
an effective time; ``effective_plan`` then switches to it at that time.

- Drafts are versioned: every save carries the version it was based on, and a
  stale one is refused with 409 naming both versions (no silent overwrite).
- Validation is computed in PostGIS: townships left uncovered, zones that
  overlap, a hub outside its zone, invalid geometry, empty zones. A draft may
  be saved with problems; it is published only without any.
- A zone's geometry is the union of its members' boundaries, unless the planner
  drew it: then the drawing is kept and its members are the townships lying
  mostly (> 50 % of their area) inside it.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from geoalchemy2.shape import from_shape
from shapely import MultiPolygon, Polygon
from shapely.errors import ShapelyError
from shapely.geometry import shape
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.jurisdiction import effective_plan
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.scope import principal_of, require_region
from dispatch.shapes import iso, region_ref
from dispatch.store.models import CoveragePlan, Region, Zone, ZoneMember
from dispatch.validation import check_fields, optional_text, parse_time, required_text
from gis.geojson import GeometryError, check_coordinates

ZONE_FIELDS = {"code", "name", "name_en", "hub", "members", "geometry", "target_minutes"}
# A zone's response-time target (dispatch.coverage), when given: whole minutes in this range.
TARGET_MINUTES = (5, 1440)
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_ZONES = 200
# A drawn zone takes a township when more than this share of the township lies inside the drawing.
DRAWN_MEMBER_SHARE = 0.5
# The longest plan names (coverage_plan.name_zh, name_en), and how a draft's name is marked.
NAME_MAX, NAME_EN_MAX = 100, 150
DRAFT_MARK, DRAFT_MARK_EN = "（草案）", " (draft)"


# -- reading ------------------------------------------------------------------------------------


def get_plan(session: Session, plan_id: int, *, lock: bool = False) -> CoveragePlan:
    query = select(CoveragePlan).where(CoveragePlan.id == plan_id)
    if lock:
        query = query.with_for_update()
    plan = session.scalar(query)
    if plan is None:
        raise NotFound(f"no coverage plan {plan_id}", field="plan_id")
    return plan


def plan_summary(session: Session, plan: CoveragePlan) -> dict:
    root = session.get(Region, plan.region_id)
    current = effective_plan(session, root)
    return {
        "id": plan.id,
        "code": plan.code,
        "name": plan.name_zh,
        "name_en": plan.name_en,
        "status": plan.status,
        "effective_at": iso(plan.effective_at),
        "in_effect": current is not None and current.id == plan.id,
        "version": plan.version,
        "region": region_ref(root),
        "created_at": iso(plan.created_at),
    }


def list_plans(session: Session, regions: frozenset[int] | None = None) -> list[dict]:
    """Every plan, by county and newest first; only the plans of ``regions`` when given (a scope)."""
    query = select(CoveragePlan).order_by(CoveragePlan.region_id, CoveragePlan.id.desc())
    if regions is not None:
        query = query.where(CoveragePlan.region_id.in_(regions))
    plans = session.scalars(query).all()
    return [plan_summary(session, p) for p in plans]


def townships_of(session: Session, root_id: int) -> list[dict]:
    """The townships and streets under the plan's county or city (what a plan must cover)."""
    rows = session.execute(
        text("""
        WITH RECURSIVE down(id) AS (
            SELECT id FROM region WHERE id = :root
            UNION ALL SELECT r.id FROM region r JOIN down ON r.parent_id = down.id
        )
        SELECT r.code, r.name_zh, r.name_en FROM region r JOIN down ON down.id = r.id
        WHERE r.level IN ('township', 'street') ORDER BY r.code
    """),
        {"root": root_id},
    ).all()
    return [{"code": r.code, "name": r.name_zh, "name_en": r.name_en} for r in rows]


def zones_json(session: Session, plan_id: int) -> list[dict]:
    """The zones of a plan with members, hub, geometry and whether the outline was drawn."""
    rows = session.execute(
        text("""
        SELECT z.id, z.code, z.name_zh, z.name_en, h.code AS hub, z.target_minutes,
               ST_AsGeoJSON(z.geometry, 6) AS geom,
               coalesce((SELECT array_agg(r.code ORDER BY r.code) FROM zone_member m JOIN region r ON r.id = m.region_id
                         WHERE m.zone_id = z.id), '{}') AS members,
               CASE WHEN z.geometry IS NULL THEN false
                    WHEN NOT ST_IsValid(z.geometry) THEN true  -- a union of boundaries is always valid
                    ELSE coalesce(NOT ST_Equals(z.geometry, (
                        SELECT ST_Union(r.boundary) FROM zone_member m JOIN region r ON r.id = m.region_id
                        WHERE m.zone_id = z.id)), true)
               END AS drawn
        FROM zone z JOIN region h ON h.id = z.hub_region_id
        WHERE z.plan_id = :plan ORDER BY z.code
    """),
        {"plan": plan_id},
    ).all()
    return [
        {
            "code": r.code,
            "name": r.name_zh,
            "name_en": r.name_en,
            "hub": r.hub,
            "target_minutes": r.target_minutes,
            "members": list(r.members),
            "drawn": bool(r.drawn),
            "geometry": json.loads(r.geom) if r.geom else None,
        }
        for r in rows
    ]


def plan_json(session: Session, plan: CoveragePlan) -> dict:
    return {
        **plan_summary(session, plan),
        "zones": zones_json(session, plan.id),
        "townships": townships_of(session, plan.region_id),
        "issues": validate(session, plan.id),
    }


# -- drafts -------------------------------------------------------------------------------------


def _root(session: Session, code: str | None) -> Region:
    if code is None:
        roots = session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)).all()
        if len(roots) != 1:
            raise ApiError("several counties are loaded: name one", field="region", status=422)
        return roots[0]
    region = session.scalar(select(Region).where(Region.code == code, Region.parent_id.is_(None)))
    if region is None:
        raise ApiError(f"no loaded county or city {code!r}", field="region", status=422, code="unknown_region")
    return region


def draft_name(name: str, mark: str, limit: int) -> str:
    """The name of a draft of the plan ``name``: marked as a draft once, and shortened with an
    ellipsis when the mark would take it past ``limit`` (a plan may use every character)."""
    base = name.removesuffix(mark)
    if len(base) + len(mark) > limit:
        base = base[: limit - len(mark) - 1].rstrip() + "…"
    return base + mark


def create_draft(session: Session, body: dict, *, actor: str) -> CoveragePlan:
    """A new draft: a copy of the published plan in effect (or of ``from``), zones and drawings included."""
    check_fields(body, {"region", "from", "name", "name_en"})
    source_code = optional_text(body, "from", 40)
    if source_code:
        source = session.scalar(select(CoveragePlan).where(CoveragePlan.code == source_code))
        if source is None:
            raise ApiError(f"no coverage plan {source_code!r}", field="from", status=422, code="unknown_plan")
        root = session.get(Region, source.region_id)
    else:
        root = _root(session, optional_text(body, "region", 32))
        source = effective_plan(session, root)
    require_region(session, principal_of(actor), root.id, "the plan's county")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    code = f"{root.code}-draft-{stamp}"
    n = 1
    while session.scalar(select(CoveragePlan.id).where(CoveragePlan.code == code)) is not None:
        n += 1
        code = f"{root.code}-draft-{stamp}-{n}"
    plan = CoveragePlan(
        code=code,
        region_id=root.id,
        name_zh=optional_text(body, "name", NAME_MAX)
        or draft_name(source.name_zh if source else f"{root.name_zh}覆盖方案", DRAFT_MARK, NAME_MAX),
        name_en=optional_text(body, "name_en", NAME_EN_MAX)
        or draft_name(source.name_en if source else f"{root.name_en} plan", DRAFT_MARK_EN, NAME_EN_MAX),
        status="draft",
        version=1,
    )
    session.add(plan)
    session.flush()
    if source is not None:
        session.execute(
            text("""
            INSERT INTO zone (plan_id, code, name_zh, name_en, hub_region_id, geometry, target_minutes)
            SELECT :new, code, name_zh, name_en, hub_region_id, geometry, target_minutes FROM zone WHERE plan_id = :old
        """),
            {"new": plan.id, "old": source.id},
        )
        session.execute(
            text("""
            INSERT INTO zone_member (zone_id, region_id, plan_id)
            SELECT nz.id, m.region_id, :new FROM zone_member m
            JOIN zone oz ON oz.id = m.zone_id JOIN zone nz ON nz.plan_id = :new AND nz.code = oz.code
            WHERE m.plan_id = :old
        """),
            {"new": plan.id, "old": source.id},
        )
    record(
        session,
        actor=actor,
        action="plan.draft_created",
        entity_type="plan",
        entity_id=plan.id,
        data={"code": plan.code, "from": source.code if source else None},
    )
    return plan


def _parse_geometry(value, field: str):
    """A drawn outline: GeoJSON Polygon or MultiPolygon in lon/lat. Topology is checked by ``validate``."""
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ApiError("must be a GeoJSON Polygon or MultiPolygon", field=field)
    # The declared body (dispatch.http.contract.plans) checks the shape; what it cannot say (the
    # number of positions over all rings, what Shapely refuses) is refused here with 422.
    try:  # finite WGS84 positions before Shapely sees them: GEOS raised on a NaN vertex
        check_coordinates(value, field, max_vertices=50_000)
    except GeometryError as exc:
        raise ApiError(exc.message, field=exc.field, status=422) from None
    try:
        geom = shape(value)
        rings = [ring for p in getattr(geom, "geoms", [geom]) for ring in (p.exterior, *p.interiors)]
        coords = [c for ring in rings for c in ring.coords]
    except (ValueError, TypeError, IndexError, AttributeError, ShapelyError) as exc:
        raise ApiError(f"malformed coordinates: {exc}", field=f"{field}.coordinates", status=422) from None
    if not coords:
        raise ApiError("between 4 and 50000 positions", field=f"{field}.coordinates", status=422)
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom]) if isinstance(geom, Polygon) else geom


def parse_zones(session: Session, plan: CoveragePlan, value) -> list[dict]:
    """The zones of a save: ``[{code, name, name_en?, hub, members?, geometry?}]`` checked field by field."""
    if not isinstance(value, list) or len(value) > MAX_ZONES:
        raise ApiError(f"must be a list of at most {MAX_ZONES} zones", field="zones")
    townships = {t["code"] for t in townships_of(session, plan.region_id)}
    ids = dict(session.execute(select(Region.code, Region.id).where(Region.code.in_(townships))).all())
    zones: list[dict] = []
    seen_codes: set[str] = set()
    owner: dict[str, str] = {}
    for i, item in enumerate(value):
        prefix = f"zones[{i}]."
        if not isinstance(item, dict):
            raise ApiError("must be an object", field=f"zones[{i}]")
        check_fields(item, ZONE_FIELDS, prefix)
        code = item.get("code")
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            raise ApiError("lower-case letters, digits, - or _, at most 40", field=prefix + "code")
        if code in seen_codes:
            raise ApiError(f"zone code {code!r} is used twice", field=prefix + "code", status=422)
        seen_codes.add(code)
        name = required_text(item, "name", 100, prefix)
        name_en = optional_text(item, "name_en", 150, prefix) or name
        hub = item.get("hub")
        if not isinstance(hub, str) or hub not in townships:
            raise ApiError(f"{hub!r} is not a township of this plan's county", field=prefix + "hub", status=422)
        members = item.get("members") or []
        if not isinstance(members, list):
            raise ApiError("must be a list of township codes", field=prefix + "members")
        for j, member in enumerate(members):
            if not isinstance(member, str) or member not in townships:
                raise ApiError(
                    f"{member!r} is not a township of this plan's county", field=f"{prefix}members[{j}]", status=422
                )
            if member in owner and owner[member] != code:
                raise ApiError(
                    f"township {member} is already in zone {owner[member]!r}: a township belongs to one zone",
                    field=f"{prefix}members[{j}]",
                    status=422,
                    code="township_in_two_zones",
                )
            owner[member] = code
        geometry = _parse_geometry(item["geometry"], prefix + "geometry") if item.get("geometry") else None
        target = item.get("target_minutes")
        if target is not None and (
            isinstance(target, bool)
            or not isinstance(target, int)
            or not TARGET_MINUTES[0] <= target <= TARGET_MINUTES[1]
        ):
            raise ApiError(
                f"whole minutes from {TARGET_MINUTES[0]} to {TARGET_MINUTES[1]}, or null (the default)",
                field=prefix + "target_minutes",
            )
        zones.append(
            {
                "code": code,
                "name": name,
                "name_en": name_en,
                "hub_id": ids[hub],
                "member_ids": sorted({ids[m] for m in members}),
                "geometry": geometry,
                "target_minutes": target,
            }
        )
    return zones


def _write_zones(session: Session, plan: CoveragePlan, zones: list[dict]) -> None:
    """Replace the plan's zones; derive the geometry of the others and the members of drawn ones."""
    session.execute(delete(Zone).where(Zone.plan_id == plan.id))
    session.flush()
    taken = {m for z in zones for m in z["member_ids"]}
    drawn: list[tuple[int, list[int]]] = []
    for z in zones:
        zone = Zone(
            plan_id=plan.id,
            code=z["code"],
            name_zh=z["name"],
            name_en=z["name_en"],
            hub_region_id=z["hub_id"],
            target_minutes=z.get("target_minutes"),
            geometry=from_shape(z["geometry"], srid=4326) if z["geometry"] is not None else None,
        )
        session.add(zone)
        session.flush()
        for region_id in z["member_ids"]:
            session.add(ZoneMember(zone_id=zone.id, region_id=region_id, plan_id=plan.id))
        if z["geometry"] is not None and not z["member_ids"]:
            drawn.append((zone.id, []))
    session.flush()
    for zone_id, _ in drawn:
        # Members of a drawn zone: townships mostly inside the (repaired) drawing, not claimed by another zone.
        rows = session.execute(
            text("""
            WITH RECURSIVE down(id) AS (
                SELECT id FROM region WHERE id = :root
                UNION ALL SELECT r.id FROM region r JOIN down ON r.parent_id = down.id
            )
            SELECT r.id FROM region r JOIN down ON down.id = r.id, zone z
            WHERE z.id = :zone AND r.level IN ('township', 'street') AND r.boundary IS NOT NULL
              AND ST_Intersects(r.boundary, ST_MakeValid(z.geometry))
              AND ST_Area(ST_Intersection(r.boundary, ST_MakeValid(z.geometry))) > :share * ST_Area(r.boundary)
        """),
            {"root": plan.region_id, "zone": zone_id, "share": DRAWN_MEMBER_SHARE},
        ).scalars()
        for region_id in rows:
            if region_id not in taken:
                taken.add(region_id)
                session.add(ZoneMember(zone_id=zone_id, region_id=region_id, plan_id=plan.id))
    session.flush()
    # Zones not drawn: the union of their members' boundaries.
    session.execute(
        text("""
        UPDATE zone SET geometry = (
            SELECT ST_Multi(ST_CollectionExtract(ST_Union(r.boundary), 3))
            FROM zone_member m JOIN region r ON r.id = m.region_id WHERE m.zone_id = zone.id
        )
        WHERE plan_id = :plan AND code = ANY(:codes)
    """),
        {"plan": plan.id, "codes": [z["code"] for z in zones if z["geometry"] is None]},
    )


def _stale(plan: CoveragePlan, version) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ApiError("the version the edit is based on is required (a whole number)", field="version")
    if version != plan.version:
        raise Conflict(
            f"plan {plan.code} was changed by someone else: your edit is based on version {version}, "
            f"the plan is now at version {plan.version}; reload it and apply your changes again",
            field="version",
            code="version_conflict",
            details={"yours": version, "current": plan.version},
        )


def _draft_only(plan: CoveragePlan) -> None:
    if plan.status != "draft":
        raise Conflict(
            f"plan {plan.code} is {plan.status}: published plans are not edited, make a draft", code="plan_published"
        )


def save_draft(session: Session, plan_id: int, body: dict, *, actor: str) -> CoveragePlan:
    """Replace the draft's zones (and names) if ``version`` is current; the version goes up by one."""
    check_fields(body, {"version", "zones", "name", "name_en"})
    plan = get_plan(session, plan_id, lock=True)  # concurrent saves queue here; the second sees the new version
    _draft_only(plan)
    _stale(plan, body.get("version"))
    if body.get("name") is not None:
        plan.name_zh = required_text(body, "name", NAME_MAX)
    if body.get("name_en") is not None:
        plan.name_en = required_text(body, "name_en", NAME_EN_MAX)
    if body.get("zones") is not None:
        _write_zones(session, plan, parse_zones(session, plan, body["zones"]))
    plan.version += 1
    session.flush()
    record(
        session,
        actor=actor,
        action="plan.saved",
        entity_type="plan",
        entity_id=plan.id,
        data={
            "code": plan.code,
            "version": plan.version,
            "zones": [
                {"code": z["code"], "hub": z["hub"], "members": z["members"], "drawn": z["drawn"]}
                for z in zones_json(session, plan.id)
            ],
        },
    )
    return plan


def check_edit(session: Session, plan_id: int, body: dict) -> dict:
    """Validation while editing: the issues of ``zones`` as if saved, and the zones as they would be
    (members of drawn outlines derived), without saving anything. Only a draft is edited: the zones
    of a published plan are held by its incidents, so trying edits on one is refused as saving is."""
    check_fields(body, {"zones", "version"})
    plan = get_plan(session, plan_id)
    _draft_only(plan)
    zones = parse_zones(session, plan, body.get("zones"))
    savepoint = session.begin_nested()
    try:
        _write_zones(session, plan, zones)
        return {"issues": validate(session, plan.id), "zones": zones_json(session, plan.id)}
    finally:
        savepoint.rollback()


# -- validation ---------------------------------------------------------------------------------


def _geo(value: str | None) -> dict | None:
    return json.loads(value) if value else None


def validate(session: Session, plan_id: int) -> list[dict]:
    """Every problem of the plan, computed in PostGIS, each with a geometry to draw where it lies."""
    plan = get_plan(session, plan_id)
    issues: list[dict] = []
    params = {"plan": plan_id, "root": plan.region_id}
    for r in session.execute(
        text("""
        WITH RECURSIVE down(id) AS (
            SELECT id FROM region WHERE id = :root
            UNION ALL SELECT r.id FROM region r JOIN down ON r.parent_id = down.id
        )
        SELECT r.code, r.name_zh, r.name_en, ST_AsGeoJSON(r.boundary, 6) AS geom
        FROM region r JOIN down ON down.id = r.id
        WHERE r.level IN ('township', 'street')
          AND NOT EXISTS (SELECT 1 FROM zone_member m WHERE m.plan_id = :plan AND m.region_id = r.id)
        ORDER BY r.code
    """),
        params,
    ):
        issues.append(
            {
                "kind": "uncovered",
                "severity": "error",
                "region": {"code": r.code, "name": r.name_zh, "name_en": r.name_en},
                "message": f"{r.name_zh} ({r.code}) is in no zone",
                "geometry": _geo(r.geom),
            }
        )
    for r in session.execute(
        text("""
        SELECT z.code, ST_IsValidReason(z.geometry) AS reason,
               ST_AsGeoJSON(coalesce((ST_IsValidDetail(z.geometry)).location, ST_PointOnSurface(ST_MakeValid(z.geometry))), 6) AS geom
        FROM zone z WHERE z.plan_id = :plan AND z.geometry IS NOT NULL AND NOT ST_IsValid(z.geometry)
        ORDER BY z.code
    """),
        params,
    ):
        issues.append(
            {
                "kind": "invalid_geometry",
                "severity": "error",
                "zone": r.code,
                "message": f"zone {r.code}: {r.reason}",
                "geometry": _geo(r.geom),
            }
        )
    for r in session.execute(
        text("""
        SELECT z.code FROM zone z WHERE z.plan_id = :plan
          AND NOT EXISTS (SELECT 1 FROM zone_member m WHERE m.zone_id = z.id) ORDER BY z.code
    """),
        params,
    ):
        issues.append(
            {
                "kind": "empty_zone",
                "severity": "error",
                "zone": r.code,
                "message": f"zone {r.code} covers no township",
                "geometry": None,
            }
        )
    for r in session.execute(
        text("""
        SELECT z.code, h.code AS hub, h.name_zh AS hub_name, ST_AsGeoJSON(h.boundary, 6) AS geom
        FROM zone z JOIN region h ON h.id = z.hub_region_id
        WHERE z.plan_id = :plan AND (
            NOT EXISTS (SELECT 1 FROM zone_member m WHERE m.zone_id = z.id AND m.region_id = z.hub_region_id)
            OR (z.geometry IS NOT NULL AND ST_IsValid(z.geometry)
                AND NOT ST_Covers(z.geometry, ST_PointOnSurface(h.boundary))))
        ORDER BY z.code
    """),
        params,
    ):
        issues.append(
            {
                "kind": "hub_outside",
                "severity": "error",
                "zone": r.code,
                "region": {"code": r.hub, "name": r.hub_name},
                "message": f"the hub of zone {r.code}, {r.hub_name}, is not inside the zone",
                "geometry": _geo(r.geom),
            }
        )
    for r in session.execute(
        text("""
        SELECT a.code AS a, b.code AS b, ST_AsGeoJSON(ST_CollectionExtract(ST_Intersection(a.geometry, b.geometry), 3), 6) AS geom
        FROM zone a JOIN zone b ON a.plan_id = b.plan_id AND a.code < b.code
        WHERE a.plan_id = :plan AND a.geometry IS NOT NULL AND b.geometry IS NOT NULL
          AND ST_IsValid(a.geometry) AND ST_IsValid(b.geometry)
          AND a.geometry && b.geometry AND ST_Relate(a.geometry, b.geometry, '2********')
        ORDER BY a.code, b.code
    """),
        params,
    ):
        issues.append(
            {
                "kind": "overlap",
                "severity": "error",
                "zones": [r.a, r.b],
                "message": f"zones {r.a} and {r.b} overlap",
                "geometry": _geo(r.geom),
            }
        )
    return issues


# -- comparison and publication -----------------------------------------------------------------


def compare(session: Session, plan_id: int, other_code: str | None = None) -> dict:
    """What changes from the published plan in effect (or ``other_code``) to this plan."""
    plan = get_plan(session, plan_id)
    if other_code:
        other = session.scalar(select(CoveragePlan).where(CoveragePlan.code == other_code))
        if other is None:
            raise ApiError(f"no coverage plan {other_code!r}", field="with", status=422, code="unknown_plan")
    else:
        other = effective_plan(session, session.get(Region, plan.region_id))
    mine = {z["code"]: z for z in zones_json(session, plan.id)}
    theirs = {z["code"]: z for z in zones_json(session, other.id)} if other else {}
    zone_of_mine = {m: z["code"] for z in mine.values() for m in z["members"]}
    zone_of_theirs = {m: z["code"] for z in theirs.values() for m in z["members"]}
    townships = townships_of(session, plan.region_id)
    return {
        "plan": plan.code,
        "against": other.code if other else None,
        "townships": [
            {"region": t, "from": zone_of_theirs.get(t["code"]), "to": zone_of_mine.get(t["code"])}
            for t in townships
            if zone_of_theirs.get(t["code"]) != zone_of_mine.get(t["code"])
        ],
        "zones_added": sorted(set(mine) - set(theirs)),
        "zones_removed": sorted(set(theirs) - set(mine)),
        "hubs_changed": [
            {"zone": code, "from": theirs[code]["hub"], "to": mine[code]["hub"]}
            for code in sorted(set(mine) & set(theirs))
            if mine[code]["hub"] != theirs[code]["hub"]
        ],
        "outlines_changed": sorted(
            code
            for code in set(mine) & set(theirs)
            if (mine[code]["drawn"] or theirs[code]["drawn"]) and mine[code]["geometry"] != theirs[code]["geometry"]
        ),
    }


def publish(session: Session, plan_id: int, body: dict, *, actor: str) -> CoveragePlan:
    """Publish a valid draft from ``effective_at`` (default now); the command centres switch then."""
    check_fields(body, {"version", "effective_at"})
    plan = get_plan(session, plan_id, lock=True)
    _draft_only(plan)
    _stale(plan, body.get("version"))
    now = dt.datetime.now(dt.UTC)
    effective_at = parse_time(body.get("effective_at"), "effective_at") or now
    if effective_at < now - dt.timedelta(minutes=5):
        raise ApiError("lies in the past: a plan takes effect now or later", field="effective_at", status=422)
    issues = validate(session, plan.id)
    if issues:
        raise ApiError(
            f"the plan has {len(issues)} problem(s); fix them before publishing",
            status=422,
            code="plan_invalid",
            details={"issues": [{k: v for k, v in i.items() if k != "geometry"} for i in issues]},
        )
    plan.status = "published"
    plan.effective_at = effective_at
    plan.version += 1
    session.flush()
    event = record(
        session,
        actor=actor,
        action="plan.published",
        entity_type="plan",
        entity_id=plan.id,
        data={"code": plan.code, "effective_at": effective_at.isoformat(), "version": plan.version},
    )
    root = session.get(Region, plan.region_id)
    publish_after_commit(
        session,
        "plan",
        {
            "id": plan.id,
            "code": plan.code,
            "status": plan.status,
            "region": root.code,
            "effective_at": effective_at.isoformat(),
        },
        rev=event.id,
    )
    return plan
