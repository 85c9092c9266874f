"""Synthetic comprehensive squads for load: the real-time benchmark and the load tests build them alike.

``add_squads`` copies ``n`` squads into the county's data, each within ~100 m of a real
comprehensive squad's station on an island (so that it stands in that squad's zone and is
competent where it is), with one certified officer on duty and one tablet token
(``dispatch.tablets.new_token``: only its hash is stored). COPY on the caller's psycopg
cursor, in the caller's transaction: a thousand squads take a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import random

import psycopg

from dispatch.tablets import new_token
from gis.clock import local_day

# within ~100 m of the real station (0.0009 degrees of latitude)
_SPREAD_DEG = 0.0009


def add_squads(cur: psycopg.Cursor, n: int, rng: random.Random, *, prefix: str, label: str) -> list[dict]:
    """``n`` squads coded ``<prefix>00000``, ``<prefix>00001``, ...; for each, in that order:
    ``{"id", "code", "lon", "lat", "island", "source": (lon, lat) of the real station, "token"}``.
    Raises LookupError when the data has no comprehensive squad on an island."""
    sources = cur.execute(
        "SELECT authority_id, station_region_id, ST_X(station::geometry), ST_Y(station::geometry) FROM squad "
        "WHERE force = 'comprehensive' AND 'comprehensive' = ANY(domains) AND island_id IS NOT NULL "
        "AND status = 'available' ORDER BY id"
    ).fetchall()
    if not sources:
        raise LookupError("no available comprehensive squad on an island in this county's data")
    placed: list[tuple[str, tuple[float, float]]] = []
    with cur.copy(
        "COPY squad (code, name_zh, name_en, force, domains, authority_id, station_region_id, scope, status, "
        "station, last_position) FROM STDIN"
    ) as copy:
        for i in range(n):
            authority, region, lon0, lat0 = rng.choice(sources)
            lon = lon0 + rng.uniform(-_SPREAD_DEG, _SPREAD_DEG)
            lat = lat0 + rng.uniform(-_SPREAD_DEG, _SPREAD_DEG)
            point = f"SRID=4326;POINT({lon:.6f} {lat:.6f})"
            code = f"{prefix}{i:05d}"
            placed.append((code, (lon0, lat0)))
            copy.write_row(
                (
                    code,
                    f"合成中队 {code}",
                    f"Synthetic squad {code}",
                    "comprehensive",
                    ["comprehensive"],
                    authority,
                    region,
                    "zone",
                    "available",
                    point,
                    point,
                )
            )
    rows = {
        code: (squad_id, lon, lat, island)
        for code, squad_id, lon, lat, island in cur.execute(
            "SELECT code, id, ST_X(station::geometry), ST_Y(station::geometry), island_id FROM squad "
            "WHERE code = ANY(%s)",
            ([code for code, _ in placed],),
        )
    }
    squads = [
        dict(zip(("id", "lon", "lat", "island"), rows[code], strict=True), code=code, source=source)
        for code, source in placed
    ]
    today = local_day()
    with cur.copy(
        "COPY officer (squad_id, name, certificate_no, certificate_expires, auxiliary, on_duty) FROM STDIN"
    ) as copy:
        for s in squads:
            copy.write_row(
                (s["id"], f"执法员{s['id']:06d}", f"SYN{s['id']:08d}", today + dt.timedelta(days=365), False, True)
            )
    with cur.copy("COPY tablet_token (squad_id, token_hash, label) FROM STDIN") as copy:
        for s in squads:
            s["token"], token_hash = new_token()
            copy.write_row((s["id"], token_hash, label))
    return squads
