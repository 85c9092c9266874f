"""Position fixes from tablets: validated, converted to WGS84, flagged, stored in bulk.

Idempotent on the client's fix id. Every fix enters the history; only a fix
that is newer than the squad's last position and carries no flag moves it.
Flags (kept, never shown as the position): ``poor_accuracy``,
``impossible_speed`` (from the last shown position), ``outside_envelope`` (far
outside the squad's county). The insert bypasses the ORM: one pipelined
``executemany`` per batch.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch import refcache
from dispatch.errors import ApiError
from dispatch.validation import parse_time
from gis.crs import SYSTEMS, to_wgs84
from gis.travel import great_circle_m

MAX_BATCH = 1000
MAX_ACCURACY_M = 100.0
MAX_SPEED_KMH = {"maritime": 90.0, "default": 160.0}
ENVELOPE_MARGIN_DEG = 0.3  # ~30 km around the county: squads cross to neighbours, not to other provinces
FIX_FIELDS = {"id", "lon", "lat", "crs", "time", "accuracy", "speed", "heading"}


@dataclass
class Fix:
    client_id: str
    lon: float
    lat: float
    crs: str
    time: dt.datetime
    accuracy: float | None
    speed: float | None
    heading: float | None
    flags: list[str]


def _number(value, field: str, low: float, high: float, required: bool = False) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError("must be a finite number", field=field)
    if not low <= value <= high:
        raise ApiError(f"must lie between {low} and {high}", field=field)
    return float(value)


def parse_fix(data, field: str) -> Fix:
    """One fix as a tablet sends it: {id, lon, lat, crs?, time, accuracy?, speed?, heading?}."""
    if not isinstance(data, dict):
        raise ApiError("a fix is an object {id, lon, lat, crs, time, accuracy, speed, heading}", field=field)
    for name in data:
        if name not in FIX_FIELDS:
            raise ApiError(f"unknown field (allowed: {', '.join(sorted(FIX_FIELDS))})", field=f"{field}.{name}")
    client_id = data.get("id")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
        raise ApiError("the client's fix id, 1 to 64 characters, is required", field=f"{field}.id")
    crs = data.get("crs", "wgs84")
    if crs not in SYSTEMS:
        raise ApiError(f"must be one of {', '.join(SYSTEMS)}", field=f"{field}.crs")
    lon = _number(data.get("lon"), f"{field}.lon", -180, 180, required=True)
    lat = _number(data.get("lat"), f"{field}.lat", -90, 90, required=True)
    lon, lat = to_wgs84(lon, lat, crs)
    return Fix(
        client_id,
        lon,
        lat,
        crs,
        parse_time(data.get("time"), f"{field}.time", required=True),
        _number(data.get("accuracy"), f"{field}.accuracy", 0, 1e6),
        _number(data.get("speed"), f"{field}.speed", 0, 1e4),
        _number(data.get("heading"), f"{field}.heading", 0, 360),
        [],
    )


def _squad_context(session: Session, squad_id: int):
    """Envelope of the squad's county and its force (reference data, cached a few minutes)."""

    def load():
        row = session.execute(
            text("""
            WITH RECURSIVE up(id, parent_id) AS (
                SELECT r.id, r.parent_id FROM squad s JOIN authority a ON a.id = s.authority_id
                JOIN region r ON r.id = a.region_id WHERE s.id = :squad
                UNION ALL SELECT r.id, r.parent_id FROM region r JOIN up ON r.id = up.parent_id
            )
            SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), (SELECT force FROM squad WHERE id = :squad)
            FROM (SELECT ST_Envelope(boundary) AS b FROM region
                  WHERE id = (SELECT id FROM up WHERE parent_id IS NULL)) e
        """),
            {"squad": squad_id},
        ).one_or_none()
        if row is None or row[0] is None:
            raise ApiError(f"no squad {squad_id}", field="squad_id", status=404, code="not_found")
        m = ENVELOPE_MARGIN_DEG
        return (row[0] - m, row[1] - m, row[2] + m, row[3] + m), row[4]

    return refcache.cached(session, ("squad-context", squad_id), load)


def ingest(session: Session, squad_id: int, fixes: list[Fix]) -> dict:
    """Store ``fixes`` of a squad; move its position to the newest clean one. Returns counts."""
    if not fixes:
        return {"received": 0, "stored": 0, "duplicates": 0, "flagged": 0, "position_moved": False}
    envelope, force = _squad_context(session, squad_id)
    max_speed = MAX_SPEED_KMH.get(force, MAX_SPEED_KMH["default"]) / 3.6
    last = session.execute(
        text(
            "SELECT ST_X(last_position::geometry), ST_Y(last_position::geometry), last_position_at "
            "FROM squad WHERE id = :id"
        ),
        {"id": squad_id},
    ).one()
    prev_lon, prev_lat, prev_time = last
    newest: Fix | None = None
    for fix in sorted(fixes, key=lambda f: f.time):
        if fix.accuracy is not None and fix.accuracy > MAX_ACCURACY_M:
            fix.flags.append("poor_accuracy")
        if not (envelope[0] <= fix.lon <= envelope[2] and envelope[1] <= fix.lat <= envelope[3]):
            fix.flags.append("outside_envelope")
        if prev_time is not None and fix.time > prev_time and prev_lon is not None:
            seconds = (fix.time - prev_time).total_seconds()
            if great_circle_m(prev_lon, prev_lat, fix.lon, fix.lat) > max_speed * seconds + 50:
                fix.flags.append("impossible_speed")
        if not fix.flags and (prev_time is None or fix.time > prev_time):
            prev_lon, prev_lat, prev_time = fix.lon, fix.lat, fix.time
            newest = fix
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO position_fix (squad_id, client_fix_id, fix_time, location, accuracy_m, speed_mps,
                                         heading, source_crs, flags)
               VALUES (%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, %s, %s, %s, %s)
               ON CONFLICT (squad_id, client_fix_id) DO NOTHING RETURNING client_fix_id""",
            [
                (squad_id, f.client_id, f.time, f.lon, f.lat, f.accuracy, f.speed, f.heading, f.crs, f.flags)
                for f in fixes
            ],
            returning=True,
        )
        stored: set[str] = set()
        while True:
            row = cursor.fetchone()
            if row is not None:
                stored.add(row[0])
            if not cursor.nextset():
                break
    from dispatch.observability import FIXES

    FIXES.inc(len(stored))
    moved = False
    if newest is not None and newest.client_id in stored:
        moved = (
            session.execute(
                text("""
            UPDATE squad SET last_position = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                             last_position_at = :t
            WHERE id = :id AND (last_position_at IS NULL OR last_position_at < :t)
        """),
                {"lon": newest.lon, "lat": newest.lat, "t": newest.time, "id": squad_id},
            ).rowcount
            > 0
        )
    if moved:
        from dispatch.record import publish_after_commit

        publish_after_commit(
            session,
            "position",
            {
                "id": squad_id,
                "coordinates": [round(newest.lon, 6), round(newest.lat, 6)],
                "time": newest.time.isoformat(),
                "speed": newest.speed,
                "heading": newest.heading,
            },
            rev=int(newest.time.timestamp() * 1000),
        )
    return {
        "received": len(fixes),
        "stored": len(stored),
        "duplicates": len(fixes) - len(stored),
        "flagged": sum(1 for f in fixes if f.flags and f.client_id in stored),
        "flags": {f.client_id: f.flags for f in fixes if f.flags and f.client_id in stored},
        "position_moved": moved,
    }


def parse_batch(body) -> list[Fix]:
    if not isinstance(body, dict) or not isinstance(body.get("fixes"), list):
        raise ApiError('the body is {"fixes": [...]}', field="fixes")
    fixes = body["fixes"]
    if not 1 <= len(fixes) <= MAX_BATCH:
        raise ApiError(f"1 to {MAX_BATCH} fixes per batch", field="fixes")
    parsed = [parse_fix(f, f"fixes[{i}]") for i, f in enumerate(fixes)]
    seen: set[str] = set()
    unique = []
    for fix in parsed:  # the same fix twice in one batch counts once
        if fix.client_id not in seen:
            seen.add(fix.client_id)
            unique.append(fix)
    return unique
