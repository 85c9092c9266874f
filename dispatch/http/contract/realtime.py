"""Real time: batched positions from tablets, and the command centre's snapshot.

The position batch is a hot path (``make bench``): its body is checked by hand
(``dispatch.positions.parse_batch``, as fast as it was), and ``PositionBatch`` declares what that
check accepts; tests/test_positions_contract.py holds the two equal on accepted and refused examples.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from dispatch.http.contract.common import Answer, AnswerTime, Body, Crs, PointOut, Time
from dispatch.http.contract.incidents import TaskState
from dispatch.positions import MAX_BATCH
from dispatch.states import INCIDENT_STATUSES

FixId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[ -~]+$"),
    Field(description="the tablet's own id of the fix (1 to 64 printable ASCII characters): the idempotence key"),
]

# -- requests ----------------------------------------------------------------------------------


def _one_of(name: str, alias: str):
    """``name`` is required unless ``alias`` is given, and not both (validated after ``alias``)."""

    def check(value, info: ValidationInfo):
        given = info.data.get(alias) is not None
        if value is None and not given:
            raise ValueError(f"required (or {alias})")
        if value is not None and given:
            raise ValueError(f"{name} and {alias} are the same: send one")
        return value

    return field_validator(name, mode="before")(check)


def _given(name: str) -> dict:
    """The JSON schema of ``name`` given, and not null (a null counts as left out)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


class Fix(Body):
    """One position fix as a tablet takes it. ``action_id`` and ``occurred_at`` are accepted for
    ``id`` and ``time`` (the names a task's step uses): one of each pair, not both."""

    model_config = Body.model_config | ConfigDict(
        json_schema_extra={
            "allOf": [
                {"oneOf": [_given("id"), _given("action_id")]},
                {"oneOf": [_given("time"), _given("occurred_at")]},
            ]
        }
    )

    action_id: FixId | None = Field(None, description="the same as id")
    id: FixId | None = Field(None, validate_default=True, description="the fix's id (or action_id): required")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = Field("wgs84", description="the coordinate system of lon/lat")
    occurred_at: Time | None = Field(None, description="the same as time")
    time: Time | None = Field(
        None,
        validate_default=True,
        description="when it was taken (or occurred_at): required; at most FIX_MAX_AHEAD_S, 5 minutes, ahead of the server",
    )
    accuracy: float | None = Field(None, ge=0, le=1e6, description="metres")
    speed: float | None = Field(None, ge=0, le=1e4, description="metres per second")
    heading: float | None = Field(None, ge=0, le=360, description="degrees from north")

    _id_or_action_id = _one_of("id", "action_id")
    _time_or_occurred_at = _one_of("time", "occurred_at")


class PositionBatch(Body):
    """A tablet's offline queue, flushed: idempotent on each fix's id (a fix id twice counts once)."""

    checked_by_hand: ClassVar[bool] = True  # the hot path: dispatch.positions.parse_batch checks it
    fixes: list[Fix] = Field(min_length=1, max_length=MAX_BATCH)


# -- answers -----------------------------------------------------------------------------------

Flag = Literal["poor_accuracy", "outside_envelope", "impossible_speed"]


class PositionCounts(Answer):
    received: int
    stored: int = Field(description="new fixes (not seen before)")
    duplicates: int
    flagged: int = Field(description="stored but doubtful: never shown as the position")
    flags: dict[str, list[Flag]] = Field(description="fix id -> its flags")
    position_moved: bool = Field(description="the squad's shown position moved to a fix of this batch")


class SnapshotPlace(Answer):
    code: str
    name: str
    name_en: str | None


class SnapshotSquad(Answer):
    id: int
    code: str
    name: str
    name_en: str | None
    force: str
    domains: list[str]
    status: str
    status_reason: str | None = Field(
        None, description="why it is out of service (vessel_fault, meal, training, leave)"
    )
    status_since: AnswerTime | None = Field(description="when its status last changed (on the record)")
    location: PointOut | None
    last_position_at: AnswerTime | None
    station_region: str = Field(description="its station township's code (named in the snapshot's ``regions``)")
    zone: str | None = Field(description="the code of its station's 1+X zone in the plan in force (``zones``)")
    officers_on_duty: int
    certified_on_duty: int
    task_id: int | None = Field(description="the task it holds now")
    incident_id: int | None
    rev: int | None = Field(description="the id of the squad's latest event")
    position_rev: int = Field(description="the fix time in ms, as live position updates carry")


class SnapshotIncident(Answer):
    id: int
    status: Literal[tuple(INCIDENT_STATUSES)]  # type: ignore[valid-type]
    priority: int = Field(ge=1, le=3)
    location: PointOut
    sla_deadline: AnswerTime
    matters: list[str]
    description: str
    region: str | None
    rev: int | None


class SnapshotTask(Answer):
    id: int
    kind: Literal["response", "inspection"]
    incident_id: int | None
    joint_inspection_id: int | None
    squad_id: int
    state: TaskState
    rev: int | None


class Snapshot(Answer):
    """Everything a command-centre screen shows; apply only live updates newer than each ``rev``."""

    as_of: int = Field(description="the id of the latest event")
    regions: dict[str, SnapshotPlace] = Field(description="the squads' station townships, by code")
    zones: dict[str, SnapshotPlace] = Field(description="the squads' zones, by code")
    squads: list[SnapshotSquad]
    incidents: list[SnapshotIncident]
    tasks: list[SnapshotTask]
