"""Which squads can get there first: eligibility and candidates in PostGIS, ETA over the sea.

Hot path, guarded by ``make bench`` (bench/recommend.py: p50 and p99 of the HTTP request).

1. PostGIS picks candidates with KNN index scans (``<->`` on a GiST index of
   ``(island_id, last_position)``): the eligible squads nearest the place on its
   own island, the eligible squads nearest each pier from which a ferry reaches
   that island, and (when the maritime force is competent) the nearest boats.
   Within each group the ETA grows with that distance, so the best squads of
   every route are among them.
2. ``gis.travel`` turns each candidate into an ETA (roads, ferry timetables,
   boats), evaluated in order of a static lower bound and stopped as soon as
   no remaining candidate can enter the list.
3. Ranking: ETA by the minute; at equal minutes the squad whose zone covers
   the place ("1+X", seed 001 §3.2.4) first; then the exact ETA.

Eligible (seed 002 task 5): competent for the matter's domain, available (or returning), and
with at least one certified officer on duty now (by the roster where one exists: issue 29,
``dispatch.rosters``) whose certificate is valid today and neither suspended nor revoked.

Transport conditions (issue 29, ``dispatch.conditions``): sailings are taken as they are at
the moment of travel. A squad whose way is held back by a suspension (its ferry, or its boat,
cannot leave until the window ends) is not recommended: ``left_out`` names it with the reason
("ferry suspended until 14:00") and its next possible arrival.

Stale positions (issue 29): a fix older than ``stale_minutes`` (POSITION_STALE_MINUTES) is not
trusted. The squad is then placed, by rule, at the pier within 500 m of that last fix (it was
waiting for a crossing, or moored) or else at its station; a squad that never sent a fix is at
its station. Each candidate says so: ``position_basis`` (fix, pier, station),
``position_age_minutes`` and a note in both languages ("position 47 min old"). In SQL, the
island scans keep a stale squad only when its parked island is the scanned one; the squads
parked on another island than their last fix's (a partial GiST index) are scanned beside them.

The request path is one query (the KNN candidates; a second one for the squads
across the water when a ferry can still win); the incident's place is
remembered, and the ferry network, the region tree, zone membership and the
names of authorities and regions are cached per process for a few minutes.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import threading
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch import conditions as transport_conditions
from dispatch.errors import NotFound
from dispatch.shapes import squad_from_row
from dispatch.store import refcache
from dispatch.store.models import (
    CERTIFICATE_HELD_SQL,
    CERTIFIED_OFFICER_SQL,
    CERTIFIED_ON_DUTY_SQL,
    OFFICER_COUNTS_SQL,
    ON_DUTY_SQL,
)
from gis import clock
from gis.clock import local_day
from gis.travel import (
    NO_CONDITIONS,
    Conditions,
    FerryNetwork,
    Link,
    Profile,
    Season,
    boat_leg,
    clear_of,
    great_circle_m,
    land_leg,
)
from gis.travel import Port as TravelPort

# A squad may act when one of its officers is certified, on duty and unexpired.
CERTIFIED_ON_DUTY = CERTIFIED_ON_DUTY_SQL
# A scheduled joint inspection may take a squad that is busy now, never one off duty or out of service.
AVAILABLE = (
    "(s.status IN ('available', 'returning')"
    " OR (NOT :require_available AND s.status NOT IN ('off_duty', 'out_of_service')))"
)
# Minutes after which a fix is no longer trusted (POSITION_STALE_MINUTES).
DEFAULT_STALE_MINUTES = 30.0
# Where a squad (alias s) is taken to be, and its island, as ``placement`` decides, in SQL (with
# :fresh_since): its fix while fresh (or its station, its last_position, when it never sent one),
# else where it is parked (the pier by its last fix, else its station). Coverage's own ETAs and a
# task's route start there too.
_FRESH = "(s.last_position_at IS NULL OR s.last_position_at >= :fresh_since)"
PLACED_POSITION_SQL = f"(CASE WHEN {_FRESH} THEN coalesce(s.last_position, s.station) ELSE s.parked_position END)"
PLACED_ISLAND_SQL = f"(CASE WHEN {_FRESH} THEN s.island_id ELSE s.parked_island_id END)"
# Where a squad is placed when its fix is stale, read beside the fix (the squad_park trigger).
_PARKED_COLUMNS = """s.island_id AS fix_island_id, s.parked_island_id, s.parked_port_id,
       ST_X(s.parked_position::geometry) AS parked_lon, ST_Y(s.parked_position::geometry) AS parked_lat"""
# In the island scans: a squad whose fix is fresh, or which has none, or whose parked place is on
# the same island as its stale fix (the scan's island is then right for it).
_TRUSTED_ISLAND = (
    "(s.last_position_at IS NULL OR s.last_position_at >= :fresh_since"
    " OR s.parked_island_id IS NOT DISTINCT FROM s.island_id)"
)
# The stale squads parked on another island than their fix's (the partial index ix_squad_parked_away).
_PARKED_AWAY = "s.island_id IS DISTINCT FROM s.parked_island_id AND s.last_position_at < :fresh_since"
# A point's island: the one it lies on, or one within ~500 m (approximate coastlines, GPS noise).
ISLAND_OF_POINT = """SELECT isl.id FROM island isl WHERE ST_DWithin(isl.outline, CAST(:point AS geometry), 0.005)
                     ORDER BY isl.outline <-> CAST(:point AS geometry) LIMIT 1"""


# What the answer shows of a squad, read in the KNN subquery itself (a handful of rows). The
# authority and the station region come from the per-process reference cache, not from joins:
# the planner's time, which PostgreSQL spends on every execution (the KNN needs custom plans:
# see NEARBY), grows with every relation and subquery in the statement.
_SQUAD_COLUMNS = f"""s.id, s.code, s.name_zh, s.name_en, s.force, s.domains, s.scope, s.status, s.station_region_id,
       s.authority_id, s.last_position_at,
       {OFFICER_COUNTS_SQL} AS officer_counts,
       ST_X(s.last_position::geometry) AS squad_lon, ST_Y(s.last_position::geometry) AS squad_lat,
       {_PARKED_COLUMNS}"""
_ORIGIN = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"
# In the KNN scans the officer check stays a per-row subplan (OFFSET 0 keeps PostgreSQL from
# turning it into a semi-join, which costs planning time and nothing saves: the scan stops
# after a few rows). Same rule as CERTIFIED_ON_DUTY.
_CERTIFIED_IN_SCAN = f"EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND {CERTIFIED_OFFICER_SQL} OFFSET 0)"
_ELIGIBLE_IN_SCAN = f"{AVAILABLE} AND s.domains && CAST(:domains AS varchar[]) AND {_CERTIFIED_IN_SCAN}"

PLACE_OF_INCIDENT = text(f"""
    SELECT ST_X(inc.location::geometry) AS lon, ST_Y(inc.location::geometry) AS lat, inc.region_id, inc.zone_id,
           ARRAY(SELECT DISTINCT m.domain FROM incident_matter im JOIN matter m ON m.id = im.matter_id
                 WHERE im.incident_id = inc.id ORDER BY 1) AS domains,
           ({ISLAND_OF_POINT.replace(":point", "inc.location::geometry")}) AS island
    FROM incident inc WHERE inc.id = :id
""")
_ISLAND = text(ISLAND_OF_POINT)

# The eligible squads on the place's island: a KNN index scan. The domains and the island are
# bound as values (not read from a CTE) so that the planner estimates them and picks the KNN
# scan; for the same reason the plan is a custom one at every execution (a generic plan would
# guess the domains' selectivity and scan the island), so the statement is kept small. The
# island is cast to integer: psycopg sends a small Python int as a smallint, and btree_gist
# has no integer = smallint operator, so the (island_id, last_position) index could not take
# the island as its condition (the planner then sorted a small island's squads instead).
NEARBY = text(f"""
    (SELECT 'land' AS mode, NULL::int AS port_id, ST_Distance(s.last_position, {_ORIGIN}) AS d_origin,
            {_SQUAD_COLUMNS}
     FROM squad s
     WHERE s.island_id = CAST(:island AS integer) AND s.force <> 'maritime' AND {_TRUSTED_ISLAND}
       AND {_ELIGIBLE_IN_SCAN}
     ORDER BY s.last_position <-> {_ORIGIN} LIMIT :k)
    UNION ALL
    (SELECT 'land', NULL::int, ST_Distance(s.parked_position, {_ORIGIN}), {_SQUAD_COLUMNS}
     FROM squad s
     WHERE s.parked_island_id = CAST(:island AS integer) AND {_PARKED_AWAY} AND s.force <> 'maritime'
       AND {_ELIGIBLE_IN_SCAN}
     ORDER BY s.parked_position <-> {_ORIGIN} LIMIT :k)
""")
# ... and, when the maritime force is competent, the nearest boats too (a second statement
# rather than a branch switched off by a parameter: PostgreSQL would plan that branch anyway).
NEARBY_WITH_BOATS = text(f"""
    {NEARBY.text.strip()}
    UNION ALL
    (SELECT 'boat', NULL::int, ST_Distance(s.last_position, {_ORIGIN}), {_SQUAD_COLUMNS}
     FROM squad s
     WHERE s.force = 'maritime' AND {_ELIGIBLE_IN_SCAN}
     ORDER BY s.last_position <-> {_ORIGIN} LIMIT :k)
""")

# Squads across the water: the eligible ones nearest each pier from which a ferry reaches the place.
VIA_PORTS = text(f"""
    SELECT 'ferry' AS mode, p.id AS port_id, c.*
    FROM port p CROSS JOIN LATERAL (
        (SELECT ST_Distance(s.last_position, p.location) AS d_origin, ST_Distance(s.last_position, {_ORIGIN}) AS d_incident,
               {_SQUAD_COLUMNS}
        FROM squad s
        WHERE s.island_id = p.island_id AND s.force <> 'maritime' AND {_TRUSTED_ISLAND} AND {_ELIGIBLE_IN_SCAN}
        ORDER BY s.last_position <-> p.location LIMIT :k)
        UNION ALL
        (SELECT ST_Distance(s.parked_position, p.location), ST_Distance(s.parked_position, {_ORIGIN}), {_SQUAD_COLUMNS}
        FROM squad s
        WHERE s.parked_island_id = p.island_id AND {_PARKED_AWAY} AND s.force <> 'maritime' AND {_ELIGIBLE_IN_SCAN}
        ORDER BY s.parked_position <-> p.location LIMIT :k)) c
    WHERE p.id = ANY(:ports)
""")

# A certificate valid today (before the roster and suspensions): the reasons of ``left_out``.
_VALID = "NOT o.auxiliary AND o.certificate_no IS NOT NULL AND o.certificate_expires >= :today"
_LEFT_OUT = text(f"""
    SELECT s.id, s.code, s.name_zh, s.force, s.status, s.island_id,
           ST_Distance(s.last_position, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance,
           s.domains && CAST(:domains AS varchar[]) AS competent, {CERTIFIED_ON_DUTY} AS certified,
           EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND o.rostered AND {_VALID}
                   AND {CERTIFICATE_HELD_SQL}) AS rostered,
           EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND {_VALID} AND {ON_DUTY_SQL}
                   AND NOT {CERTIFICATE_HELD_SQL}) AS suspended
    FROM squad s
    ORDER BY s.last_position <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography
    LIMIT :n
""")

DEFAULT_PROFILE = Profile(land_speed_kmh=30, detour_factor=1.3, boat_speed_kmh=35, transfer_minutes=10)


@dataclass
class Candidate:
    squad_id: int
    mode: str  # land | ferry | boat
    port_id: int | None
    d_origin: float  # metres to the place (land, boat) or to the pier (ferry)
    d_incident: float
    lon: float
    lat: float
    lower_bound: float = 0.0


class Placement(NamedTuple):
    """Where a squad is taken to be (see the module docstring: stale positions)."""

    basis: str  # fix | pier | station
    age_minutes: int | None  # of its last fix (None: it never sent one)
    lon: float
    lat: float
    island: int | None


def placement(row, now: dt.datetime, fresh_since: dt.datetime) -> Placement:
    """A squad row's place: its fix while fresh; a stale one at the pier by its last fix, else
    at its station; a squad without a fix at its station (its ``last_position`` then)."""
    at = row.last_position_at
    if at is None:
        return Placement("station", None, row.squad_lon, row.squad_lat, row.fix_island_id)
    age = max(0, int((now - at).total_seconds() // 60))
    if at >= fresh_since:
        return Placement("fix", age, row.squad_lon, row.squad_lat, row.fix_island_id)
    basis = "pier" if row.parked_port_id is not None else "station"
    return Placement(basis, age, row.parked_lon, row.parked_lat, row.parked_island_id)


def position_note(place: Placement) -> dict | None:
    """The uncertainty of a placement, in Chinese and English (None: a fresh fix)."""
    if place.basis == "fix":
        return None
    where_zh, where_en = ("码头", "the pier") if place.basis == "pier" else ("驻地", "its station")
    if place.age_minutes is None:
        return {"zh": f"无定位，按{where_zh}计", "en": f"no position fix: placed at {where_en}"}
    return {
        "zh": f"位置已 {place.age_minutes} 分钟未更新，按{where_zh}计",
        "en": f"position {place.age_minutes} min old: placed at {where_en}",
    }


@dataclass
class Route:
    squad_id: int
    eta_seconds: float
    distance_m: float
    mode: str
    legs: list[dict]
    covers_place: bool = False
    held_until: dt.datetime | None = None  # a suspension held its ferry or boat back until then
    held_vessel: str | None = None


# -- per-process caches of slowly changing reference data ----------------------------------------


def invalidate_caches() -> None:
    """Forget the cached networks, regions and zones (after loading or editing reference data)."""
    refcache.clear()
    with _places_lock:
        _PLACES.clear()


def region_chain(session: Session, region_id: int) -> tuple[int, ...]:
    """The region and its ancestors, nearest first (the last is the county or city)."""

    def load():
        rows = (
            session.execute(
                text("""
            WITH RECURSIVE up(id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM region WHERE id = :id
                UNION ALL SELECT r.id, r.parent_id, up.depth + 1 FROM region r JOIN up ON r.id = up.parent_id
            ) SELECT id FROM up ORDER BY depth
        """),
                {"id": region_id},
            )
            .scalars()
            .all()
        )
        return tuple(rows)

    return refcache.cached(session, ("chain", region_id), load)


def zone_regions(session: Session, zone_id: int | None) -> frozenset[int]:
    if zone_id is None:
        return frozenset()
    return refcache.cached(
        session,
        ("zone", zone_id),
        lambda: frozenset(
            session.execute(text("SELECT region_id FROM zone_member WHERE zone_id = :z"), {"z": zone_id}).scalars()
        ),
    )


def maritime_domains(session) -> frozenset[str]:
    """Domains held by the maritime force's squads (boats are asked for only then)."""
    return refcache.cached(
        session,
        ("boats",),
        lambda: frozenset(
            session.execute(text("SELECT DISTINCT unnest(domains) FROM squad WHERE force = 'maritime'")).scalars()
        ),
    )


class AuthorityRef(NamedTuple):
    code: str
    name_zh: str
    region_id: int


class RegionRef(NamedTuple):
    code: str
    name_zh: str
    name_en: str


def _references(db, table: str, row_type: type, ids: set[int]) -> dict:
    """Rows of a reference table by id, as ``row_type`` (its fields are the columns after id),
    cached like the rest of the reference data."""

    def load(missing: list[int]) -> dict:
        query = text(f"SELECT id, {', '.join(row_type._fields)} FROM {table} WHERE id = ANY(:ids)")
        return {r[0]: row_type(*r[1:]) for r in db.execute(query, {"ids": missing})}

    return refcache.cached_many(db, table, ids, load)


@dataclass
class Network:
    ferries: FerryNetwork | None
    profile: Profile
    conditions: Conditions = NO_CONDITIONS


def network_for(session: Session, root_region_id: int) -> Network:
    """The ferry network, travel profile and transport conditions of a county or city, cached per
    transport version (``dispatch.conditions``: a reload or a suspension is seen at once here, within a
    second in the other processes)."""
    version = transport_conditions.version(session, root_region_id)
    network = _network_for(session, root_region_id, version)
    if network.ferries is None:
        return network
    conditions = transport_conditions.conditions_for(session, root_region_id, network.ferries, version)
    if conditions is network.conditions:
        return network
    return Network(network.ferries, network.profile, conditions)


def _network_for(session: Session, root_region_id: int, version: int) -> Network:

    def load() -> Network:
        row = session.execute(
            text(
                "SELECT land_speed_kmh, detour_factor, boat_speed_kmh, transfer_minutes FROM travel_profile "
                "WHERE region_id = :root"
            ),
            {"root": root_region_id},
        ).one_or_none()
        if row is None:
            return Network(None, DEFAULT_PROFILE)
        profile = Profile(*row)
        ports = {
            r[0]: TravelPort(*r)
            for r in session.execute(
                text("""
            SELECT p.id, p.code, p.name_zh, p.island_id, ST_X(p.location::geometry), ST_Y(p.location::geometry),
                   p.name_en
            FROM port p JOIN island i ON i.id = p.island_id
            WHERE EXISTS (SELECT 1 FROM region r WHERE r.id = :root AND ST_DWithin(r.boundary, i.outline, 0.05))
        """),
                {"root": root_region_id},
            ).all()
        }
        links = [
            Link(a, b, minutes, tuple(timetable), seasons=_seasons(seasons))
            for a, b, minutes, timetable, seasons in session.execute(
                text("""SELECT l.from_port_id, l.to_port_id, l.minutes, l.timetable,
                               (SELECT array_agg(ARRAY[t.effective_from::text, coalesce(t.effective_until::text, ''),
                                                       array_to_string(t.departures, ',')] ORDER BY t.effective_from)
                                FROM ferry_timetable t WHERE t.link_id = l.id) AS seasons
                        FROM ferry_link l WHERE l.from_port_id = ANY(:ids)"""),
                {"ids": list(ports)},
            ).all()
        ]
        return Network(FerryNetwork(profile, ports, links), profile)

    return refcache.cached(session, ("network", root_region_id, version), load)


def _seasons(rows) -> tuple[Season, ...]:
    """A link's timetable versions from text triples (from, until or '', departures joined by commas)."""
    return tuple(
        Season(
            dt.date.fromisoformat(start),
            dt.date.fromisoformat(until) if until else None,
            tuple(t for t in departures.split(",") if t),
        )
        for start, until, departures in rows or ()
    )


# -- ranking -------------------------------------------------------------------------------------


def recommend(
    db,
    incident_id: int,
    *,
    limit: int = 5,
    domains: list[str] | None = None,
    explain: bool = False,
    now: dt.datetime | None = None,
    stale_minutes: float | None = None,
) -> dict:
    """The squads that reach incident ``incident_id`` first, best first (see the module docstring).

    ``db`` is a Session or a Connection (the API uses an autocommit connection: no
    BEGIN/ROLLBACK round trips for a read).
    """
    place = _incident_place(db, incident_id)
    result = _rank(
        db,
        place.lon,
        place.lat,
        place.island,
        place.region_id,
        place.zone_id,
        domains or list(place.domains),
        limit,
        explain,
        now or clock.utc_now(),
        True,
        stale_minutes,
    )
    return {"incident_id": incident_id, **result}


# An incident's place, matters and island never change after intake: remember the last
# few thousand, so a recommendation is one query (the KNN) instead of two.
_PLACES: collections.OrderedDict[tuple[str, int], object] = collections.OrderedDict()
_PLACES_MAX = 20_000
_places_lock = threading.Lock()


def _incident_place(db, incident_id: int):
    key = (refcache.db_key(db), incident_id)
    with _places_lock:
        place = _PLACES.get(key)
        if place is not None:
            _PLACES.move_to_end(key)
            return place
    place = db.execute(PLACE_OF_INCIDENT, {"id": incident_id}).one_or_none()
    if place is None:
        raise NotFound(f"no incident {incident_id}", field="incident_id")
    with _places_lock:
        _PLACES[key] = place
        while len(_PLACES) > _PLACES_MAX:
            _PLACES.popitem(last=False)
    return place


def recommend_at(
    db,
    lon: float,
    lat: float,
    *,
    region_id: int,
    zone_id: int | None,
    domains: list[str],
    limit: int = 5,
    explain: bool = False,
    now: dt.datetime | None = None,
    require_available: bool = True,
    stale_minutes: float | None = None,
) -> dict:
    """The squads competent for ``domains`` that reach the place ``(lon, lat)`` first."""
    island = db.execute(_ISLAND, {"point": f"SRID=4326;POINT({lon} {lat})"}).scalar()
    return _rank(
        db,
        lon,
        lat,
        island,
        region_id,
        zone_id,
        domains,
        limit,
        explain,
        now or clock.utc_now(),
        require_available,
        stale_minutes,
    )


def _candidate(
    row, profile: Profile, source_ports: dict[int, float], place: Placement, island, ferries, origin
) -> Candidate | None:
    """The row as a candidate from where it is taken to be (``placement``); None when a stale fix
    put it in a scan its parked place is not in (another island than the place's or the pier's)."""
    moved = place.basis != "fix" and (place.lon, place.lat) != (row.squad_lon, row.squad_lat)
    if row.mode == "ferry":
        d_origin, d_incident = row.d_origin, row.d_incident
        if moved:
            port = ferries.ports[row.port_id]
            if place.island != port.island_id:
                return None
            d_origin = great_circle_m(place.lon, place.lat, port.lon, port.lat)
            d_incident = great_circle_m(place.lon, place.lat, *origin)
        c = Candidate(row.id, "ferry", row.port_id, d_origin, d_incident, place.lon, place.lat)
        c.lower_bound = profile.land_seconds(c.d_origin) + source_ports[c.port_id]
        return c
    d_origin = row.d_origin
    if moved:
        if row.mode == "land" and place.island != island:
            return None
        d_origin = great_circle_m(place.lon, place.lat, *origin)
    c = Candidate(row.id, row.mode, None, d_origin, d_origin, place.lon, place.lat)
    c.lower_bound = profile.land_seconds(c.d_origin) if c.mode == "land" else profile.boat_seconds(c.d_origin)
    return c


def _rank(
    db,
    lon: float,
    lat: float,
    island: int | None,
    region_id: int,
    zone_id: int | None,
    domains: list[str],
    limit: int,
    explain: bool,
    now: dt.datetime,
    require_available: bool,
    stale_minutes: float | None = None,
) -> dict:
    """Rank the squads on the island (and, if they can still win, those across the water)."""
    chain = region_chain(db, region_id)
    network = network_for(db, chain[-1])
    profile, ferries = network.profile, network.ferries
    params = {
        "lon": lon,
        "lat": lat,
        "island": island,
        "domains": domains,
        "today": local_day(now),
        "now": now,
        "fresh_since": now - dt.timedelta(minutes=DEFAULT_STALE_MINUTES if stale_minutes is None else stale_minutes),
        "require_available": require_available,
        "k": max(limit, 1),
    }
    boats = not maritime_domains(db).isdisjoint(domains)  # only when the maritime force is competent
    rows = _fetch(db, NEARBY_WITH_BOATS if boats else NEARBY, params)
    details = {r.id: r for r in rows}

    best: dict[int, Route] = {}
    held: dict[int, Route] = {}  # held back by a suspension: left out, with their next possible arrival
    sail_memo: dict[tuple[int, dt.datetime], dict] = {}
    landing: dict[int, float] = {}
    source_ports: dict[int, float] = {}
    stops = network.conditions

    def evaluate(candidates: list[Candidate]) -> None:
        for c in sorted(candidates, key=lambda c: c.lower_bound):
            if _full(best, limit) and _minute(c.lower_bound) > _minute(_kth(best, limit)):
                break  # nothing left can enter the list, even on the tie-break
            route = _route(c, (lon, lat), profile, ferries, landing, now, sail_memo, stops)
            if route is None:
                continue
            if route.held_until is not None:
                if c.squad_id not in held or route.eta_seconds < held[c.squad_id].eta_seconds:
                    held[c.squad_id] = route
            elif c.squad_id not in best or route.eta_seconds < best[c.squad_id].eta_seconds:
                best[c.squad_id] = route

    places: dict[int, Placement] = {}

    def candidates(found) -> list[Candidate]:
        out = []
        for r in found:
            place = places.setdefault(r.id, placement(r, now, params["fresh_since"]))
            c = _candidate(r, profile, source_ports, place, island, ferries, (lon, lat))
            if c is not None:
                out.append(c)
        return out

    evaluate(candidates(rows))

    # Piers on the place's island (and the drive from each); piers elsewhere from which a
    # ferry can still beat the squads already found are asked for their nearest squads.
    if island is not None and ferries is not None:
        landing = {p.id: great_circle_m(p.lon, p.lat, lon, lat) for p in ferries.ports_by_island.get(island, [])}
        if landing:
            drive = [(q, profile.land_seconds(d)) for q, d in landing.items()]
            cutoff = _minute(_kth(best, limit)) if _full(best, limit) else math.inf  # best is fixed here
            for port_id, port in ferries.ports.items():
                if port.island_id == island:
                    continue
                bound = min(ferries.lower_bound(port_id, q) + seconds for q, seconds in drive)
                if math.isfinite(bound) and not _minute(bound) > cutoff:
                    source_ports[port_id] = bound
    if source_ports:
        across = _fetch(db, VIA_PORTS, {**params, "ports": list(source_ports)})
        details.update({r.id: r for r in across})
        evaluate(candidates(across))

    zone = zone_regions(db, zone_id)
    authorities = _references(db, "authority", AuthorityRef, {details[r].authority_id for r in best})
    for route in best.values():
        row = details[route.squad_id]
        route.covers_place = (row.scope == "zone" and row.station_region_id in zone) or (
            row.scope == "authority" and authorities[row.authority_id].region_id in chain
        )
    ranked = sorted(best.values(), key=lambda r: (_minute(r.eta_seconds), not r.covers_place, r.eta_seconds))[:limit]
    regions = _references(db, "region", RegionRef, {details[r.squad_id].station_region_id for r in ranked})
    result = {
        "domains": domains,
        "computed_at": now.isoformat(),
        "recommendations": [
            {
                "squad": _squad_from_row(details[r.squad_id], authorities, regions),
                "eta_seconds": round(r.eta_seconds),
                "distance_m": round(r.distance_m),
                "mode": r.mode,
                "covers_place": r.covers_place,
                "legs": r.legs,
                "position_basis": places[r.squad_id].basis,
                "position_age_minutes": places[r.squad_id].age_minutes,
                "position_note": position_note(places[r.squad_id]),
            }
            for r in ranked
        ],
    }
    if explain:
        result["left_out"] = _held_out(held, best, details, now) + _left_out(
            db, params, island, ferries, source_ports, landing
        )
    return result


def _held_out(held: dict[int, Route], best: dict[int, Route], details: dict, now: dt.datetime) -> list[dict]:
    """Squads held back by a suspension, with no way around it: the reason in English and Chinese,
    and when they could arrive once sailings resume (the ETA after the window)."""
    out = []
    for route in sorted(held.values(), key=lambda r: r.eta_seconds):
        if route.squad_id in best:
            continue
        row = details[route.squad_id]
        en, zh = transport_conditions.held_reason(route.held_vessel or "ferry", route.held_until, now)
        out.append(
            {
                "squad": {"id": row.id, "code": row.code, "name": row.name_zh},
                "distance_m": round(route.distance_m),
                "reasons": [en],
                "reasons_zh": [zh],
                "suspended_until": route.held_until.isoformat(),
                "eta_seconds": round(route.eta_seconds),
                "arrive_at": (now + dt.timedelta(seconds=route.eta_seconds)).isoformat(),
                "mode": route.mode,
                "legs": route.legs,
            }
        )
    return out


_PSYCOPG_SQL: dict[int, str] = {}
_ROW_TYPES: dict[int, type] = {}


def _psycopg_sql(statement) -> str:
    """A ``text()`` statement for psycopg: :name -> %(name)s, leaving PostgreSQL's :: casts alone."""
    sql = _PSYCOPG_SQL.get(id(statement))
    if sql is None:
        sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", statement.text.replace("%", "%%"))  # literal % doubled first
        _PSYCOPG_SQL[id(statement)] = sql
    return sql


def _fetch(db, statement, params: dict) -> list:
    """The hot queries straight through psycopg (named-tuple rows), skipping SQLAlchemy's
    result machinery: about a third of a millisecond per request. Same transaction as ``db``.

    Never as a prepared statement: after five executions PostgreSQL may switch a prepared
    statement to a generic plan, which cannot see the domains and the island and scans the
    island instead of the KNN index (measured on the benchmark's county: 1.7 ms a query
    instead of 0.5 ms, and whether it switches depends on the statistics of the day).
    Unprepared, every execution is planned with its values, which these small statements
    make cheap (under 0.1 ms of planning).

    Results come in binary (no text to parse), as rows of one named-tuple type per statement,
    made on its first execution (psycopg's namedtuple_row looks the type up at every one)."""
    key = id(statement)
    sql = _psycopg_sql(statement)

    def rows_of_statement(cursor):
        row_type = _ROW_TYPES.get(key)
        if row_type is None:
            row_type = collections.namedtuple("Row", [c.name for c in cursor.description], rename=True)
            row_type = _ROW_TYPES.setdefault(key, row_type)
        return row_type._make

    connection = db.connection() if hasattr(db, "get_bind") else db
    raw = connection.connection.driver_connection
    with raw.cursor(row_factory=rows_of_statement, binary=True) as cursor:
        cursor.execute(sql, params, prepare=False)
        return cursor.fetchall()


def _full(best: dict[int, Route], limit: int) -> bool:
    return len(best) >= limit


def _kth(best: dict[int, Route], limit: int) -> float:
    return sorted(r.eta_seconds for r in best.values())[limit - 1]


def _squad_from_row(row, authorities: dict, regions: dict) -> dict:  # a row of _SQUAD_COLUMNS
    authority, region = authorities[row.authority_id], regions[row.station_region_id]
    return squad_from_row(row, (authority.code, authority.name_zh), (region.code, region.name_zh, region.name_en))


def _minute(seconds: float) -> int:
    return math.ceil(seconds / 60)


def _route(
    c: Candidate,
    place: tuple[float, float],
    profile: Profile,
    ferries: FerryNetwork | None,
    landing: dict[int, float],
    now: dt.datetime,
    memo: dict,
    stops: Conditions = NO_CONDITIONS,
) -> Route | None:
    origin = (c.lon, c.lat)
    if c.mode == "land":
        leg = land_leg(profile, origin, place, c.d_origin, "squad", "incident")
        return Route(c.squad_id, leg["seconds"], c.d_incident, "land", [leg])
    if c.mode == "boat":
        leg = boat_leg(profile, origin, place, c.d_origin)
        if stops.boat:
            leaves, held = clear_of(now, stops.boat_windows(_moored_at(ferries, origin)))
            if held is not None:
                leg["depart_at"] = leaves.isoformat()
                leg["suspended_until"] = held.isoformat()
                eta = (leaves - now).total_seconds() + leg["seconds"]
                return Route(c.squad_id, eta, c.d_incident, "boat", [leg], held_until=held, held_vessel="boat")
        return Route(c.squad_id, leg["seconds"], c.d_incident, "boat", [leg])
    source = ferries.ports[c.port_id]
    to_port = land_leg(profile, origin, (source.lon, source.lat), c.d_origin, "squad", source.name,
                       destination_name_en=source.name_en)  # fmt: skip
    ready = now + dt.timedelta(seconds=to_port["seconds"])
    key = (c.port_id, ready.replace(microsecond=0))
    if key not in memo:
        memo[key] = ferries.sail(c.port_id, ready, stops)
    sailing = memo[key]
    best_q, best_eta = None, math.inf
    for q, d in landing.items():
        if q in sailing.arrival:
            eta = (sailing.arrival[q] - now).total_seconds() + profile.land_seconds(d)
            if eta < best_eta:
                best_q, best_eta = q, eta
    if best_q is None:
        return None
    port = ferries.ports[best_q]
    from_port = land_leg(profile, (port.lon, port.lat), place, landing[best_q], port.name, "incident",
                         origin_name_en=port.name_en)  # fmt: skip
    eta = (sailing.arrival[best_q] - now).total_seconds() + from_port["seconds"]
    held = sailing.held_until(best_q) if stops.ferry else None
    legs = [to_port, *sailing.legs(best_q), from_port]
    return Route(c.squad_id, eta, c.d_incident, "ferry", legs, held_until=held, held_vessel="ferry" if held else None)


MOORED_M = 1000  # a boat this near a pier leaves from it (that pier's own suspension holds it)


def _moored_at(ferries: FerryNetwork | None, origin: tuple[float, float]) -> int | None:
    if ferries is None:
        return None
    for port in ferries.ports.values():
        if great_circle_m(origin[0], origin[1], port.lon, port.lat) <= MOORED_M:
            return port.id
    return None


def _left_out(
    session: Session,
    params: dict,
    island: int | None,
    ferries: FerryNetwork | None,
    source_ports: dict[int, float],
    landing: dict[int, float],
    n: int = 50,
) -> list[dict]:
    """The nearest squads that are not eligible, each with its reasons."""
    reachable_islands = {island} | ({ferries.ports[p].island_id for p in source_ports} if ferries else set())
    out = []
    for row in session.execute(_LEFT_OUT, {**params, "n": n}).mappings():
        reasons = []
        if not row["competent"]:
            reasons.append(f"not competent for {', '.join(params['domains'])}")
        if row["status"] != "available":
            reasons.append(f"status is {row['status']}")
        if not row["certified"]:
            if row["suspended"]:
                reasons.append("certificate suspended or revoked")
            elif row["rostered"]:
                reasons.append("no certified officer on shift now (roster)")
            else:
                reasons.append("no certified officer on duty with a valid certificate")
        if row["force"] != "maritime":
            if row["island_id"] is None:
                reasons.append("at sea without a boat")
            elif row["island_id"] not in reachable_islands or (row["island_id"] != island and not landing):
                reasons.append("no ferry route to the incident's island")
        if reasons:
            out.append(
                {
                    "squad": {"id": row["id"], "code": row["code"], "name": row["name_zh"]},
                    "distance_m": round(row["distance"]),
                    "reasons": reasons,
                }
            )
    return out


_SQUAD_PLACE = text(f"""
    SELECT s.id, s.force, {PLACED_ISLAND_SQL} AS island_id, ST_X({PLACED_POSITION_SQL}::geometry) AS lon,
           ST_Y({PLACED_POSITION_SQL}::geometry) AS lat, s.station_region_id
    FROM squad s WHERE s.id = :id
""")


def route_of_squad(
    db, squad_id: int, lon: float, lat: float, *, now: dt.datetime | None = None, stale_minutes: float | None = None
) -> dict | None:
    """The route one squad takes to (lon, lat) now, by the recommendation's travel model: its legs
    (road, pier, ferry with its departure, road; or a boat) and ETA, from where the recommendation
    places it (a stale fix: the pier or station). None when it cannot get there."""
    now = now or clock.utc_now()
    stale = DEFAULT_STALE_MINUTES if stale_minutes is None else stale_minutes
    squad = db.execute(_SQUAD_PLACE, {"id": squad_id, "fresh_since": now - dt.timedelta(minutes=stale)}).one_or_none()
    if squad is None:
        raise NotFound(f"no squad {squad_id}", field="squad_id")
    network = network_for(db, region_chain(db, squad.station_region_id)[-1])
    profile, ferries = network.profile, network.ferries
    island = db.execute(_ISLAND, {"point": f"SRID=4326;POINT({lon} {lat})"}).scalar()
    origin_metres = great_circle_m(squad.lon, squad.lat, lon, lat)
    candidates = []
    if squad.force == "maritime":
        candidates.append(Candidate(squad.id, "boat", None, origin_metres, origin_metres, squad.lon, squad.lat))
    elif squad.island_id is not None and squad.island_id == island:
        candidates.append(Candidate(squad.id, "land", None, origin_metres, origin_metres, squad.lon, squad.lat))
    elif squad.island_id is not None and island is not None and ferries is not None:
        for port in ferries.ports_by_island.get(squad.island_id, []):
            to_pier = great_circle_m(squad.lon, squad.lat, port.lon, port.lat)
            candidates.append(Candidate(squad.id, "ferry", port.id, to_pier, origin_metres, squad.lon, squad.lat))
    landing = {}
    if island is not None and ferries is not None:
        landing = {p.id: great_circle_m(p.lon, p.lat, lon, lat) for p in ferries.ports_by_island.get(island, [])}
    memo: dict = {}
    stops = network.conditions
    routes = [
        r for c in candidates if (r := _route(c, (lon, lat), profile, ferries, landing, now, memo, stops)) is not None
    ]
    if not routes:
        return None
    best = min(routes, key=lambda r: r.eta_seconds)
    return {
        "squad_id": squad.id,
        "computed_at": now.isoformat(),
        "eta_seconds": round(best.eta_seconds),
        "distance_m": round(best.distance_m),
        "mode": best.mode,
        "legs": best.legs,
        **({"suspended_until": best.held_until.isoformat()} if best.held_until else {}),
    }
