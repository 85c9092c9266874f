"""Which squads can get there first: eligibility and candidates in PostGIS, ETA over the sea.

1. PostGIS picks candidates with KNN index scans (``<->`` on the squads'
   geography index): the eligible squads nearest the incident on its own
   island, the eligible squads nearest each port from which a ferry reaches
   that island, and the nearest maritime boats. Within each group the ETA
   grows with that distance, so the best squads of every route are among them.
2. ``gis.travel`` turns each candidate into an ETA (roads, ferry timetables,
   boats), evaluated in order of a static lower bound and stopped as soon as
   no remaining candidate can enter the list.
3. Ranking: ETA by the minute; at equal minutes the squad whose zone covers
   the place ("1+X", seed 001 §3.2.4) first; then the exact ETA.

Eligible (seed 002 task 5): competent for the matter's domain, available, and
with at least one certified officer on duty whose certificate is valid today.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass

from geoalchemy2.shape import to_shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from dispatch.jurisdiction import ancestors_of
from dispatch.models import FerryLink, Incident, Region, Squad, TravelProfile, ZoneMember
from dispatch.serializers import squad_json
from gis.travel import FerryNetwork, Link, Profile, boat_leg, land_leg
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
    d_origin: float  # metres to the incident (land, boat) or to the port (ferry)
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


# -- the ferry network of each county, cached per database ---------------------------------------

_networks: dict[tuple[str, int], tuple[float, FerryNetwork]] = {}
_networks_lock = threading.Lock()
NETWORK_TTL_SECONDS = 300


def network_for(session: Session, root_region_id: int) -> FerryNetwork | None:
    """The ferry network of a county or city (cached for a few minutes; tiny)."""
    key = (str(session.get_bind().url), root_region_id)
    with _networks_lock:
        cached = _networks.get(key)
        if cached and time.monotonic() - cached[0] < NETWORK_TTL_SECONDS:
            return cached[1]
    profile_row = session.scalar(select(TravelProfile).where(TravelProfile.region_id == root_region_id))
    if profile_row is None:
        return None
    profile = Profile(
        profile_row.land_speed_kmh, profile_row.detour_factor, profile_row.boat_speed_kmh, profile_row.transfer_minutes
    )
    rows = session.execute(
        text("""
        SELECT p.id, p.code, p.name_zh, p.island_id, ST_X(p.location::geometry), ST_Y(p.location::geometry)
        FROM port p JOIN island i ON i.id = p.island_id
        WHERE EXISTS (SELECT 1 FROM region r WHERE r.id = :root AND ST_DWithin(r.boundary, i.outline, 0.05))
    """),
        {"root": root_region_id},
    ).all()
    ports = {r[0]: TravelPort(*r) for r in rows}
    links = [
        Link(link.from_port_id, link.to_port_id, link.minutes, tuple(link.timetable))
        for link in session.scalars(select(FerryLink).where(FerryLink.from_port_id.in_(list(ports))))
    ]
    network = FerryNetwork(profile, ports, links)
    with _networks_lock:
        _networks[key] = (time.monotonic(), network)
    return network


def invalidate_networks() -> None:
    with _networks_lock:
        _networks.clear()


# -- ranking -------------------------------------------------------------------------------------


def _covering(session: Session, zone_id: int | None, squads: list[Squad], chain_ids: list[int]) -> set[int]:
    """Squads whose coverage includes the place: stationed in its zone, or county-wide."""
    zone_regions = set()
    if zone_id is not None:
        zone_regions = set(session.scalars(select(ZoneMember.region_id).where(ZoneMember.zone_id == zone_id)))
    return {
        s.id
        for s in squads
        if (s.scope == "zone" and s.station_region_id in zone_regions)
        or (s.scope == "authority" and s.authority.region_id in chain_ids)
    }


def recommend(
    session: Session,
    incident: Incident,
    *,
    limit: int = 5,
    domains: list[str] | None = None,
    explain: bool = False,
    now: dt.datetime | None = None,
) -> dict:
    """The squads that reach ``incident`` first, best first (see the module docstring)."""
    lon, lat = incident_lon_lat(session, incident)
    result = recommend_at(
        session,
        lon,
        lat,
        region=incident.region,
        zone_id=incident.zone_id,
        domains=domains or sorted({m.domain for m in incident.matters}),
        limit=limit,
        explain=explain,
        now=now,
    )
    return {"incident_id": incident.id, **result}


def recommend_at(
    session: Session,
    lon: float,
    lat: float,
    *,
    region: Region,
    zone_id: int | None,
    domains: list[str],
    limit: int = 5,
    explain: bool = False,
    now: dt.datetime | None = None,
    require_available: bool = True,
) -> dict:
    """The squads competent for ``domains`` that reach the place first."""
    now = now or dt.datetime.now(dt.UTC)
    ancestors = ancestors_of(session, region)
    root_id = (ancestors[-1] if ancestors else region).id
    network = network_for(session, root_id)
    point = f"SRID=4326;POINT({lon} {lat})"
    island = session.scalar(text(ISLAND_OF_POINT), {"point": point})
    params = {
        "lon": lon,
        "lat": lat,
        "domains": domains,
        "today": now.date(),
        "island": island,
        "require_available": require_available,
    }

    # Ports on the place's island, and how far each is from the place by road.
    landing: dict[int, float] = {}
    if island is not None and network is not None:
        landing = dict(
            session.execute(
                text(
                    "SELECT id, ST_Distance(location, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) "
                    "FROM port WHERE island_id = :island"
                ),
                params,
            ).all()
        )
    source_ports: dict[int, float] = {}
    if landing and network is not None:
        for port_id, port in network.ports.items():
            if port.island_id == island:
                continue
            bound = min(network.lower_bound(port_id, q) + network.profile.land_seconds(d) for q, d in landing.items())
            if math.isfinite(bound):
                source_ports[port_id] = bound

    rows = session.execute(_CANDIDATES, {**params, "ports": list(source_ports), "k": max(limit, 1)}).all()
    profile = network.profile if network else DEFAULT_PROFILE
    candidates = []
    for mode, port_id, squad_id, d_origin, d_incident, s_lon, s_lat in rows:
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
        route = _route(c, (lon, lat), profile, network, landing, now, sail_memo)
        if route and (c.squad_id not in best or route.eta_seconds < best[c.squad_id].eta_seconds):
            best[c.squad_id] = route

    squads = {
        s.id: s
        for s in session.scalars(
            select(Squad)
            .where(Squad.id.in_(list(best)))
            .options(selectinload(Squad.authority), selectinload(Squad.station_region), selectinload(Squad.officers))
        )
    }
    chain_ids = [region.id, *(a.id for a in ancestors)]
    covering = _covering(session, zone_id, list(squads.values()), chain_ids)
    for route in best.values():
        route.covers_place = route.squad_id in covering
    ranked = sorted(best.values(), key=lambda r: (_minute(r.eta_seconds), not r.covers_place, r.eta_seconds))[:limit]
    result = {
        "domains": domains,
        "computed_at": now.isoformat(),
        "recommendations": [
            {
                "squad": squad_json(squads[r.squad_id], now.date()),
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
        result["left_out"] = _left_out(session, params, island, network, source_ports, landing)
    return result


def _minute(seconds: float) -> int:
    return math.ceil(seconds / 60)


def _route(
    c: Candidate,
    place: tuple[float, float],
    profile: Profile,
    network: FerryNetwork | None,
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
    source = network.ports[c.port_id]
    to_port = land_leg(profile, origin, (source.lon, source.lat), c.d_origin, "squad", source.name)
    ready = now + dt.timedelta(seconds=to_port["seconds"])
    key = (c.port_id, ready.replace(microsecond=0))
    if key not in memo:
        memo[key] = network.sail(c.port_id, ready)
    best: Route | None = None
    for q, d in landing.items():
        if q not in memo[key]:
            continue
        arrives, ferry_legs = memo[key][q]
        port = network.ports[q]
        from_port = land_leg(profile, (port.lon, port.lat), place, d, port.name, "incident")
        eta = (arrives - now).total_seconds() + from_port["seconds"]
        if best is None or eta < best.eta_seconds:
            best = Route(c.squad_id, eta, c.d_incident, "ferry", [to_port, *ferry_legs, from_port])
    return best


def _left_out(
    session: Session,
    params: dict,
    island: int | None,
    network: FerryNetwork | None,
    source_ports: dict[int, float],
    landing: dict[int, float],
    n: int = 50,
) -> list[dict]:
    """The nearest squads that are not eligible, each with its reasons."""
    reachable_islands = {island} | ({network.ports[p].island_id for p in source_ports} if network else set())
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


def incident_lon_lat(session: Session, incident: Incident) -> tuple[float, float]:  # noqa: ARG001
    point = to_shape(incident.location)
    return point.x, point.y
