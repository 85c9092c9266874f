"""Travel times on an archipelago: roads on an island, ferries between ports, boats at sea.

Pure computations (no database): the recommendation asks PostGIS for the few
squads nearest to the incident and to each port, then ranks them here. The
ferry graph is small (a county has about ten ports), so a time-dependent
Dijkstra per candidate costs microseconds.

Model (the figures are data, see transport.yaml):
- on land: straight distance x detour factor at the land speed;
- by ferry: boarding (transfer minutes), the wait for the next departure when
  the link has a timetable (local time), then the crossing;
- a maritime squad goes by boat straight to the place, after the transfer time.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import math
from dataclasses import dataclass, field

import networkx as nx

from gis.clock import CHINA

LOCAL_TZ = CHINA  # timetables are local


def great_circle_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in metres (within 0.5 % of the spheroid: fine for travel times)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Profile:
    land_speed_kmh: float
    detour_factor: float
    boat_speed_kmh: float
    transfer_minutes: float

    def land_seconds(self, metres: float) -> float:
        return metres * self.detour_factor / (self.land_speed_kmh / 3.6)

    def boat_seconds(self, metres: float) -> float:
        return self.transfer_minutes * 60 + metres / (self.boat_speed_kmh / 3.6)


@dataclass(frozen=True)
class Port:
    id: int
    code: str
    name: str
    island_id: int
    lon: float
    lat: float

    def ref(self) -> dict:
        return {"code": self.code, "name": self.name, "coordinates": [self.lon, self.lat]}


@dataclass(frozen=True)
class Link:
    from_id: int
    to_id: int
    minutes: float
    timetable: tuple[str, ...] = ()
    by_road: bool = False  # between two piers of one island: drive, no boarding, no timetable


@functools.lru_cache(maxsize=256)
def _departure_minutes(timetable: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(int(t[:2]) * 60 + int(t[3:5]) for t in timetable))


def next_departure(ready: dt.datetime, timetable: tuple[str, ...]) -> dt.datetime:
    """The first departure at or after ``ready`` (timetable in local time); on demand if empty."""
    if not timetable:
        return ready
    local = ready.astimezone(LOCAL_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = _departure_minutes(timetable)
    for day in range(2):
        for minute in minutes:
            departure = midnight + dt.timedelta(days=day, minutes=minute)
            if departure >= local:
                return departure
    raise AssertionError("unreachable: a non-empty timetable departs within two days")


@dataclass
class FerryNetwork:
    """Ports and two-way links of one county, with static lower bounds precomputed."""

    profile: Profile
    ports: dict[int, Port]
    links: list[Link]
    _adjacent: dict[int, list[Link]] = field(init=False)
    _lower_bound: dict[int, dict[int, float]] = field(init=False)

    def __post_init__(self) -> None:
        self._adjacent = {port_id: [] for port_id in self.ports}
        self.ports_by_island: dict[int, list[Port]] = {}
        for port in self.ports.values():
            self.ports_by_island.setdefault(port.island_id, []).append(port)
        # Piers of one island are joined by road: land at one, sail on from another.
        roads = [
            Link(a.id, b.id, self.profile.land_seconds(great_circle_m(a.lon, a.lat, b.lon, b.lat)) / 60, by_road=True)
            for piers in self.ports_by_island.values()
            for a, b in itertools.combinations(piers, 2)
        ]
        graph = nx.Graph()
        graph.add_nodes_from(self.ports)
        for link in [*self.links, *roads]:
            self._adjacent[link.from_id].append(link)
            self._adjacent[link.to_id].append(
                Link(link.to_id, link.from_id, link.minutes, link.timetable, link.by_road)
            )
            # A lower bound of the leg: boarding plus sailing (or the drive), no waiting.
            seconds = (link.minutes + (0 if link.by_road else self.profile.transfer_minutes)) * 60
            if not graph.has_edge(link.from_id, link.to_id) or graph[link.from_id][link.to_id]["weight"] > seconds:
                graph.add_edge(link.from_id, link.to_id, weight=seconds)
        self._lower_bound = {
            source: dict(lengths) for source, lengths in nx.all_pairs_dijkstra_path_length(graph, weight="weight")
        }

    def lower_bound(self, source: int, target: int) -> float:
        return self._lower_bound.get(source, {}).get(target, float("inf"))

    def sail(self, source: int, ready: dt.datetime) -> Sailing:
        """Earliest arrival at every reachable port leaving ``source`` no earlier than ``ready``.

        Time-dependent Dijkstra: waits follow the timetables (FIFO, so it is exact).
        Legs are built only for the ports asked for.
        """
        best: dict[int, dt.datetime] = {source: ready}
        via: dict[int, tuple[int, Link, dt.datetime]] = {}
        counter = itertools.count()
        queue = [(ready, next(counter), source)]
        transfer = dt.timedelta(minutes=self.profile.transfer_minutes)
        while queue:
            at, _, port_id = heapq.heappop(queue)
            if at > best[port_id]:
                continue
            for link in self._adjacent[port_id]:
                departs = at if link.by_road else next_departure(at + transfer, link.timetable)
                arrives = departs + dt.timedelta(minutes=link.minutes)
                if link.to_id not in best or arrives < best[link.to_id]:
                    best[link.to_id] = arrives
                    via[link.to_id] = (port_id, link, departs)
                    heapq.heappush(queue, (arrives, next(counter), link.to_id))
        return Sailing(self, best, via)


@dataclass
class Sailing:
    """The result of ``FerryNetwork.sail``: arrival times, and the legs to any port on demand."""

    network: FerryNetwork
    arrival: dict[int, dt.datetime]
    via: dict[int, tuple[int, Link, dt.datetime]]

    def legs(self, port_id: int) -> list[dict]:
        out = []
        while port_id in self.via:
            previous, link, departs = self.via[port_id]
            at = self.arrival[previous]
            arrives = self.arrival[port_id]
            out.append(
                {
                    "mode": "land" if link.by_road else "ferry",
                    "from": self.network.ports[previous].ref(),
                    "to": self.network.ports[port_id].ref(),
                    "depart_at": departs.isoformat(),
                    "arrive_at": arrives.isoformat(),
                    "wait_seconds": round((departs - at).total_seconds()),
                    "seconds": round((arrives - at).total_seconds()),
                }
            )
            port_id = previous
        out.reverse()
        return out


def land_leg(
    profile: Profile,
    origin: tuple[float, float],
    destination: tuple[float, float],
    metres: float,
    origin_name: str | None = None,
    destination_name: str | None = None,
) -> dict:
    return {
        "mode": "land",
        "from": {"name": origin_name, "coordinates": list(origin)},
        "to": {"name": destination_name, "coordinates": list(destination)},
        "distance_m": round(metres),
        "seconds": round(profile.land_seconds(metres)),
    }


def boat_leg(profile: Profile, origin: tuple[float, float], destination: tuple[float, float], metres: float) -> dict:
    return {
        "mode": "boat",
        "from": {"name": None, "coordinates": list(origin)},
        "to": {"name": None, "coordinates": list(destination)},
        "distance_m": round(metres),
        "seconds": round(profile.boat_seconds(metres)),
    }
