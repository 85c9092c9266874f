"""The full-process record (全过程记录, seed 001 §4.2; seed 002 task 4).

Every state change writes an ``Event`` row in the same transaction as the
change. Live updates for the command centre are queued with
``dispatch.live.bus.publish_after_commit`` and go out only after the transaction
commits, so a screen never shows a change the database does not hold.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.shapes import point_json
from dispatch.store.models import Event


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
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Append one event to the record (flushed with the caller's transaction). ``occurred_at``:
    when it happened in the field, if not now (the server stamps ``recorded_at`` itself)."""
    row = Event(
        actor=str(actor),
        on_behalf_of=getattr(actor, "on_behalf_of", None),  # a dispatch.scope.Actor says for whom
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        incident_id=incident_id,
        joint_inspection_id=joint_inspection_id,
        squad_id=squad_id,
        location=from_shape(location, srid=4326) if location is not None else None,
        data=data or {},
    )
    if occurred_at is not None:
        row.occurred_at = occurred_at
    session.add(row)
    session.flush()  # the id orders the record and versions live updates
    return row


def events_of_incident(session: Session, incident_id: int) -> list[Event]:
    """The record of an incident in order: its own events, its tasks' and joint inspections'."""
    return list(session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.id)))


def event_json(row: Event) -> dict:
    return {
        "id": row.id,
        "occurred_at": row.occurred_at.isoformat() if isinstance(row.occurred_at, dt.datetime) else None,
        # when the server wrote it (None for events written before the field time was kept: the same)
        "recorded_at": row.recorded_at.isoformat() if isinstance(row.recorded_at, dt.datetime) else None,
        "actor": row.actor,
        "on_behalf_of": row.on_behalf_of,
        "action": row.action,
        "entity": {"type": row.entity_type, "id": row.entity_id},
        "incident_id": row.incident_id,
        "joint_inspection_id": row.joint_inspection_id,
        "squad_id": row.squad_id,
        "location": point_json(row.location),
        "data": row.data,
    }
