"""Travel times on an archipelago: roads on an island, ferries between ports, boats at sea.

Pure computations (no database): the recommendation asks PostGIS for the few
squads nearest to the incident and to each port, then ranks them here. The
ferry graph is small (a county has about ten ports), so a time-dependent
Dijkstra per candidate costs microseconds.

Model (the figures are data, see transport.yaml):
- on land: straight distance x detour factor at the land speed;
- by ferry: boarding (transfer minutes), the wait for the next departure when
  the link has a timetable (local time), then the crossing;
- a maritime squad goes by boat straight to the place, after the transfer time;
- conditions at the moment of travel (``Conditions``): a departure inside a suspension's window
  does not sail (a sailing that left before the window starts still arrives), the next one after
  it does; a boat leaves once its window ends. Timetables may have versions by date (seasons).
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
    name_en: str | None = None

    def ref(self) -> dict:
        return {"code": self.code, "name": self.name, "name_en": self.name_en, "coordinates": [self.lon, self.lat]}


@dataclass(frozen=True)
class Season:
    """A timetable version in force from one local date to another (inclusive; None: open)."""

    effective_from: dt.date
    effective_until: dt.date | None
    timetable: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    from_id: int
    to_id: int
    minutes: float
    timetable: tuple[str, ...] = ()
    by_road: bool = False  # between two piers of one island: drive, no boarding, no timetable
    seasons: tuple[Season, ...] = ()  # dated versions; the plain timetable on days none covers

    def timetable_on(self, day: dt.date) -> tuple[str, ...]:
        for season in self.seasons:
            if season.effective_from <= day and (season.effective_until is None or day <= season.effective_until):
                return season.timetable
        return self.timetable


@functools.lru_cache(maxsize=256)
def _departure_minutes(timetable: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(int(t[:2]) * 60 + int(t[3:5]) for t in timetable))


def next_departure(ready: dt.datetime, timetable: tuple[str, ...], link: Link | None = None) -> dt.datetime:
    """The first departure at or after ``ready`` (timetable in local time); on demand if empty.
    With ``link``, each day's timetable is the version (season) in force that day."""
    if not timetable and not (link and link.seasons):
        return ready
    local = ready.astimezone(LOCAL_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(2):
        start = midnight + dt.timedelta(days=day)
        table = link.timetable_on(start.date()) if link is not None and link.seasons else timetable
        if not table:
            return max(local, start)  # on demand that day
        for minute in _departure_minutes(table):
            departure = start + dt.timedelta(minutes=minute)
            if departure >= local:
                return departure
    raise AssertionError("unreachable: a non-empty timetable departs within two days")


Window = tuple[dt.datetime, dt.datetime]  # [start, end): nothing of the kind sails


@dataclass(frozen=True)
class Conditions:
    """The sailings stopped: per directed ferry link and for boats leaving from a pier (or anywhere:
    ``None``), the suspension windows, sorted, each with when it ends. Empty: everything sails."""

    ferry: dict[tuple[int, int], tuple[Window, ...]] = field(default_factory=dict)
    boat: dict[int | None, tuple[Window, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ferry or self.boat)

    def __hash__(self) -> int:
        return id(self)

    def boat_windows(self, port_id: int | None) -> tuple[Window, ...]:
        windows = self.boat.get(None, ())
        if port_id is not None and port_id in self.boat:
            windows = tuple(sorted(windows + self.boat[port_id]))
        return windows


NO_CONDITIONS = Conditions()


def clear_of(at: dt.datetime, windows: tuple[Window, ...]) -> tuple[dt.datetime, dt.datetime | None]:
    """The first moment at or after ``at`` outside every window, and the end of the last window that
    held it back (None: not held)."""
    held = None
    moved = True
    while moved:
        moved = False
        for start, end in windows:
            if start <= at < end:
                at, held, moved = end, end, True
    return at, held


def departure_under(
    ready: dt.datetime, link: Link, windows: tuple[Window, ...]
) -> tuple[dt.datetime, dt.datetime | None]:
    """The first departure of ``link`` at or after ``ready`` that sails (outside the windows), and
    the end of the suspension that cancelled an earlier one (None: none did)."""
    departs = next_departure(ready, link.timetable, link)
    held = None
    for _ in range(64):  # each turn passes one window
        clear, stopped = clear_of(departs, windows)
        if stopped is None:
            return departs, held
        held = stopped
        departs = next_departure(clear, link.timetable, link)
    return departs, held


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
                Link(link.to_id, link.from_id, link.minutes, link.timetable, link.by_road, link.seasons)
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

    def sail(self, source: int, ready: dt.datetime, conditions: Conditions = NO_CONDITIONS) -> Sailing:
        """Earliest arrival at every reachable port leaving ``source`` no earlier than ``ready``.

        Time-dependent Dijkstra: waits follow the timetables and the suspensions (still FIFO:
        a later arrival at a pier never catches an earlier sailing, so it is exact).
        Legs are built only for the ports asked for.
        """
        best: dict[int, dt.datetime] = {source: ready}
        via: dict[int, tuple[int, Link, dt.datetime, dt.datetime | None]] = {}
        stopped = conditions.ferry
        counter = itertools.count()
        queue = [(ready, next(counter), source)]
        transfer = dt.timedelta(minutes=self.profile.transfer_minutes)
        while queue:
            at, _, port_id = heapq.heappop(queue)
            if at > best[port_id]:
                continue
            for link in self._adjacent[port_id]:
                held = None
                if link.by_road:
                    departs = at
                elif stopped and (windows := stopped.get((link.from_id, link.to_id))):
                    departs, held = departure_under(at + transfer, link, windows)
                else:
                    departs = next_departure(at + transfer, link.timetable, link if link.seasons else None)
                arrives = departs + dt.timedelta(minutes=link.minutes)
                if link.to_id not in best or arrives < best[link.to_id]:
                    best[link.to_id] = arrives
                    via[link.to_id] = (port_id, link, departs, held)
                    heapq.heappush(queue, (arrives, next(counter), link.to_id))
        return Sailing(self, best, via)


@dataclass
class Sailing:
    """The result of ``FerryNetwork.sail``: arrival times, and the legs to any port on demand."""

    network: FerryNetwork
    arrival: dict[int, dt.datetime]
    via: dict[int, tuple[int, Link, dt.datetime, dt.datetime | None]]

    def held_until(self, port_id: int) -> dt.datetime | None:
        """The latest end of a suspension that held back a sailing on the way to ``port_id`` (None: none)."""
        held = None
        while port_id in self.via:
            previous, _, _, until = self.via[port_id]
            if until is not None and (held is None or until > held):
                held = until
            port_id = previous
        return held

    def legs(self, port_id: int) -> list[dict]:
        out = []
        while port_id in self.via:
            previous, link, departs, held = self.via[port_id]
            at = self.arrival[previous]
            arrives = self.arrival[port_id]
            leg = {
                "mode": "land" if link.by_road else "ferry",
                "from": self.network.ports[previous].ref(),
                "to": self.network.ports[port_id].ref(),
                "depart_at": departs.isoformat(),
                "arrive_at": arrives.isoformat(),
                "wait_seconds": round((departs - at).total_seconds()),
                "seconds": round((arrives - at).total_seconds()),
            }
            if held is not None:
                leg["suspended_until"] = held.isoformat()
            out.append(leg)
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
    *,
    origin_name_en: str | None = None,
    destination_name_en: str | None = None,
) -> dict:
    return {
        "mode": "land",
        "from": {"name": origin_name, "name_en": origin_name_en, "coordinates": list(origin)},
        "to": {"name": destination_name, "name_en": destination_name_en, "coordinates": list(destination)},
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
