"""The demo: squads moving along plausible tracks and 12345 hotline calls arriving, so the map lives.

Everything goes through the real code paths: fixes through
``dispatch.positions.ingest`` (the same checks as a tablet's), calls through
``dispatch.incidents.intake``, and the simulated tablets move their tasks with
``dispatch.tasks.transition``. Dispatching stays with the person at the
command centre: the newcomer picks a squad from the map.

- Idle squads patrol around their station at road speed and stay on their
  island (maritime squads patrol the water); a dispatched squad acknowledges,
  heads for the place, arrives, and completes after a while on scene.
- Calls arrive as a Poisson process (``incidents_per_hour``; the first within
  seconds), at a random point of a township (PostGIS ``ST_GeneratePoints``),
  weighted towards the county seat, with the matters the hotline hears most.

Run it with ``flask --app dispatch simulate`` next to a server, or in the
server itself with ``DEMO_SIMULATION=1 make run``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from geoalchemy2.shape import to_shape
from shapely import prepared
from sqlalchemy import select, text

from dispatch.errors import ApiError
from dispatch.incidents import intake
from dispatch.positions import ingest, parse_fix
from dispatch.store.db import db
from dispatch.store.models import Island
from dispatch.tasks import transition

log = logging.getLogger(__name__)
ACTOR = "simulator"
ROAD_SPEED_MPS = 30 / 3.6
BOAT_SPEED_MPS = 35 / 3.6
METRES_PER_DEG = 111_320.0

# What the 12345 hotline hears most (matter code, what the caller says).
CALLS = [
    ("CM-001", "市民来电：路口有流动摊贩占道经营，影响通行"),
    ("CM-003", "反映小区门口长期乱堆乱放建材"),
    ("CM-005", "反映楼下饭店油烟直排，气味很大"),
    ("CM-006", "反映垃圾投放点混投严重，无人管理"),
    ("CM-007", "反映人行道上停满机动车，行人只能走机动车道"),
    ("CM-010", "反映消防车通道被货车堵住"),
    ("CM-011", "夜间十点后工地仍在施工，噪声扰民"),
    ("CM-012", "渣土车沿途撒漏，路面很脏"),
    ("MS-003", "海鲜排档未明码标价，结账时价格很高"),
    ("MS-001", "反映在菜场买到的海产品有异味"),
    ("EE-001", "反映排污口有污水直排入海"),
]
# Calls per township: the county seat (Caiyuan) hears most.
TOWNSHIP_WEIGHT = {
    "330922100": 6,
    "330922102": 2,
    "330922101": 2,
    "330922200": 1,
    "330922201": 1,
    "330922202": 1,
    "330922203": 1,
}


@dataclass
class Walker:
    """One squad's simulated tablet."""

    squad_id: int
    force: str
    lon: float
    lat: float
    station: tuple[float, float]
    island: object | None
    heading: float = field(default_factory=lambda: random.uniform(0, 2 * math.pi))
    task_id: int | None = None
    task_state: str | None = None
    target: tuple[float, float] | None = None
    since: float = 0.0
    counter: int = 0


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * METRES_PER_DEG * math.cos(math.radians((a[1] + b[1]) / 2))
    dy = (b[1] - a[1]) * METRES_PER_DEG
    return math.hypot(dx, dy)


def _step(lon: float, lat: float, heading: float, metres: float) -> tuple[float, float]:
    return (
        lon + metres * math.cos(heading) / (METRES_PER_DEG * math.cos(math.radians(lat))),
        lat + metres * math.sin(heading) / METRES_PER_DEG,
    )


class Simulation:
    """The demo's state; ``tick()`` advances it by one step (``run()`` loops)."""

    def __init__(
        self,
        app,
        *,
        tick_s: float = 3.0,
        incidents_per_hour: float = 60.0,
        seed: int | None = None,
        people: tuple[str, ...] = (),
    ):
        """``people``: codes of squads a person plays on a tablet (the demo's printed one): the
        simulation neither moves them nor works their tasks, so it never races the person."""
        self.app = app
        self.people = tuple(people)
        self.tick_s = tick_s
        self.incidents_per_hour = incidents_per_hour
        self.random = random.Random(seed)
        self.walkers: dict[int, Walker] = {}
        self.islands: list[tuple[object, object]] = []
        self.next_call = time.monotonic() + 3  # the first call within seconds
        self.calls = 0
        self.fixes = 0
        self.stopped = threading.Event()

    # -- setup --

    def load(self, session) -> None:
        self.islands = [
            (prepared.prep(to_shape(i.outline)), to_shape(i.outline)) for i in session.scalars(select(Island))
        ]
        rows = session.execute(
            text("""
            SELECT id, force, status,
                   ST_X(coalesce(last_position, station)::geometry) AS lon, ST_Y(coalesce(last_position, station)::geometry) AS lat,
                   ST_X(station::geometry) AS slon, ST_Y(station::geometry) AS slat
            FROM squad WHERE code <> ALL(CAST(:people AS text[])) ORDER BY id
        """),
            {"people": list(self.people)},
        ).all()
        for r in rows:
            self.walkers[r.id] = Walker(r.id, r.force, r.lon, r.lat, (r.slon, r.slat), self._island_at(r.slon, r.slat))

    def _island_at(self, lon: float, lat: float):
        from shapely import Point

        point = Point(lon, lat)
        for prep, _ in self.islands:
            if prep.contains(point):
                return prep
        return None

    # -- one step --

    def tick(self) -> None:
        with self.app.app_context():
            session = db.session
            try:
                if not self.walkers:
                    self.load(session)
                self._follow_tasks(session)
                for walker in self.walkers.values():
                    self._move(session, walker)
                if time.monotonic() >= self.next_call:
                    self._call(session)
                    self.next_call = time.monotonic() + self.random.expovariate(self.incidents_per_hour / 3600)
            finally:
                db.session.remove()

    def _follow_tasks(self, session) -> None:
        """Pick up new tasks and move each through its lifecycle as a crew would."""
        rows = session.execute(
            text("""
            SELECT t.id, t.squad_id, t.state, ST_X(i.location::geometry) AS lon, ST_Y(i.location::geometry) AS lat
            FROM task t JOIN incident i ON i.id = t.incident_id
            WHERE t.kind = 'response' AND t.state IN ('dispatched', 'acknowledged', 'en_route', 'on_scene')
        """)
        ).all()
        active = {r.squad_id: r for r in rows}
        now = time.monotonic()
        for walker in self.walkers.values():
            row = active.get(walker.squad_id)
            if row is None:
                walker.task_id = walker.task_state = walker.target = None
                continue
            if walker.task_id != row.id or walker.task_state != row.state:
                walker.task_id, walker.task_state, walker.since = row.id, row.state, now
            walker.target = (row.lon, row.lat)
            step = None
            if row.state == "dispatched" and now - walker.since > 5:
                step = "acknowledged"
            elif row.state == "acknowledged" and now - walker.since > 5:
                step = "en_route"
            elif row.state == "en_route" and _metres((walker.lon, walker.lat), walker.target) < 60:
                step = "on_scene"
            elif row.state == "on_scene" and now - walker.since > 90:
                step = "completed"
            if step:
                try:
                    location = None
                    if step == "on_scene":
                        from shapely import Point

                        location = Point(walker.lon, walker.lat)
                    transition(session, row.id, step, actor=ACTOR, location=location)
                    session.commit()
                    walker.task_state, walker.since = step, now
                except ApiError as exc:  # a dispatcher cancelled it meanwhile
                    session.rollback()
                    log.info("simulated tablet of squad %s: %s", walker.squad_id, exc.message)

    def _move(self, session, walker: Walker) -> None:
        speed = BOAT_SPEED_MPS if walker.force == "maritime" else ROAD_SPEED_MPS
        metres = speed * self.tick_s * self.random.uniform(0.6, 1.0)
        if walker.task_state in ("acknowledged", "en_route") and walker.target:
            if walker.task_state == "acknowledged":
                return  # getting ready
            gap = _metres((walker.lon, walker.lat), walker.target)
            walker.heading = math.atan2(
                walker.target[1] - walker.lat, (walker.target[0] - walker.lon) * math.cos(math.radians(walker.lat))
            )
            lon, lat = walker.target if gap <= metres else _step(walker.lon, walker.lat, walker.heading, metres)
        elif walker.task_state in ("on_scene", "dispatched"):
            return  # standing still
        else:
            # Patrol: wander, drift back towards the station beyond ~1.5 km, stay on the island.
            if _metres((walker.lon, walker.lat), walker.station) > 1500:
                home = math.atan2(
                    walker.station[1] - walker.lat,
                    (walker.station[0] - walker.lon) * math.cos(math.radians(walker.lat)),
                )
                walker.heading = home + self.random.uniform(-0.5, 0.5)
            else:
                walker.heading += self.random.uniform(-0.7, 0.7)
            lon, lat = _step(walker.lon, walker.lat, walker.heading, metres)
            if walker.island is not None and walker.force != "maritime":
                from shapely import Point

                if not walker.island.contains(Point(lon, lat)):
                    walker.heading += math.pi  # the shore: turn back
                    return
        walker.counter += 1
        fix = parse_fix(
            {
                "id": f"sim-{walker.squad_id}-{uuid.uuid4().hex[:12]}",
                "lon": round(lon, 6),
                "lat": round(lat, 6),
                "crs": "wgs84",
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "accuracy": round(self.random.uniform(4, 15), 1),
                "speed": round(speed, 1),
                "heading": round(math.degrees(math.pi / 2 - walker.heading) % 360, 1),
            },
            "fix",
        )
        try:
            ingest(session, walker.squad_id, [fix])
            session.commit()
        except Exception:
            session.rollback()
            raise
        walker.lon, walker.lat = lon, lat
        self.fixes += 1

    def _call(self, session) -> None:
        """One 12345 call at a random point of a township."""
        codes = list(TOWNSHIP_WEIGHT)
        township = self.random.choices(codes, weights=[TOWNSHIP_WEIGHT[c] for c in codes])[0]
        point = session.execute(
            text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT (ST_Dump(ST_GeneratePoints(boundary, 1, :seed))).geom AS p FROM region WHERE code = :code
            ) s
        """),
            {"code": township, "seed": self.random.randint(1, 2**30)},
        ).first()
        if point is None:
            return
        matter, description = self.random.choice(CALLS)
        body = {
            "source": "hotline_12345",
            "external_id": f"SIM-{uuid.uuid4().hex[:16]}",
            "matters": [matter],
            "location": {"type": "Point", "coordinates": [round(point[0], 6), round(point[1], 6)]},
            "description": description,
            "reported_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        try:
            intake(session, body, actor=ACTOR, config=self.app.config)
            session.commit()
            self.calls += 1
        except ApiError as exc:
            session.rollback()
            log.info("simulated call refused: %s", exc.message)

    def run(self, duration_s: float | None = None, sleep=time.sleep) -> None:
        """Tick until stopped (or for ``duration_s``); a failing tick is logged, not fatal."""
        started = time.monotonic()
        while not self.stopped.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("simulation tick failed")
            if duration_s is not None and time.monotonic() - started >= duration_s:
                return
            sleep(max(0.0, self.tick_s - (time.monotonic() - began)))
