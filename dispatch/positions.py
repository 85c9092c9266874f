"""Position fixes from tablets: validated, converted to WGS84, flagged, stored in bulk.

Hot path, guarded by ``make bench`` (bench/realtime.py: ingest rate, fix -> screen latency).

Idempotent on the client's fix id. Every fix enters the history; only a fix
that is newer than the squad's last position and carries no flag moves it.
Flags (kept, never shown as the position): ``poor_accuracy``,
``impossible_speed`` (from the last shown position), ``outside_envelope`` (far
outside the squad's county). The store bypasses the ORM: the batches of many
squads go to PostgreSQL as one statement (the live writers group the tablets'
``position`` events into one transaction: group commit). A tablet's fixes over the
socket reach the command centre as they arrive (``preview``), checked as the store
checks them, while they are stored; the tablet's reply waits for the commit.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from psycopg.rows import namedtuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from dispatch.errors import ApiError
from dispatch.live.bus import publish_after_commit, update
from dispatch.metrics import FIXES, STALE_POSITIONS
from dispatch.shapes import position_shape
from dispatch.store import refcache
from dispatch.store.db import driver_sql, pipelined_transaction
from gis import clock
from gis.crs import SYSTEMS, to_wgs84
from gis.geojson import is_finite_number
from gis.travel import great_circle_m

MAX_BATCH = 1000
# A device's clock may run this far ahead of ours (config FIX_MAX_AHEAD_S); a fix dated later is
# refused: stored, it would hold the squad at that place until the date passed (nothing newer).
MAX_AHEAD = dt.timedelta(minutes=5)
MAX_ACCURACY_M = 100.0
MAX_SPEED_KMH = {"maritime": 90.0, "default": 160.0}
ENVELOPE_MARGIN_DEG = 0.3  # ~30 km around the county: squads cross to neighbours, not to other provinces
FIX_FIELDS = {"id", "action_id", "lon", "lat", "crs", "time", "occurred_at", "accuracy", "speed", "heading"}
# A fix's id is its action_id and its time its occurred_at (the names a step of a task uses): either
# name is accepted, not both.
_ALIASES = (("id", "action_id"), ("time", "occurred_at"))
# What the API's declaration of a fix says (dispatch.http.contract.realtime.Fix; a test holds the
# two equal): an id of 1 to 64 printable ASCII characters, an RFC 3339 date-time with an offset.
_rfc3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
).fullmatch


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
    if not is_finite_number(value):
        raise ApiError("must be a finite number", field=field)
    if not low <= value <= high:
        raise ApiError(f"must lie between {low} and {high}", field=field)
    return float(value)


def _fix_time(value, field: str) -> dt.datetime:
    """An RFC 3339 date-time with an offset, 2000 or later (as the API's ``Time`` declares it)."""
    if not isinstance(value, str) or not _rfc3339(value):
        raise ApiError("required: an RFC 3339 date-time with an offset, e.g. 2026-11-23T09:30:00+08:00", field=field)
    try:
        parsed = dt.datetime.fromisoformat(value.upper())
    except ValueError:
        raise ApiError(f"{value!r} is not a date-time", field=field) from None
    if parsed.year < 2000:
        raise ApiError("is implausibly early (before 2000)", field=field)
    return parsed


def parse_fix(data, field: str, *, max_ahead: dt.timedelta = MAX_AHEAD) -> Fix:
    """One fix as a tablet sends it: {id, lon, lat, crs?, time, accuracy?, speed?, heading?} (``id``
    may be sent as ``action_id``, ``time`` as ``occurred_at``); its time at most ``max_ahead`` after
    ours (else 422: the fix is well formed, the clock is not)."""
    if not isinstance(data, dict):
        raise ApiError("a fix is an object {id, lon, lat, crs, time, accuracy, speed, heading}", field=field)
    for name in data:
        if name not in FIX_FIELDS:
            raise ApiError(f"unknown field (allowed: {', '.join(sorted(FIX_FIELDS))})", field=f"{field}.{name}")
    for name, alias in _ALIASES:
        if data.get(name) is not None and data.get(alias) is not None:
            raise ApiError(f"{name} and {alias} are the same: send one", field=f"{field}.{name}")
    id_name = "action_id" if data.get("action_id") is not None else "id"
    time_name = "occurred_at" if data.get("occurred_at") is not None else "time"
    client_id = data.get(id_name)
    # printable ASCII: over the socket a fix is plain JSON, where a lone surrogate or a NUL may arrive
    if (
        not isinstance(client_id, str)
        or not 0 < len(client_id) <= 64
        or not client_id.isascii()
        or not client_id.isprintable()
    ):
        raise ApiError(
            "the client's fix id, 1 to 64 printable ASCII characters, is required", field=f"{field}.{id_name}"
        )
    crs = data.get("crs", "wgs84")
    if crs not in SYSTEMS:
        raise ApiError(f"must be one of {', '.join(SYSTEMS)}", field=f"{field}.crs")
    lon = _number(data.get("lon"), f"{field}.lon", -180, 180, required=True)
    lat = _number(data.get("lat"), f"{field}.lat", -90, 90, required=True)
    lon, lat = to_wgs84(lon, lat, crs)
    time = _fix_time(data.get(time_name), f"{field}.{time_name}")
    if time > clock.utc_now() + max_ahead:
        raise ApiError(
            f"lies more than {max_ahead.total_seconds():g} seconds in the future: is the device's clock right?",
            field=f"{field}.{time_name}",
            status=422,
            code="time_in_future",
        )
    return Fix(
        client_id,
        lon,
        lat,
        crs,
        time,
        _number(data.get("accuracy"), f"{field}.accuracy", 0, 1e6),
        _number(data.get("speed"), f"{field}.speed", 0, 1e4),
        _number(data.get("heading"), f"{field}.heading", 0, 360),
        [],
    )


def _context_key(squad_id: int) -> tuple:
    """The reference cache's key of a squad's context: ``_squad_context`` fills it, ``preview`` peeks."""
    return ("squad-context", squad_id)


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

    return refcache.cached(session, _context_key(squad_id), load)


# The fixes of any number of squads in one statement: history rows (idempotent on the fix id),
# and each squad moved to its newest clean fix if that one is new and newer than its position.
# The fixes were checked against the positions this process last knew (``expected``); a squad
# whose position has changed since (another process, another request) is left out and named.
_STORE = text("""
    WITH expected AS (
        SELECT * FROM jsonb_to_recordset(CAST(:expected AS jsonb)) AS e(squad_id integer, lon float8, lat float8,
                                                                         at timestamptz)),
    stale AS (
        SELECT e.squad_id FROM expected e JOIN squad s ON s.id = e.squad_id
        WHERE s.id = ANY(CAST(:known AS integer[]))  -- by primary key, not a scan of every squad
          AND (s.last_position_at IS DISTINCT FROM e.at OR ST_X(s.last_position::geometry) IS DISTINCT FROM e.lon
               OR ST_Y(s.last_position::geometry) IS DISTINCT FROM e.lat)),
    f AS (
        SELECT * FROM jsonb_to_recordset(CAST(:fixes AS jsonb))
        AS f(squad_id integer, client_fix_id text, fix_time timestamptz, lon float8, lat float8, accuracy_m float8,
             speed_mps float8, heading float8, source_crs text, flags text[], newest boolean)
        WHERE f.squad_id NOT IN (SELECT squad_id FROM stale)),
    stored AS (
        INSERT INTO position_fix (squad_id, client_fix_id, fix_time, location, accuracy_m, speed_mps, heading,
                                  source_crs, flags)
        SELECT squad_id, client_fix_id, fix_time, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, accuracy_m,
               speed_mps, heading, source_crs, flags
        FROM f
        ON CONFLICT (squad_id, client_fix_id) DO NOTHING
        RETURNING squad_id, client_fix_id),
    moved AS (
        UPDATE squad s SET last_position = ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326)::geography,
                           last_position_at = f.fix_time
        FROM f JOIN stored USING (squad_id, client_fix_id)
        WHERE f.newest AND s.id = f.squad_id AND (s.last_position_at IS NULL OR s.last_position_at < f.fix_time)
        RETURNING s.id)
    SELECT squad_id, client_fix_id, 'stored' FROM stored
    UNION ALL SELECT id, NULL, 'moved' FROM moved
    UNION ALL SELECT squad_id, NULL, 'stale' FROM stale""")
_LAST_POSITIONS = text("""
    SELECT id, ST_X(last_position::geometry) AS lon, ST_Y(last_position::geometry) AS lat, last_position_at
    FROM squad WHERE id = ANY(CAST(:ids AS integer[]))""")


class _Position(NamedTuple):
    id: int
    lon: float | None
    lat: float | None
    last_position_at: dt.datetime | None


# (database, squad id) -> the squad's position as this process last stored or read it: a
# squad found there needs no read before its fixes are checked and stored (one round trip to
# PostgreSQL instead of two); the store verifies it and names the squads whose position
# changed meanwhile.
_known: dict[tuple[str, int], _Position] = {}

# (database, squad id) -> the newest fix this process has put on the command centre's screens
# as it arrived, before it was stored (``preview``); its store then publishes nothing again.
_shown: dict[tuple[str, int], _Position] = {}
_shown_lock = threading.Lock()
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def preview(database: str, squad_id: int, fixes: list[Fix]) -> dict | None:
    """The command centre's update for a tablet's ``fixes`` as they arrive, before their store.

    Their newest clean fix, checked as the store will check it, when it is newer than the
    squad's position as this process last stored, read or showed it; the tablet's reply still
    waits for the commit. None when nothing moves, or when the process does not know the
    squad yet (its county or last position): the update then goes out after the store, as a
    REST batch's always does. ``database`` is ``refcache.db_key`` of the server's session.
    """
    context = refcache.peek(database, _context_key(squad_id))
    if context is None:
        return None
    envelope, force = context
    max_speed = _max_speed(force)
    key = (database, squad_id)
    with _shown_lock:
        candidates = [p for p in (_known.get(key), _shown.get(key)) if p is not None]
        if not candidates:
            return None
        prev = max(candidates, key=lambda p: p.last_position_at or _EARLIEST)
        prev_lon, prev_lat, prev_time = prev.lon, prev.lat, prev.last_position_at
        best = None
        for fix in sorted(fixes, key=lambda f: f.time):
            if (prev_time is None or fix.time > prev_time) and not _doubts(
                fix, envelope, max_speed, prev_lon, prev_lat, prev_time
            ):
                prev_lon, prev_lat, prev_time, best = fix.lon, fix.lat, fix.time, fix
        if best is None:
            return None
        _shown[key] = _Position(squad_id, best.lon, best.lat, best.time)
    return position_update(squad_id, best)


def position_update(squad_id: int, fix: Fix) -> dict:
    """The command centre's update for a squad moved to ``fix`` (its rev: the fix time in ms)."""
    data = position_shape(squad_id, fix.lon, fix.lat, fix.time, fix.speed, fix.heading)
    return update("position", data, int(fix.time.timestamp() * 1000))


def ingest(session: Session, squad_id: int, fixes: list[Fix]) -> dict:
    """Store ``fixes`` of a squad; move its position to the newest clean one. Returns counts."""
    return ingest_many(session, [(squad_id, fixes)])[0]


_STORE_SQL, _LAST_POSITIONS_SQL = driver_sql(_STORE), driver_sql(_LAST_POSITIONS)


def ingest_many(session: Session, batches: list[tuple[int, list[Fix]]], *, commit: bool = False) -> list[dict]:
    """Store several batches of fixes (of one squad each) in one statement; the counts of each batch.

    A squad's batches are taken in order, as if they had come one after the other:
    a fix id seen in an earlier batch is a duplicate in a later one, and the squad
    moves to the newest clean fix of them all. Fixes are checked against each squad's
    position as this process knows it; squads it does not know are read first (BEGIN and
    that read in one round trip, psycopg's pipeline mode), then the store goes (with the
    COMMIT, given ``commit``: the caller's ``session.commit()`` then only sends the
    updates). A squad whose position changed behind this process's back is left out by
    the store, read and stored again.
    """
    squads = sorted({squad_id for squad_id, fixes in batches if fixes})
    contexts = {squad_id: _squad_context(session, squad_id) for squad_id in squads}
    stored: set[tuple[int, str]] = set()
    moved: set[int] = set()
    stale: set[int] = set()
    newest: dict[int, tuple[Fix, int]] = {}  # squad -> its newest clean fix, and the batch it came in
    taken: list[list[Fix]] = [[] for _ in batches]  # per batch: the fixes sent to the database
    if squads:
        database = refcache.db_key(session)
        known = [squad_id for squad_id in squads if (database, squad_id) in _known]
        last = {squad_id: _known[database, squad_id] for squad_id in known}
        expected = [
            {"squad_id": p.id, "lon": p.lon, "lat": p.lat, "at": p.last_position_at and p.last_position_at.isoformat()}
            for p in last.values()
        ]
        unknown = [squad_id for squad_id in squads if squad_id not in last]
        # commit: the whole transaction in one or two round trips, BEGIN in the first and
        # COMMIT in the last; otherwise the caller's transaction goes on, and it commits.
        with (
            pipelined_transaction(session, commits=commit) as tx,
            tx.raw.cursor(row_factory=namedtuple_row) as positions,
            tx.raw.cursor() as store,
        ):
            if unknown:
                with tx.round_trip(reads_only=True):
                    positions.execute(_LAST_POSITIONS_SQL, {"ids": unknown})
                last |= {row.id: _Position(*row) for row in positions.fetchall()}
            rows = _checked_rows(batches, contexts, last, newest, taken)
            with tx.round_trip(commit=commit):
                store.execute(
                    _STORE_SQL,
                    {
                        "fixes": orjson.dumps(rows).decode(),
                        "expected": orjson.dumps(expected).decode(),
                        "known": known,
                    },
                )
            answer = store.fetchall()
        for squad_id, client_id, kind in answer:
            if kind == "stored":
                stored.add((squad_id, client_id))
            elif kind == "moved":
                moved.add(squad_id)
            else:
                stale.add(squad_id)
        for squad_id in squads:
            if squad_id in stale:
                _known.pop((database, squad_id), None)
            elif squad_id in moved:
                fix = newest[squad_id][0]
                _known[database, squad_id] = _Position(squad_id, fix.lon, fix.lat, fix.time)
            else:
                _known[database, squad_id] = last[squad_id]
    again: dict[int, dict] = {}
    if stale:  # read those squads and store their fixes, as if they had come a moment later
        STALE_POSITIONS.inc(len(stale))
        indexes = [i for i, (squad_id, _fixes) in enumerate(batches) if squad_id in stale]
        retried = ingest_many(session, [batches[i] for i in indexes], commit=commit)
        again = dict(zip(indexes, retried, strict=True))
    FIXES.inc(len(stored))
    for squad_id in moved:
        fix = newest[squad_id][0]
        with _shown_lock:
            shown = _shown.get((database, squad_id))
        if shown is not None and shown.last_position_at >= fix.time:
            continue  # on the screens since it arrived (preview)
        shown_update = position_update(squad_id, fix)
        publish_after_commit(session, "position", shown_update["data"], rev=shown_update["rev"])
    results = []
    for index, ((squad_id, fixes), mine) in enumerate(zip(batches, taken, strict=True)):
        if index in again:
            results.append(again[index])
            continue
        kept = [f for f in mine if (squad_id, f.client_id) in stored]
        shown = newest.get(squad_id)
        results.append(
            {
                "received": len(fixes),
                "stored": len(kept),
                "duplicates": len(fixes) - len(kept),
                "flagged": sum(1 for f in kept if f.flags),
                "flags": {f.client_id: f.flags for f in kept if f.flags},
                "position_moved": squad_id in moved and shown is not None and shown[1] == index,
            }
        )
    return results


def _doubts(fix: Fix, envelope, max_speed: float, prev_lon, prev_lat, prev_time) -> list[str]:
    """The flags of ``fix``: poor accuracy, outside the county's envelope, an impossible speed
    from the position shown before it (``prev_*``, None when the squad has none)."""
    flags = []
    if fix.accuracy is not None and fix.accuracy > MAX_ACCURACY_M:
        flags.append("poor_accuracy")
    if not (envelope[0] <= fix.lon <= envelope[2] and envelope[1] <= fix.lat <= envelope[3]):
        flags.append("outside_envelope")
    if prev_time is not None and fix.time > prev_time and prev_lon is not None:
        seconds = (fix.time - prev_time).total_seconds()
        if great_circle_m(prev_lon, prev_lat, fix.lon, fix.lat) > max_speed * seconds + 50:
            flags.append("impossible_speed")
    return flags


def _max_speed(force: str) -> float:
    """The fastest a squad of ``force`` moves, in m/s."""
    return MAX_SPEED_KMH.get(force, MAX_SPEED_KMH["default"]) / 3.6


def _checked_rows(batches, contexts, last, newest, taken) -> list[dict]:
    """The rows to store, each fix flagged (poor accuracy, outside the county, impossible speed);
    fills ``newest`` (each squad's newest clean fix) and ``taken`` (per batch, the fixes stored:
    a fix id seen in an earlier batch of the group is not stored again)."""
    seen: set[tuple[int, str]] = set()
    for index, (squad_id, fixes) in enumerate(batches):
        mine = taken[index]
        if not fixes:
            continue
        envelope, force = contexts[squad_id]
        max_speed = _max_speed(force)
        shown = newest.get(squad_id)
        if shown is not None:
            prev_lon, prev_lat, prev_time = shown[0].lon, shown[0].lat, shown[0].time
        else:
            prev = last[squad_id]
            prev_lon, prev_lat, prev_time = prev.lon, prev.lat, prev.last_position_at
        for fix in sorted(fixes, key=lambda f: f.time):
            if (squad_id, fix.client_id) in seen:
                continue
            seen.add((squad_id, fix.client_id))
            mine.append(fix)
            # checked afresh: a group retried item by item, a stale position
            fix.flags[:] = _doubts(fix, envelope, max_speed, prev_lon, prev_lat, prev_time)
            if not fix.flags and (prev_time is None or fix.time > prev_time):
                prev_lon, prev_lat, prev_time = fix.lon, fix.lat, fix.time
                newest[squad_id] = (fix, index)
    rows: list[dict] = []
    for squad_id, fixes in zip((b[0] for b in batches), taken, strict=True):
        shown = newest.get(squad_id)
        for fix in fixes:
            rows.append(
                {
                    "squad_id": squad_id,
                    "client_fix_id": fix.client_id,
                    "fix_time": fix.time.isoformat(),
                    "lon": fix.lon,
                    "lat": fix.lat,
                    "accuracy_m": fix.accuracy,
                    "speed_mps": fix.speed,
                    "heading": fix.heading,
                    "source_crs": fix.crs,
                    "flags": fix.flags,
                    "newest": shown is not None and shown[0] is fix,
                }
            )
    return rows


def parse_batch(body, *, max_ahead: dt.timedelta = MAX_AHEAD) -> list[Fix]:
    """A tablet's batch ``{"fixes": [...]}``, each fix checked by ``parse_fix``; a fix id twice counts once."""
    if not isinstance(body, dict) or not isinstance(body.get("fixes"), list):
        raise ApiError('the body is {"fixes": [...]}', field="fixes")
    if len(body) > 1:
        extra = next(name for name in body if name != "fixes")
        raise ApiError('unknown field (the body is {"fixes": [...]})', field=extra, code="unknown_field")
    fixes = body["fixes"]
    if not 1 <= len(fixes) <= MAX_BATCH:
        raise ApiError(f"1 to {MAX_BATCH} fixes per batch", field="fixes")
    parsed = [parse_fix(f, f"fixes[{i}]", max_ahead=max_ahead) for i, f in enumerate(fixes)]
    seen: set[str] = set()
    unique = []
    for fix in parsed:  # the same fix twice in one batch counts once
        if fix.client_id not in seen:
            seen.add(fix.client_id)
            unique.append(fix)
    return unique
