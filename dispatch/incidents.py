"""Incident intake: validation, jurisdiction, priority and SLA, idempotence, possible duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from dispatch.catalogue import CatalogueMatter, matters_in_force, root_of
from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.jurisdiction import (
    Jurisdiction,
    ancestors_of,
    competent_authority,
    find_matter,
    jurisdiction_at,
    jurisdiction_in,
    region_at,
    with_covering_squads,
)
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.scope import principal_of, require_region
from dispatch.shapes import incident_summary, ordered_matters
from dispatch.states import CLOSED_STATUSES, DUPLICATE_REASON, OPEN_STATUSES, QUEUE_STATUSES, sql_list
from dispatch.store.models import INCIDENT_SOURCES, Incident, Matter, Region, Task
from dispatch.tasks import cancel_for_incident
from dispatch.validation import (
    check_fields,
    optional_text,
    parse_time,
    required_point,
    required_text,
)

MAX_MATTERS = 10


@dataclass
class Intake:
    incident: Incident
    created: bool
    possible_duplicates: list[dict]  # the nearest DUPLICATE_LIMIT
    possible_duplicates_total: int = 0  # all of them
    # Where a new incident on land was placed (township, zone, authority, no squads yet): the
    # answer's jurisdiction, without looking it all up again.
    placed: Jurisdiction | None = None


def priority_for(matters: list[Matter] | list[CatalogueMatter], source: str) -> int:
    """The most urgent matter decides; a 110 police linkage is one level more urgent."""
    priority = min(m.priority for m in matters)
    if source == "police_110":
        priority = max(1, priority - 1)
    return priority


def sla_deadline_for(matters: list[Matter] | list[CatalogueMatter], reported_at: dt.datetime) -> dt.datetime:
    """Arrival on scene is due within the shortest SLA of the incident's matters."""
    return reported_at + dt.timedelta(minutes=min(m.sla_minutes for m in matters))


def _parse_matters(session: Session, value) -> list[Matter]:
    if not isinstance(value, list) or not value:
        raise ApiError("must be a non-empty list of matter codes", field="matters")
    if len(value) > MAX_MATTERS:
        raise ApiError(f"at most {MAX_MATTERS} matters", field="matters")
    matters: list[Matter] = []
    for index, code in enumerate(value):
        if not isinstance(code, str) or not code.strip():
            raise ApiError("must be a matter code", field=f"matters[{index}]")
        matter = find_matter(session, code.strip(), field=f"matters[{index}]")
        if matter not in matters:
            matters.append(matter)
    return matters


def _place(
    session: Session, lon: float, lat: float, matters: list[Matter], sea_reach_m: float, reported_at: dt.datetime
):
    """Region, zone and authority of a new incident, its jurisdiction (None at sea), and its
    matters as the county's catalogue in force at ``reported_at`` lists them (dispatch.catalogue:
    422 ``matter_not_in_catalogue`` for one it does not list; its entry decides the authority).

    At sea (no township), a purely maritime incident belongs to the nearest
    county within ``sea_reach_m``; anything else there is refused.
    """
    region = region_at(session, lon, lat)
    if region is None:
        if all(m.domain == "maritime" for m in matters):
            region = session.scalar(
                select(Region)
                .where(
                    Region.parent_id.is_(None),
                    func.ST_DWithin(
                        func.Geography(Region.boundary),
                        func.Geography(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)),
                        sea_reach_m,
                    ),
                )
                .order_by(func.ST_Distance(Region.boundary, func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)))
                .limit(1)
            )
        if region is None:
            raise ApiError(
                f"({lon}, {lat}) lies in no township of a loaded county (open sea is accepted "
                "only for maritime matters near a county)",
                field="location",
                status=422,
                code="outside_jurisdiction",
            )
        ancestors = ancestors_of(session, region)
        listed = matters_in_force(session, ancestors[-1] if ancestors else region, matters, reported_at)
        authority, _ = competent_authority(session, region, ancestors, listed[0])
        return region, None, authority, None, listed
    listed = matters_in_force(session, root_of(session, region), matters, reported_at)
    placed = jurisdiction_in(session, region, listed[0])
    return region, placed.zone, placed.authority, placed, listed


INTAKE_FIELDS = {"source", "external_id", "matters", "location", "description", "reported_at", "address", "caller"}


@dataclass
class Call:
    """What a call says, read and checked: the part of intake a preview shares."""

    source: str
    external_id: str | None
    matters: list[Matter]
    point: object  # shapely Point, WGS84
    description: str
    address: str | None
    reported_at: dt.datetime
    caller_name: str | None
    caller_phone: str | None


def read_call(session: Session, body: dict) -> Call:
    """The intake body, checked field by field (400 naming the field; 422 for a time ahead)."""
    check_fields(body, INTAKE_FIELDS)
    source = body.get("source")
    if source not in INCIDENT_SOURCES:
        raise ApiError(f"must be one of {', '.join(INCIDENT_SOURCES)}", field="source")
    external_id = optional_text(body, "external_id", 64)
    matters = _parse_matters(session, body.get("matters"))
    point = required_point(body, "location")
    description = required_text(body, "description", 4000)
    address = optional_text(body, "address", 200)
    reported_at = parse_time(body.get("reported_at"), "reported_at", required=True)
    if reported_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise ApiError("lies in the future", field="reported_at", status=422, code="in_the_future")
    caller = body.get("caller") or {}
    if not isinstance(caller, dict):
        raise ApiError("must be an object {name?, phone?}", field="caller")
    check_fields(caller, {"name", "phone"}, prefix="caller.")
    return Call(
        source,
        external_id,
        matters,
        point,
        description,
        address,
        reported_at,
        optional_text(caller, "name", 100, prefix="caller."),
        optional_text(caller, "phone", 40, prefix="caller."),
    )


def preview(session: Session, body: dict, *, actor: str, config: dict) -> dict:
    """What filing this call would give (place, zone, authority, priority, SLA, the open
    incidents it may duplicate), storing nothing: the call-taker decides to file or attach."""
    call = read_call(session, body)
    region, _zone, _authority, placed, listed = _place(
        session, call.point.x, call.point.y, call.matters, config["SEA_REACH_M"], call.reported_at
    )
    require_region(session, principal_of(actor), region.id if region is not None else None, "the incident's place")
    jurisdiction = None
    if placed is not None:
        jurisdiction = with_covering_squads(session, placed, call.point.x, call.point.y).to_json()
    shown, total = duplicates_near(
        session, call.point.x, call.point.y, [m.id for m in call.matters], call.reported_at, None, config
    )
    return {
        "jurisdiction": jurisdiction,
        "region": {"code": region.code, "name": region.name_zh, "name_en": region.name_en},
        "priority": priority_for(listed, call.source),
        "sla_minutes": min(m.sla_minutes for m in listed),
        "sla_deadline": sla_deadline_for(listed, call.reported_at).isoformat(),
        "possible_duplicates": shown,
        "possible_duplicates_total": total,
    }


def intake(session: Session, body: dict, *, actor: str, config: dict) -> Intake:
    """Create an incident, or return the stored one for a repeated (source, external_id)."""
    check_fields(body, INTAKE_FIELDS)
    source = body.get("source")
    if source not in INCIDENT_SOURCES:
        raise ApiError(f"must be one of {', '.join(INCIDENT_SOURCES)}", field="source")
    external_id = optional_text(body, "external_id", 64)
    if external_id is not None:
        existing = _by_external_id(session, source, external_id)
        if existing is not None:
            return Intake(existing, False, [], 0)
    call = read_call(session, body)
    matters, point, description, address, reported_at = (
        call.matters,
        call.point,
        call.description,
        call.address,
        call.reported_at,
    )
    region, zone, authority, placed, listed = _place(
        session, point.x, point.y, matters, config["SEA_REACH_M"], reported_at
    )
    require_region(session, principal_of(actor), region.id if region is not None else None, "the incident's place")

    incident = Incident(
        source=source,
        external_id=external_id,
        description=description,
        address=address,
        location=from_shape(point, srid=4326),
        region=region,
        zone=zone,
        authority=authority,
        priority=priority_for(listed, source),
        status="open",
        reported_at=reported_at,
        sla_deadline=sla_deadline_for(listed, reported_at),
        created_by=actor,
        matters=matters,
        lead_matter_id=matters[0].id,  # the one _place decided the authority by
        caller_name=call.caller_name,
        caller_phone=call.caller_phone,
    )
    try:
        with session.begin_nested():
            session.add(incident)
            session.flush()
    except IntegrityError:
        # The same ticket arrived twice at the same moment: the other request stored it.
        existing = _by_external_id(session, source, external_id)
        if existing is None:
            raise
        return Intake(existing, False, [], 0)
    event = record(
        session,
        actor=actor,
        action="incident.created",
        entity_type="incident",
        entity_id=incident.id,
        incident_id=incident.id,
        location=point,
        data={
            "source": source,
            "external_id": external_id,
            "matters": [m.code for m in matters],
            "priority": incident.priority,
            "sla_deadline": incident.sla_deadline.isoformat(),
            "region": region.code,
            "zone": zone.code if zone else None,
            "authority": authority.code,
        },
    )
    duplicates, total = possible_duplicates(session, incident, config)
    publish_after_commit(session, "incident", incident_summary(incident), rev=event.id)
    return Intake(incident, True, duplicates, total, placed)


def _by_external_id(session: Session, source: str, external_id: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.source == source, Incident.external_id == external_id))


def possible_duplicates(session: Session, incident: Incident, config: dict) -> tuple[list[dict], int]:
    """Open incidents sharing a matter, within the radius and the time window of this one:
    the nearest ``DUPLICATE_LIMIT`` of them, and how many there are in all (a market that
    draws a call an hour must not hand the dispatcher hundreds)."""
    point = to_shape(incident.location)
    return duplicates_near(
        session, point.x, point.y, [m.id for m in incident.matters], incident.reported_at, incident.id, config
    )


def duplicates_near(
    session: Session,
    lon: float,
    lat: float,
    matter_ids: list[int],
    reported_at: dt.datetime,
    exclude_id: int | None,
    config: dict,
) -> tuple[list[dict], int]:
    """``possible_duplicates`` of a call at (lon, lat) with these matters (filed or not yet)."""
    rows = session.execute(
        text(f"""
        SELECT i.id, ST_Distance(i.location, CAST(:here AS geography)) AS distance, i.reported_at, i.status,
               array_agg(m.code ORDER BY m.code) AS shared, count(*) OVER () AS total
        FROM incident i
        JOIN incident_matter im ON im.incident_id = i.id AND im.matter_id = ANY(CAST(:matters AS integer[]))
        JOIN matter m ON m.id = im.matter_id
        WHERE i.id IS DISTINCT FROM CAST(:id AS integer) AND i.status IN {sql_list(QUEUE_STATUSES)}
          AND ST_DWithin(i.location, CAST(:here AS geography), :radius)
          AND i.reported_at BETWEEN CAST(:at AS timestamptz) - make_interval(secs => :window)
                                AND CAST(:at AS timestamptz) + make_interval(secs => :window)
        GROUP BY i.id, distance, i.reported_at, i.status
        ORDER BY distance, i.id
        LIMIT :limit
    """),
        {
            "id": exclude_id,
            "here": f"SRID=4326;POINT({lon} {lat})",
            "matters": matter_ids,
            "at": reported_at,
            "radius": config["DUPLICATE_RADIUS_M"],
            "window": config["DUPLICATE_WINDOW_HOURS"] * 3600,
            "limit": config["DUPLICATE_LIMIT"],
        },
    ).all()
    shown = [
        {
            "id": r.id,
            "distance_m": round(r.distance),
            "reported_at": r.reported_at.isoformat(),
            "status": r.status,
            "shared_matters": list(r.shared),
        }
        for r in rows
    ]
    return shown, rows[0].total if rows else 0


def get_incident(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    query = (
        select(Incident)
        .where(Incident.id == incident_id)
        .options(selectinload(Incident.matters), selectinload(Incident.tasks).selectinload(Task.squad))
    )
    if lock:
        query = query.with_for_update(of=Incident)
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {incident_id}", field="incident_id")
    return incident


def mark_duplicate(session: Session, incident_id: int, original_id: int, *, actor: str) -> Incident:
    """Mark ``incident_id`` a duplicate of ``original_id``; both stay on the record.

    The duplicate cascade: its assigned tasks are cancelled (the original carries the work).
    """
    if incident_id == original_id:
        raise ApiError("an incident cannot duplicate itself", field="of", status=422, code="self_duplicate")
    first, second = sorted((incident_id, original_id))
    locked = {i: get_incident(session, i, lock=True) for i in (first, second)}  # one lock order
    incident, original = locked[incident_id], locked[original_id]
    if original.status == "duplicate":
        raise Conflict(
            f"incident {original_id} is itself a duplicate of {original.duplicate_of_id}; "
            f"mark it a duplicate of that one",
            field="of",
            code="duplicate_chain",
        )
    if incident.status == "duplicate":
        if incident.duplicate_of_id == original_id:
            return incident
        raise Conflict(
            f"incident {incident_id} is already a duplicate of {incident.duplicate_of_id}", code="already_duplicate"
        )
    if incident.status in CLOSED_STATUSES:
        raise Conflict(f"incident {incident_id} is {incident.status}", code="incident_closed")
    previous = incident.status
    cancel_for_incident(session, incident, actor=actor, reason=DUPLICATE_REASON.format(original=original_id))
    incident.status = "duplicate"
    incident.duplicate_of_id = original_id
    for subject, data in (
        (incident, {"duplicate_of": original_id, "from": previous}),
        (original, {"duplicate": incident_id}),
    ):
        event = record(
            session,
            actor=actor,
            action="incident.marked_duplicate",
            entity_type="incident",
            entity_id=subject.id,
            incident_id=subject.id,
            data=data,
        )
        if subject is incident:
            publish_after_commit(session, "incident", incident_summary(incident), rev=event.id)
    return incident


def incident_jurisdiction(session: Session, incident: Incident, placed: Jurisdiction | None = None) -> dict | None:
    """The jurisdiction of the incident's place for its lead matter, as GET /jurisdiction answers it
    (``placed``: as intake has just found it, for a new incident)."""
    point = to_shape(incident.location)
    if placed is not None:
        return with_covering_squads(session, placed, point.x, point.y).to_json()
    try:
        return jurisdiction_at(session, point.x, point.y, lead_matter(incident).code).to_json()
    except NotFound:
        return None  # at sea: the incident belongs to the county, no township answers


def lead_matter(incident: Incident) -> Matter:
    """The matter the incident was filed under first: its authority is that matter's."""
    return ordered_matters(incident)[0]


def open_queue(
    session: Session, *, status: list[str] | None = None, limit: int = 200, regions: frozenset[int] | None = None
) -> list[Incident]:
    """Open incidents, most urgent first, then by SLA deadline; only in ``regions`` when given (a scope)."""
    statuses = status or list(OPEN_STATUSES)
    query = select(Incident).where(Incident.status.in_(statuses))
    if regions is not None:
        query = query.where(Incident.region_id.in_(regions))
    return list(
        session.scalars(
            query.options(
                selectinload(Incident.matters),
                selectinload(Incident.region),
                selectinload(Incident.zone),
                selectinload(Incident.authority),
                selectinload(Incident.tasks).selectinload(Task.squad),
            )
            .order_by(Incident.priority, Incident.sla_deadline, Incident.id)
            .limit(limit)
        )
    )
