"""Inspection requests and joint inspections ("inspect once")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from dispatch.http.contract.common import (
    Answer,
    AnswerTime,
    Body,
    GeoQuery,
    Id,
    Int,
    PointIn,
    PointOut,
    Text,
    Time,
    id_list,
)
from dispatch.http.contract.incidents import Domain, SquadSummary, Task

ProposalReason = Literal["pending_requests", "incident_matter"]
RequestStatus = Literal["pending", "merged", "done", "cancelled"]
JointStatus = Literal["planned", "completed", "cancelled"]
AuthorityCode = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]

# -- answers -----------------------------------------------------------------------------------


class TargetOut(Answer):
    name: str
    business_id: str | None = Field(description="the unified social credit code")
    location: PointOut


class Window(Answer):
    start: AnswerTime
    end: AnswerTime


class InspectionRequest(Answer):
    id: int
    authority: str = Field(description="the requesting department's code")
    domain: Domain
    target: TargetOut
    window: Window
    purpose: str | None
    status: RequestStatus
    joint_inspection_id: int | None = Field(description="the joint inspection it was merged into")


class InspectionRequests(Answer):
    requests: list[InspectionRequest]


class ProposedSquad(Answer):
    squad: SquadSummary
    eta_seconds: float
    domains: list[Domain] = Field(description="the domains it covers in this visit")


class Proposal(Answer):
    """A joint inspection the server proposes; POST it to /api/v1/joint-inspections as it is."""

    reason: ProposalReason
    target: TargetOut
    domains: list[Domain]
    squad_ids: list[int]
    lead_squad_id: int | None
    slot: Window
    request_ids: list[int]
    incident_id: int | None
    visits_replaced: int
    squads: list[ProposedSquad]
    uncovered_domains: list[Domain] = Field(description="domains no eligible squad covers")


class Proposals(Answer):
    proposals: list[Proposal]


class LeadSquad(Answer):
    id: int
    name: str


class JointInspection(Answer):
    id: int
    target: TargetOut
    domains: list[Domain]
    lead_squad: LeadSquad
    slot: Window
    status: JointStatus
    incident_id: int | None
    visits_replaced: int
    visits_avoided: int
    requests: list[InspectionRequest]
    tasks: list[Task] = Field(description="one scheduled inspection task per squad")
    created_by: str
    created_at: AnswerTime | None


class Totals(Answer):
    joint_inspections: int = Field(description="held or planned (not cancelled)")
    visits_avoided: int


class JointInspections(Answer):
    joint_inspections: list[JointInspection]
    totals: Totals


# -- requests ----------------------------------------------------------------------------------


class TargetIn(Body):
    name: Text(200)
    business_id: Text(32, description="the unified social credit code") | None = None
    location: PointIn


class WindowIn(Body):
    start: Time
    end: Time = Field(description="after start")


class InspectionRequestBody(Body):
    """A department's pending inspection of a target."""

    authority: AuthorityCode = Field(description="the requesting department (an authority code)")
    domain: Domain | None = Field(None, description="default: the authority's domain")
    target: TargetIn
    window: WindowIn = Field(description="when the inspection may take place")
    purpose: Text(2000) | None = None


# What a proposal carries besides the joint inspection, posted back as it was given (not read):
# declared field by field, as the body reader refuses a NUL anywhere (a free-form object could hold one).
Echoed = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]


class RefEcho(Body):
    code: Echoed
    name: Echoed
    name_en: Echoed | None = None


class SquadEcho(Body):
    id: Int
    code: Echoed
    name: Echoed
    name_en: Echoed | None = None
    force: Echoed
    domains: list[Echoed] = Field(max_length=50)
    scope: Echoed
    status: Echoed
    authority: RefEcho
    station_region: RefEcho
    officers: Int
    certified_on_duty: Int
    last_position_at: Echoed | None = None


class ProposedSquadEcho(Body):
    squad: SquadEcho
    eta_seconds: float
    domains: list[Domain] = Field(max_length=50)


class JointBody(Body):
    """A joint inspection: a proposal as it was given, or one made by hand."""

    target: TargetIn
    slot: WindowIn = Field(description="inside the window of every merged request")
    squad_ids: id_list(20) = Field(description="the squads taking part, each with a certified officer on duty")
    lead_squad_id: Id | None = Field(None, description="one of squad_ids (default: the comprehensive squad)")
    request_ids: id_list(50, min_items=0) | None = Field(None, description="pending requests it merges")
    incident_id: Id | None = Field(None, description="an open incident it answers")
    domains: list[Domain] | None = Field(None, max_length=50, description="domains needed besides the requests'")
    # A proposal is posted as it is: these describe it and are not read back.
    visits_replaced: Int | None = Field(None, description="ignored (from a proposal)")
    squads: list[ProposedSquadEcho] | None = Field(None, max_length=50, description="ignored (from a proposal)")
    reason: ProposalReason | None = Field(None, description="ignored (from a proposal)")
    uncovered_domains: list[Domain] | None = Field(None, max_length=50, description="ignored (from a proposal)")


class RequestQuery(GeoQuery):
    status: RequestStatus | None = None


class JointQuery(GeoQuery):
    status: JointStatus | None = None
    limit: int = Field(200, ge=1, le=1000, description="at most this many, newest first")
