"""Whose place is this? Township, "1+X" zone, competent authority and covering squads.

Seed 001 §3.2.4: an empowered township (Yangshan) enforces the matters of its
catalogue in its own name, and everything else in the name of the county
comprehensive enforcement bureau; the other townships are served by squads
stationed there in the bureau's name; the Ma'an Islands zone is "1+X", its hub
Shengshan covering Gouqi and Huaniao. A matter of a professional domain belongs
to that domain's department.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from dispatch.catalogue import matters_in_force
from dispatch.errors import ApiError, NotFound
from dispatch.shapes import authority_json, matter_json, region_ref, squad_from_row, zone_json
from dispatch.store.models import OFFICER_COUNTS_SQL, Authority, CoveragePlan, Matter, Region, Squad, Zone, ZoneMember
from gis import clock
from gis.clock import local_day

# Which authority kinds may act for a matter whose catalogue entry names ``kind``.
_ACCEPTED_KINDS = {
    "county_bureau": ("county_bureau", "municipal_bureau"),
    "municipal_bureau": ("municipal_bureau",),
    "department": ("department",),
    "township_government": ("township_government",),
}


@dataclass
class Jurisdiction:
    """The answer for one place (and optionally one matter)."""

    region: Region
    ancestors: list[Region]  # nearest first: the county, then the city...
    zone: Zone | None
    authority: Authority
    basis: str
    matter: Matter | None
    squads: list[dict]  # as squad_summary shows them

    def to_json(self) -> dict:
        return {
            "region": {**region_ref(self.region), "level": self.region.level, "empowered": self.region.empowered},
            "ancestors": [region_ref(a) for a in self.ancestors],
            "zone": zone_json(self.zone) if self.zone else None,
            "authority": authority_json(self.authority),
            "basis": self.basis,
            "matter": matter_json(self.matter) if self.matter else None,
            "squads": self.squads,
        }


def find_matter(session: Session, code: str, field: str = "matter") -> Matter:
    matter = session.scalar(select(Matter).where(Matter.code == code))
    if matter is None:
        raise ApiError(f"unknown matter code {code!r}", field=field, status=422, code="unknown_matter")
    return matter


def region_at(session: Session, lon: float, lat: float) -> Region | None:
    """The smallest township or street whose boundary covers the point (GiST index)."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return session.scalar(
        select(Region)
        .where(Region.level.in_(("township", "street")), func.ST_Covers(Region.boundary, point))
        .order_by(func.ST_Area(Region.boundary))
        .limit(1)
    )


def ancestors_of(session: Session, region: Region) -> list[Region]:
    """The region's ancestors, nearest first, in one recursive query."""
    rows = (
        session.execute(
            text("""
        WITH RECURSIVE up(id, parent_id, depth) AS (
            SELECT id, parent_id, 0 FROM region WHERE id = :id
            UNION ALL
            SELECT r.id, r.parent_id, up.depth + 1 FROM region r JOIN up ON r.id = up.parent_id
        ) SELECT id FROM up WHERE depth > 0 ORDER BY depth
    """),
            {"id": region.id},
        )
        .scalars()
        .all()
    )
    by_id = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(rows)))}
    return [by_id[i] for i in rows]


def effective_plan(session: Session, root: Region, at: dt.datetime | None = None) -> CoveragePlan | None:
    """The published plan of ``root`` with the latest effective time not after ``at``."""
    at = at or dt.datetime.now(dt.UTC)
    return session.scalar(
        select(CoveragePlan)
        .where(CoveragePlan.region_id == root.id, CoveragePlan.status == "published", CoveragePlan.effective_at <= at)
        .order_by(CoveragePlan.effective_at.desc())
        .limit(1)
    )


def zone_of(session: Session, region: Region, plan: CoveragePlan | None) -> Zone | None:
    if plan is None:
        return None
    return session.scalar(
        select(Zone)
        .join(ZoneMember, ZoneMember.zone_id == Zone.id)
        .where(ZoneMember.plan_id == plan.id, ZoneMember.region_id == region.id)
        .options(selectinload(Zone.members).selectinload(ZoneMember.region), selectinload(Zone.hub_region))
    )


def competent_authority(
    session: Session, region: Region, ancestors: list[Region], matter: Matter | None, *, major: bool = False
) -> tuple[Authority, str]:
    """The authority in whose name an act at ``region`` on ``matter`` is done, and why.

    Cities (seed 003, 筑府办函〔2024〕51号 §4): ``major`` (a cross-district or major complex
    case) takes a district-level matter up to the municipal bureau when the place has one.
    A department's matter enforced by squads of the comprehensive force serving under that
    department (the municipal detachment's seconded brigades) is entrusted enforcement: the act
    is still done in the entrusting department's name, and the basis says so (§2, §3).
    """
    if region.empowered and (matter is None or (matter.authority_kind == "county_bureau" and matter.township_held)):
        own = session.scalar(
            select(Authority).where(Authority.region_id == region.id, Authority.kind == "township_government")
        )
        if own is not None:
            why = (
                f"{region.name_zh} is empowered"
                + (f" and holds matter {matter.code}" if matter else "")
                + ": it enforces in its own name (seed 001 §3.2.4)"
            )
            return own, why
    kind = matter.authority_kind if matter else "county_bureau"
    accepted = _ACCEPTED_KINDS[kind]
    chain = [region, *ancestors]
    if major and kind == "county_bureau":
        municipal = _municipal_bureau(session, chain)
        if municipal is not None:
            subject = f"matter {matter.code}" if matter else "the case"
            return municipal, (
                f"{subject} is cross-district or major and complex: it goes to the municipal level, "
                f"{municipal.name_zh} (seed 003 §4)"
            )
    candidates = session.scalars(
        select(Authority).where(
            Authority.region_id.in_([r.id for r in chain]),
            Authority.kind.in_(accepted),
            *([Authority.domain == matter.domain] if kind == "department" else []),
        )
    ).all()
    rank = {r.id: i for i, r in enumerate(chain)}
    candidates = sorted(candidates, key=lambda a: rank[a.region_id])
    if candidates:
        authority = candidates[0]
        if matter is None:
            why = f"{region.name_zh} is served in the name of {authority.name_zh} (seed 001 §3.2.4)"
        elif kind == "department":
            why = f"matter {matter.code} is in the {matter.domain} domain of {authority.name_zh}"
            entrusted = _entrusted_squads(session, authority)
            if entrusted:
                why += (
                    f"; entrusted to {', '.join(entrusted)}: penalties in the name of {authority.name_zh} "
                    "(seed 003 §2, §3)"
                )
        elif region.empowered:
            why = (
                f"matter {matter.code} is outside {region.name_zh}'s empowered catalogue: "
                f"enforced in the name of {authority.name_zh} (seed 001 §3.2.4)"
            )
        else:
            why = f"matter {matter.code} is enforced in the name of {authority.name_zh}"
        return authority, why
    raise NotFound(
        f"no competent authority is configured for {region.name_zh}" + (f" and matter {matter.code}" if matter else ""),
        code="no_authority",
    )


def _municipal_bureau(session: Session, chain: list[Region]) -> Authority | None:
    return session.scalar(
        select(Authority)
        .where(Authority.region_id.in_([r.id for r in chain]), Authority.kind == "municipal_bureau")
        .limit(1)
    )


def _entrusted_squads(session: Session, department: Authority) -> list[str]:
    """Comprehensive-force squads serving under a department: it has entrusted its matters to them."""
    return list(
        session.scalars(
            select(Squad.name_zh)
            .where(Squad.authority_id == department.id, Squad.force == "comprehensive")
            .order_by(Squad.code)
        )
    )


# What the jurisdiction shows of each covering squad (``squad_summary``), in one statement: the
# authority and station region joined, the officers counted. Through the ORM the same answer
# took five statements and made some 150 objects for up to 50 squads (16 ms of a POST /incidents
# on a slow hour).
_COVERING_SQUADS = f"""
    SELECT s.id, s.code, s.name_zh, s.name_en, s.force, s.domains, s.scope, s.status, s.last_position_at,
           a.code AS authority_code, a.name_zh AS authority_name,
           r.code AS region_code, r.name_zh AS region_name, r.name_en AS region_name_en,
           {OFFICER_COUNTS_SQL} AS officer_counts
    FROM squad s
    JOIN authority a ON a.id = s.authority_id
    JOIN region r ON r.id = s.station_region_id
    WHERE ((s.scope = 'zone' AND s.station_region_id = ANY(CAST(:zone_regions AS integer[])))
           OR (s.scope = 'authority' AND a.region_id = ANY(CAST(:chain AS integer[]))))
      AND %s
    ORDER BY s.scope <> 'zone', ST_Distance(s.station, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography), s.id
    LIMIT :limit"""
_COVERING_ANY = text(_COVERING_SQUADS % "true")
_COVERING_COMPETENT = text(_COVERING_SQUADS % "s.domains @> ARRAY[CAST(:domain AS varchar)]")


def covering_squads(
    session: Session,
    region: Region,
    ancestors: list[Region],
    zone: Zone | None,
    matter: Matter | None,
    lon: float,
    lat: float,
    limit: int = 50,
) -> list[dict]:
    """Squads that cover the place, as ``squad_summary`` shows them: stationed in its zone, or
    serving their authority's whole area.

    Zone squads first, then by distance; at most ``limit`` (a city has hundreds).

    With a matter, only squads competent for its domain; nearest station first.
    """
    zone_regions = [m.region_id for m in zone.members] if zone else [region.id]
    params = {
        "zone_regions": zone_regions,
        "chain": [region.id, *(a.id for a in ancestors)],
        "lon": lon,
        "lat": lat,
        "limit": limit,
        "today": local_day(),
        "now": clock.utc_now(),
    }
    if matter is not None:
        statement, params["domain"] = _COVERING_COMPETENT, matter.domain
    else:
        statement = _COVERING_ANY
    return [
        squad_from_row(
            row, (row.authority_code, row.authority_name), (row.region_code, row.region_name, row.region_name_en)
        )
        for row in session.execute(statement, params)
    ]


def jurisdiction_at(
    session: Session,
    lon: float,
    lat: float,
    matter_code: str | None = None,
    *,
    squad_limit: int = 50,
    major: bool = False,
) -> Jurisdiction:
    """Who covers the place ``(lon, lat)`` and in whose name they act (``major``: a cross-district or major case).

    The matter as the county's catalogue in force now lists it (dispatch.catalogue: 422
    ``matter_not_in_catalogue`` for a withdrawn one)."""
    matter = find_matter(session, matter_code) if matter_code else None
    region = region_at(session, lon, lat)
    if region is None:
        raise NotFound(
            f"({lon}, {lat}) lies in no township: open sea or outside every loaded county", code="outside_jurisdiction"
        )
    if matter is not None:
        ancestors = ancestors_of(session, region)
        root = ancestors[-1] if ancestors else region
        matter = matters_in_force(session, root, [matter], clock.utc_now(), field="matter")[0]
    return with_covering_squads(session, jurisdiction_in(session, region, matter, major=major), lon, lat, squad_limit)


def jurisdiction_in(session: Session, region: Region, matter: Matter | None, *, major: bool = False) -> Jurisdiction:
    """The jurisdiction of a township already found, without its squads (``with_covering_squads``)."""
    ancestors = ancestors_of(session, region)
    root = ancestors[-1] if ancestors else region
    zone = zone_of(session, region, effective_plan(session, root))
    authority, basis = competent_authority(session, region, ancestors, matter, major=major)
    return Jurisdiction(region, ancestors, zone, authority, basis, matter, [])


def with_covering_squads(
    session: Session, found: Jurisdiction, lon: float, lat: float, limit: int = 50
) -> Jurisdiction:
    """``found`` with the squads that cover ``(lon, lat)`` in it (``covering_squads``)."""
    found.squads = covering_squads(session, found.region, found.ancestors, found.zone, found.matter, lon, lat, limit)
    return found
