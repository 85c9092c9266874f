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

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
from dispatch.serializers import squad_summary
from gis.travel import FerryNetwork, Link, Profile, boat_leg, great_circle_m, land_leg
from gis.travel import Port as TravelPort

# A squad may act when one of its officers is certified, on duty and unexpired.
CERTIFIED_ON_DUTY = """EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND o.on_duty
                               AND NOT o.auxiliary AND o.certificate_expires >= :today)"""
# A scheduled joint inspection may take a squad that is busy now, never one off duty.
AVAILABLE = "(s.status = 'available' OR (NOT :require_available AND s.status <> 'off_duty'))"
ELIGIBLE = f"{AVAILABLE} AND s.domains && CAST(:domains AS varchar[]) AND {CERTIFIED_ON_DUTY}"
# A point's island: the one it lies on, or one within ~500 m (approximate coastlines, GPS noise).
ISLAND_OF_POINT = """SELECT i.id FROM island i WHERE ST_DWithin(i.outline, CAST(:point AS geometry), 0.005)
                     ORDER BY i.outline <-> CAST(:point AS geometry) LIMIT 1"""

_INCIDENT_PLACE = text(f"""
    SELECT ST_X(inc.location::geometry) AS lon, ST_Y(inc.location::geometry) AS lat, inc.region_id, inc.zone_id,
           ARRAY(SELECT DISTINCT m.domain FROM incident_matter im JOIN matter m ON m.id = im.matter_id
                 WHERE im.incident_id = inc.id ORDER BY 1) AS domains,
           ({ISLAND_OF_POINT.replace(":point", "inc.location::geometry")}) AS island
    FROM incident inc WHERE inc.id = :id
""")

_ISLAND = text(ISLAND_OF_POINT)

_CANDIDATES = text(f"""
    WITH origin AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g)
    SELECT 'land' AS mode, NULL::int AS port_id, c.id, c.d_origin, c.d_incident, c.lon, c.lat
    FROM origin CROSS JOIN LATERAL (
        SELECT s.id, ST_Distance(s.last_position, origin.g) AS d_origin,
               ST_Distance(s.last_position, origin.g) AS d_incident,
               ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat
        FROM squad s
        WHERE s.island_id = :island AND s.force <> 'maritime' AND {ELIGIBLE}
        ORDER BY s.last_position <-> origin.g LIMIT :k
    ) c
    UNION ALL
    SELECT 'ferry', p.id, c.id, c.d_origin, c.d_incident, c.lon, c.lat
    FROM origin, port p CROSS JOIN LATERAL (
        SELECT s.id, ST_Distance(s.last_position, p.location) AS d_origin,
               ST_Distance(s.last_position, origin.g) AS d_incident,
               ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat
        FROM squad s
        WHERE s.island_id = p.island_id AND s.force <> 'maritime' AND {ELIGIBLE}
        ORDER BY s.last_position <-> p.location LIMIT :k
    ) c
    WHERE p.id = ANY(:ports)
    UNION ALL
    SELECT 'boat', NULL, c.id, c.d_origin, c.d_incident, c.lon, c.lat
    FROM origin CROSS JOIN LATERAL (
        SELECT s.id, ST_Distance(s.last_position, origin.g) AS d_origin,
               ST_Distance(s.last_position, origin.g) AS d_incident,
               ST_X(s.last_position::geometry) AS lon, ST_Y(s.last_position::geometry) AS lat
        FROM squad s
        WHERE s.force = 'maritime' AND {ELIGIBLE}
        ORDER BY s.last_position <-> origin.g LIMIT :k
    ) c
    WHERE CAST(:boats AS boolean)  -- skipped unless the maritime force is competent
""")

_SQUADS = text("""
    SELECT s.id, s.code, s.name_zh, s.name_en, s.force, s.domains, s.scope, s.status, s.station_region_id,
           s.last_position_at, a.code AS authority_code, a.name_zh AS authority_name, a.region_id AS authority_region,
           r.code AS region_code, r.name_zh AS region_name, r.name_en AS region_name_en,
           (SELECT count(*) FROM officer o WHERE o.squad_id = s.id) AS officers,
           (SELECT count(*) FROM officer o WHERE o.squad_id = s.id AND o.on_duty AND NOT o.auxiliary
                                              AND o.certificate_expires >= :today) AS certified_on_duty
    FROM squad s JOIN authority a ON a.id = s.authority_id JOIN region r ON r.id = s.station_region_id
    WHERE s.id = ANY(:ids)
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

CACHE_TTL_SECONDS = 300
_cache: dict[tuple, tuple[float, object]] = {}
_cache_lock = threading.Lock()


def _cached(session: Session, key: tuple, load: Callable[[], object]):
    """``load()`` once per database and key for a few minutes (reference data, not live state)."""
    full_key = (str(session.get_bind().url), *key)
    with _cache_lock:
        hit = _cache.get(full_key)
        if hit and time.monotonic() - hit[0] < CACHE_TTL_SECONDS:
            return hit[1]
    value = load()
    with _cache_lock:
        _cache[full_key] = (time.monotonic(), value)
    return value


def invalidate_caches() -> None:
    """Forget the cached networks, regions and zones (after loading or editing reference data)."""
    with _cache_lock:
        _cache.clear()


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

    return _cached(session, ("chain", region_id), load)


def zone_regions(session: Session, zone_id: int | None) -> frozenset[int]:
    if zone_id is None:
        return frozenset()
    return _cached(
        session,
        ("zone", zone_id),
        lambda: frozenset(
            session.execute(text("SELECT region_id FROM zone_member WHERE zone_id = :z"), {"z": zone_id}).scalars()
        ),
    )


@dataclass
class Network:
    ferries: FerryNetwork | None
    profile: Profile
    maritime_domains: frozenset[str]


def network_for(session: Session, root_region_id: int) -> Network:
    """The ferry network and travel profile of a county or city (cached)."""

    def load() -> Network:
        boats = frozenset(
            session.execute(text("SELECT DISTINCT unnest(domains) FROM squad WHERE force = 'maritime'")).scalars()
        )
        row = session.execute(
            text(
                "SELECT land_speed_kmh, detour_factor, boat_speed_kmh, transfer_minutes FROM travel_profile "
                "WHERE region_id = :root"
            ),
            {"root": root_region_id},
        ).one_or_none()
        if row is None:
            return Network(None, DEFAULT_PROFILE, boats)
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
        return Network(FerryNetwork(profile, ports, links), profile, boats)

    return _cached(session, ("network", root_region_id), load)


# -- ranking -------------------------------------------------------------------------------------


def recommend(
    session: Session,
    incident_id: int,
    *,
    limit: int = 5,
    domains: list[str] | None = None,
    explain: bool = False,
    now: dt.datetime | None = None,
) -> dict:
    """The squads that reach incident ``incident_id`` first, best first (see the module docstring)."""
    place = session.execute(_INCIDENT_PLACE, {"id": incident_id}).one_or_none()
    if place is None:
        raise NotFound(f"no incident {incident_id}", field="incident_id")
    result = recommend_at(
        session,
        place.lon,
        place.lat,
        region_id=place.region_id,
        zone_id=place.zone_id,
        domains=domains or list(place.domains),
        limit=limit,
        explain=explain,
        now=now,
        island=place.island,
    )
    return {"incident_id": incident_id, **result}


_UNKNOWN = object()


def recommend_at(
    session: Session,
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
    island=_UNKNOWN,
) -> dict:
    """The squads competent for ``domains`` that reach the place first."""
    now = now or dt.datetime.now(dt.UTC)
    chain = region_chain(session, region_id)
    network = network_for(session, chain[-1])
    profile, ferries = network.profile, network.ferries
    if island is _UNKNOWN:
        island = session.scalar(_ISLAND, {"point": f"SRID=4326;POINT({lon} {lat})"})

    # Piers on the place's island and the drive from each; piers elsewhere that reach one of them.
    landing: dict[int, float] = {}
    source_ports: dict[int, float] = {}
    if island is not None and ferries is not None:
        landing = {p.id: great_circle_m(p.lon, p.lat, lon, lat) for p in ferries.ports_by_island.get(island, [])}
        for port_id, port in ferries.ports.items():
            if port.island_id == island or not landing:
                continue
            bound = min(ferries.lower_bound(port_id, q) + profile.land_seconds(d) for q, d in landing.items())
            if math.isfinite(bound):
                source_ports[port_id] = bound

    params = {
        "lon": lon,
        "lat": lat,
        "domains": domains,
        "today": now.date(),
        "island": island,
        "require_available": require_available,
        "ports": list(source_ports),
        "k": max(limit, 1),
        "boats": bool(network.maritime_domains & set(domains)),
    }
    candidates = []
    for mode, port_id, squad_id, d_origin, d_incident, s_lon, s_lat in session.execute(_CANDIDATES, params):
        c = Candidate(squad_id, mode, port_id, d_origin, d_incident, s_lon, s_lat)
        if mode == "land":
            c.lower_bound = profile.land_seconds(d_origin)
        elif mode == "boat":
            c.lower_bound = profile.boat_seconds(d_origin)
        else:
            c.lower_bound = profile.land_seconds(d_origin) + source_ports[port_id]
        candidates.append(c)
    candidates.sort(key=lambda c: c.lower_bound)

    best: dict[int, Route] = {}
    sail_memo: dict[tuple[int, dt.datetime], dict] = {}
    for c in candidates:
        ranked = sorted(best.values(), key=lambda r: r.eta_seconds)
        if len(ranked) >= limit and _minute(c.lower_bound) > _minute(ranked[limit - 1].eta_seconds):
            break  # nothing left can enter the list, even on the tie-break
        route = _route(c, (lon, lat), profile, ferries, landing, now, sail_memo)
        if route and (c.squad_id not in best or route.eta_seconds < best[c.squad_id].eta_seconds):
            best[c.squad_id] = route

    rows = {r.id: r for r in session.execute(_SQUADS, {"ids": list(best), "today": now.date()})}
    zone = zone_regions(session, zone_id)
    for route in best.values():
        row = rows[route.squad_id]
        route.covers_place = (row.scope == "zone" and row.station_region_id in zone) or (
            row.scope == "authority" and row.authority_region in chain
        )
    ranked = sorted(best.values(), key=lambda r: (_minute(r.eta_seconds), not r.covers_place, r.eta_seconds))[:limit]
    result = {
        "domains": domains,
        "computed_at": now.isoformat(),
        "recommendations": [
            {
                "squad": _squad_from_row(rows[r.squad_id]),
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
        result["left_out"] = _left_out(session, params, island, ferries, source_ports, landing)
    return result


def _squad_from_row(row) -> dict:
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
    best: Route | None = None
    for q, d in landing.items():
        if q not in memo[key]:
            continue
        arrives, ferry_legs = memo[key][q]
        port = ferries.ports[q]
        from_port = land_leg(profile, (port.lon, port.lat), place, d, port.name, "incident")
        eta = (arrives - now).total_seconds() + from_port["seconds"]
        if best is None or eta < best.eta_seconds:
            best = Route(c.squad_id, eta, c.d_incident, "ferry", [to_port, *ferry_legs, from_port])
    return best


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
