"""Transport conditions (issue 29): sailings suspended for a time window, and the timetables in force.

A suspension (大风停航) stops one ferry link, every link from a pier, or every sailing of the county,
from ``starts_at`` to ``ends_at``, for ferries, boats or both. Small patrol boats stop before the
large ferries: ``travel_profile.wind_limits`` (from transport.yaml) gives the wind force at which
each vessel class stops, and a suspension for wind without explicit ``vessels`` stops the classes
whose limit the force reaches. Lifting one ends it at once, on the record.

The travel model (``gis.travel.Conditions``) applies them at the moment of travel: a departure
inside a window does not sail; one that left before the window starts still arrives.

Every change of sailings (a suspension set or lifted, timetables reloaded) bumps the county's
``travel_profile.transport_version`` in the same transaction. Each process keeps the conditions
and the ferry network it read under that version, and checks the version at most once a second
(``VERSION_CHECK_S``); the process that made the change forgets its own at once (``forget``), so
its next recommendation already sees it, and the other processes within a second.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.errors import ApiError, NotFound
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.scope import principal_of, require_region
from dispatch.store import refcache
from dispatch.store.models import (
    SUSPENSION_REASONS,
    VESSEL_CLASSES,
    FerryLink,
    FerryTimetable,
    Port,
    Region,
    TransportSuspension,
    TravelProfile,
)
from gis import clock
from gis.clock import CHINA
from gis.reference import ReferenceDataError, load_transport_file
from gis.travel import NO_CONDITIONS, Conditions, Window

VERSION_CHECK_S = 1.0
DEFAULT_WIND_LIMITS = {"boat": 6, "ferry": 8}  # Beaufort force at which the class stops (transport.yaml)
# Suspensions that ended this long ago still count for a recommendation asked ``at=`` a past moment.
_LOOK_BACK = dt.timedelta(days=2)

_versions: dict[tuple[str, int], tuple[float, int]] = {}
_versions_lock = threading.Lock()


# -- the version every process compares ------------------------------------------------------------


def version(db, root_id: int) -> int:
    """The county's transport version, read from the database at most once a second per process."""
    key = (refcache.db_key(db), root_id)
    now = time.monotonic()
    with _versions_lock:
        hit = _versions.get(key)
    if hit is not None and now - hit[0] < VERSION_CHECK_S:
        return hit[1]
    value = db.execute(
        text("SELECT transport_version FROM travel_profile WHERE region_id = :root"), {"root": root_id}
    ).scalar()
    value = int(value or 0)
    with _versions_lock:
        _versions[key] = (now, value)
    return value


def forget() -> None:
    """This process read the versions anew at its next request (after committing a change)."""
    with _versions_lock:
        _versions.clear()


def _bump(session: Session, root_id: int) -> None:
    session.execute(
        text("UPDATE travel_profile SET transport_version = transport_version + 1 WHERE region_id = :root"),
        {"root": root_id},
    )


# -- conditions as the travel model reads them -------------------------------------------------------

_ACTIVE = text("""
    SELECT s.id, s.scope, s.vessels, s.starts_at, s.ends_at, s.port_id, l.from_port_id, l.to_port_id
    FROM transport_suspension s LEFT JOIN ferry_link l ON l.id = s.link_id
    WHERE s.root_region_id = :root AND s.lifted_at IS NULL AND s.ends_at > :since
""")


def conditions_for(db, root_id: int, ferries, transport_version: int) -> Conditions:
    """The county's suspensions as ``gis.travel.Conditions`` (cached per transport version)."""

    def load() -> Conditions:
        rows = db.execute(_ACTIVE, {"root": root_id, "since": clock.utc_now() - _LOOK_BACK}).all()
        if not rows:
            return NO_CONDITIONS
        pairs = []
        if ferries is not None:
            for link in ferries.links:
                pairs += [(link.from_id, link.to_id), (link.to_id, link.from_id)]
        ferry: dict[tuple[int, int], list[Window]] = {}
        boat: dict[int | None, list[Window]] = {}
        for r in rows:
            window = (r.starts_at, r.ends_at)
            if "ferry" in r.vessels:
                if r.scope == "county":
                    hit = pairs
                elif r.scope == "pier":
                    hit = [p for p in pairs if r.port_id in p]
                else:
                    hit = [(r.from_port_id, r.to_port_id), (r.to_port_id, r.from_port_id)]
                for pair in hit:
                    ferry.setdefault(pair, []).append(window)
            if "boat" in r.vessels and r.scope in ("county", "pier"):
                boat.setdefault(None if r.scope == "county" else r.port_id, []).append(window)
        return Conditions(
            {k: tuple(sorted(v)) for k, v in ferry.items()}, {k: tuple(sorted(v)) for k, v in boat.items()}
        )

    return refcache.cached(db, ("conditions", root_id, transport_version), load)


def held_reason(vessel: str, until: dt.datetime, now: dt.datetime) -> tuple[str, str]:
    """ "ferry suspended until 14:00" in English and Chinese (with the date when not today, China time)."""
    local = until.astimezone(CHINA)
    when = local.strftime("%H:%M") if local.date() == now.astimezone(CHINA).date() else local.strftime("%m-%d %H:%M")
    if vessel == "boat":
        return f"boats suspended until {when}", f"船艇停航至 {when}"
    return f"ferry suspended until {when}", f"渡轮停航至 {when}"


# -- suspensions: set, list, lift ------------------------------------------------------------------------

_PORT_TOWNSHIP = text("""
    SELECT r.id FROM region r, port p WHERE p.id = :port AND r.level IN ('township', 'street')
       AND ST_Covers(r.boundary, p.location::geometry) ORDER BY ST_Area(r.boundary) LIMIT 1
""")
_PORT_COUNTY = text("""
    SELECT t.region_id FROM travel_profile t JOIN region r ON r.id = t.region_id, port p JOIN island i ON i.id = p.island_id
    WHERE p.id = :port AND ST_DWithin(r.boundary, i.outline, 0.05) ORDER BY t.region_id LIMIT 1
""")
_COUNTIES_WITH_PORTS = text("""
    SELECT DISTINCT t.region_id FROM travel_profile t JOIN region r ON r.id = t.region_id
    WHERE EXISTS (SELECT 1 FROM port p JOIN island i ON i.id = p.island_id WHERE ST_DWithin(r.boundary, i.outline, 0.05))
""")


def _ports_by_code(session: Session) -> dict[str, Port]:
    return {p.code: p for p in session.scalars(select(Port))}


def _find_link(session: Session, code: str) -> FerryLink | None:
    """A link named ``FROM-TO`` by its piers' codes (either way round)."""
    ends = code.split("-")
    if len(ends) != 2:
        return None
    ports = _ports_by_code(session)
    a, b = ports.get(ends[0]), ports.get(ends[1])
    if a is None or b is None:
        return None
    return session.scalar(
        select(FerryLink).where(
            ((FerryLink.from_port_id == a.id) & (FerryLink.to_port_id == b.id))
            | ((FerryLink.from_port_id == b.id) & (FerryLink.to_port_id == a.id))
        )
    )


def wind_limits(session: Session, root_id: int) -> dict[str, int]:
    limits = session.scalar(select(TravelProfile.wind_limits).where(TravelProfile.region_id == root_id))
    return {**DEFAULT_WIND_LIMITS, **(limits or {})}


def _county(session: Session, actor: str, code: str | None) -> int:
    if code is not None:
        region_id = session.scalar(select(Region.id).where(Region.code == code, Region.parent_id.is_(None)))
        if region_id is None or region_id not in set(session.execute(_COUNTIES_WITH_PORTS).scalars()):
            raise ApiError(
                f"no county with sailings has the code {code!r}", field="county", code="unknown_county", status=422
            )
        return region_id
    principal = principal_of(actor)
    counties = list(session.execute(_COUNTIES_WITH_PORTS).scalars())
    if principal is not None and principal.region_id is not None:
        chain = session.execute(
            text("""WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM region WHERE id = :id
                    UNION ALL SELECT r.id, r.parent_id FROM region r JOIN up ON r.id = up.parent_id) SELECT id FROM up"""),
            {"id": principal.region_id},
        ).scalars()
        mine = [c for c in chain if c in counties]
        if mine:
            return mine[0]
    if len(counties) == 1:
        return counties[0]
    raise ApiError(
        "several counties have sailings: name one (a region code)", field="county", code="missing_field", status=422
    )


def create(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> dict:
    """Set a suspension (``body`` as the API takes it, its types already checked). 400 naming the
    field when the scope lacks its key or has another's (the document says so too); 422 naming it
    when it refers to nothing (a link, a pier, a county) or the window ends before it starts or is
    over. Nothing is saved then."""
    now = now or clock.utc_now()
    scope = body["scope"]
    starts, ends = body["from"], body["until"]
    for name, other in (("link", "link"), ("pier", "pier")):
        if body.get(name) is not None and scope != other:
            raise ApiError(f"{name} is only for scope {other!r}", field=name, code="unexpected_field")
    if scope in ("link", "pier") and body.get(scope) is None:
        raise ApiError(f"scope {scope!r} needs {scope!r}", field=scope, code="missing_field")
    if ends <= starts:
        raise ApiError("until must be after from", field="until", code="invalid_window", status=422)
    if ends <= now:
        raise ApiError("the window is over already", field="until", code="window_over", status=422)
    link = port = None
    places: list[int] = []
    if scope == "link":
        link = _find_link(session, body["link"])
        if link is None:
            raise ApiError(
                f"no ferry link {body['link']!r} (FROM-TO by pier codes)", field="link", code="unknown_link", status=422
            )
        root = session.execute(_PORT_COUNTY, {"port": link.from_port_id}).scalar()
        places = [session.execute(_PORT_TOWNSHIP, {"port": p}).scalar() for p in (link.from_port_id, link.to_port_id)]
    elif scope == "pier":
        port = _ports_by_code(session).get(body["pier"])
        if port is None:
            raise ApiError(f"no pier {body['pier']!r}", field="pier", code="unknown_pier", status=422)
        root = session.execute(_PORT_COUNTY, {"port": port.id}).scalar()
        places = [session.execute(_PORT_TOWNSHIP, {"port": port.id}).scalar()]
    else:
        root = _county(session, actor, body.get("county"))
        places = [root]
    if root is None:
        raise ApiError("the pier lies in no county with sailings", field=scope, code="unknown_" + scope, status=422)
    if body.get("county") is not None and scope != "county":
        raise ApiError("county is only for scope 'county'", field="county", code="unexpected_field")
    for place in places:
        require_region(session, principal_of(actor), place, f"the {scope} suspended")
    reason = body["reason"]
    vessels = body.get("vessels")
    limits = wind_limits(session, root)
    if vessels is None:
        force = reason.get("wind_force")
        if force is not None:
            vessels = [v for v in VESSEL_CLASSES if limits.get(v) is not None and force >= limits[v]]
            if not vessels:
                raise ApiError(
                    f"force {force} stops no vessel class (limits {limits})",
                    field="reason.wind_force",
                    code="stops_nothing",
                    status=422,
                )
        else:
            vessels = list(VESSEL_CLASSES)
    row = TransportSuspension(
        root_region_id=root,
        scope=scope,
        link_id=link.id if link else None,
        port_id=port.id if port else None,
        vessels=[v for v in VESSEL_CLASSES if v in vessels],
        starts_at=starts,
        ends_at=ends,
        reason_kind=reason["kind"],
        wind_force=reason.get("wind_force"),
        reason_text=reason["text"],
        created_by=str(actor),
        created_at=now,
    )
    session.add(row)
    session.flush()
    item = suspension_json(session, row, now)
    event = record(
        session,
        actor=actor,
        action="transport_suspended",
        entity_type="transport_suspension",
        entity_id=row.id,
        data={k: item[k] for k in ("scope", "link", "pier", "vessels", "from", "until", "reason")},
    )
    _bump(session, root)
    publish_after_commit(session, "suspension", item, rev=event.id)
    return item


def lift(session: Session, suspension_id: int, *, actor: str, now: dt.datetime | None = None) -> dict:
    """End a suspension now (404 unknown or outside the scope, 409 lifted or over already)."""
    now = now or clock.utc_now()
    row = session.get(TransportSuspension, suspension_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no suspension {suspension_id}", field="suspension_id")
    require_region(session, principal_of(actor), row.root_region_id, f"suspension {suspension_id}")
    if row.lifted_at is not None:
        raise ApiError("lifted already", status=409, code="already_lifted", field="suspension_id")
    if row.ends_at <= now:
        raise ApiError("its window is over already", status=409, code="already_over", field="suspension_id")
    row.lifted_at, row.lifted_by = now, str(actor)
    session.flush()
    item = suspension_json(session, row, now)
    event = record(
        session,
        actor=actor,
        action="transport_suspension_lifted",
        entity_type="transport_suspension",
        entity_id=row.id,
        data={"lifted_at": item["lifted_at"], "was": {k: item[k] for k in ("scope", "link", "pier", "from", "until")}},
    )
    _bump(session, row.root_region_id)
    publish_after_commit(session, "suspension", item, rev=event.id)
    return item


def list_suspensions(
    session: Session, *, now: dt.datetime | None = None, regions: frozenset[int] | None = None
) -> dict:
    """The active and coming suspensions (not lifted, not over), soonest first."""
    now = now or clock.utc_now()
    rows = session.scalars(
        select(TransportSuspension)
        .where(TransportSuspension.lifted_at.is_(None), TransportSuspension.ends_at > now)
        .order_by(TransportSuspension.starts_at, TransportSuspension.id)
    ).all()
    items = [suspension_json(session, r, now) for r in rows if regions is None or r.root_region_id in regions]
    return {"as_of": now.isoformat(), "suspensions": items}


def _port_ref(port: Port | None) -> dict | None:
    if port is None:
        return None
    return {"code": port.code, "name": port.name_zh, "name_en": port.name_en}


def suspension_json(session: Session, row: TransportSuspension, now: dt.datetime | None = None) -> dict:
    now = now or clock.utc_now()
    link = session.get(FerryLink, row.link_id) if row.link_id else None
    link_json = None
    if link is not None:
        a, b = session.get(Port, link.from_port_id), session.get(Port, link.to_port_id)
        link_json = {"code": f"{a.code}-{b.code}", "from": _port_ref(a), "to": _port_ref(b)}
    county = session.get(Region, row.root_region_id)
    if row.lifted_at is not None:
        state = "lifted"
    elif row.ends_at <= now:
        state = "over"
    else:
        state = "active" if row.starts_at <= now else "coming"
    return {
        "id": row.id,
        "state": state,
        "scope": row.scope,
        "county": {"code": county.code, "name": county.name_zh, "name_en": county.name_en},
        "link": link_json,
        "pier": _port_ref(session.get(Port, row.port_id)) if row.port_id else None,
        "vessels": list(row.vessels),
        "from": row.starts_at.isoformat(),
        "until": row.ends_at.isoformat(),
        "reason": {"kind": row.reason_kind, "wind_force": row.wind_force, "text": row.reason_text},
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "lifted_at": row.lifted_at.isoformat() if row.lifted_at else None,
        "lifted_by": row.lifted_by,
    }


# -- the network screens pick from, and timetables reloaded ------------------------------------------------


def network_json(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Piers and links (with the timetable in force today), the vessel classes' wind limits."""
    now = now or clock.utc_now()
    today = clock.local_day(now)
    ports = {p.id: p for p in session.scalars(select(Port).order_by(Port.code))}
    seasons: dict[int, list[FerryTimetable]] = {}
    for s in session.scalars(select(FerryTimetable).order_by(FerryTimetable.effective_from)):
        seasons.setdefault(s.link_id, []).append(s)
    links = []
    for link in session.scalars(select(FerryLink).order_by(FerryLink.id)):
        a, b = ports[link.from_port_id], ports[link.to_port_id]
        season = next(
            (
                s
                for s in seasons.get(link.id, [])
                if s.effective_from <= today and (s.effective_until is None or today <= s.effective_until)
            ),
            None,
        )
        links.append(
            {
                "code": f"{a.code}-{b.code}",
                "from": _port_ref(a),
                "to": _port_ref(b),
                "minutes": link.minutes,
                "timetable": list(season.departures if season else link.timetable),
                "season": season.season if season else None,
            }
        )
    counties = sorted(session.execute(_COUNTIES_WITH_PORTS).scalars())
    limits = wind_limits(session, counties[0]) if counties else dict(DEFAULT_WIND_LIMITS)
    return {
        "piers": [_port_ref(p) for p in ports.values()],
        "links": links,
        "wind_limits": limits,
        "vessels": list(VESSEL_CLASSES),
        "reasons": list(SUSPENSION_REASONS),
    }


def reload_timetables(session: Session, folder: Path, *, actor: str) -> dict:
    """Read ``transport.yaml`` of a dataset folder again: the links' timetables, their dated versions
    and the wind limits replace what the database holds (ports and links themselves stay: a new pier is
    a new seed). The county's transport version is bumped: every process picks the change up."""
    try:
        transport = load_transport_file(folder)
    except ReferenceDataError as exc:
        raise ApiError(
            "; ".join(exc.problems[:5]), field="transport.yaml", code="invalid_reference_data", status=422
        ) from None
    ports = _ports_by_code(session)
    root = None
    changed = 0
    for item in transport["ferry_links"]:
        a, b = ports.get(item["from"]), ports.get(item["to"])
        link = _find_link(session, f"{item['from']}-{item['to']}") if a and b else None
        if link is None:
            raise ApiError(f"transport.yaml: link {item['from']}-{item['to']} is not in the database", field="folder")
        root = root or session.execute(_PORT_COUNTY, {"port": link.from_port_id}).scalar()
        if list(link.timetable) != list(item["timetable"]):
            link.timetable = list(item["timetable"])
            changed += 1
    if root is None:
        raise ApiError("transport.yaml has no ferry links", field="folder")
    link_ids = list(session.execute(text("SELECT id FROM ferry_link")).scalars())
    session.execute(text("DELETE FROM ferry_timetable WHERE link_id = ANY(:ids)"), {"ids": link_ids})
    versions = 0
    for season in transport.get("timetables", []):
        for item in season["links"]:
            link = _find_link(session, f"{item['from']}-{item['to']}")
            if link is None:
                raise ApiError(
                    f"transport.yaml: season {season['season']}: no link {item['from']}-{item['to']}", field="folder"
                )
            session.add(
                FerryTimetable(
                    link_id=link.id,
                    season=season["season"],
                    effective_from=season["from"],
                    effective_until=season.get("until"),
                    departures=list(item["timetable"]),
                )
            )
            versions += 1
    profile = session.scalar(select(TravelProfile).where(TravelProfile.region_id == root))
    if profile is not None and transport.get("wind_limits"):
        profile.wind_limits = dict(transport["wind_limits"])
    session.flush()
    event = record(
        session,
        actor=actor,
        action="timetables_reloaded",
        entity_type="region",
        entity_id=root,
        data={"links_changed": changed, "timetable_versions": versions},
    )
    _bump(session, root)
    publish_after_commit(session, "transport", {"id": root, "reloaded_at": clock.utc_now().isoformat()}, rev=event.id)
    return {"links_changed": changed, "timetable_versions": versions}
