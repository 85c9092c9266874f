"""Incidents and tasks: intake, the queue, recommendations, dispatch, duplicates, transitions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from dispatch.http.contract.common import (
    Answer,
    AnswerTime,
    Body,
    Code,
    GeoQuery,
    Id,
    PointIn,
    PointOut,
    Text,
    Time,
    comma_list,
    id_list,
)
from dispatch.states import CLOSE_OUTCOMES, INCIDENT_ACTIONS, INCIDENT_STATUSES, TASK_ACTIONS, TASK_STATES
from dispatch.store.models import DOMAINS, INCIDENT_SOURCES

Domain = Literal[tuple(DOMAINS)]  # type: ignore[valid-type]
TaskState = Literal[tuple(TASK_STATES)]  # type: ignore[valid-type]
Outcome = Literal[tuple(CLOSE_OUTCOMES)]  # type: ignore[valid-type]
IncidentAction = Literal[tuple(INCIDENT_ACTIONS)]  # type: ignore[valid-type]
TaskAction = Literal[tuple(TASK_ACTIONS)]  # type: ignore[valid-type]

# -- shared answers ----------------------------------------------------------------------------


class RegionRef(Answer):
    code: str
    name: str
    name_en: str | None = None


class AuthorityRef(Answer):
    code: str
    name: str


class Authority(AuthorityRef):
    name_en: str | None = None
    kind: str
    domain: str | None = None


class Matter(Answer):
    code: str
    name: str
    name_en: str | None = None
    domain: str
    authority_kind: str | None = None
    township_held: bool | None = None
    joint_domains: list[str] = []
    priority: int | None = Field(None, ge=1, le=3)
    sla_minutes: int | None = None


class SquadSummary(Answer):
    id: int
    code: str
    name: str
    name_en: str | None = None
    force: str
    domains: list[str]
    scope: str
    status: str
    authority: AuthorityRef
    station_region: RegionRef
    officers: int
    certified_on_duty: int
    last_position_at: AnswerTime | None


class SquadRef(Answer):
    id: int
    code: str
    name: str


class ZoneOut(Answer):
    code: str
    name: str
    name_en: str | None = None
    hub: RegionRef | None = None
    covered: list[RegionRef] = []


class JurisdictionRegion(RegionRef):
    level: str
    empowered: bool


class Jurisdiction(Answer):
    """Who covers a place and in whose name they act."""

    region: JurisdictionRegion
    ancestors: list[RegionRef]
    zone: ZoneOut | None
    authority: Authority
    basis: str
    matter: Matter | None = None
    squads: list[SquadSummary]


class Task(Answer):
    id: int
    kind: Literal["response", "inspection"]
    incident_id: int | None
    joint_inspection_id: int | None
    squad: SquadRef | None
    state: TaskState
    allowed: list[TaskState] = Field(description="the states this task may move to next")
    reason: str | None
    created_by: str | None
    created_at: AnswerTime | None
    acknowledged_at: AnswerTime | None
    en_route_at: AnswerTime | None
    on_scene_at: AnswerTime | None
    completed_at: AnswerTime | None
    closed_at: AnswerTime | None
    superseded_by: int | None = Field(None, description="reassigned: the task that took this one's place")
    actions: list[TaskAction] | None = Field(
        None, description="in an incident's detail: what the asking user may do to this task now"
    )


class CallerOut(Answer):
    name: str | None
    phone: str | None


class IncidentMatter(Answer):
    code: str
    name: str
    domain: str


class Incident(Answer):
    id: int
    source: str
    external_id: str | None
    description: str
    address: str | None
    location: PointOut
    matters: list[IncidentMatter]
    region: RegionRef | None
    zone: AuthorityRef | None = Field(description="the 1+X zone: code and name")
    authority: Authority | None
    priority: int = Field(ge=1, le=3)
    status: Literal[tuple(INCIDENT_STATUSES)]  # type: ignore[valid-type]
    reported_at: AnswerTime
    received_at: AnswerTime
    sla_deadline: AnswerTime
    dispatched_at: AnswerTime | None
    on_scene_at: AnswerTime | None
    resolved_at: AnswerTime | None
    duplicate_of: int | None
    created_by: str | None
    caller: CallerOut | None = None
    outcome: Outcome | None = Field(None, description="closed: how (the catalogue of POST .../close)")
    outcome_note: str | None = None
    cancel_reason: str | None = None
    closed_at: AnswerTime | None = Field(None, description="when a dispatcher closed or cancelled it")
    closed_by: str | None = None
    tasks: list[Task]
    jurisdiction: Jurisdiction | None = None
    actions: list[IncidentAction] | None = Field(
        None, description="GET of one incident: what the asking user may do to it now (the screen shows these)"
    )


class PossibleDuplicate(Answer):
    id: int
    distance_m: float | None = None


class IncidentCreated(Incident):
    possible_duplicates: list[dict[str, Any]] = Field(description="open incidents near it sharing a matter")
    possible_duplicates_total: int


class IncidentList(Answer):
    incidents: list[Incident]


class TaskList(Answer):
    tasks: list[Task]


class Event(Answer):
    """One entry of the full-process record (hash-chained; ``flask audit verify``)."""

    id: int
    occurred_at: AnswerTime = Field(description="when it happened (in the field, for a tablet's action)")
    recorded_at: AnswerTime | None = Field(None, description="when the server wrote it")
    actor: str
    on_behalf_of: str | None
    action: str
    entity: dict[str, Any]
    incident_id: int | None
    joint_inspection_id: int | None
    squad_id: int | None
    location: PointOut | None
    data: dict[str, Any]


class IncidentEvents(Answer):
    incident_id: int
    events: list[Event]


class Leg(Answer):
    mode: str
    distance_m: float
    seconds: float


class PositionNote(Answer):
    zh: str = Field(description="位置已 47 分钟未更新，按驻地计")
    en: str = Field(description="position 47 min old: placed at its station")


class Recommendation(Answer):
    squad: SquadSummary
    eta_seconds: float
    distance_m: float
    mode: str
    covers_place: bool
    legs: list[dict[str, Any]]
    position_basis: Literal["fix", "pier", "station"] = Field(
        description="where the squad is taken to be: its fix; a stale fix's pier (within 500 m); its station"
    )
    position_age_minutes: int | None = Field(description="age of its last fix (none: it never sent one)")
    position_note: PositionNote | None = Field(description="the uncertainty in words (none: a fresh fix)")


class Recommendations(Answer):
    incident_id: int
    domains: list[str]
    computed_at: AnswerTime
    recommendations: list[Recommendation]
    left_out: list[dict[str, Any]] | None = Field(None, description="with ?explain=1: who was left out and why")


# -- requests ----------------------------------------------------------------------------------


class Caller(Body):
    name: Text(100) | None = None
    phone: Text(40) | None = None


class IncidentIntake(Body):
    """A new incident from the 12345 hotline, the 110 linkage, a patrol or a complaint."""

    source: Literal[tuple(INCIDENT_SOURCES)]  # type: ignore[valid-type]
    external_id: Text(64, description="the source's ticket number: idempotence key with source") | None = None
    matters: list[Code] = Field(min_length=1, max_length=10, description="matter codes (GET /api/v1/matters)")
    location: PointIn
    description: Text(4000)
    address: Text(200) | None = None
    reported_at: Time = Field(description="when the citizen reported it (at most 5 minutes ahead of the server)")
    caller: Caller | None = Field(None, description="who called (shown to dispatchers and the squads sent)")


class IncidentQuery(GeoQuery):
    status: comma_list(*INCIDENT_STATUSES) | None = None
    limit: int = Field(200, ge=1, le=1000, description="at most this many")


class RecommendationQuery(GeoQuery):
    domain: Domain | None = Field(None, description="only squads of this domain")
    at: Time | None = Field(None, description="ETA as of this time (ferry timetables)")
    limit: int = Field(5, ge=1, le=50, description="at most this many squads")
    explain: bool = Field(False, description="add left_out: the squads not recommended, with reasons")


class DispatchBody(Body):
    squad_ids: id_list(20) = Field(description="one task per squad; all or nothing")
    note: Text(2000) | None = None


class DuplicateBody(Body):
    of: Id = Field(description="the incident this one repeats")


class TransitionBody(Body):
    action_id: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
        ]
        | None
    ) = Field(None, description="the tablet's own id of this action (a UUID): a retry gets the first answer")
    occurred_at: Time | None = Field(
        None, description="when it was done in the field (default: now); not before the task, not ahead of the server"
    )
    sent_at: Time | None = Field(
        None, description="the device's clock when it sent this: a clock found off is corrected, and the record says so"
    )
    to: TaskState
    reason: Text(2000) | None = Field(None, description="why (required to decline or cancel)")
    note: Text(2000) | None = None
    location: PointIn | None = Field(None, description="where the squad is (on_scene, completed)")


class CancelBody(Body):
    reason: Text(500, description="why it is withdrawn (on the record)")


class CloseBody(Body):
    outcome: Outcome = Field(description="how it ended")
    note: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        None, description="what was done, found, decided (empty: none)"
    )


class ReopenBody(Body):
    reason: Text(500, description="why it comes back to the queue")


class UndoDuplicateBody(Body):
    reason: Text(500) | None = None


class ReassignBody(Body):
    squad_id: Id = Field(description="the squad sent instead")
    note: Text(2000) | None = None


class Reassigned(Answer):
    superseded: Task = Field(description="the old task: cancelled, superseded_by the new one")
    task: Task = Field(description="the new task, dispatched")


class CallBody(Body):
    """A further call about an incident in hand: what it said goes on the incident's record."""

    source: Literal[tuple(INCIDENT_SOURCES)]  # type: ignore[valid-type]
    external_id: Text(64) | None = None
    description: Text(4000)
    reported_at: Time
    caller: Caller | None = None
    matters: list[Code] | None = Field(None, min_length=1, max_length=10, description="default: the incident's")
    location: PointIn | None = Field(None, description="where the caller is (default: the incident's place)")
    address: Text(200) | None = None


class CallAttached(Answer):
    incident_id: int
    event_id: int
    source: str
    external_id: str | None
    description: str
    reported_at: AnswerTime
    caller: CallerOut
    matters: list[str]


class DuplicateCandidate(Answer):
    id: int
    distance_m: float
    reported_at: AnswerTime
    status: str
    shared_matters: list[str]


class IntakePreview(Answer):
    """What filing the call would give; nothing is stored."""

    jurisdiction: Jurisdiction | None = Field(description="null at sea (a maritime matter near a county)")
    region: RegionRef
    priority: int = Field(ge=1, le=3)
    sla_minutes: int
    sla_deadline: AnswerTime
    possible_duplicates: list[DuplicateCandidate]
    possible_duplicates_total: int
