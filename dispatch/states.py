"""Every state of an incident and a task, the moves between them, and what follows from a move.

Pure names and decisions: the store's CHECK constraints and partial indexes, the dispatch
hot path's SQL, the lifecycle in ``dispatch.tasks`` and the duplicate cascade in
``dispatch.incidents`` all read them from here.

Task: scheduled (a joint inspection's) | dispatched -> acknowledged -> en_route -> on_scene
-> completed; declined (with a reason) returns the incident to the queue; cancelled by a
dispatcher (or because its incident became a duplicate).

Incident: open -> dispatched while a task is assigned -> resolved once one completed and none
is left; back to open when every task was declined or cancelled. A dispatcher ends it: closed
(with an outcome), cancelled (with a reason) or duplicate; reopen and undo bring it back to the
queue. ``incident_actions`` is the state half of what a dispatcher may do (the role half is the
permission matrix, ``dispatch.accounts.PERMISSIONS``).
"""

from __future__ import annotations

INCIDENT_STATUSES = ("open", "dispatched", "resolved", "closed", "duplicate", "cancelled")
OPEN_STATUSES = ("open", "dispatched")  # squads may still be sent
# The command centre's queue: the open ones and those resolved in the field, awaiting closure.
QUEUE_STATUSES = ("open", "dispatched", "resolved")
CLOSED_STATUSES = ("resolved", "closed", "duplicate", "cancelled")
# Set by a dispatcher, never by the incident's tasks (``incident_status_after`` leaves them).
SET_BY_HAND = ("closed", "duplicate", "cancelled")
# How a dispatcher closes an incident (``POST /incidents/<id>/close``).
CLOSE_OUTCOMES = (
    "resolved_on_site",  # dealt with on the spot
    "rectified",  # ordered to put it right, and it was
    "referred",  # handed to the competent department (a referral, a case)
    "no_violation",  # inspected: nothing unlawful found
    "unfounded",  # the report did not hold (nothing there, a false report)
    "duplicate",  # the same matter is handled under another incident
    "handled_elsewhere",  # another body (police, a township) dealt with it
)
# What a dispatcher may do to an incident, by its status (``incident_actions``).
INCIDENT_ACTIONS = (
    "dispatch",
    "joint",
    "cancel",
    "close",
    "reopen",
    "mark_duplicate",
    "undo_duplicate",
    "attach_call",
)
_ACTIONS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "open": ("dispatch", "joint", "cancel", "close", "mark_duplicate", "attach_call"),
    "dispatched": ("dispatch", "joint", "cancel", "mark_duplicate", "attach_call"),
    "resolved": ("close", "reopen", "attach_call"),  # more to do: reopen it, then send squads
    "closed": ("reopen",),
    "cancelled": ("reopen",),
    "duplicate": ("undo_duplicate",),
}
TASK_ACTIONS = ("reassign", "cancel")

TASK_STATES = ("scheduled", "dispatched", "acknowledged", "en_route", "on_scene", "completed", "declined", "cancelled")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "scheduled": ("acknowledged", "en_route", "declined", "cancelled"),
    "dispatched": ("acknowledged", "declined", "cancelled"),
    "acknowledged": ("en_route", "declined", "cancelled"),
    "en_route": ("on_scene", "cancelled"),
    "on_scene": ("completed", "cancelled"),
    "completed": (),
    "declined": (),
    "cancelled": (),
}
ASSIGNED = ("scheduled", "dispatched", "acknowledged", "en_route", "on_scene")  # a squad has it in hand
TERMINAL = ("completed", "declined", "cancelled")
# The task's column stamped when it enters a state (``closed_at`` for every terminal one).
TIMESTAMP_OF = {
    "acknowledged": "acknowledged_at",
    "en_route": "en_route_at",
    "on_scene": "on_scene_at",
    "completed": "completed_at",
}
TASK_KINDS = ("response", "inspection")
# The states in which a task holds its squad, by kind: a response from dispatch; a scheduled
# inspection only once it starts. The schema's partial unique index enforces it.
BLOCKING_STATES: dict[str, tuple[str, ...]] = {
    "response": ("dispatched", "acknowledged", "en_route", "on_scene"),
    "inspection": ("en_route", "on_scene"),
}
# A task whose incident becomes a duplicate is cancelled with this reason (the original carries the work).
DUPLICATE_REASON = "duplicate of incident {original}"


def incident_actions(status: str) -> tuple[str, ...]:
    """What may be done to an incident in ``status``: squads are added while it is open or
    dispatched (a resolved one is reopened first); it is closed only once no task is assigned
    (``dispatched`` means one is: cancel or finish them first)."""
    return _ACTIONS_BY_STATUS.get(status, ())


def task_actions(task_state: str, incident_status: str | None) -> tuple[str, ...]:
    """A dispatcher reassigns or cancels a task its squad still holds, of an incident still in hand."""
    if task_state not in ASSIGNED or incident_status not in OPEN_STATUSES:
        return ()
    return TASK_ACTIONS


def sql_list(values: tuple[str, ...]) -> str:
    """``('open', 'dispatched')``: a tuple of state names for SQL text (names are ours, never input)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def holds_squad(kind: str, state: str) -> bool:
    """Whether a task of ``kind`` in ``state`` holds its squad."""
    return state in BLOCKING_STATES.get(kind, ())


# A squad's own status (issue 29): set by hand from its tablet, the board or the API, except
# ``busy`` (on a task), which follows its tasks. Returning squads may be sent again.
SQUAD_STATUSES = ("available", "busy", "returning", "out_of_service", "off_duty")
DISPATCHABLE_SQUAD_STATUSES = ("available", "returning")
SQUAD_STATUS_BY_HAND: dict[str, tuple[str, ...]] = {
    "available": ("returning", "out_of_service", "off_duty"),
    "returning": ("available", "out_of_service", "off_duty"),
    "out_of_service": ("available", "out_of_service", "off_duty"),  # again: another reason
    "off_duty": ("available", "out_of_service"),
    "busy": (),  # on a task: its tasks decide (finish, decline or reassign it first)
}


def squad_status_allowed(status: str, *, holds_a_task: bool) -> tuple[str, ...]:
    """The statuses a squad may be given by hand now: none while a task holds it."""
    if holds_a_task:
        return ()
    return SQUAD_STATUS_BY_HAND.get(status, ())


def squad_status_after(status: str, *, holds_a_task: bool) -> str:
    """The squad's status follows its tasks: busy while one holds it, available after (off duty stays)."""
    if holds_a_task:
        return "busy"
    return "available" if status == "busy" else status


def incident_status_after(status: str, task_states: set[str]) -> str:
    """Open -> dispatched while a task is assigned; resolved once one completed and none is left;
    open again when all were declined or cancelled. A duplicate or cancelled incident stays so."""
    if status in SET_BY_HAND:
        return status
    if task_states & set(ASSIGNED):
        return "dispatched"
    if "completed" in task_states:
        return "resolved"
    return "open"


def joint_status_after(status: str, task_states: set[str]) -> str:
    """A planned joint inspection completes when its tasks are done (cancelled when none completed)."""
    if status != "planned" or task_states & set(ASSIGNED):
        return status
    return "completed" if "completed" in task_states else "cancelled"
