"""Live 1+X coverage: is every township within reach of an available squad, in its zone's target?

A township is covered while an available, competent (COVERAGE_DOMAIN), certified squad can
reach its reference point (a point inside its largest piece of land) within the target of its
zone in the published plan (``zone.target_minutes``, else COVERAGE_TARGET_MINUTES), by the
recommendation's own travel model (``dispatch.recommend``: roads, ferry timetables, boats).

The state is a table (``township_coverage``), one row per township, so every process and every
screen reads the same answer. It is brought up to date

- after a squad's status changes (``update_for_squads``): the townships whose best squad it was
  are ranked again (a KNN query each); for a squad that became available, its own ETA to every
  township of its county is computed in memory (one ferry search per pier of its island) and
  it takes the townships it now reaches first;
- in full (``recompute``) when a plan is published, at start-up and periodically (squads move).

Writers take one advisory lock per county, so two processes never interleave their updates;
each reads the squads as committed, so the last writer is right. Changed rows get a new ``rev``
and go to the command centre as ``coverage`` updates; an uncovered township raises an alert.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch import alerts
from dispatch.live.bus import publish_after_commit
from dispatch.recommend import (
    DEFAULT_STALE_MINUTES,
    PLACED_ISLAND_SQL,
    PLACED_POSITION_SQL,
    network_for,
    recommend_at,
)
from dispatch.store import refcache
from dispatch.store.models import CERTIFIED_ON_DUTY_SQL
from gis import clock
from gis.clock import local_day
from gis.travel import clear_of, great_circle_m

_LOCK_BASE = 0x5C0_0000  # pg_advisory_xact_lock(_LOCK_BASE + county id): one writer per county


@dataclass(frozen=True)
class Township:
    id: int
    code: str
    name: str
    name_en: str | None
    root_id: int
    lon: float
    lat: float
    island: int | None


@dataclass
class Reach:
    """A township's coverage as computed now."""

    township: Township
    zone_id: int | None
    target_minutes: int
    best_squad_id: int | None
    eta_seconds: int | None

    @property
    def covered(self) -> bool:
        return self.eta_seconds is not None and self.eta_seconds <= self.target_minutes * 60


# Townships and streets with land, their county (root), and a reference point: a point inside
# their largest polygon (a township of several islands is reached at its main one).
_TOWNSHIPS = text("""
    WITH RECURSIVE up(id, root) AS (
        SELECT id, id FROM region WHERE parent_id IS NULL
        UNION ALL SELECT r.id, up.root FROM region r JOIN up ON r.parent_id = up.id
    ), main AS (
        SELECT r.id, r.code, r.name_zh, r.name_en, up.root,
               (SELECT ST_PointOnSurface(d.geom) FROM ST_Dump(r.boundary) d ORDER BY ST_Area(d.geom) DESC LIMIT 1) AS p
        FROM region r JOIN up ON up.id = r.id
        WHERE r.level IN ('township', 'street') AND r.boundary IS NOT NULL
          AND (CAST(:root AS integer) IS NULL OR up.root = :root)
    )
    SELECT m.id, m.code, m.name_zh, m.name_en, m.root, ST_X(m.p) AS lon, ST_Y(m.p) AS lat,
           (SELECT isl.id FROM island isl WHERE ST_DWithin(isl.outline, m.p, 0.005)
            ORDER BY isl.outline <-> m.p LIMIT 1) AS island
    FROM main m ORDER BY m.root, m.code
""")

# The plan in force in a county now, and the zone and target of each of its townships.
_PLAN_IN_FORCE = text("""
    SELECT p.id FROM coverage_plan p WHERE p.region_id = :root AND p.status = 'published' AND p.effective_at <= :now
    ORDER BY p.effective_at DESC LIMIT 1
""")
_ZONES = text("""
    SELECT zm.region_id, z.id AS zone_id, z.target_minutes
    FROM zone_member zm JOIN zone z ON z.id = zm.zone_id WHERE zm.plan_id = :plan
""")


def townships(session: Session, root_id: int | None = None) -> list[Township]:
    """Every township (of one county), with its reference point (cached: boundaries change rarely)."""

    def load():
        return [Township(*row) for row in session.execute(_TOWNSHIPS, {"root": root_id}).all()]

    return refcache.cached(session, ("coverage-townships", root_id), load)


def roots(session: Session) -> list[int]:
    return sorted({t.root_id for t in townships(session)})


def _zones(session: Session, root_id: int, now: dt.datetime, default_target: int) -> dict[int, tuple]:
    """Township id -> (zone id, target minutes) under the county's plan in force, remembered per
    plan (a published plan never changes; a new one has a new id)."""
    plan = session.execute(_PLAN_IN_FORCE, {"root": root_id, "now": now}).scalar()

    def load() -> dict[int, tuple]:
        rows = session.execute(_ZONES, {"plan": plan}).all()
        return {r.region_id: (r.zone_id, r.target_minutes or default_target) for r in rows}

    return refcache.cached(session, ("coverage-zones", root_id, plan, default_target), load)


def _lock(session: Session, root_id: int) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_BASE + root_id})


def _stale(config: dict) -> float:
    return float(config.get("POSITION_STALE_MINUTES", DEFAULT_STALE_MINUTES))


def _best(
    session: Session, township: Township, zone_id, domain: str, now: dt.datetime, stale_minutes: float | None = None
) -> tuple[int | None, int | None]:
    result = recommend_at(
        session,
        township.lon,
        township.lat,
        region_id=township.id,
        zone_id=zone_id,
        domains=[domain],
        limit=1,
        now=now,
        stale_minutes=stale_minutes,
    )
    if not result["recommendations"]:
        return None, None
    best = result["recommendations"][0]
    return best["squad"]["id"], int(best["eta_seconds"])


_STORED = text("""SELECT region_id, zone_id, target_minutes, covered, best_squad_id, eta_seconds
                   FROM township_coverage WHERE root_region_id = :root""")
_ZONE, _TARGET, _COVERED, _BEST, _ETA = 1, 2, 3, 4, 5  # the columns of a _STORED row


def _stored(session: Session, root_id: int) -> dict[int, tuple]:
    """The county's stored coverage, township id -> row (plain tuples: a thousand rows a call)."""
    return {row[0]: tuple(row) for row in session.execute(_STORED, {"root": root_id})}


def _save(
    session: Session, reaches: list[Reach], now: dt.datetime, *, actor: str, stored: dict | None = None
) -> list[int]:
    """Write the reaches that changed (new rev), queue their updates and alerts; their region ids.
    ``stored``: the county's rows as the caller read them under the lock."""
    if not reaches:
        return []
    if stored is None:
        stored = _stored(session, reaches[0].township.root_id)
    changed = []
    for reach in reaches:
        before = stored.get(reach.township.id)
        same = before is not None and (before[_COVERED], before[_BEST], before[_ZONE], before[_TARGET]) == (
            reach.covered,
            reach.best_squad_id,
            reach.zone_id,
            reach.target_minutes,
        )
        if same and _minute(before[_ETA]) == _minute(reach.eta_seconds):
            continue
        rev = session.execute(
            text("""
            INSERT INTO township_coverage (region_id, root_region_id, zone_id, target_minutes, covered,
                                           best_squad_id, eta_seconds, computed_at, rev)
            VALUES (:region, :root, :zone, :target, :covered, :squad, :eta, :now, 1)
            ON CONFLICT (region_id) DO UPDATE SET zone_id = EXCLUDED.zone_id,
                target_minutes = EXCLUDED.target_minutes, covered = EXCLUDED.covered,
                best_squad_id = EXCLUDED.best_squad_id, eta_seconds = EXCLUDED.eta_seconds,
                computed_at = EXCLUDED.computed_at, rev = township_coverage.rev + 1
            RETURNING rev"""),
            {
                "region": reach.township.id,
                "root": reach.township.root_id,
                "zone": reach.zone_id,
                "target": reach.target_minutes,
                "covered": reach.covered,
                "squad": reach.best_squad_id,
                "eta": reach.eta_seconds,
                "now": now,
            },
        ).scalar_one()
        changed.append(reach.township.id)
        was_covered = before[_COVERED] if before is not None else True
        if was_covered != reach.covered:
            if reach.covered:
                alerts.clear(session, alerts.uncovered_key(reach.township.id), actor=actor)
            else:
                alerts.raise_uncovered(session, reach, actor=actor)
        elif not reach.covered and before is None:
            alerts.raise_uncovered(session, reach, actor=actor)
        publish_after_commit(session, "coverage", item_of(session, reach.township.id, now), rev=rev)
    return changed


def _minute(seconds: int | None) -> int | None:
    return None if seconds is None else math.ceil(seconds / 60)


def recompute(session: Session, config: dict, *, root_id: int | None = None, actor: str = "coverage") -> list[int]:
    """Every township (of one county, or of all) ranked again; the region ids whose coverage changed."""
    now = clock.utc_now()
    changed = []
    for root in [root_id] if root_id is not None else roots(session):
        _lock(session, root)
        zones = _zones(session, root, now, int(config["COVERAGE_TARGET_MINUTES"]))
        reaches = []
        for township in townships(session, root):
            zone_id, target = zones.get(township.id, (None, int(config["COVERAGE_TARGET_MINUTES"])))
            squad, eta = _best(session, township, zone_id, config["COVERAGE_DOMAIN"], now, _stale(config))
            reaches.append(Reach(township, zone_id, target, squad, eta))
        changed += _save(session, reaches, now, actor=actor)
    return changed


# One squad's eligibility and place: what its own ETA to every township needs.
_SQUAD = text(f"""
    SELECT s.id, s.status, s.force, s.scope, s.station_region_id,
           ST_X({PLACED_POSITION_SQL}::geometry) AS lon, ST_Y({PLACED_POSITION_SQL}::geometry) AS lat,
           {PLACED_ISLAND_SQL} AS island_id, s.domains && CAST(:domains AS varchar[]) AS competent, {
    CERTIFIED_ON_DUTY_SQL
} AS certified,
           ({
    "WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM region WHERE id = s.station_region_id"
    " UNION ALL SELECT r.id, r.parent_id FROM region r JOIN up ON r.id = up.parent_id)"
    " SELECT id FROM up WHERE parent_id IS NULL"
}) AS root
    FROM squad s WHERE s.id = ANY(CAST(:ids AS integer[]))
""")


def update_for_squads(session: Session, squad_ids: list[int], config: dict, *, actor: str = "coverage") -> list[int]:
    """Coverage after these squads changed status (or moved): the region ids whose coverage changed.

    Townships whose best squad is one of them are ranked again; each of them that may go now
    takes the townships it reaches first. Only those townships are rebuilt and written (the
    work of one event is the few townships it touches, not the county's thousand); a county
    never computed is computed in full.
    """
    now = clock.utc_now()
    squads = session.execute(
        _SQUAD,
        {
            "ids": list(squad_ids),
            "domains": [config["COVERAGE_DOMAIN"]],
            "today": local_day(now),
            "now": now,
            "fresh_since": now - dt.timedelta(minutes=_stale(config)),
        },
    ).all()
    changed = []
    for root in sorted({s.root for s in squads}):
        changed += _update_county(session, root, [s for s in squads if s.root == root], config, now, actor)
    return changed


def _update_county(session: Session, root: int, mine: list, config: dict, now: dt.datetime, actor: str) -> list[int]:
    """``update_for_squads`` within one county, under its lock."""
    domain = config["COVERAGE_DOMAIN"]
    default = int(config["COVERAGE_TARGET_MINUTES"])
    _lock(session, root)
    stored = _stored(session, root)
    towns = townships(session, root)
    if len(stored) < len(towns):
        return recompute(session, config, root_id=root, actor=actor)
    ids = {s.id for s in mine}
    zones = _zones(session, root, now, default)
    places = {t.id: t for t in towns}
    touched: dict[int, Reach] = {}

    def now_of(township_id: int) -> Reach:
        """The township's reach as this event has made it so far."""
        if township_id in touched:
            return touched[township_id]
        row = stored[township_id]
        zone_id, target = zones.get(township_id, (None, default))
        return Reach(places[township_id], zone_id, target, row[_BEST], row[_ETA])

    for township in towns:
        row = stored[township.id]
        zone_id, target = zones.get(township.id, (None, default))
        if row[_BEST] in ids or (row[_ZONE], row[_TARGET]) != (zone_id, target):
            squad, eta = _best(session, township, zone_id, domain, now, _stale(config))  # ranked again
            touched[township.id] = Reach(township, zone_id, target, squad, eta)
    going = [
        s for s in mine if s.status in ("available", "returning") and s.competent and s.certified and s.lon is not None
    ]
    if going:
        network = network_for(session, root)
        offers = [(tid, squad.id, eta) for squad in going for tid, eta in etas_from(squad, towns, network, now).items()]
        # the tie-break on the minute needs both squads' zones: read only for offers that can win
        contested = {
            sid
            for tid, squad_id, eta in offers
            if (reach := now_of(tid)).eta_seconds is None or _minute(eta) <= _minute(reach.eta_seconds)
            for sid in (squad_id, reach.best_squad_id)
        }
        homes = _homes(session, contested) if contested else {}
        for tid, squad_id, eta in offers:
            reach = now_of(tid)
            if reach.eta_seconds is not None and _minute(eta) > _minute(reach.eta_seconds):
                continue
            # the recommendation's order: ETA by the minute, then the squad whose zone covers the place
            offer = (_minute(eta), not _covers(homes, zones, squad_id, tid), eta)
            if reach.eta_seconds is None or offer < (
                _minute(reach.eta_seconds),
                not _covers(homes, zones, reach.best_squad_id, tid),
                reach.eta_seconds,
            ):
                reach.best_squad_id, reach.eta_seconds = squad_id, eta
                touched[tid] = reach
    return _save(session, list(touched.values()), now, actor=actor, stored=stored)


def _homes(session: Session, squad_ids: set) -> dict[int, tuple[str, int]]:
    """Each squad's scope and station township."""
    ids = [i for i in squad_ids if i is not None]
    rows = session.execute(
        text("SELECT id, scope, station_region_id FROM squad WHERE id = ANY(CAST(:ids AS integer[]))"), {"ids": ids}
    ).all()
    return {r.id: (r.scope, r.station_region_id) for r in rows}


def _covers(homes: dict, zones: dict, squad_id: int | None, township_id: int) -> bool:
    """The squad serves the township: its authority's whole area, or its station's zone (1+X)."""
    if squad_id not in homes:
        return False
    scope, station = homes[squad_id]
    if scope != "zone":
        return True
    mine, theirs = zones.get(station), zones.get(township_id)
    return mine is not None and theirs is not None and mine[0] == theirs[0]


def etas_from(squad, towns: list[Township], network, now: dt.datetime) -> dict[int, int]:
    """One squad's ETA to each township it can reach: by road on its island, by ferry beyond it
    (the recommendation's ``_route``, from one origin to many places), by boat for the maritime force."""
    profile, ferries = network.profile, network.ferries
    origin = (squad.lon, squad.lat)
    out: dict[int, int] = {}
    stops = network.conditions
    if squad.force == "maritime":
        if stops.boat and clear_of(now, stops.boat_windows(None))[1] is not None:
            return out  # boats held back by a suspension: not offered (as the recommendation leaves them out)
        for town in towns:
            out[town.id] = round(profile.boat_seconds(great_circle_m(*origin, town.lon, town.lat)))
        return out
    if squad.island_id is None:
        return out  # at sea without a boat
    sailings = []
    if ferries is not None:
        for port in ferries.ports_by_island.get(squad.island_id, []):
            drive = profile.land_seconds(great_circle_m(*origin, port.lon, port.lat))
            sailings.append(ferries.sail(port.id, now + dt.timedelta(seconds=drive), stops))
    for town in towns:
        if town.island == squad.island_id:
            out[town.id] = round(profile.land_seconds(great_circle_m(*origin, town.lon, town.lat)))
            continue
        if town.island is None or ferries is None:
            continue
        best = math.inf
        for landing in ferries.ports_by_island.get(town.island, []):
            ashore = profile.land_seconds(great_circle_m(landing.lon, landing.lat, town.lon, town.lat))
            for sailing in sailings:
                arrival = sailing.arrival.get(landing.id)
                if arrival is not None and not (stops.ferry and sailing.held_until(landing.id) is not None):
                    best = min(best, (arrival - now).total_seconds() + ashore)
        if math.isfinite(best):
            out[town.id] = round(best)
    return out


def item_of(session: Session, region_id: int, now: dt.datetime | None = None) -> dict:
    """One township's coverage as GET /coverage lists it and ``coverage`` updates carry it."""
    return _items(session, [region_id])[0]


_ITEMS = text("""
    SELECT c.region_id, r.code, r.name_zh, r.name_en, c.target_minutes, c.covered, c.eta_seconds, c.computed_at, c.rev,
           z.code AS zone_code, z.name_zh AS zone_name, z.name_en AS zone_name_en,
           s.id AS squad_id, s.code AS squad_code, s.name_zh AS squad_name, s.name_en AS squad_name_en
    FROM township_coverage c JOIN region r ON r.id = c.region_id
    LEFT JOIN zone z ON z.id = c.zone_id LEFT JOIN squad s ON s.id = c.best_squad_id
    WHERE c.region_id = ANY(CAST(:ids AS integer[])) OR CAST(:ids AS integer[]) IS NULL
    ORDER BY c.root_region_id, r.code
""")


def _items(session: Session, region_ids: list[int] | None) -> list[dict]:
    points = {t.id: t for t in townships(session)}
    out = []
    for r in session.execute(_ITEMS, {"ids": region_ids}).all():
        town = points.get(r.region_id)
        out.append(
            {
                "id": r.region_id,
                "region": {"id": r.region_id, "code": r.code, "name": r.name_zh, "name_en": r.name_en},
                "zone": {"code": r.zone_code, "name": r.zone_name, "name_en": r.zone_name_en} if r.zone_code else None,
                "target_minutes": r.target_minutes,
                "covered": r.covered,
                "best": {
                    "squad": {"id": r.squad_id, "code": r.squad_code, "name": r.squad_name, "name_en": r.squad_name_en},
                    "eta_seconds": r.eta_seconds,
                }
                if r.squad_id is not None
                else None,
                "reference_point": {"type": "Point", "coordinates": [town.lon, town.lat]} if town else None,
                "computed_at": r.computed_at.isoformat(),
                "rev": r.rev,
            }
        )
    return out


def coverage(session: Session, config: dict, *, regions: frozenset[int] | None = None) -> dict:
    """Every township's coverage (those in ``regions`` when given), computed first if never done."""
    if session.scalar(text("SELECT count(*) FROM township_coverage")) < len(townships(session)):
        recompute(session, config)
        session.commit()
    items = [i for i in _items(session, None) if regions is None or i["id"] in regions]
    return {
        "computed_at": max((i["computed_at"] for i in items), default=clock.utc_now().isoformat()),
        "townships": items,
        "uncovered": sum(1 for i in items if not i["covered"]),
    }
