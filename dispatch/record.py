"""The full-process record (全过程记录, seed 001 §4.2; seed 002 task 4) and what follows a commit.

Every state change writes an ``Event`` row in the same transaction as the
change. Live updates for the command centre are queued on the session and
published only after the transaction commits, so a screen never shows a
change the database does not hold.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import Event

_PENDING = "dispatch_pending_publish"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int,
    incident_id: int | None = None,
    joint_inspection_id: int | None = None,
    squad_id: int | None = None,
    location: Point | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one event to the record (flushed with the caller's transaction)."""
    row = Event(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        incident_id=incident_id,
        joint_inspection_id=joint_inspection_id,
        squad_id=squad_id,
        location=from_shape(location, srid=4326) if location is not None else None,
        data=data or {},
    )
    session.add(row)
    session.flush()  # the id orders the record and versions live updates
    return row


def publish_after_commit(session: Session, kind: str, data: dict, *, rev: int | None = None) -> None:
    """Queue a live update for the command centre; it goes out once the transaction commits.

    ``kind`` is incident, task, squad, position or plan; ``data`` the full state of
    that entity (``data["id"]`` identifies it) and ``rev`` the id of the event that
    changed it, so a screen applies an update only if it is newer than what it has.
    """
    session.info.setdefault(_PENDING, []).append({"type": kind, "id": data["id"], "rev": rev, "data": data})


@sa_event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    from dispatch.outbox import take_pending_deliveries

    updates = session.info.pop(_PENDING, None) or []
    deliveries = take_pending_deliveries(session)
    if not updates and not deliveries:
        return
    from dispatch import realtime

    realtime.deliver(deliveries)  # the tablets first
    for update in updates:
        realtime.publish(update)


@sa_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    from dispatch.outbox import drop_pending_deliveries

    session.info.pop(_PENDING, None)
    drop_pending_deliveries(session)


def events_of_incident(session: Session, incident_id: int) -> list[Event]:
    """The record of an incident in order: its own events, its tasks' and joint inspections'."""
    return list(session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.id)))


def event_json(row: Event) -> dict:
    from dispatch.serializers import point_json

    return {
        "id": row.id,
        "occurred_at": row.occurred_at.isoformat() if isinstance(row.occurred_at, dt.datetime) else None,
        "actor": row.actor,
        "action": row.action,
        "entity": {"type": row.entity_type, "id": row.entity_id},
        "incident_id": row.incident_id,
        "joint_inspection_id": row.joint_inspection_id,
        "squad_id": row.squad_id,
        "location": point_json(row.location),
        "data": row.data,
    }
