"""Tasks: dispatching squads, moving tasks through their lifecycle, and what follows.

The states, the allowed moves and what follows from a move (the squad's and the
incident's status) are ``dispatch.states``; this module applies them with the record,
the outbox and the live updates in the same transaction.

``dispatch`` is the hot path (guarded by ``make bench``: bench/realtime.py, dispatch ->
tablet latency): raw SQL in two round trips, which a test checks writes the same record,
outbox rows and statuses as the general path (``assign``) for the same change.

Locks are always taken in one order: incident, squads (by id), task. Two
dispatchers sending the same squad at the same moment therefore queue on the
squad's row, and the second sees it busy (409). A partial unique index on
``task`` is the database's own guard behind that.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import psycopg
from geoalchemy2.shape import from_shape
from psycopg.rows import namedtuple_row
from shapely import Point
from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import Session, object_session, selectinload

from dispatch import states
from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.live.bus import deliver, publish_after_commit
from dispatch.outbox import enqueue_task_message, message_body
from dispatch.recommend import region_chain
from dispatch.record import record
from dispatch.scope import covered_regions, principal_of, require_squads
from dispatch.shapes import incident_summary, point, summary_shape, task_json
from dispatch.states import ASSIGNED, BLOCKING_STATES, OPEN_STATUSES, TERMINAL, TIMESTAMP_OF, TRANSITIONS
from dispatch.store.db import driver_sql, pipelined_transaction
from dispatch.store.models import (
    CERTIFIED_OFFICER_SQL,
    CERTIFIED_ON_DUTY_SQL,
    INCIDENT_MATTERS_ORDER_SQL,
    Incident,
    InspectionRequest,
    JointInspection,
    Region,
    Squad,
    Task,
    TaskAction,
)
from gis import clock
from gis.clock import local_day


def blocks_squad(task: Task) -> bool:
    """Whether the task holds its squad (the rule of the unique index in the schema)."""
    return states.holds_squad(task.kind, task.state)


def has_certified_officer(squad: Squad, day: dt.date, now: dt.datetime | None = None) -> bool:
    """Seed 002 task 5: only certified officers enforce; auxiliaries are never sent alone. On duty
    by the roster at ``now`` where one exists, the certificate neither suspended nor revoked: the
    one SQL rule (models.CERTIFIED_ON_DUTY_SQL)."""
    session = object_session(squad)
    return bool(
        session.execute(
            text(f"SELECT {CERTIFIED_ON_DUTY_SQL} FROM squad s WHERE s.id = :id"),
            {"id": squad.id, "today": day, "now": now or clock.utc_now()},
        ).scalar()
    )


def lock_squads(session: Session, squad_ids: list[int], field: str = "squad_ids") -> list[Squad]:
    squads = list(
        session.scalars(
            select(Squad)
            .where(Squad.id.in_(squad_ids))
            .order_by(Squad.id)
            .options(selectinload(Squad.officers))
            .with_for_update(of=Squad)
            .execution_options(populate_existing=True)  # a locked read decides on the row as it is now
        )
    )
    missing = sorted(set(squad_ids) - {s.id for s in squads})
    if missing:
        raise NotFound(f"no squad {', '.join(map(str, missing))}", field=field)
    return squads


# -- dispatch: the hot path, a few set-based statements instead of the ORM's unit of work ---------

# The root of a region's tree (the county, or a city without counties): a squad is sent only
# within its own (issue 25), unless an assistance request for the incident asks its county.
_ROOT_OF = """WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM region WHERE id = {region}
        UNION ALL SELECT r.id, r.parent_id FROM region r JOIN up ON r.id = up.parent_id
    ) SELECT id FROM up WHERE parent_id IS NULL"""
# Assistance requests of the incident that ask an authority of another county (root region).
_ASSISTED_ROOTS_SQL = """
    SELECT DISTINCT ({root}) FROM assistance_request a JOIN authority au ON au.id = a.to_authority_id
    WHERE a.incident_id = %(incident)s AND a.status <> 'withdrawn'""".format(
    root=_ROOT_OF.format(region="au.region_id")
)
# The incident, locked first (the lock order is incident, squads, task), with what the checks
# and the command centre's summary need.
_LOCK_INCIDENT = text(f"""
    SELECT i.id, i.status, i.priority, ST_X(i.location::geometry) AS lon, ST_Y(i.location::geometry) AS lat,
           i.sla_deadline, i.description, i.dispatched_at, r.name_zh AS region, i.region_id,
           ({_ROOT_OF.format(region="i.region_id")}) AS root_region_id,
           ARRAY(SELECT m.code FROM incident_matter im JOIN matter m ON m.id = im.matter_id
                 WHERE im.incident_id = i.id ORDER BY {INCIDENT_MATTERS_ORDER_SQL}) AS matters,
           ARRAY(SELECT DISTINCT m.domain FROM incident_matter im JOIN matter m ON m.id = im.matter_id
                 WHERE im.incident_id = i.id) AS domains,
           ARRAY(SELECT t.squad_id FROM task t WHERE t.incident_id = i.id
                 AND t.state = ANY(CAST(:assigned AS text[]))) AS assigned
    FROM incident i LEFT JOIN region r ON r.id = i.region_id
    WHERE i.id = :id
    FOR UPDATE OF i""")
# Then the squads, by id; the competence and certificate checks run on what the lock returns.
# Each row also draws its task's id, so that booking and recording are one statement.
# The certified officer is looked for per squad (LATERAL ... LIMIT 1, officer's squad_id
# index): as an EXISTS, the generic plan of our transactions (db._BEGIN) read and hashed
# every certified officer of the county for each dispatch (EXPLAIN ANALYZE with 1,000
# squads: the lock took 0.38 ms that way, 0.07 ms this way).
_LOCK_SQUADS = text(f"""
    SELECT s.id, s.code, s.name_zh, s.status, s.domains, s.message_seq, c.found IS NOT NULL AS certified,
           s.station_region_id, ({_ROOT_OF.format(region="s.station_region_id")}) AS root_region_id,
           nextval(pg_get_serial_sequence('task', 'id')) AS task_id
    FROM squad s
    LEFT JOIN LATERAL (SELECT true AS found FROM officer o
                       WHERE o.squad_id = s.id AND {CERTIFIED_OFFICER_SQL} LIMIT 1) c ON true
    WHERE s.id = ANY(CAST(:ids AS integer[]))
    ORDER BY s.id
    FOR UPDATE OF s""")
# The tasks, the squads' outbox numbers and status, the outbox rows, the incident and the record
# (in the order given): one statement. The partial unique index on task refuses a double booking.
_BOOK = text("""
    WITH booked AS (
        INSERT INTO task (id, kind, incident_id, squad_id, state, reason, created_by, created_at, updated_at)
        SELECT b.task_id, 'response', :incident, b.squad_id, 'dispatched', :note, :actor, :now, :now
        FROM jsonb_to_recordset(CAST(:tasks AS jsonb)) AS b(task_id integer, squad_id integer, seq integer)
        RETURNING 1),
    numbered AS (
        UPDATE squad s SET message_seq = b.seq, status = :squad_status
        FROM jsonb_to_recordset(CAST(:tasks AS jsonb)) AS b(task_id integer, squad_id integer, seq integer)
        WHERE s.id = b.squad_id AND s.id = ANY(CAST(:squad_ids AS integer[]))  -- the index, not a scan of squad
        RETURNING 1),
    messages AS (
        INSERT INTO squad_message (squad_id, seq, event, task_id, payload, last_sent_at, send_count)
        SELECT m.squad_id, m.seq, 'task', m.task_id, m.payload, :now, 1
        FROM jsonb_to_recordset(CAST(:messages AS jsonb)) AS m(squad_id integer, seq integer, task_id integer,
                                                                 payload jsonb)
        RETURNING 1),
    moved AS (
        UPDATE incident SET status = 'dispatched', dispatched_at = coalesce(dispatched_at, :now)
        WHERE id = :incident RETURNING 1),
    recorded AS (
        INSERT INTO event (actor, on_behalf_of, action, entity_type, entity_id, incident_id, squad_id, data)
        SELECT :actor, :on_behalf_of, e.action, e.entity_type, e.entity_id, :incident, e.squad_id, e.data
        FROM jsonb_to_recordset(CAST(:events AS jsonb))
             AS e(n integer, action text, entity_type text, entity_id bigint, squad_id integer, data jsonb)
        ORDER BY e.n
        RETURNING id, action, entity_id)
    SELECT id, action, entity_id FROM recorded""")
# The same statements for the psycopg connection itself (pipeline mode): %(name)s parameters.
_LOCK_INCIDENT_SQL, _LOCK_SQUADS_SQL, _BOOK_SQL = map(driver_sql, (_LOCK_INCIDENT, _LOCK_SQUADS, _BOOK))
# A response task holds its squad from the moment it is dispatched (BLOCKING_STATES).
_DISPATCH_HOLDS_SQUAD = "dispatched" in BLOCKING_STATES["response"]


@dataclass
class _SquadRef:
    id: int
    code: str
    name_zh: str


@dataclass
class _NewTask:
    """A task just dispatched, with the attributes ``task_json`` reads."""

    id: int
    incident_id: int
    squad: _SquadRef
    reason: str | None
    created_by: str
    created_at: dt.datetime
    kind: str = "response"
    state: str = "dispatched"
    joint_inspection_id: int | None = None
    acknowledged_at: dt.datetime | None = None
    en_route_at: dt.datetime | None = None
    on_scene_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None

    @property
    def squad_id(self) -> int:
        return self.squad.id


def dispatch(session: Session, incident_id: int, squad_ids: list[int], *, actor: str, note: str | None = None) -> list:
    """One task per squad, all or nothing, committed; returns the tasks (``task_json`` shapes them).

    The rules and the record of the ORM path in three statements and two round trips to
    PostgreSQL (psycopg's pipeline mode): lock the incident and the squads (by id) in one,
    then book, record and commit in the other. The squad's row lock serialises two
    dispatchers sending it at the same moment: the second sees it busy (409).
    """
    ids = sorted(set(squad_ids))
    now = clock.utc_now()
    principal = principal_of(actor)
    if principal is not None:
        covered_regions(session, principal.region_id)  # read (when not cached) before the transaction's pipeline
    try:
        with (
            pipelined_transaction(session) as tx,
            tx.raw.cursor(row_factory=namedtuple_row) as locked_incident,
            tx.raw.cursor(row_factory=namedtuple_row) as locked_squads,
            tx.raw.cursor() as book,
        ):
            # BEGIN, the incident's lock, then the squads' (the lock order): one round trip.
            with tx.round_trip(reads_only=True):
                locked_incident.execute(_LOCK_INCIDENT_SQL, {"id": incident_id, "assigned": list(ASSIGNED)})
                locked_squads.execute(_LOCK_SQUADS_SQL, {"ids": ids, "today": local_day(now), "now": now})
            incident = locked_incident.fetchone()
            squads = locked_squads.fetchall()
            if incident is None:
                raise NotFound(f"no incident {incident_id}", field="incident_id")
            if incident.status not in OPEN_STATUSES:
                raise Conflict(
                    f"incident {incident_id} is {incident.status}; only open incidents are dispatched",
                    code="incident_closed",
                )
            missing = sorted(set(ids) - {s.id for s in squads})
            if missing:
                raise NotFound(f"no squad {', '.join(map(str, missing))}", field="squad_ids")
            domains = set(incident.domains)
            for squad in squads:
                _check_dispatchable(squad, incident_id, domains, already=set(incident.assigned))
            require_squads(session, actor, squads)
            strangers = [s for s in squads if s.root_region_id != incident.root_region_id]
            if strangers:
                with tx.raw.cursor() as assisted:
                    with tx.round_trip(reads_only=True):
                        assisted.execute(_ASSISTED_ROOTS_SQL, {"incident": incident_id})
                    _check_same_county(session, incident, strangers, {r[0] for r in assisted.fetchall()})
            tasks = [
                _NewTask(
                    id=squad.task_id,
                    incident_id=incident_id,
                    squad=_SquadRef(squad.id, squad.code, squad.name_zh),
                    reason=note,
                    created_by=actor,
                    created_at=now,
                )
                for squad in squads
            ]
            seqs = {squad.id: squad.message_seq + 1 for squad in squads}  # the squad rows are locked
            payloads = {task.id: task_json(task) for task in tasks}
            messages = [
                {
                    "squad_id": t.squad_id,
                    "seq": seqs[t.squad_id],
                    "task_id": t.id,
                    "payload": message_body(seqs[t.squad_id], "dispatched", payloads[t.id]),
                }
                for t in tasks
            ]
            events = _dispatch_events(tasks, incident, note, {s.id: s.status for s in squads})
            # Book, record and COMMIT: the other round trip.
            with tx.round_trip(commit=True):
                book.execute(
                    _BOOK_SQL,
                    {
                        "incident": incident_id,
                        "note": note,
                        "actor": str(actor),
                        "on_behalf_of": getattr(actor, "on_behalf_of", None),
                        "now": now,
                        "squad_status": "busy" if _DISPATCH_HOLDS_SQUAD else "available",
                        "squad_ids": [t.squad_id for t in tasks],
                        "tasks": json.dumps(
                            [{"task_id": t.id, "squad_id": t.squad_id, "seq": seqs[t.squad_id]} for t in tasks]
                        ),
                        "messages": json.dumps(messages, ensure_ascii=False),
                        "events": json.dumps(events, ensure_ascii=False),
                    },
                )
            recorded = book.fetchall()
    except psycopg.IntegrityError:  # the partial unique index: all or nothing, so nothing is kept
        session.rollback()
        raise Conflict(
            "a squad was booked by another dispatch at the same moment", field="squad_ids", code="squad_unavailable"
        ) from None
    # Committed: the tablets first (the session's commit below sends the command centre's updates).
    deliver([(task.squad_id, message["payload"]) for task, message in zip(tasks, messages, strict=True)])
    revs = {(action, entity_id): event_id for event_id, action, entity_id in recorded}
    for task in tasks:
        publish_after_commit(session, "task", payloads[task.id], rev=revs[("task.dispatched", task.id)])
        if _DISPATCH_HOLDS_SQUAD:
            publish_after_commit(
                session,
                "squad",
                {"id": task.squad_id, "status": "busy", "status_since": now.isoformat()},
                rev=revs[("squad.status", task.squad_id)],
            )
    if incident.status != "dispatched":
        summary = summary_shape(
            id=incident_id,
            status="dispatched",
            priority=incident.priority,
            location=point(incident.lon, incident.lat),
            sla_deadline=incident.sla_deadline,
            matters=list(incident.matters),
            description=incident.description,
            region=incident.region,
        )
        publish_after_commit(session, "incident", summary, rev=revs[("incident.status", incident_id)])
    session.commit()  # committed already: this closes the session's transaction and sends the updates
    return tasks


def _dispatch_events(tasks: list[_NewTask], incident, note: str | None, was: dict[int, str]) -> list[dict]:
    """The record of a dispatch, in the order it has always been written: each task and its
    squad's status, then the incident's status."""
    events: list[dict] = []
    for task in tasks:
        events.append(
            {
                "action": "task.dispatched",
                "entity_type": "task",
                "entity_id": task.id,
                "squad_id": task.squad_id,
                "data": {"state": "dispatched", "note": note},
            }
        )
        if _DISPATCH_HOLDS_SQUAD:
            events.append(
                {
                    "action": "squad.status",
                    "entity_type": "squad",
                    "entity_id": task.squad_id,
                    "squad_id": task.squad_id,
                    "data": {"from": was.get(task.squad_id, "available"), "to": "busy"},
                }
            )
    if incident.status != "dispatched":
        events.append(
            {
                "action": "incident.status",
                "entity_type": "incident",
                "entity_id": incident.id,
                "squad_id": None,
                "data": {"from": incident.status, "to": "dispatched"},
            }
        )
    for n, event in enumerate(events):
        event["n"] = n
    return events


def _check_same_county(session: Session, incident, strangers, assisted_roots: set[int]) -> None:
    """409 naming the county: squads serve their own county, unless assistance was asked of theirs."""
    for squad in strangers:
        if squad.root_region_id in assisted_roots:
            continue
        county = session.get(Region, incident.root_region_id)
        theirs = session.get(Region, squad.root_region_id)
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) serves {theirs.name_zh}, not {county.name_zh} where the incident is:"
            f" ask {theirs.name_zh} for assistance first (POST /api/v1/assistance-requests with this incident_id)",
            field="squad_ids",
            code="outside_county",
            details={"squad_id": squad.id, "county": county.code},
        )


def _check_dispatchable(squad, incident_id: int, domains: set[str], already: set[int]) -> None:
    """409 naming the squad when it may not take this incident (busy, incompetent, uncertified)."""
    if squad.id in already:
        raise Conflict(
            f"squad {squad.id} already has a task for incident {incident_id}",
            field="squad_ids",
            code="already_assigned",
        )
    if squad.status not in states.DISPATCHABLE_SQUAD_STATUSES:
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) is {squad.status}",
            field="squad_ids",
            code="squad_unavailable",
            details={"squad_id": squad.id},
        )
    if not domains & set(squad.domains):
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) is not competent for {', '.join(sorted(domains))}",
            field="squad_ids",
            code="squad_not_competent",
            details={"squad_id": squad.id},
        )
    if not squad.certified:
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) has no certified officer on duty (auxiliaries are never sent alone)",
            field="squad_ids",
            code="no_certified_officer",
            details={"squad_id": squad.id},
        )


def assign(
    session: Session,
    *,
    incident: Incident | None,
    squad: Squad,
    kind: str,
    state: str,
    actor: str,
    note: str | None = None,
    joint: JointInspection | None = None,
    data: dict | None = None,
) -> Task:
    """A new task, the general way (the ORM): the task, its record (``task.<state>``), the squad's
    message (outbox) and live update, and the squad's status, which follows its tasks.

    A joint inspection schedules its tasks here. The dispatch hot path (``dispatch``) writes the
    same in SQL; tests/test_tasks.py checks both leave the same record, outbox and statuses.
    """
    task = Task(
        kind=kind, joint_inspection=joint, incident=incident, squad=squad, state=state, reason=note, created_by=actor
    )
    session.add(task)
    session.flush()
    event = record(
        session,
        actor=actor,
        action=f"task.{state}",
        entity_type="task",
        entity_id=task.id,
        joint_inspection_id=task.joint_inspection_id,
        incident_id=task.incident_id,
        squad_id=squad.id,
        data=data if data is not None else {"state": state, "note": note},
    )
    announce_task(session, task, state, event.id)
    _follow_squad(session, squad, actor=actor, incident_id=task.incident_id)
    return task


def announce_task(session: Session, task: Task, action: str, rev: int) -> None:
    """Tell the squad's tablets (through the outbox) and the command centre about ``task``."""
    data = task_json(task)
    enqueue_task_message(session, task, action, data)
    publish_after_commit(session, "task", data, rev=rev)


def get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}", field="task_id")
    return task


def transition(
    session: Session,
    task_id: int,
    to: str,
    *,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    location: Point | None = None,
    occurred_at: dt.datetime | None = None,
    sent_at: dt.datetime | None = None,
    max_ahead: dt.timedelta = dt.timedelta(minutes=5),
) -> Task:
    """Move a task to state ``to``; 409 naming the allowed states when it may not.

    ``occurred_at``: when the squad did it (a tablet's tap, perhaps offline long before it synced):
    the task's time of that state and the record's ``occurred_at`` are that time; 422 naming the
    field when it lies before the task existed or more than ``max_ahead`` ahead of the server.
    ``sent_at``: the device's clock when it sent the request: a clock off by more than
    CLOCK_TOLERANCE is corrected by that offset, and the record says so (``clock_offset_s``)."""
    if to not in TRANSITIONS:
        raise ApiError(f"unknown state {to!r}; states are {', '.join(TRANSITIONS)}", field="to")
    snapshot = get_task(session, task_id)
    incident = _lock_incident(session, snapshot.incident_id)
    joint = _lock_joint(session, snapshot.joint_inspection_id)
    squad = lock_squads(session, [snapshot.squad_id], field="task_id")[0]
    task = session.scalar(
        select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
    )
    allowed = TRANSITIONS[task.state]
    if to not in allowed:
        raise Conflict(
            f"a {task.state} task cannot become {to}",
            field="to",
            code="illegal_transition",
            details={"state": task.state, "allowed": list(allowed)},
        )
    if to == "declined" and not reason:
        raise ApiError("a reason is required to decline", field="reason", status=422, code="reason_required")
    if to == "cancelled" and not reason:
        reason = "cancelled by the dispatcher"
    now = dt.datetime.now(dt.UTC)
    at, offset = _field_time(occurred_at, sent_at, task, now, max_ahead)  # judged before anything changes
    previous = task.state
    task.state = to
    if blocks_squad(task):
        others = session.scalar(
            select(Task.id)
            .where(Task.squad_id == squad.id, Task.id != task.id, Task.state.in_(ASSIGNED))
            .limit(1)
            .where(_blocking_clause())
        )
        if others is not None:
            task.state = previous
            raise Conflict(
                f"squad {squad.id} is busy with task {others}", code="squad_busy", details={"task_id": others}
            )
    task.updated_at = now
    if to in TIMESTAMP_OF:
        setattr(task, TIMESTAMP_OF[to], at)
    if to in TERMINAL:
        task.closed_at = at
    if reason:
        task.reason = reason
    event = record(
        session,
        actor=actor,
        action="task.transition",
        entity_type="task",
        entity_id=task.id,
        incident_id=task.incident_id,
        joint_inspection_id=task.joint_inspection_id,
        squad_id=squad.id,
        location=location,
        data={"from": previous, "to": to, "reason": reason, "note": note}
        | ({"clock_offset_s": round(offset.total_seconds(), 1)} if offset else {}),
        occurred_at=at if occurred_at is not None else None,
    )
    announce_task(session, task, to, event.id)
    if location is not None and (squad.last_position_at is None or at >= squad.last_position_at):
        squad.last_position = from_shape(location, srid=4326)
        squad.last_position_at = at
    _follow_squad(session, squad, actor=actor, incident_id=task.incident_id)
    if incident is not None:
        if to == "on_scene" and (incident.on_scene_at is None or at < incident.on_scene_at):
            incident.on_scene_at = at
        follow_incident(session, incident, actor=actor, at=at)
    if joint is not None:
        _follow_joint(session, joint, actor=actor)
    return task


CLOCK_TOLERANCE = dt.timedelta(seconds=2)  # a device clock this close to the server's is believed


def _field_time(
    occurred_at: dt.datetime | None,
    sent_at: dt.datetime | None,
    task: Task,
    now: dt.datetime,
    max_ahead: dt.timedelta,
) -> tuple[dt.datetime, dt.timedelta | None]:
    """When a squad's action happened, by its device, and the device clock's correction (None:
    none). Judged against the task and the server: 422 naming ``occurred_at`` when impossible."""
    if occurred_at is None:
        return now, None
    offset = None
    if sent_at is not None and abs(now - sent_at) > CLOCK_TOLERANCE:
        offset = now - sent_at  # the device's clock is off: its times are moved by as much
        occurred_at = occurred_at + offset
    if occurred_at > now + max_ahead:
        raise ApiError(
            f"lies {(occurred_at - now).total_seconds():.0f} s ahead of the server's clock (the tablet's clock is wrong)",
            field="occurred_at",
            status=422,
            code="time_in_future",
        )
    occurred_at = min(occurred_at, now)  # ahead within the tolerance: a clock a little fast; it happened by now
    if task.created_at is not None and occurred_at < task.created_at - CLOCK_TOLERANCE:
        raise ApiError(
            f"lies before the task existed ({task.created_at.isoformat()})",
            field="occurred_at",
            status=422,
            code="before_task",
        )
    return max(occurred_at, task.created_at) if task.created_at is not None else occurred_at, offset


def cancel_for_incident(session: Session, incident: Incident, *, actor: str, reason: str) -> None:
    """Cancel every assigned task of an incident (it became a duplicate, or was withdrawn)."""
    for task in incident.tasks:
        if task.state in ASSIGNED:
            transition(session, task.id, "cancelled", actor=actor, reason=reason)


def _blocking_clause():
    return or_(*(and_(Task.kind == kind, Task.state.in_(states)) for kind, states in BLOCKING_STATES.items()))


def _lock_incident(session: Session, incident_id: int | None) -> Incident | None:
    if incident_id is None:
        return None
    return session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update().execution_options(populate_existing=True)
    )


def _lock_joint(session: Session, joint_id: int | None) -> JointInspection | None:
    if joint_id is None:
        return None
    return session.scalar(
        select(JointInspection)
        .where(JointInspection.id == joint_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _follow_squad(session: Session, squad: Squad, *, actor: str, incident_id: int | None) -> None:
    """The squad's status follows its tasks: busy while one holds it, available after."""
    session.flush()
    busy = session.scalar(select(Task.id).where(Task.squad_id == squad.id, _blocking_clause()).limit(1))
    new = states.squad_status_after(squad.status, holds_a_task=busy is not None)
    if new != squad.status:
        old, squad.status = squad.status, new
        event = record(
            session,
            actor=actor,
            action="squad.status",
            entity_type="squad",
            entity_id=squad.id,
            incident_id=incident_id,
            squad_id=squad.id,
            data={"from": old, "to": new},
        )
        since = dt.datetime.now(dt.UTC).isoformat()
        publish_after_commit(session, "squad", {"id": squad.id, "status": new, "status_since": since}, rev=event.id)


def follow_incident(session: Session, incident: Incident, *, actor: str, at: dt.datetime | None = None) -> None:
    """The incident's status follows its tasks (``states.incident_status_after``); ``at``: when the
    task's move happened (in the field), the time of a resolution it brings."""
    if incident.status in states.SET_BY_HAND:
        return  # nothing to read: its tasks no longer decide
    session.flush()
    task_states = set(session.scalars(select(Task.state).where(Task.incident_id == incident.id)))
    new = states.incident_status_after(incident.status, task_states)
    if new != incident.status:
        old, incident.status = incident.status, new
        if new == "dispatched" and incident.dispatched_at is None:
            incident.dispatched_at = dt.datetime.now(dt.UTC)
        if new == "resolved":
            incident.resolved_at = at or dt.datetime.now(dt.UTC)
        event = record(
            session,
            actor=actor,
            action="incident.status",
            entity_type="incident",
            entity_id=incident.id,
            incident_id=incident.id,
            data={"from": old, "to": new},
        )
        publish_after_commit(session, "incident", incident_summary(incident), rev=event.id)


def _follow_joint(session: Session, joint: JointInspection, *, actor: str) -> None:
    """A joint inspection completes when its tasks are done; its merged requests with it."""
    session.flush()
    task_states = set(session.scalars(select(Task.state).where(Task.joint_inspection_id == joint.id)))
    new = states.joint_status_after(joint.status, task_states)
    if new == joint.status:
        return
    joint.status = new
    for request in session.scalars(select(InspectionRequest).where(InspectionRequest.joint_inspection_id == joint.id)):
        request.status = "done" if new == "completed" else "pending"
        if new == "cancelled":
            request.joint_inspection_id = None
    record(
        session,
        actor=actor,
        action=f"joint_inspection.{new}",
        entity_type="joint_inspection",
        entity_id=joint.id,
        joint_inspection_id=joint.id,
        incident_id=joint.incident_id,
        data={"status": new},
    )


def reassign(
    session: Session, task_id: int, squad_id: int, *, actor: str, note: str | None = None
) -> tuple[Task, Task]:
    """Send another squad in place of a task's squad, atomically: the old task is cancelled with
    ``superseded_by`` the new one, which is dispatched (its tablet told, the squad booked), in
    one transaction; one record entry each. 409 when the task is no longer held or the new
    squad may not go (the dispatch rules: busy, incompetent, uncertified, another county)."""
    old = get_task(session, task_id)
    if old.incident_id is None:
        raise Conflict("a joint inspection's task is rescheduled, not reassigned", code="illegal_action",
                       details={"allowed": []})  # fmt: skip
    incident = _lock_incident(session, old.incident_id)
    if old.state not in ASSIGNED or incident.status not in OPEN_STATUSES:
        raise Conflict(
            f"task {task_id} is {old.state} (incident {incident.id} {incident.status}): only a task its squad "
            "still holds, of an incident in hand, is reassigned",
            code="illegal_action",
            details={"state": old.state, "allowed": list(states.task_actions(old.state, incident.status))},
        )
    if squad_id == old.squad_id:
        raise ApiError("the task's own squad: choose another", field="squad_id", status=422, code="same_squad")
    squads = lock_squads(session, sorted({old.squad_id, squad_id}), field="squad_id")
    new_squad = next(s for s in squads if s.id == squad_id)
    _check_reassignable(session, incident, new_squad, actor)
    task = session.scalar(
        select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
    )
    reason = f"reassigned to squad {new_squad.id} ({new_squad.name_zh})" + (f": {note}" if note else "")
    # The new task first, so the old one can point at it; the old squad is freed in the same flush.
    now = dt.datetime.now(dt.UTC)
    previous = task.state
    task.state, task.reason, task.updated_at, task.closed_at = "cancelled", reason, now, now
    session.flush()
    new = assign(
        session,
        incident=incident,
        squad=new_squad,
        kind="response",
        state="dispatched",
        actor=actor,
        note=note,
        data={"state": "dispatched", "note": note, "replaces": task.id},
    )
    task.superseded_by_id = new.id
    event = record(
        session,
        actor=actor,
        action="task.superseded",
        entity_type="task",
        entity_id=task.id,
        incident_id=task.incident_id,
        squad_id=task.squad_id,
        data={"from": previous, "to": "cancelled", "superseded_by": new.id, "squad_id": new_squad.id,
              "reason": reason},
    )  # fmt: skip
    announce_task(session, task, "cancelled", event.id)
    old_squad = next(s for s in squads if s.id == task.squad_id)
    _follow_squad(session, old_squad, actor=actor, incident_id=task.incident_id)
    follow_incident(session, incident, actor=actor)
    return task, new


def _check_reassignable(session: Session, incident: Incident, squad: Squad, actor: str) -> None:
    """The dispatch rules for one squad, on the ORM objects (``_check_dispatchable``'s)."""
    require_squads(session, actor, [squad])
    domains = {m.domain for m in incident.matters}
    already = {t.squad_id for t in incident.tasks if t.state in ASSIGNED}
    today = local_day()
    row = _SquadCheck(squad.id, squad.name_zh, squad.status, list(squad.domains), has_certified_officer(squad, today))
    _check_dispatchable(row, incident.id, domains, already)
    chain_root = region_chain(session, incident.region_id)[-1] if incident.region_id is not None else None
    squad_root = region_chain(session, squad.station_region_id)[-1]
    if chain_root != squad_root:
        assisted = session.connection().exec_driver_sql(_ASSISTED_ROOTS_SQL, {"incident": incident.id})
        probe = _SquadRoot(squad.id, squad.name_zh, squad_root)
        _check_same_county(session, _IncidentRoot(chain_root), [probe], {r[0] for r in assisted})


@dataclass
class _SquadCheck:
    id: int
    name_zh: str
    status: str
    domains: list[str]
    certified: bool


@dataclass
class _SquadRoot:
    id: int
    name_zh: str
    root_region_id: int


@dataclass
class _IncidentRoot:
    root_region_id: int


def act_once(session: Session, action_id: str | None, task_id: int, actor: str, act) -> tuple[dict, bool]:
    """Run ``act()`` (returning the answer's body) once per tablet ``action_id``: a retry whose
    answer was lost gets the first answer (and ``True``: a repeat). Concurrent copies of one action
    queue on an advisory lock of its id. Refusals are not kept: retried, they are judged again."""
    if action_id is None:
        return act(), False
    key = uuid.UUID(action_id)
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:id, 0))"), {"id": str(key)})
    done = session.get(TaskAction, key)
    if done is not None:
        if done.task_id != task_id:
            raise ApiError(
                f"action {action_id} was an action on task {done.task_id}: a new action needs a new id",
                field="action_id",
                status=422,
                code="action_id_reused",
            )
        return done.answer, True
    answer = act()
    session.add(TaskAction(action_id=key, task_id=task_id, actor=str(actor), status=200, answer=answer))
    session.flush()
    return answer, False


def keep_refused_note(
    session: Session, task_id: int, note: str, *, to: str, actor: str, occurred_at: dt.datetime | None
) -> None:
    """A squad's step was refused (the task moved on meanwhile) but its note is kept on the record,
    for the dispatcher: ``task.note`` with the step it came with."""
    task = get_task(session, task_id)
    record(
        session,
        actor=actor,
        action="task.note",
        entity_type="task",
        entity_id=task.id,
        incident_id=task.incident_id,
        joint_inspection_id=task.joint_inspection_id,
        squad_id=task.squad_id,
        data={"note": note, "with_refused_step": to, "state": task.state},
        occurred_at=occurred_at if occurred_at is not None and occurred_at <= dt.datetime.now(dt.UTC) else None,
    )
