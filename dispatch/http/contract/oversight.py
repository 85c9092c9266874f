"""Oversight: officers' training and certificates, supervisors and their visits, cases with legal
review, penalty decisions and criminal referrals, assistance requests, the annual report.

What each body takes mirrors the domain's own checks (dispatch.oversight.personnel, cases,
assistance), which stay as a second line: the bounds here are theirs (and the columns').
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from dispatch.http.contract.common import (
    Answer,
    AnswerTime,
    Body,
    Code,
    Day,
    Id,
    Query,
    Text,
    Time,
    distinct,
    id_list,
)
from dispatch.http.contract.evidence import EvidenceItem
from dispatch.http.contract.incidents import Event, SquadRef
from dispatch.oversight.cases import MAX_FINE_YUAN
from dispatch.oversight.models import (
    ASSISTANCE_STATUSES,
    CASE_STATUSES,
    CRIMINAL_STATUSES,
    DECISION_STATUSES,
    REVIEW_STATUSES,
    STAFF_ROLES,
    SUPERVISION_METHODS,
)

AnswerDay = Annotated[str, Field(json_schema_extra={"format": "date"})]

SupervisionMethod = Literal[tuple(SUPERVISION_METHODS)]  # type: ignore[valid-type]
CriminalStatus = Literal[tuple(CRIMINAL_STATUSES)]  # type: ignore[valid-type]
AssistanceStatus = Literal[tuple(ASSISTANCE_STATUSES)]  # type: ignore[valid-type]
CriminalTarget = Literal["accepted", "declined", "concluded"]  # what a transfer may become (cases.CRIMINAL_TRANSITIONS)


# -- shared answers ----------------------------------------------------------------------------


class OversightAuthority(Answer):
    code: str
    name: str
    name_en: str | None


class OversightBodyRef(Answer):
    """An oversight body: a government, its justice bureau, the police, the procuratorate..."""

    code: str
    name: str
    name_en: str | None
    kind: str


class OfficerRef(Answer):
    id: int
    name: str
    squad: SquadRef | None


class StaffRef(Answer):
    code: str
    name: str


# -- personnel ---------------------------------------------------------------------------------


class TrainingBody(Body):
    """Hours of in-post training of one officer on one day."""

    taken_on: Day = Field(description="the day of the training (not ahead of today)")
    hours: float = Field(gt=0, le=24, description="hours of that day, at most one decimal (1.5)")
    course: Text(200)


class TrainingRecord(Answer):
    id: int
    officer_id: int
    taken_on: AnswerDay
    hours: float
    course: str


class TrainingQuery(Query):
    year: int | None = Field(None, ge=2000, le=2100, description="the calendar year (default: this year)")
    under: bool = Field(False, description="only the officers below the required hours")


class OfficerHours(Answer):
    officer: OfficerRef
    year: int
    hours: float
    required: int
    missing: float


class TrainingHours(Answer):
    year: int
    required_hours: int
    officers: list[OfficerHours]


class CertificateQuery(Query):
    within_days: int = Field(60, ge=0, le=3650, description="expired, or expiring within this many days")


class OfficerCertificate(OfficerRef):
    certificate_no: str | None
    certificate_expires: AnswerDay
    valid: bool
    on_duty: bool


class Certificates(Answer):
    within_days: int
    officers: list[OfficerCertificate]


class StaffMember(Answer):
    code: str
    name: str
    role: Literal[tuple(STAFF_ROLES)]  # type: ignore[valid-type]
    authority: OversightAuthority | None
    body: str | None = Field(description="the code of the oversight body employing them")
    certificate_no: str | None
    certificate_expires: AnswerDay | None
    certified: bool = Field(description="a supervisor with a supervision certificate valid today")
    active: bool


class StaffList(Answer):
    staff: list[StaffMember]


class VisitBody(Body):
    """A supervision of an authority (seed 004 art. 15); on site, at least two certified supervisors."""

    authority: Code = Field(description="the authority supervised (its code)")
    method: SupervisionMethod
    on_site: bool = False
    supervisors: Annotated[
        list[Code],
        Field(min_length=1, max_length=20, json_schema_extra={"uniqueItems": True}),
        AfterValidator(distinct),
    ] = Field(description="codes of supervisors (oversight-staff), distinct")
    place: Text(200) | None = None
    visited_at: Time | None = Field(None, description="when (default now; not ahead of the clock)")
    findings: Text(8000)


class Visit(Answer):
    id: int
    authority: OversightAuthority
    method: SupervisionMethod
    on_site: bool
    place: str | None
    visited_at: AnswerTime
    findings: str
    supervisors: list[StaffRef]
    created_by: str


# -- cases -------------------------------------------------------------------------------------


class CasePartyIn(Body):
    name: Text(200)
    business_id: Text(32, description="the unified social credit code") | None = None


class CaseBody(Body):
    """A case opened in an authority's name, with its certified enforcers and its assistants."""

    authority: Code
    matter: Code | None = Field(None, description="a matter code of the authority's domain")
    incident_id: Id | None = None
    party: CasePartyIn
    summary: Text(4000)
    major: bool = Field(False, description="a major penalty: legal review must pass before the decision")
    enforcer_ids: id_list(10) = Field(
        description="officers with a valid enforcement certificate (not auxiliaries); at least two "
        "(Administrative Penalty Law art. 42), else 422 two_enforcers_required"
    )
    assistant_ids: id_list(10, min_items=0) | None = Field(None, description="officers who assist, not enforcers")


class ReviewRequest(Body):
    proposed_decision: Text(4000)


class ReviewOutcome(Body):
    outcome: Literal["passed", "failed"]
    reasons: Text(4000)


class DecisionBody(Body):
    number: Text(60, description="the decision's document number (unique)")
    content: Text(8000)
    fine_yuan: float | None = Field(None, ge=0, le=MAX_FINE_YUAN)
    issued_at: Time | None = Field(None, description="when (default now; not ahead of the clock)")


class TransferBody(Body):
    to: Code = Field(description="the code of a police or procuratorate body")
    suspected_offence: Text(2000)


class TransferStatusBody(Body):
    to: CriminalTarget = Field(description="transferred -> accepted or declined; accepted -> concluded")
    note: Text(4000) | None = Field(None, description="required to decline")


class LegalReview(Answer):
    id: int
    case_id: int
    status: Literal[tuple(REVIEW_STATUSES)]  # type: ignore[valid-type]
    proposed_decision: str
    requested_by: str
    requested_at: AnswerTime
    reviewer: StaffRef | None
    reasons: str | None
    reviewed_at: AnswerTime | None


class PenaltyDecision(Answer):
    id: int
    case_id: int
    number: str
    content: str
    fine_yuan: float | None
    legal_review_id: int | None
    status: Literal[tuple(DECISION_STATUSES)]  # type: ignore[valid-type]
    issued_at: AnswerTime
    issued_by: str


class CaseParty(Answer):
    name: str
    business_id: str | None


class CaseOfficer(Answer):
    id: int
    role: Literal["enforcer", "assistant"]


class Case(Answer):
    id: int
    authority: OversightAuthority
    matter: str | None
    incident_id: int | None
    party: CaseParty
    summary: str
    major: bool
    status: Literal[tuple(CASE_STATUSES)]  # type: ignore[valid-type]
    opened_at: AnswerTime
    created_by: str
    officers: list[CaseOfficer]
    reviews: list[LegalReview]
    decisions: list[PenaltyDecision]


class CaseWithRecord(Case):
    events: list[Event] = Field(description="the case's record: its events and those of its reviews, decisions...")
    files: list[EvidenceItem] = Field(description="evidence files of the case (POST /cases/{case_id}/evidence)")


class CriminalReferral(Answer):
    id: int
    case_id: int
    to: OversightBodyRef
    suspected_offence: str
    status: CriminalStatus
    allowed: list[CriminalTarget] = Field(description="what it may become next")
    transferred_at: AnswerTime
    updated_at: AnswerTime | None
    note: str | None
    events_handed_over: int


class CriminalReferralRecord(CriminalReferral):
    record: dict[str, Any] = Field(description="the case and its events as handed over")


class CriminalReferralQuery(Query):
    status: CriminalStatus | None = None


class CriminalReferralList(Answer):
    criminal_referrals: list[CriminalReferral]


# -- assistance --------------------------------------------------------------------------------


class AssistanceBody(Body):
    """A request for a department's written opinion, due in 5 working days (seed 000 §2.4)."""

    from_: Code | None = Field(
        None, alias="from", description="the requester (default: the comprehensive bureau of the department's county)"
    )
    to: Code = Field(description="the functional department asked")
    case_id: Id | None = None
    incident_id: Id | None = None
    question: Text(4000)
    urgent: bool = Field(False, description="officers on site at once")
    evidence_at_risk: bool = Field(False, description="evidence may be lost: officers on site at once")
    sent_at: Time | None = Field(None, description="when (default now; not ahead of the clock)")


class OnSiteBody(Body):
    officers: Text(300, description="who came")
    at: Time | None = Field(None, description="when they arrived (default now; not before the request was sent)")


class AnswerBody(Body):
    opinion: Text(8000)
    evidence: list[Text(1000)] | None = Field(None, max_length=100, description="references of the evidence")


class ExtendBody(Body):
    reason: Text(2000)
    until: Day = Field(description="the new last day (after the current one)")


class AssistanceRequest(Answer):
    id: int
    from_: OversightAuthority = Field(alias="from")
    to: OversightAuthority
    case_id: int | None
    incident_id: int | None
    question: str
    urgent: bool
    evidence_at_risk: bool
    status: AssistanceStatus
    sent_at: AnswerTime
    due_at: AnswerTime
    due_provisional: bool = Field(
        description="the time limit runs past the holiday calendar's horizon (weekends skipped only there); "
        "computed again when that year's calendar is loaded"
    )
    due_note: str | None = Field(None, description="present when provisional: says so in words")
    on_site_due_at: AnswerTime | None
    on_site_at: AnswerTime | None
    on_site_officers: str | None
    extension_reason: str | None
    answered_at: AnswerTime | None
    opinion: str | None
    evidence: list[str]
    overdue: bool


class AssistanceQuery(Query):
    status: AssistanceStatus | None = None
    overdue: bool = Field(False, description="only open requests past their time limit or their on-site hour")


class AssistanceList(Answer):
    assistance_requests: list[AssistanceRequest]


# -- the annual report -------------------------------------------------------------------------


class ReportQuery(Query):
    year: int | None = Field(None, ge=2000, le=2100, description="the calendar year (default: last year)")
    format: Literal["json", "csv", "html"] | None = Field(None, description="default: by the Accept header, else json")


class ReportStats(Answer):
    count: int
    median: float | None
    mean: float | None
    p90: float | None


class ResponseTimesRow(Answer):
    key: str | None
    name: str | None
    intake_to_dispatch: ReportStats
    dispatch_to_on_scene: ReportStats
    on_scene_to_completion: ReportStats


class ResponseTimes(Answer):
    overall: ResponseTimesRow | None
    by_township: list[ResponseTimesRow]
    by_zone: list[ResponseTimesRow]
    by_force: list[ResponseTimesRow]


class OverdueRow(Answer):
    key: str | None
    name: str | None
    incidents: int
    late: int
    overdue_open: int


class Overdue(Answer):
    incidents: int
    late: int
    overdue_open: int
    by_township: list[OverdueRow]


class ReportPeriod(Answer):
    start: AnswerTime
    end: AnswerTime


class JointFigures(Answer):
    joint_inspections: int
    visits_avoided: int
    all_time: dict[str, int]


class CatalogueOfYear(Answer):
    """The catalogue the year is counted in: each county's version in force at the year's end."""

    matters: int
    comprehensive: int
    comprehensive_share: float | None
    versions: list[dict[str, str | int]] = Field(description="id, county, effective_from, source of each version")


class MatterCount(Answer):
    code: str
    name: str
    name_en: str | None = None
    domain: str
    incidents: int


class Shares(Answer):
    catalogue: CatalogueOfYear
    handled: dict[str, float | int | None]
    force: dict[str, float | int | None]
    by_matter: list[MatterCount] = Field(
        description="the year's incidents per matter, named and classed by the catalogue in force at their report time"
    )


class AnnualReport(Answer):
    """The year's figures (seed 001 §2; seed 002 task 6)."""

    year: int
    period: ReportPeriod
    generated_at: AnswerTime
    comprehensive_share: float | None
    township_force_share: float | None
    targets: dict[str, float]
    targets_met: dict[str, bool]
    shares: Shares
    response_times: ResponseTimes
    overdue: Overdue
    joint_inspections: JointFigures
    oversight: dict[str, dict[str, int]]
