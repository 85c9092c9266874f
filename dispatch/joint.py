"""Joint inspections: "inspect once" (综合查一次, seed 001 §3.2; seed 003 art. 7).

Departments file pending inspection requests for targets (a registered
business, or a place). When several are pending for the same target (the same
unified social credit code, or within ``JOINT_RADIUS_M``) with overlapping
windows, or when an open incident's matter needs several forces, the server
proposes one joint inspection: target, forces, a lead squad, one time slot and
the visits it replaces. Creating it schedules a task for every participating
squad and records the merge; ``visits_replaced - 1`` visits are avoided.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.incidents import get_incident
from dispatch.jurisdiction import region_at
from dispatch.recommend import recommend_at
from dispatch.record import record
from dispatch.scope import located_in, principal_of, require_region, require_squads
from dispatch.shapes import iso, point_json, task_json
from dispatch.states import OPEN_STATUSES
from dispatch.store.models import DOMAINS, Authority, Incident, InspectionRequest, JointInspection, Task
from dispatch.tasks import assign, follow_incident, has_certified_officer, lock_squads
from dispatch.validation import (
    check_fields,
    id_list,
    optional_id,
    optional_text,
    parse_time,
    required_point,
    required_text,
)
from gis.clock import local_day

SLOT = dt.timedelta(hours=2)
REQUEST_FIELDS = {"authority", "domain", "target", "window", "purpose"}
TARGET_FIELDS = {"name", "business_id", "location"}
JOINT_FIELDS = {
    "target",
    "domains",
    "squad_ids",
    "lead_squad_id",
    "slot",
    "request_ids",
    "incident_id",
    # A proposal is posted as it is: these describe it and are not read back.
    "visits_replaced",
    "squads",
    "reason",
    "uncovered_domains",
}


def _target(body: dict) -> tuple[str, str | None, object]:
    target = body.get("target")
    if not isinstance(target, dict):
        raise ApiError("must be an object {name, business_id?, location}", field="target")
    check_fields(target, TARGET_FIELDS, "target.")
    return (
        required_text(target, "name", 200, "target."),
        optional_text(target, "business_id", 32, "target."),
        required_point(target, "location", "target."),
    )


def _window(body: dict, name: str) -> tuple[dt.datetime, dt.datetime]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise ApiError("must be an object {start, end}", field=name)
    start = parse_time(value.get("start"), f"{name}.start", required=True)
    end = parse_time(value.get("end"), f"{name}.end", required=True)
    if end <= start:
        raise ApiError("must end after it starts", field=f"{name}.end", status=422)
    return start, end


def _require_place(session: Session, actor: str, point) -> None:
    """The target lies in the actor's scope (a township plans the joint inspections of its zone)."""
    principal = principal_of(actor)
    if principal is not None and principal.region_id is not None:
        region = region_at(session, point.x, point.y)
        require_region(session, principal, region.id if region is not None else None, "the target's place")


def create_request(session: Session, body: dict, *, actor: str) -> InspectionRequest:
    """A department's pending inspection of a target."""
    check_fields(body, REQUEST_FIELDS)
    code = required_text(body, "authority", 40)
    authority = session.scalar(select(Authority).where(Authority.code == code))
    if authority is None:
        raise ApiError(f"unknown authority {code!r}", field="authority", status=422)
    domain = body.get("domain") or authority.domain
    if domain not in DOMAINS:
        raise ApiError(f"must be one of {', '.join(DOMAINS)}", field="domain", status=422)
    name, business_id, point = _target(body)
    _require_place(session, actor, point)
    start, end = _window(body, "window")
    request = InspectionRequest(
        authority=authority,
        domain=domain,
        target_name=name,
        target_business_id=business_id,
        location=from_shape(point, srid=4326),
        window_start=start,
        window_end=end,
        purpose=optional_text(body, "purpose", 2000),
        status="pending",
        created_by=actor,
    )
    session.add(request)
    session.flush()
    record(
        session,
        actor=actor,
        action="inspection_request.created",
        entity_type="inspection_request",
        entity_id=request.id,
        location=point,
        data={"authority": code, "domain": domain, "target": name, "business_id": business_id},
    )
    return request


def request_json(request: InspectionRequest) -> dict:
    return {
        "id": request.id,
        "authority": request.authority.code,
        "domain": request.domain,
        "target": {
            "name": request.target_name,
            "business_id": request.target_business_id,
            "location": point_json(request.location),
        },
        "window": {"start": iso(request.window_start), "end": iso(request.window_end)},
        "purpose": request.purpose,
        "status": request.status,
        "joint_inspection_id": request.joint_inspection_id,
    }


# -- proposals ----------------------------------------------------------------------------------


def _groups_of_pending(session: Session, config: dict, now: dt.datetime) -> list[list[InspectionRequest]]:
    """Pending requests of one target with overlapping windows (pairs in SQL, groups by union-find)."""
    horizon = now + dt.timedelta(days=config["JOINT_WINDOW_DAYS"])
    pairs = session.execute(
        text("""
        SELECT a.id, b.id FROM inspection_request a
        JOIN inspection_request b ON a.id < b.id AND b.status = 'pending'
             AND (a.target_business_id = b.target_business_id
                  OR ST_DWithin(a.location, b.location, :radius))
             AND a.window_start < b.window_end AND b.window_start < a.window_end
        WHERE a.status = 'pending' AND a.window_end > :now AND b.window_end > :now
              AND a.window_start < :horizon AND b.window_start < :horizon
    """),
        {"radius": config["JOINT_RADIUS_M"], "now": now, "horizon": horizon},
    ).all()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(find(node), []).append(node)
    requests = {
        r.id: r
        for r in session.scalars(
            select(InspectionRequest)
            .where(InspectionRequest.id.in_(list(parent)))
            .options(selectinload(InspectionRequest.authority))
        )
    }
    out = []
    for ids in groups.values():
        members = sorted((requests[i] for i in ids), key=lambda r: r.window_start)
        # Keep the largest run of requests whose windows share a common slot.
        while len(members) > 1 and max(r.window_start for r in members) >= min(r.window_end for r in members):
            members.pop()
        if len(members) > 1:
            out.append(members)
    return out


def _slot(starts: list[dt.datetime], ends: list[dt.datetime], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The first two hours (or less) common to every window, not in the past."""
    start = max([*starts, now.replace(second=0, microsecond=0)])
    end = min([*ends, start + SLOT])
    return start, end


def _choose_squads(session: Session, lon: float, lat: float, domains: list[str], now: dt.datetime) -> list[dict]:
    """The quickest eligible squad of each force, for a scheduled visit."""
    region = region_at(session, lon, lat)
    if region is None:
        return []
    chosen: dict[int, dict] = {}
    for domain in domains:
        result = recommend_at(
            session,
            lon,
            lat,
            region_id=region.id,
            zone_id=None,
            domains=[domain],
            limit=1,
            now=now,
            require_available=False,
        )
        for rec in result["recommendations"]:
            chosen.setdefault(
                rec["squad"]["id"], {"squad": rec["squad"], "eta_seconds": rec["eta_seconds"], "domains": []}
            )["domains"].append(domain)
    return list(chosen.values())


def _lead(choices: list[dict]) -> int | None:
    """The comprehensive force leads when it takes part; else the quickest squad."""
    if not choices:
        return None
    comprehensive = [c for c in choices if "comprehensive" in c["domains"]]
    return (comprehensive or sorted(choices, key=lambda c: c["eta_seconds"]))[0]["squad"]["id"]


def proposals(session: Session, config: dict, now: dt.datetime | None = None) -> list[dict]:
    """Joint inspections the server proposes now, each in the shape POST /joint-inspections takes."""
    now = now or dt.datetime.now(dt.UTC)
    out = []
    for members in _groups_of_pending(session, config, now):
        point = to_shape(members[0].location)
        domains = sorted({r.domain for r in members})
        choices = _choose_squads(session, point.x, point.y, domains, now)
        start, end = _slot([r.window_start for r in members], [r.window_end for r in members], now)
        out.append(
            _proposal(
                "pending_requests",
                members[0].target_name,
                next((r.target_business_id for r in members if r.target_business_id), None),
                point,
                domains,
                choices,
                start,
                end,
                request_ids=[r.id for r in members],
                incident_id=None,
                visits_replaced=len(members),
            )
        )
    for incident in session.scalars(
        select(Incident)
        .where(Incident.status == "open")
        .options(selectinload(Incident.matters), selectinload(Incident.tasks))
        .order_by(Incident.priority, Incident.id)
    ):
        domains = sorted({m.domain for m in incident.matters} | {d for m in incident.matters for d in m.joint_domains})
        if len(domains) < 2 or any(t.state != "declined" and t.state != "cancelled" for t in incident.tasks):
            continue
        point = to_shape(incident.location)
        choices = _choose_squads(session, point.x, point.y, domains, now)
        start, end = _slot([now], [now + SLOT], now)
        out.append(
            _proposal(
                "incident_matter",
                incident.address or incident.description[:60],
                None,
                point,
                domains,
                choices,
                start,
                end,
                request_ids=[],
                incident_id=incident.id,
                visits_replaced=len(domains),
            )
        )
    return out


def _proposal(
    reason, name, business_id, point, domains, choices, start, end, *, request_ids, incident_id, visits_replaced
) -> dict:
    covered = {d for c in choices for d in c["domains"]}
    return {
        "reason": reason,
        "target": {
            "name": name,
            "business_id": business_id,
            "location": {"type": "Point", "coordinates": [point.x, point.y]},
        },
        "domains": domains,
        "squad_ids": [c["squad"]["id"] for c in choices],
        "lead_squad_id": _lead(choices),
        "slot": {"start": start.isoformat(), "end": end.isoformat()},
        "request_ids": request_ids,
        "incident_id": incident_id,
        "visits_replaced": visits_replaced,
        "squads": choices,
        "uncovered_domains": sorted(set(domains) - covered),
    }


# -- creation -----------------------------------------------------------------------------------


def create_joint_inspection(session: Session, body: dict, *, actor: str) -> JointInspection:
    """Create a joint inspection (from a proposal or by hand) and schedule a task per squad."""
    check_fields(body, JOINT_FIELDS)
    name, business_id, point = _target(body)
    _require_place(session, actor, point)
    start, end = _window(body, "slot")
    squad_ids = id_list(body, "squad_ids", minimum=1, maximum=20)
    request_ids = id_list(body, "request_ids", minimum=0, maximum=50, required=False)
    incident_id = optional_id(body, "incident_id")
    lead_id = optional_id(body, "lead_squad_id")
    domains = body.get("domains")
    if domains is not None and (not isinstance(domains, list) or any(d not in DOMAINS for d in domains)):
        raise ApiError(f"must be a list of domains: {', '.join(DOMAINS)}", field="domains")

    incident = get_incident(session, incident_id, lock=True) if incident_id else None
    if incident is not None and incident.status not in OPEN_STATUSES:
        raise Conflict(f"incident {incident.id} is {incident.status}", field="incident_id", code="incident_closed")
    requests = list(
        session.scalars(
            select(InspectionRequest)
            .where(InspectionRequest.id.in_(request_ids))
            .order_by(InspectionRequest.id)
            .with_for_update()
        )
    )
    missing = sorted(set(request_ids) - {r.id for r in requests})
    if missing:
        raise NotFound(f"no inspection request {', '.join(map(str, missing))}", field="request_ids")
    for request in requests:
        if request.status != "pending":
            raise Conflict(
                f"inspection request {request.id} is {request.status}"
                + (f" (joint inspection {request.joint_inspection_id})" if request.joint_inspection_id else ""),
                field="request_ids",
                code="request_not_pending",
            )
        if not (request.window_start < end and start < request.window_end):
            raise ApiError(f"the slot lies outside the window of request {request.id}", field="slot", status=422)
    squads = lock_squads(session, squad_ids)
    today = local_day(start)
    require_squads(session, actor, squads)
    for squad in squads:
        if not has_certified_officer(squad, today):
            raise Conflict(
                f"squad {squad.id} has no certified officer on duty", field="squad_ids", code="no_certified_officer"
            )
        if squad.status in ("off_duty", "out_of_service"):
            raise Conflict(f"squad {squad.id} is off duty", field="squad_ids", code="squad_unavailable")
    needed = set(domains or []) | {r.domain for r in requests}
    if incident is not None:
        needed |= {m.domain for m in incident.matters} | {d for m in incident.matters for d in m.joint_domains}
    offered = {d for s in squads for d in s.domains}
    if needed - offered:
        raise ApiError(
            f"no participating squad for {', '.join(sorted(needed - offered))}", field="squad_ids", status=422
        )
    visits = max(len(requests) + (len(needed) if incident is not None else 0), len(squads))
    if visits < 2:
        raise ApiError(
            "a joint inspection brings together at least two visits (squads or requests)", field="squad_ids", status=422
        )
    lead_id = lead_id or next((s.id for s in squads if "comprehensive" in s.domains), squads[0].id)
    if lead_id not in squad_ids:
        raise ApiError("the lead squad must be one of squad_ids", field="lead_squad_id", status=422)

    joint = JointInspection(
        target_name=name,
        target_business_id=business_id,
        location=from_shape(point, srid=4326),
        domains=sorted(needed or offered),
        lead_squad_id=lead_id,
        slot_start=start,
        slot_end=end,
        status="planned",
        incident=incident,
        visits_replaced=visits,
        created_by=actor,
    )
    session.add(joint)
    session.flush()
    for request in requests:
        request.status = "merged"
        request.joint_inspection_id = joint.id
        record(
            session,
            actor=actor,
            action="inspection_request.merged",
            entity_type="inspection_request",
            entity_id=request.id,
            joint_inspection_id=joint.id,
            data={"joint_inspection_id": joint.id},
        )
    record(
        session,
        actor=actor,
        action="joint_inspection.created",
        entity_type="joint_inspection",
        entity_id=joint.id,
        joint_inspection_id=joint.id,
        incident_id=incident.id if incident else None,
        location=point,
        data={
            "squads": squad_ids,
            "lead_squad_id": lead_id,
            "request_ids": request_ids,
            "visits_replaced": visits,
            "visits_avoided": visits - 1,
            "slot": {"start": start.isoformat(), "end": end.isoformat()},
        },
    )
    for squad in squads:
        assign(
            session,
            incident=incident,
            squad=squad,
            kind="inspection",
            state="scheduled",
            actor=actor,
            joint=joint,
            data={"state": "scheduled", "slot_start": start.isoformat()},
        )
    if incident is not None and incident.status == "open":
        follow_incident(session, incident, actor=actor)
    return joint


_JOINT_LOADS = (
    selectinload(JointInspection.tasks).selectinload(Task.squad),
    selectinload(JointInspection.requests).selectinload(InspectionRequest.authority),
    selectinload(JointInspection.lead_squad),
)


def get_joint(session: Session, joint_id: int) -> JointInspection:
    joint = session.scalar(select(JointInspection).where(JointInspection.id == joint_id).options(*_JOINT_LOADS))
    if joint is None:
        raise NotFound(f"no joint inspection {joint_id}", field="joint_inspection_id")
    return joint


def list_joints(
    session: Session, *, status: str | None = None, limit: int = 200, regions: frozenset[int] | None = None
) -> list[JointInspection]:
    """Joint inspections, newest first (only at places of ``regions`` when given: a scope), in one
    query per relation (no query per row)."""
    query = (
        select(JointInspection)
        .where(located_in(JointInspection.location, regions))
        .options(*_JOINT_LOADS)
        .order_by(JointInspection.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(JointInspection.status == status)
    return list(session.scalars(query))


def joint_json(joint: JointInspection) -> dict:
    return {
        "id": joint.id,
        "target": {
            "name": joint.target_name,
            "business_id": joint.target_business_id,
            "location": point_json(joint.location),
        },
        "domains": list(joint.domains),
        "lead_squad": {"id": joint.lead_squad.id, "name": joint.lead_squad.name_zh},
        "slot": {"start": iso(joint.slot_start), "end": iso(joint.slot_end)},
        "status": joint.status,
        "incident_id": joint.incident_id,
        "visits_replaced": joint.visits_replaced,
        "visits_avoided": joint.visits_replaced - 1,
        "requests": [request_json(r) for r in joint.requests],
        "tasks": [task_json(t) for t in joint.tasks],
        "created_by": joint.created_by,
        "created_at": iso(joint.created_at),
    }


def visits_avoided(session: Session) -> dict:
    """Totals for the metrics: joint inspections held or planned, and visits they avoided."""
    row = session.execute(
        text("""
        SELECT count(*) AS n, coalesce(sum(visits_replaced - 1), 0) AS avoided
        FROM joint_inspection WHERE status <> 'cancelled'
    """)
    ).one()
    return {"joint_inspections": row.n, "visits_avoided": int(row.avoided)}
