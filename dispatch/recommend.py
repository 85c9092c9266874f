"""Which squads can get there first: eligibility and candidates in PostGIS, ETA over the sea.

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

Eligible (seed 002 task 5): competent for the matter's domain, available, and
with at least one certified officer on duty whose certificate is valid today.

The request path is three queries (the place, the candidates, the chosen
squads); the ferry network, the region tree and zone membership are cached
per process for a few minutes.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import threading
from dataclasses import dataclass

from psycopg.rows import namedtuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch import refcache
from dispatch.errors import NotFound
from dispatch.serializers import squad_summary
from gis.travel import FerryNetwork, Link, Profile, boat_leg, great_circle_m, land_leg
from gis.travel import Port as TravelPort

# A squad may act when one of its officers is certified, on duty and unexpired.
CERTIFIED_ON_DUTY = """EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND o.on_duty
                               AND NOT o.auxiliary AND o.certificate_expires >= :today)"""
# A scheduled joint inspection may take a squad that is busy now, never one off duty.
AVAILABLE = "(s.status = 'available' OR (NOT :require_available AND s.status <> 'off_duty'))"
# A point's island: the one it lies on, or one within ~500 m (approximate coastlines, GPS noise).
ISLAND_OF_POINT = """SELECT isl.id FROM island isl WHERE ST_DWithin(isl.outline, CAST(:point AS geometry), 0.005)
                     ORDER BY isl.outline <-> CAST(:point AS geometry) LIMIT 1"""


def _eligible(domains: str) -> str:
    return f"{AVAILABLE} AND s.domains && {domains} AND {CERTIFIED_ON_DUTY}"


# What the answer shows of a squad, joined to each candidate row (a handful of rows).
_SQUAD_COLUMNS = """s.id, s.code, s.name_zh, s.name_en, s.force, s.domains, s.scope, s.status, s.station_region_id,
       s.last_position_at, a.code AS authority_code, a.name_zh AS authority_name, a.region_id AS authority_region,
       r.code AS region_code, r.name_zh AS region_name, r.name_en AS region_name_en,
       (SELECT count(*) FROM officer o WHERE o.squad_id = s.id) AS officers,
       (SELECT count(*) FROM officer o WHERE o.squad_id = s.id AND o.on_duty AND NOT o.auxiliary
                                          AND o.certificate_expires >= :today) AS certified_on_duty,
       ST_X(s.last_position::geometry) AS squad_lon, ST_Y(s.last_position::geometry) AS squad_lat"""
_SQUAD_JOINS = "JOIN authority a ON a.id = s.authority_id JOIN region r ON r.id = s.station_region_id"

PLACE_OF_INCIDENT = text(f"""
    SELECT ST_X(inc.location::geometry) AS lon, ST_Y(inc.location::geometry) AS lat, inc.region_id, inc.zone_id,
           ARRAY(SELECT DISTINCT m.domain FROM incident_matter im JOIN matter m ON m.id = im.matter_id
                 WHERE im.incident_id = inc.id ORDER BY 1) AS domains,
           ({ISLAND_OF_POINT.replace(":point", "inc.location::geometry")}) AS island
    FROM incident inc WHERE inc.id = :id
""")
_ISLAND = text(ISLAND_OF_POINT)

# The eligible squads on the place's island and, when the maritime force is competent, the
# nearest boats: KNN index scans. The domains and the island are bound as values (not read
# from a CTE) so that the planner estimates them and picks the KNN scan.
NEARBY = text(f"""
    WITH origin AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g),
    near AS (
        SELECT 'land' AS mode, c.id, c.d_origin FROM origin CROSS JOIN LATERAL (
            SELECT s.id, ST_Distance(s.last_position, origin.g) AS d_origin FROM squad s
            WHERE s.island_id = :island AND s.force <> 'maritime' AND {_eligible("CAST(:domains AS varchar[])")}
            ORDER BY s.last_position <-> origin.g LIMIT :k) c
        UNION ALL
        SELECT 'boat', c.id, c.d_origin FROM origin CROSS JOIN LATERAL (
            SELECT s.id, ST_Distance(s.last_position, origin.g) AS d_origin FROM squad s
            WHERE s.force = 'maritime' AND {_eligible("CAST(:domains AS varchar[])")}
            ORDER BY s.last_position <-> origin.g LIMIT :k) c
        WHERE CAST(:boats AS boolean)  -- only when the maritime force is competent
    )
    SELECT near.mode, NULL::int AS port_id, near.d_origin, near.d_origin AS d_incident, {_SQUAD_COLUMNS}
    FROM near JOIN squad s ON s.id = near.id {_SQUAD_JOINS}
""")

# Squads across the water: the eligible ones nearest each pier from which a ferry reaches the place.
VIA_PORTS = text(f"""
    WITH origin AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g)
    SELECT 'ferry' AS mode, p.id AS port_id, c.d_origin, ST_Distance(s.last_position, origin.g) AS d_incident,
           {_SQUAD_COLUMNS}
    FROM origin, port p CROSS JOIN LATERAL (
        SELECT s.id, ST_Distance(s.last_position, p.location) AS d_origin FROM squad s
        WHERE s.island_id = p.island_id AND s.force <> 'maritime' AND {_eligible("CAST(:domains AS varchar[])")}
        ORDER BY s.last_position <-> p.location LIMIT :k) c
    JOIN squad s ON s.id = c.id {_SQUAD_JOINS}
    WHERE p.id = ANY(:ports)
""")

_LEFT_OUT = text(f"""
    SELECT s.id, s.code, s.name_zh, s.force, s.status, s.island_id,
           ST_Distance(s.last_position, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance,
           s.domains && CAST(:domains AS varchar[]) AS competent, {CERTIFIED_ON_DUTY} AS certified
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


@dataclass
class Route:
    squad_id: int
    eta_seconds: float
    distance_m: float
    mode: str
    legs: list[dict]
    covers_place: bool = False


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


@dataclass
class Network:
    ferries: FerryNetwork | None
    profile: Profile


def network_for(session: Session, root_region_id: int) -> Network:
    """The ferry network and travel profile of a county or city (cached)."""

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
            SELECT p.id, p.code, p.name_zh, p.island_id, ST_X(p.location::geometry), ST_Y(p.location::geometry)
            FROM port p JOIN island i ON i.id = p.island_id
            WHERE EXISTS (SELECT 1 FROM region r WHERE r.id = :root AND ST_DWithin(r.boundary, i.outline, 0.05))
        """),
                {"root": root_region_id},
            ).all()
        }
        links = [
            Link(a, b, minutes, tuple(timetable))
            for a, b, minutes, timetable in session.execute(
                text(
                    "SELECT from_port_id, to_port_id, minutes, timetable FROM ferry_link WHERE from_port_id = ANY(:ids)"
                ),
                {"ids": list(ports)},
            ).all()
        ]
        return Network(FerryNetwork(profile, ports, links), profile)

    return refcache.cached(session, ("network", root_region_id), load)


# -- ranking -------------------------------------------------------------------------------------


def recommend(
    db,
    incident_id: int,
    *,
    limit: int = 5,
    domains: list[str] | None = None,
    explain: bool = False,
    now: dt.datetime | None = None,
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
        now or dt.datetime.now(dt.UTC),
        True,
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
        now or dt.datetime.now(dt.UTC),
        require_available,
    )


def _candidate(row, profile: Profile, source_ports: dict[int, float]) -> Candidate:
    c = Candidate(row.id, row.mode, row.port_id, row.d_origin, row.d_incident, row.squad_lon, row.squad_lat)
    if c.mode == "land":
        c.lower_bound = profile.land_seconds(c.d_origin)
    elif c.mode == "boat":
        c.lower_bound = profile.boat_seconds(c.d_origin)
    else:
        c.lower_bound = profile.land_seconds(c.d_origin) + source_ports[c.port_id]
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
        "today": now.date(),
        "require_available": require_available,
        "k": max(limit, 1),
        "boats": bool(maritime_domains(db) & set(domains)),
    }
    rows = _fetch(db, NEARBY, params)
    details = {r.id: r for r in rows}

    best: dict[int, Route] = {}
    sail_memo: dict[tuple[int, dt.datetime], dict] = {}
    landing: dict[int, float] = {}
    source_ports: dict[int, float] = {}

    def evaluate(candidates: list[Candidate]) -> None:
        for c in sorted(candidates, key=lambda c: c.lower_bound):
            if _full(best, limit) and _minute(c.lower_bound) > _minute(_kth(best, limit)):
                break  # nothing left can enter the list, even on the tie-break
            route = _route(c, (lon, lat), profile, ferries, landing, now, sail_memo)
            if route and (c.squad_id not in best or route.eta_seconds < best[c.squad_id].eta_seconds):
                best[c.squad_id] = route

    evaluate([_candidate(r, profile, source_ports) for r in rows])

    # Piers on the place's island (and the drive from each); piers elsewhere from which a
    # ferry can still beat the squads already found are asked for their nearest squads.
    if island is not None and ferries is not None:
        landing = {p.id: great_circle_m(p.lon, p.lat, lon, lat) for p in ferries.ports_by_island.get(island, [])}
        for port_id, port in ferries.ports.items():
            if port.island_id == island or not landing:
                continue
            bound = min(ferries.lower_bound(port_id, q) + profile.land_seconds(d) for q, d in landing.items())
            if math.isfinite(bound) and not (_full(best, limit) and _minute(bound) > _minute(_kth(best, limit))):
                source_ports[port_id] = bound
    if source_ports:
        across = _fetch(db, VIA_PORTS, {**params, "ports": list(source_ports)})
        details.update({r.id: r for r in across})
        evaluate([_candidate(r, profile, source_ports) for r in across])

    zone = zone_regions(db, zone_id)
    for route in best.values():
        row = details[route.squad_id]
        route.covers_place = (row.scope == "zone" and row.station_region_id in zone) or (
            row.scope == "authority" and row.authority_region in chain
        )
    ranked = sorted(best.values(), key=lambda r: (_minute(r.eta_seconds), not r.covers_place, r.eta_seconds))[:limit]
    result = {
        "domains": domains,
        "computed_at": now.isoformat(),
        "recommendations": [
            {
                "squad": _squad_from_row(details[r.squad_id]),
                "eta_seconds": round(r.eta_seconds),
                "distance_m": round(r.distance_m),
                "mode": r.mode,
                "covers_place": r.covers_place,
                "legs": r.legs,
            }
            for r in ranked
        ],
    }
    if explain:
        result["left_out"] = _left_out(db, params, island, ferries, source_ports, landing)
    return result


_PSYCOPG_SQL: dict[int, str] = {}


def _fetch(db, statement, params: dict) -> list:
    """The hot queries straight through psycopg (named-tuple rows), skipping SQLAlchemy's
    result machinery: about a third of a millisecond per request. Same transaction as ``db``."""
    sql = _PSYCOPG_SQL.get(id(statement))
    if sql is None:
        # :name -> %(name)s, leaving PostgreSQL's :: casts alone; literal % doubled first.
        sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", statement.text.replace("%", "%%"))
        _PSYCOPG_SQL[id(statement)] = sql
    connection = db.connection() if hasattr(db, "get_bind") else db
    raw = connection.connection.driver_connection
    with raw.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _full(best: dict[int, Route], limit: int) -> bool:
    return len(best) >= limit


def _kth(best: dict[int, Route], limit: int) -> float:
    return sorted(r.eta_seconds for r in best.values())[limit - 1]


def _squad_from_row(row) -> dict:  # a row of _SQUAD_COLUMNS
    return squad_summary(
        id=row.id,
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        force=row.force,
        domains=row.domains,
        scope=row.scope,
        status=row.status,
        authority=(row.authority_code, row.authority_name),
        station_region=(row.region_code, row.region_name, row.region_name_en),
        officers=row.officers,
        certified_on_duty=row.certified_on_duty,
        last_position_at=row.last_position_at,
    )


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
) -> Route | None:
    origin = (c.lon, c.lat)
    if c.mode == "land":
        leg = land_leg(profile, origin, place, c.d_origin, "squad", "incident")
        return Route(c.squad_id, leg["seconds"], c.d_incident, "land", [leg])
    if c.mode == "boat":
        leg = boat_leg(profile, origin, place, c.d_origin)
        return Route(c.squad_id, leg["seconds"], c.d_incident, "boat", [leg])
    source = ferries.ports[c.port_id]
    to_port = land_leg(profile, origin, (source.lon, source.lat), c.d_origin, "squad", source.name)
    ready = now + dt.timedelta(seconds=to_port["seconds"])
    key = (c.port_id, ready.replace(microsecond=0))
    if key not in memo:
        memo[key] = ferries.sail(c.port_id, ready)
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
    from_port = land_leg(profile, (port.lon, port.lat), place, landing[best_q], port.name, "incident")
    eta = (sailing.arrival[best_q] - now).total_seconds() + from_port["seconds"]
    return Route(c.squad_id, eta, c.d_incident, "ferry", [to_port, *sailing.legs(best_q), from_port])


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
