"""Every state of an incident and a task, the moves between them, and what follows from a move.

Pure names and decisions: the store's CHECK constraints and partial indexes, the dispatch
hot path's SQL, the lifecycle in ``dispatch.tasks`` and the duplicate cascade in
``dispatch.incidents`` all read them from here.

Task: scheduled (a joint inspection's) | dispatched -> acknowledged -> en_route -> on_scene
-> completed; declined (with a reason) returns the incident to the queue; cancelled by a
dispatcher (or because its incident became a duplicate).

Incident: open -> dispatched while a task is assigned -> resolved once one completed and none
is left; back to open when every task was declined or cancelled; duplicate or cancelled end it.
"""

from __future__ import annotations

INCIDENT_STATUSES = ("open", "dispatched", "resolved", "duplicate", "cancelled")
OPEN_STATUSES = ("open", "dispatched")  # in the queue: the command centre shows them
CLOSED_STATUSES = ("resolved", "duplicate", "cancelled")
# Set by a dispatcher, never by the incident's tasks (``incident_status_after`` leaves them).
SET_BY_HAND = ("duplicate", "cancelled")

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


def sql_list(values: tuple[str, ...]) -> str:
    """``('open', 'dispatched')``: a tuple of state names for SQL text (names are ours, never input)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def holds_squad(kind: str, state: str) -> bool:
    """Whether a task of ``kind`` in ``state`` holds its squad."""
    return state in BLOCKING_STATES.get(kind, ())


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
