"""Benchmark of the recommendation request: HTTP end to end versus its spatial query in raw SQL.

``make bench`` runs this file. It starts a throwaway PostGIS cluster (fsync off) in
``var/bench``, migrates it, loads the Shengsi reference data, adds a synthetic county
(1,000 townships on 10 islands, 20 ports, ferry links, a published "1+X" plan,
10,000 squads and their officers), starts the real server (``flask --app dispatch
serve``), files incidents through the API, and then measures:

- ``GET /api/v1/incidents/<id>/recommendations`` over HTTP (one keep-alive session);
- the spatial query ``dispatch.recommend`` sends for every request (``NEARBY``: the eligible
  squads nearest the place, KNN; the incident's place is remembered after the first request) in
  raw SQL through psycopg, with the parameters the server computes for the same incidents.

Then it sets ``SUSPENSIONS`` (50) transport suspensions active now on the synthetic county's ferry
links and piers (issue 29: ferries held back, the recommendation sails around them) and rosters
every synthetic squad (a shift now, its officers on the roster: the certified-officer rule reads
the roster for every candidate), measures the HTTP request again, lifts both and measures it a third
time: the ratio compares the conditioned p99 with the p99 of the two plain series pooled, taken
before and after it (the machine's drift falls on both sides).

It prints p50/p90/p99/max/mean of each, their ratio and whether the targets are met
(p50 <= 3 ms, p99 <= 10 ms, HTTP p50 within 5x of the raw SQL p50, HTTP p99 with the
suspensions and rosters within 1.2x of p99 without them, in the same run). The raw SQL runs
twice: prepared (as the issue asks; with ``plan_cache_mode = force_custom_plan``, so parsed
once and planned with the values at every execution, its fastest form: the generic plan
PostgreSQL may switch a prepared statement to after five executions cannot see the domains
and the island, and scans the whole island) and not prepared, which is how the server sends
it (for that reason), results in binary as the server reads them.

It exits 0 when the measurement ran, whatever the figures; non-zero on errors, a failed
request included. Each timed series stops at ``--budget`` seconds (marked ``*``) so that a
slow build still finishes in about three minutes. The cluster, its data folder and the
server process are removed at the end, also on Ctrl-C or SIGTERM.

    .venv/bin/python bench/recommend.py [--requests N] [--warmup N] [--incidents N] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from common import BenchError, free_port, percentile, run_to_the_end  # noqa: E402  (bench/common.py)
from sqlalchemy import create_engine, pool  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from dispatch.accounts import add_api_token  # noqa: E402
from dispatch.recommend import DEFAULT_STALE_MINUTES, NEARBY, NEARBY_WITH_BOATS, PLACE_OF_INCIDENT  # noqa: E402
from dispatch.seed import load_dataset_into  # noqa: E402
from dispatch.store import migrate  # noqa: E402
from dispatch.store.embedded_pg import EmbeddedPostgres  # noqa: E402
from gis.reference import load_dataset  # noqa: E402

BENCH_DIR = PROJECT_ROOT / "var" / "bench"
BENCH_TOKEN = "dpt_bench-" + os.urandom(12).hex()
SHENGSI = PROJECT_ROOT / "gis" / "data" / "shengsi"
CST = dt.timezone(dt.timedelta(hours=8))

TARGET_P50_MS = 3.0
TARGET_P99_MS = 10.0
TARGET_RATIO = 5.0

# -- the synthetic county ------------------------------------------------------------------------
# Township squares of CELL degrees (~1.1 km), grouped into islands of these sizes (1,000 in all),
# two rows of five islands separated by GAP degrees of water (~3 km, far above the 0.005 degree
# tolerance of the island lookup). Around 110-111 E, 20-21 N: nowhere near Shengsi (122.5 E).
COUNTY_CODE = "BENCH"
SUSPENSIONS = 50  # active transport suspensions of the conditioned series (issue 29)
TARGET_CONDITIONS_RATIO = 1.2
ISLAND_SIZES = (180, 150, 120, 110, 100, 90, 80, 70, 60, 40)
ISLANDS_PER_ROW = 5
CELL = 0.01
GAP = 0.03
ORIGIN = (110.2, 20.2)
TOWNSHIPS_PER_ZONE = 10
SQUADS = 10_000
PROFESSIONAL_DOMAINS = ("market_supervision", "ecology_environment", "culture_tourism_sport", "transport", "health")
INCIDENT_MATTERS = ("CM-001", "CM-002", "CM-003", "CM-005")  # comprehensive matters of the catalogue
INCIDENT_SOURCES = ("hotline_12345", "hotline_12345", "patrol", "grid", "complaint")


def _ewkt_square(x0: float, y0: float, size: float) -> str:
    x1, y1 = x0 + size, y0 + size
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def _ewkt_point(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({lon} {lat})"


def layout_townships() -> list[dict]:
    """1,000 township squares: island index, position in the island, lower-left corner."""
    townships = []
    x, y = ORIGIN
    row_height = 0
    for island, size in enumerate(ISLAND_SIZES):
        if island and island % ISLANDS_PER_ROW == 0:  # next row of islands
            x = ORIGIN[0]
            y += row_height * CELL + GAP
            row_height = 0
        width = math.ceil(math.sqrt(size))
        height = math.ceil(size / width)
        for k in range(size):
            cx, cy = k % width, k // width
            townships.append(
                {
                    "code": f"BENCH-I{island:02d}-T{k:03d}",
                    "island": island,
                    "k": k,
                    "x0": round(x + cx * CELL, 6),
                    "y0": round(y + cy * CELL, 6),
                }
            )
        x += width * CELL + GAP
        row_height = max(row_height, height)
    return townships


def _point_in_cell(rng: random.Random, cell: dict, margin: float = 0.1) -> tuple[float, float]:
    lo, hi = margin * CELL, (1 - margin) * CELL
    return round(cell["x0"] + rng.uniform(lo, hi), 6), round(cell["y0"] + rng.uniform(lo, hi), 6)


def _timetable(rng: random.Random) -> list[str]:
    hours = sorted(rng.sample(range(6, 20), rng.randint(3, 6)))
    return [f"{h:02d}:{rng.choice((0, 15, 30, 45)):02d}" for h in hours]


def build_county(conn: psycopg.Connection, rng: random.Random) -> dict:
    """Insert the synthetic county in bulk (COPY and set-based SQL) in one transaction."""
    today = dt.date.today()
    townships = layout_townships()
    by_island: dict[int, list[dict]] = {}
    for t in townships:
        by_island.setdefault(t["island"], []).append(t)

    with conn.transaction(), conn.cursor() as cur:
        county_id = cur.execute(
            "INSERT INTO region (code, parent_id, level, name_zh, name_en, empowered) "
            "VALUES (%s, NULL, 'county', '基准县', 'Bench County', false) RETURNING id",
            (COUNTY_CODE,),
        ).fetchone()[0]
        with cur.copy("COPY region (code, parent_id, level, name_zh, name_en, empowered, boundary) FROM STDIN") as cp:
            for t in townships:
                n = f"{t['island']:02d}{t['k']:03d}"
                cp.write_row(
                    (
                        t["code"],
                        county_id,
                        "township",
                        f"基准镇{n}",
                        f"Bench township {n}",
                        False,
                        _ewkt_square(t["x0"], t["y0"], CELL),
                    )
                )
        region_ids = dict(cur.execute("SELECT code, id FROM region WHERE parent_id = %s", (county_id,)).fetchall())
        for t in townships:
            t["id"] = region_ids[t["code"]]
        cur.execute(
            "UPDATE region SET boundary = (SELECT ST_Multi(ST_Union(boundary)) FROM region WHERE parent_id = %(c)s) "
            "WHERE id = %(c)s",
            {"c": county_id},
        )

        # Islands: the union of their townships.
        cur.execute(
            """
            INSERT INTO island (code, name_zh, name_en, outline)
            SELECT 'bench-' || lower(split_part(code, '-', 2)), '基准岛' || split_part(code, '-', 2),
                   'Bench island ' || split_part(code, '-', 2), ST_Multi(ST_Union(boundary))
            FROM region WHERE parent_id = %s GROUP BY split_part(code, '-', 2)
            """,
            (county_id,),
        )
        island_ids = {
            int(code.removeprefix("bench-i")): i
            for code, i in cur.execute("SELECT code, id FROM island WHERE code LIKE 'bench-i%%'").fetchall()
        }

        # Two ports per island, on land: the centres of its first and last township squares.
        ports = []
        for island, cells in by_island.items():
            for suffix, cell in (("a", cells[0]), ("b", cells[-1])):
                lon, lat = cell["x0"] + CELL / 2, cell["y0"] + CELL / 2
                ports.append((f"bench-p{island:02d}{suffix}", island, lon, lat))
        with cur.copy("COPY port (code, name_zh, name_en, island_id, location) FROM STDIN") as cp:
            for code, island, lon, lat in ports:
                cp.write_row(
                    (code, f"基准码头{code[-3:]}", f"Bench pier {code[-3:]}", island_ids[island], _ewkt_point(lon, lat))
                )
        port_ids = dict(cur.execute("SELECT code, id FROM port WHERE code LIKE 'bench-%%'").fetchall())

        # Ferries: a main line calling at every island's "a" pier, and from each "b" pier a crossing
        # to the "a" pier three islands on (the ferry graph has no road between two piers of one
        # island, so every pier needs a crossing into the network); some links keep a timetable.
        islands = len(ISLAND_SIZES)
        pairs = [(f"bench-p{i:02d}a", f"bench-p{i + 1:02d}a") for i in range(islands - 1)]
        pairs += [(f"bench-p{i:02d}b", f"bench-p{(i + 3) % islands:02d}a") for i in range(islands)]
        links = []
        for a, b in pairs:
            timetable = _timetable(rng) if rng.random() < 0.3 else []
            links.append((port_ids[a], port_ids[b], rng.randint(15, 60), timetable))
        cur.executemany(
            "INSERT INTO ferry_link (from_port_id, to_port_id, minutes, timetable) VALUES (%s, %s, %s, %s)", links
        )
        cur.execute(
            "INSERT INTO travel_profile (region_id, land_speed_kmh, detour_factor, boat_speed_kmh, transfer_minutes) "
            "VALUES (%s, 30, 1.3, 35, 10)",
            (county_id,),
        )

        # Authorities: the county bureau and the departments of a few professional domains.
        authorities = [
            (
                "bench-bureau",
                "基准县综合行政执法局",
                "Bench County Enforcement Bureau",
                "county_bureau",
                "comprehensive",
            )
        ]
        for domain in (*PROFESSIONAL_DOMAINS, "maritime"):
            authorities.append(
                (f"bench-dept-{domain}", f"基准县{domain}局", f"Bench County {domain} department", "department", domain)
            )
        cur.executemany(
            "INSERT INTO authority (code, name_zh, name_en, kind, domain, region_id) VALUES (%s, %s, %s, %s, %s, %s)",
            [(*a, county_id) for a in authorities],
        )
        authority_ids = dict(cur.execute("SELECT domain, id FROM authority WHERE code LIKE 'bench-%%'").fetchall())

        # The published "1+X" plan: one zone per ten townships of an island, hub = the first.
        plan_id = cur.execute(
            "INSERT INTO coverage_plan (code, region_id, name_zh, name_en, status, effective_at) "
            "VALUES ('BENCH-PLAN', %s, '基准县1+X方案', 'Bench County 1+X plan', 'published', now() - interval '30 days') "
            "RETURNING id",
            (county_id,),
        ).fetchone()[0]
        zones = []
        for cells in by_island.values():
            for start in range(0, len(cells), TOWNSHIPS_PER_ZONE):
                zones.append(cells[start : start + TOWNSHIPS_PER_ZONE])
        zone_rows = [
            (plan_id, f"BENCH-Z{z:03d}", f"基准片区{z:03d}", f"Bench zone {z:03d}", members[0]["id"])
            for z, members in enumerate(zones)
        ]
        cur.executemany(
            "INSERT INTO zone (plan_id, code, name_zh, name_en, hub_region_id) VALUES (%s, %s, %s, %s, %s)", zone_rows
        )
        zone_ids = dict(cur.execute("SELECT code, id FROM zone WHERE plan_id = %s", (plan_id,)).fetchall())
        with cur.copy("COPY zone_member (zone_id, region_id, plan_id) FROM STDIN") as cp:
            for z, members in enumerate(zones):
                for t in members:
                    cp.write_row((zone_ids[f"BENCH-Z{z:03d}"], t["id"], plan_id))
        cur.execute(
            """
            UPDATE zone SET geometry = sub.geom
            FROM (SELECT m.zone_id, ST_Multi(ST_CollectionExtract(ST_Union(r.boundary), 3)) AS geom
                  FROM zone_member m JOIN region r ON r.id = m.region_id
                  WHERE m.plan_id = %s GROUP BY m.zone_id) AS sub
            WHERE zone.id = sub.zone_id
            """,
            (plan_id,),
        )

        # Squads: comprehensive (mostly zone-stationed), professional (mostly department-wide),
        # maritime (in the harbours). The island_id trigger places each on its island.
        port_cells = [cells[0] for cells in by_island.values()] + [cells[-1] for cells in by_island.values()]
        squads = []
        for n in range(SQUADS):
            draw = rng.random()
            if draw < 0.60:
                force = "comprehensive"
                domains = ["comprehensive", "city_management"] if rng.random() < 0.1 else ["comprehensive"]
                authority = authority_ids["comprehensive"]
                scope = "authority" if rng.random() < 0.05 else "zone"
                cell = rng.choice(townships)
            elif draw < 0.92:
                force = "professional"
                domain = rng.choice(PROFESSIONAL_DOMAINS)
                domains, authority = [domain], authority_ids[domain]
                scope = "authority" if rng.random() < 0.8 else "zone"
                cell = rng.choice(townships)
            else:
                force, domains, authority, scope = "maritime", ["maritime"], authority_ids["maritime"], "authority"
                cell = rng.choice(port_cells)
            status = rng.choices(("available", "busy", "off_duty"), weights=(80, 12, 8))[0]
            lon, lat = _point_in_cell(rng, cell)
            point = _ewkt_point(lon, lat)
            squads.append(
                (
                    f"bench-s{n:05d}",
                    f"基准中队{n:05d}",
                    f"Bench squad {n:05d}",
                    force,
                    domains,
                    authority,
                    cell["id"],
                    scope,
                    status,
                    point,
                    point,
                )
            )
        with cur.copy(
            "COPY squad (code, name_zh, name_en, force, domains, authority_id, station_region_id, scope, status, "
            "station, last_position) FROM STDIN"
        ) as cp:
            for row in squads:
                cp.write_row(row)
        squad_ids = [
            i for (i,) in cur.execute("SELECT id FROM squad WHERE code LIKE 'bench-s%%' ORDER BY code").fetchall()
        ]
        off_island = cur.execute(
            "SELECT count(*) FROM squad WHERE code LIKE 'bench-s%%' AND island_id IS NULL"
        ).fetchone()[0]
        if off_island:
            raise BenchError(f"{off_island} synthetic squads were placed on no island")

        # Officers: 1-4 per squad; most certified (a few expired or off duty), some auxiliaries.
        officers = 0
        with cur.copy(
            "COPY officer (squad_id, name, certificate_no, certificate_expires, auxiliary, on_duty) FROM STDIN"
        ) as cp:
            for squad_id in squad_ids:
                for _ in range(rng.randint(1, 4)):
                    officers += 1
                    on_duty = rng.random() < 0.9
                    if rng.random() < 0.75:
                        days = rng.randint(-60, 1000) if rng.random() < 0.05 else rng.randint(30, 1000)
                        expires = today + dt.timedelta(days=days)
                        cp.write_row(
                            (squad_id, f"执法员{officers:06d}", f"BENCH{officers:07d}", expires, False, on_duty)
                        )
                    else:
                        cp.write_row((squad_id, f"协勤{officers:06d}", None, None, True, on_duty))
    return {"county_id": county_id, "townships": townships, "officers": officers}


# -- the server ------------------------------------------------------------------------------------


class Server:
    """The server under test on a free port, logging to a file: production (gevent) or ``flask serve``."""

    def __init__(self, database_url: str, data_dir: Path, production: bool = True):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DISPATCH_DATA_DIR": str(data_dir),
            "INTAKE_RATE_PER_MINUTE": "1000000",
        }
        env.pop("SOCKETIO_MESSAGE_QUEUE", None)
        if production:
            args = [str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "dispatch.production", "--no-seed"]
        else:
            args = [str(PROJECT_ROOT / ".venv" / "bin" / "flask"), "--app", "dispatch", "serve", "--no-seed"]
        self.process = subprocess.Popen(
            [*args, "--port", str(self.port)], cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited early ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise BenchError(f"the server was not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def create_incidents(http: requests.Session, base: str, townships: list[dict], rng: random.Random, n: int) -> list[int]:
    """File ``n`` incidents at random places of the synthetic county through the real API."""
    now = dt.datetime.now(CST)
    ids = []
    for i in range(n):
        lon, lat = _point_in_cell(rng, rng.choice(townships))
        body = {
            "source": rng.choice(INCIDENT_SOURCES),
            "external_id": f"bench-{i:05d}",
            "matters": [rng.choice(INCIDENT_MATTERS)],
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "description": f"基准事件 {i}: 群众反映占道经营",
            "reported_at": (now - dt.timedelta(minutes=rng.randint(0, 600))).isoformat(),
        }
        response = http.post(f"{base}/api/v1/incidents", json=body, timeout=60)
        if response.status_code != 201:
            raise BenchError(f"POST /incidents answered {response.status_code}: {response.text[:500]}")
        ids.append(response.json()["id"])
    return ids


# -- measurement -----------------------------------------------------------------------------------


class Series:
    """Latencies of one measured operation; warm-up and measurement stop early at their time budget."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.warmed = 0
        self.cut_short = False

    def run(self, operation, n: int, warmup: int, budget: float) -> Series:
        """Call ``operation(i)`` ``warmup`` times untimed, then ``n`` times timed (perf_counter)."""
        deadline = time.monotonic() + min(budget / 4, 15)
        for i in range(warmup):
            operation(i)
            self.warmed += 1
            if time.monotonic() > deadline:
                break
        deadline = time.monotonic() + budget
        for i in range(n):
            started = time.perf_counter()
            operation(i)
            self.latencies.append(time.perf_counter() - started)
            if time.monotonic() > deadline and i + 1 < n:
                self.cut_short = True
                break
        return self


def measure_http(http: requests.Session, base: str, incident_ids: list[int], args) -> tuple[Series, dict]:
    """GET the recommendations of the incidents in turn; every answer must be 200 with a recommendation.

    A plain keep-alive HTTP/1.1 connection (http.client) does the timed requests, so the
    figure is the server's and the network's, not the client library's (``requests`` adds
    about a millisecond of Python per call on this machine). It sends the session's headers.
    """
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    series = Series("HTTP GET recommendations")
    modes: dict[str, int] = {}
    answers: list[tuple[int, int, bytes]] = []
    target = urlsplit(base)
    connection = HTTPConnection(target.hostname, target.port, timeout=60)
    headers = {k: v for k, v in http.headers.items() if k.lower() not in ("connection", "accept-encoding")}

    def get(i: int) -> None:
        incident_id = incident_ids[i % len(incident_ids)]
        connection.request("GET", f"/api/v1/incidents/{incident_id}/recommendations", headers=headers)
        response = connection.getresponse()
        answers.append((incident_id, response.status, response.read()))

    try:
        series.run(get, args.requests, args.warmup, args.budget)  # warm-up answers are checked too
    finally:
        connection.close()
    for incident_id, status, body in answers:
        if status != 200:
            series.failures.append(f"incident {incident_id}: HTTP {status} {body[:200]!r}")
            continue
        ranked = json.loads(body).get("recommendations") or []
        if not ranked:
            series.failures.append(f"incident {incident_id}: 200 without any recommendation")
            continue
        modes[ranked[0]["mode"]] = modes.get(ranked[0]["mode"], 0) + 1
    return series, modes


def add_suspensions(conn: psycopg.Connection, county_id: int, rng: random.Random, n: int) -> int:
    """``n`` suspensions active now (from an hour ago, for six hours) on the county's links and piers
    (four in five a link, one in five a pier; ferries), then the county's transport version bumped
    as the API does: the server reads them at its next version check (within a second)."""
    links = conn.execute(
        "SELECT l.id FROM ferry_link l JOIN port p ON p.id = l.from_port_id WHERE p.code LIKE 'bench-%%' ORDER BY l.id"
    ).fetchall()
    piers = conn.execute("SELECT id FROM port WHERE code LIKE 'bench-%%' ORDER BY id").fetchall()
    rows = []
    for k in range(n):
        if k % 5 == 4:
            rows.append(("pier", None, rng.choice(piers)[0]))
        else:
            rows.append(("link", rng.choice(links)[0], None))
    with conn.transaction():
        for scope, link, pier in rows:
            conn.execute(
                """INSERT INTO transport_suspension (root_region_id, scope, link_id, port_id, vessels, starts_at,
                       ends_at, reason_kind, wind_force, reason_text, created_by)
                   VALUES (%s, %s, %s, %s, ARRAY['ferry'], now() - interval '1 hour', now() + interval '6 hours',
                           'wind', 9, 'bench', 'bench')""",
                (county_id, scope, link, pier),
            )
        conn.execute(
            "UPDATE travel_profile SET transport_version = transport_version + 1 WHERE region_id = %s", (county_id,)
        )
    return n


def add_rosters(conn: psycopg.Connection) -> int:
    """Every synthetic squad on a shift now (from four hours ago, for twelve hours) and its officers
    on the roster, as a county with full rosters has them; the number of shifts."""
    with conn.transaction():
        shifts = conn.execute(
            """INSERT INTO shift (squad_id, starts_at, ends_at, role, created_by)
               SELECT id, now() - interval '4 hours', now() + interval '8 hours', 'bench', 'bench'
               FROM squad WHERE code LIKE 'bench-%%'"""
        ).rowcount
        conn.execute(
            "UPDATE officer SET rostered = true WHERE squad_id IN (SELECT id FROM squad WHERE code LIKE 'bench-%%')"
        )
    return shifts


def lift_conditions(conn: psycopg.Connection, county_id: int) -> None:
    """The suspensions and the rosters of the conditioned series gone again."""
    with conn.transaction():
        conn.execute("DELETE FROM transport_suspension WHERE created_by = 'bench'")
        conn.execute("DELETE FROM shift WHERE created_by = 'bench'")
        conn.execute(
            "UPDATE officer SET rostered = false WHERE squad_id IN (SELECT id FROM squad WHERE code LIKE 'bench-%%')"
        )
        conn.execute(
            "UPDATE travel_profile SET transport_version = transport_version + 1 WHERE region_id = %s", (county_id,)
        )


def psycopg_sql(sql: str) -> str:
    """A SQLAlchemy ``text()`` statement with ``:name`` binds as psycopg ``%(name)s`` (``::`` casts kept)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def candidate_params(conn: psycopg.Connection, county_id: int, incident_ids: list[int]) -> list[dict]:  # noqa: ARG001
    """For each incident, the parameters of the two queries ``recommend`` sends (place, then nearby)."""
    boats = {r[0] for r in conn.execute("SELECT DISTINCT unnest(domains) FROM squad WHERE force = 'maritime'")}
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    place_sql = psycopg_sql(PLACE_OF_INCIDENT.text)
    params = []
    for incident_id in incident_ids:
        lon, lat, _region, _zone, domains, island = conn.execute(place_sql, {"id": incident_id}).fetchone()
        params.append(
            {
                "id": incident_id,
                "lon": lon,
                "lat": lat,
                "island": island,
                "domains": domains,
                "today": today,
                "now": now,  # the roster's and certificates' moment, and the stale-fix cut-off (issue 29)
                "fresh_since": now - dt.timedelta(minutes=DEFAULT_STALE_MINUTES),
                "require_available": True,
                "k": 5,
                "boats": bool(boats & set(domains)),
            }
        )
    return params


def measure_sql(conn: psycopg.Connection, params: list[dict], args, n: int, *, prepare: bool) -> Series:
    """The KNN query (``NEARBY``, or ``NEARBY_WITH_BOATS`` when the maritime force is competent)
    through psycopg: prepared and planned with the values every time, or not prepared."""
    series = Series(f"raw SQL candidates (psycopg, {'prepared' if prepare else 'unprepared'})")
    # The server remembers each incident's place: this is the query of every request.
    statements = {False: psycopg_sql(NEARBY.text), True: psycopg_sql(NEARBY_WITH_BOATS.text)}
    empty = 0
    conn.execute(f"SET plan_cache_mode = {'force_custom_plan' if prepare else 'auto'}")

    def execute(i: int) -> None:
        nonlocal empty
        p = params[i % len(params)]
        with conn.cursor(binary=True) as cursor:
            rows = cursor.execute(statements[p["boats"]], p, prepare=prepare).fetchall()
        empty += not rows

    series.run(execute, n, args.warmup, args.budget)
    if empty:
        series.failures.append(f"{empty} executions returned no candidate")
    return series


def summary(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "p50": percentile(ms, 0.50),
        "p90": percentile(ms, 0.90),
        "p99": percentile(ms, 0.99),
        "max": ms[-1],
        "mean": sum(ms) / len(ms),
    }


# -- the run ---------------------------------------------------------------------------------------


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    queries = {
        "regions": "SELECT count(*) FROM region",
        "synthetic townships": "SELECT count(*) FROM region r JOIN region c ON c.id = r.parent_id AND c.code = %s",
        "islands": "SELECT count(*) FROM island",
        "ports": "SELECT count(*) FROM port",
        "ferry links": "SELECT count(*) FROM ferry_link",
        "zones": "SELECT count(*) FROM zone",
        "squads": "SELECT count(*) FROM squad",
        "officers": "SELECT count(*) FROM officer",
        "matters": "SELECT count(*) FROM matter",
        "incidents": "SELECT count(*) FROM incident",
    }
    return {
        name: conn.execute(sql, (COUNTY_CODE,) if "%s" in sql else None).fetchone()[0] for name, sql in queries.items()
    }


def _cleanup_stale() -> None:
    """A previous run killed hard may have left its cluster running: stop it and remove it."""
    if BENCH_DIR.exists():
        print(f"removing a stale {BENCH_DIR} left by an earlier run", flush=True)
        EmbeddedPostgres(BENCH_DIR, fsync=False).destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        print(f"  {name}: {now - clock:.1f} s", flush=True)
        clock = now

    _cleanup_stale()
    started = time.perf_counter()
    pg = EmbeddedPostgres(BENCH_DIR, fsync=False)
    server: Server | None = None
    try:
        print("setting up", flush=True)
        url = pg.start()
        phase("PostGIS cluster (fsync off)")
        migrate.upgrade(url)
        phase("migrations")
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with Session(engine) as session:
                load_dataset_into(session, load_dataset(SHENGSI))
                add_api_token(session, "bench", "admin", BENCH_TOKEN)  # the benchmark is a script: a bearer token
                session.commit()
        finally:
            engine.dispose()
        phase("Shengsi reference data")
        with psycopg.connect(pg.url(driver="postgresql")) as conn:
            county = build_county(conn, rng)
            phase(f"synthetic county ({len(county['townships']):,} townships, {SQUADS:,} squads)")
            conn.autocommit = True
            conn.execute("ANALYZE")
        phase("ANALYZE")

        server = Server(url, BENCH_DIR / "server", production=args.server == "production")
        server.wait_ready()
        phase("server start")
        http = requests.Session()
        http.trust_env = False  # no proxy for 127.0.0.1
        http.headers["Authorization"] = f"Bearer {BENCH_TOKEN}"
        incident_ids = create_incidents(http, server.base, county["townships"], rng, args.incidents)
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute("ANALYZE incident, incident_matter, event")
        phase(f"{len(incident_ids)} incidents through POST /api/v1/incidents")
        setup_seconds = time.perf_counter() - started

        print(f"measuring: {args.warmup} warm-up + {args.requests} timed, at most {args.budget:g} s each", flush=True)
        web, modes = measure_http(http, server.base, incident_ids, args)
        phase(web.name)
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            add_suspensions(conn, county["county_id"], rng, SUSPENSIONS)
            shifts = add_rosters(conn)
        time.sleep(1.5)  # the server checks the county's transport version once a second
        conditioned, _ = measure_http(http, server.base, incident_ids, args)
        conditioned.name = f"HTTP, {SUSPENSIONS} suspensions, {shifts:,} shifts"
        phase(conditioned.name)
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            lift_conditions(conn, county["county_id"])
        time.sleep(1.5)
        again, _ = measure_http(http, server.base, incident_ids, args)
        again.name = "HTTP GET recommendations, plain again"
        http.close()
        phase(again.name)
        series = [web]
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            params = candidate_params(conn, county["county_id"], incident_ids)
            for prepare in (True, False):
                series.append(measure_sql(conn, params, args, len(web.latencies), prepare=prepare))
                phase(series[-1].name)
            counts = _counts(conn)
        series += [conditioned, again]
    finally:
        if server is not None:
            server.stop()
            if server.process.returncode not in (0, None, -signal.SIGTERM):
                print(f"the server ended with {server.process.returncode}:\n{server.log_tail()}", file=sys.stderr)
        pg.destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)

    report(args, setup_seconds, time.perf_counter() - started, counts, series, modes)
    return 1 if any(s.failures for s in series) else 0


def report(args, setup_seconds: float, total_seconds: float, counts: dict, series: list[Series], modes: dict) -> None:
    stats = [summary(s.latencies) for s in series]
    web, prepared, unprepared, conditioned, _again = stats
    plain = summary(series[0].latencies + series[4].latencies)  # the two plain series, pooled
    width = 44
    line = "-" * (width + 46)
    print()
    print(line)
    print(f"dispatch recommendation benchmark (seed {args.seed}; {args.requests} requests after {args.warmup} warm-up)")
    print(line)
    print(f"setup {setup_seconds:.1f} s, whole run {total_seconds:.1f} s")
    print("data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(line)
    print(f"{'ms':{width}}{'n':>6}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'mean':>8}")
    for s, st in zip(series, stats, strict=True):
        n = f"{len(s.latencies)}{'*' if s.cut_short else ''}"
        print(f"{s.name:{width}}{n:>6}" + "".join(f"{st[key]:8.2f}" for key in ("p50", "p90", "p99", "max", "mean")))
    ratios = {}
    for label, st in (("prepared", prepared), ("unprepared", unprepared)):
        ratios[label] = (web["p50"] / st["p50"], web["p99"] / st["p99"])
        print(f"{'ratio HTTP / raw SQL ' + label:{width}}{'':6}{ratios[label][0]:8.1f}{'':8}{ratios[label][1]:8.1f}")
    conditions_ratio = conditioned["p99"] / plain["p99"]
    print(f"{'plain series pooled':{width}}{'':6}{plain['p50']:8.2f}{plain['p90']:8.2f}{plain['p99']:8.2f}")
    print(f"{'ratio p99 conditioned / plain pooled':{width}}{'':6}{'':8}{'':8}{conditions_ratio:8.2f}")
    if any(s.cut_short for s in series):
        print(f"* stopped at the time budget of {args.budget:g} s (--budget)")
    print(line)
    total = sum(modes.values()) or 1
    print("first recommendation by route: " + ", ".join(f"{m} {c / total:.0%}" for m, c in sorted(modes.items())))
    for s in series:
        print(f"failures, {s.name}: {len(s.failures)}")
        for failure in s.failures[:10]:
            print(f"  {failure}")
    print(line)
    checks = (
        (f"HTTP p50 <= {TARGET_P50_MS:g} ms", web["p50"] <= TARGET_P50_MS, f"{web['p50']:.2f} ms"),
        (f"HTTP p99 <= {TARGET_P99_MS:g} ms", web["p99"] <= TARGET_P99_MS, f"{web['p99']:.2f} ms"),
        (
            f"HTTP p50 within {TARGET_RATIO:g}x of raw SQL p50 (prepared)",
            ratios["prepared"][0] <= TARGET_RATIO,
            f"{ratios['prepared'][0]:.1f}x",
        ),
        (
            f"p99 with suspensions and rosters within {TARGET_CONDITIONS_RATIO:g}x",
            conditions_ratio <= TARGET_CONDITIONS_RATIO,
            f"{conditions_ratio:.2f}x",
        ),
    )
    for label, ok, value in checks:
        print(f"target {label:48} {'met' if ok else 'MISSED':7} ({value})")
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests, and timed SQL executions")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests (and executions) first")
    parser.add_argument("--incidents", type=int, default=200, help="incidents filed through the API")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the synthetic data")
    parser.add_argument(
        "--server",
        choices=("production", "dev"),
        default="production",
        help="python -m dispatch.production (gevent) or flask serve (Werkzeug threads)",
    )
    parser.add_argument(
        "--budget", type=float, default=45, help="seconds at most for each timed series (keeps a slow run short)"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.incidents < 1 or args.warmup < 0 or args.budget <= 0:
        parser.error("--requests, --incidents and --budget must be positive, --warmup not negative")
    return run_to_the_end(lambda: run(args), "the server and the cluster were")


if __name__ == "__main__":
    sys.exit(main())
