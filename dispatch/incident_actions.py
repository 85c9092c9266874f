"""What a dispatcher does to an incident besides sending squads: cancel, close with an outcome,
reopen, undo a duplicate, attach a further call; and which of these a user may do now.

Each act locks the incident, checks its status against ``states.incident_actions`` (409
``illegal_action`` naming what is allowed), changes it, writes one record entry and queues the
command centre's update, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from dispatch import states
from dispatch.accounts import allowed
from dispatch.errors import ApiError, Conflict
from dispatch.incidents import get_incident, read_call
from dispatch.live.bus import publish_after_commit
from dispatch.record import record
from dispatch.shapes import incident_summary
from dispatch.states import ASSIGNED, CLOSE_OUTCOMES
from dispatch.store.models import Incident, Task
from dispatch.tasks import cancel_for_incident, follow_incident

# The permission (dispatch.accounts.PERMISSIONS) each incident action needs besides the state.
ACTION_PERMISSION = {
    "dispatch": "dispatch",
    "joint": "dispatch",
    "cancel": "dispatch",
    "close": "dispatch",
    "reopen": "dispatch",
    "mark_duplicate": "dispatch",
    "undo_duplicate": "dispatch",
    "attach_call": "intake",
    "reassign": "dispatch",
}


def actions_for(role: str | None, incident: Incident) -> list[str]:
    """The incident actions this role may take in the incident's state (the screen shows these)."""
    return [a for a in states.incident_actions(incident.status) if allowed(role, ACTION_PERMISSION[a])]


def task_actions_for(role: str | None, task: Task, incident_status: str | None) -> list[str]:
    return [a for a in states.task_actions(task.state, incident_status) if allowed(role, ACTION_PERMISSION[a])]


def require_action(incident: Incident, action: str) -> None:
    """409 naming the allowed actions when ``action`` is not one of them in the incident's state."""
    allowed_now = states.incident_actions(incident.status)
    if action not in allowed_now:
        raise Conflict(
            f"a {incident.status} incident cannot be {_PAST.get(action, action)}"
            + (f"; allowed: {', '.join(allowed_now)}" if allowed_now else ""),
            code="illegal_action",
            details={"status": incident.status, "action": action, "allowed": list(allowed_now)},
        )


_PAST = {
    "cancel": "cancelled",
    "close": "closed",
    "reopen": "reopened",
    "mark_duplicate": "marked a duplicate",
    "undo_duplicate": "restored from duplicate",
    "attach_call": "given a further call",
    "dispatch": "dispatched",
}


def _reason(value: str | None, field: str = "reason") -> str:
    if value is None or not value.strip():
        raise ApiError("a reason is required", field=field, status=422, code="reason_required")
    return value.strip()


def _changed(session: Session, incident: Incident, action: str, actor: str, data: dict) -> None:
    event = record(
        session,
        actor=actor,
        action=f"incident.{action}",
        entity_type="incident",
        entity_id=incident.id,
        incident_id=incident.id,
        data=data,
    )
    publish_after_commit(session, "incident", incident_summary(incident), rev=event.id)


def cancel(session: Session, incident_id: int, *, reason: str | None, actor: str) -> Incident:
    """Withdraw an incident (a call taken back, a report about another county's matter...): its
    assigned tasks are cancelled with the same reason."""
    reason = _reason(reason)
    incident = get_incident(session, incident_id, lock=True)
    require_action(incident, "cancel")
    previous = incident.status
    incident.status = "cancelled"  # first: the tasks' cancellations leave a hand-set status alone
    incident.cancel_reason = reason
    incident.closed_at = dt.datetime.now(dt.UTC)
    incident.closed_by = str(actor)
    cancel_for_incident(session, incident, actor=actor, reason=f"incident cancelled: {reason}")
    _changed(session, incident, "cancelled", actor, {"from": previous, "reason": reason})
    return incident


def close(session: Session, incident_id: int, *, outcome: str, note: str | None, actor: str) -> Incident:
    """Close with an outcome of the catalogue; refused while a squad still holds a task."""
    if outcome not in CLOSE_OUTCOMES:
        raise ApiError(f"must be one of {', '.join(CLOSE_OUTCOMES)}", field="outcome")
    incident = get_incident(session, incident_id, lock=True)
    require_action(incident, "close")
    holding = [t.id for t in incident.tasks if t.state in ASSIGNED]
    if holding:  # resolved with a task dispatched since: finish or cancel it first
        raise Conflict(
            f"task {', '.join(map(str, holding))} of incident {incident_id} is still assigned: "
            "cancel it or let it finish first",
            code="illegal_action",
            details={"status": incident.status, "action": "close", "allowed": ["cancel"], "tasks": holding},
        )
    previous = incident.status
    incident.status = "closed"
    incident.outcome = outcome
    incident.outcome_note = note.strip() if note and note.strip() else None
    incident.closed_at = dt.datetime.now(dt.UTC)
    incident.closed_by = str(actor)
    _changed(session, incident, "closed", actor, {"from": previous, "outcome": outcome, "note": incident.outcome_note})
    return incident


def reopen(session: Session, incident_id: int, *, reason: str | None, actor: str) -> Incident:
    """Back into the queue (more to do, closed by mistake): open, whatever its tasks did before."""
    reason = _reason(reason)
    incident = get_incident(session, incident_id, lock=True)
    require_action(incident, "reopen")
    previous = incident.status
    incident.status = "open"
    incident.outcome = incident.outcome_note = incident.cancel_reason = None
    incident.closed_at = None
    incident.closed_by = None
    _changed(session, incident, "reopened", actor, {"from": previous, "reason": reason})
    return incident


def undo_duplicate(session: Session, incident_id: int, *, reason: str | None, actor: str) -> Incident:
    """It was not a duplicate after all: back in the queue (its cancelled tasks stay cancelled)."""
    incident = get_incident(session, incident_id, lock=True)
    require_action(incident, "undo_duplicate")
    original = incident.duplicate_of_id
    incident.status = "open"
    incident.duplicate_of_id = None
    follow_incident(session, incident, actor=actor)
    _changed(
        session,
        incident,
        "duplicate_undone",
        actor,
        {"was_duplicate_of": original, "reason": reason.strip() if reason and reason.strip() else None},
    )
    if original is not None:
        record(
            session,
            actor=actor,
            action="incident.duplicate_undone",
            entity_type="incident",
            entity_id=original,
            incident_id=original,
            data={"duplicate": incident_id, "undone": True},
        )
    return incident


def attach_call(session: Session, incident_id: int, body: dict, *, actor: str) -> dict:
    """A further call about an incident in hand: on its record (who called, what they said),
    instead of a new incident that a dispatcher would have to mark a duplicate."""
    incident = get_incident(session, incident_id, lock=True)
    require_action(incident, "attach_call")
    body = {**body, "matters": body.get("matters") or [m.code for m in incident.matters]}
    if body.get("location") is None:
        point = to_shape(incident.location)
        body["location"] = {"type": "Point", "coordinates": [point.x, point.y]}
    call = read_call(session, body)
    data = {
        "source": call.source,
        "external_id": call.external_id,
        "description": call.description,
        "reported_at": call.reported_at.isoformat(),
        "caller": {"name": call.caller_name, "phone": call.caller_phone},
        "matters": [m.code for m in call.matters],
    }
    event = record(
        session,
        actor=actor,
        action="incident.call_attached",
        entity_type="incident",
        entity_id=incident.id,
        incident_id=incident.id,
        location=call.point,
        data=data,
    )
    return {"incident_id": incident.id, "event_id": event.id, **data}
