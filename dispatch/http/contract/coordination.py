"""Coordination between departments: referrals and their escalation, jurisdiction disputes,
supervision notices and decisions, information sharing (dispatch.http.oversight_coordination).

The bounds and enums are those the domain (dispatch.oversight.referrals, disputes, supervision,
sharing) enforces; what only the data can refuse (an unknown authority code, a time ahead of the
clock, a case of another authority, a reason owed only in some cases) is a 422 there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, RootModel, ValidationError, WithJsonSchema

from dispatch.http.contract.common import Answer, AnswerTime, Body, Code, Day, Id, Query, Text, Time, id_list
from dispatch.http.contract.incidents import SquadRef
from dispatch.oversight.disputes import STEP_FIELDS
from dispatch.oversight.models import (
    DECISION_ACTIONS,
    DISPUTE_STAGES,
    NOTICE_STATUSES,
    REFERRAL_STATUSES,
    SHARED_KINDS,
    STATUTORY_GROUNDS,
    SUPERVISION_METHODS,
)
from dispatch.oversight.referrals import RESPONSES
from dispatch.store.models import DOMAINS

ReferralStatus = Literal[tuple(REFERRAL_STATUSES)]  # type: ignore[valid-type]
Stage = Literal[tuple(DISPUTE_STAGES)]  # type: ignore[valid-type]
StepName = Literal[tuple(STEP_FIELDS)]  # type: ignore[valid-type]
NoticeStatus = Literal[tuple(NOTICE_STATUSES)]  # type: ignore[valid-type]
Method = Literal[tuple(SUPERVISION_METHODS)]  # type: ignore[valid-type]
DecisionAction = Literal[tuple(DECISION_ACTIONS)]  # type: ignore[valid-type]
Ground = Literal[tuple(STATUTORY_GROUNDS)]  # type: ignore[valid-type]
Domain = Literal[tuple(DOMAINS)]  # type: ignore[valid-type]

AuthorityCode = Annotated[Code, Field(description="an authority's code (GET /api/v1/authorities)")]


# A shared record's own data: a flat object of names to text, numbers, true/false or null, as
# the body reader takes them (no NUL character, integers within 64 bits).
_NO_NUL = r"^[^\x00]*$"
_SCALAR = {"anyOf": [
    {"type": "string", "maxLength": 2000, "pattern": _NO_NUL},
    {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    {"type": "number", "minimum": -1e15, "maximum": 1e15},
    {"type": "boolean"},
    {"type": "null"},
]}  # fmt: skip


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError("an integer beyond 64 bits")
        return value
    if isinstance(value, float):  # whole ones are integers to JSON Schema
        if not (-1e15 <= value <= 1e15 or value.is_integer() and -(2**63) <= value < 2**63):
            raise ValueError("a number beyond ±1e15")
        return value
    if isinstance(value, str):
        if len(value) > 2000 or "\x00" in value:
            raise ValueError("text of at most 2000 characters, no NUL")
        return value
    raise ValueError("must be text, a number, true, false or null (no lists or objects)")


def _data(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    if len(value) > 50:
        raise ValueError("at most 50 fields")
    for name, inner in value.items():
        if not 1 <= len(name) <= 64 or "\x00" in name:
            raise ValueError(f"field names have 1 to 64 characters: {name[:70]!r}")
        try:
            _scalar(inner)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    return value


RecordData = Annotated[
    dict[str, Any],
    BeforeValidator(_data),
    WithJsonSchema({"type": "object", "maxProperties": 50, "additionalProperties": _SCALAR,
                    "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": _NO_NUL}}),
]  # fmt: skip


def plain(body: Body | RootModel) -> dict:
    """A checked body as the domain reads it: JSON values (ids as integers, times as ISO text),
    the fields sent and only those."""
    return body.model_dump(mode="json", by_alias=True, exclude_unset=True)


# -- shared answers ----------------------------------------------------------------------------


class AuthorityNames(Answer):
    """An authority by code, with its names."""

    code: str
    name: str
    name_en: str | None


class BodyNames(Answer):
    """An oversight body (the county government, its justice bureau, coordination office...)."""

    code: str
    name: str
    name_en: str | None
    kind: str


class OpenOnlyQuery(Query):
    open: bool = Field(False, description="only those still open")


# -- referrals (seed 000 §2.3) -------------------------------------------------------------------


class ReferralBody(Body):
    """A lead referred to the competent department; its answer is due within the county's set time."""

    from_: AuthorityCode | None = Field(
        None, alias="from", description="the referring authority (default: the county's comprehensive bureau)"
    )
    to: AuthorityCode = Field(description="the functional department competent for the lead")
    incident_id: Id | None = None
    matter: Code | None = Field(None, description="a matter code of the department's domain (GET /api/v1/matters)")
    summary: Text(4000)
    referred_at: Time | None = Field(None, description="when it was referred (default: now; not ahead of the clock)")


class ReferralResponseBody(Body):
    action: Literal[tuple(RESPONSES)] = Field(description="acting: it handles the lead; explained: it says why not")  # type: ignore[valid-type]
    note: Text(4000)


class ReferralQuery(Query):
    status: ReferralStatus | None = Field(None, description="only referrals in this status")
    overdue: bool = Field(False, description="only those past their set time, neither acted on nor explained")


class Referral(Answer):
    id: int
    from_: AuthorityNames = Field(alias="from")
    to: AuthorityNames
    incident_id: int | None
    matter: str | None
    summary: str
    status: ReferralStatus
    referred_at: AnswerTime
    respond_by: AnswerTime
    overdue: bool
    responded_at: AnswerTime | None
    response: str | None
    escalated_at: AnswerTime | None
    escalated_to: BodyNames | None


class ReferralList(Answer):
    referrals: list[Referral]


class Escalated(Answer):
    escalated: list[Referral] = Field(description="the referrals escalated by this call")


# -- jurisdiction disputes (seed 004 arts. 6-9) ------------------------------------------------


class DisputeBody(Body):
    party_a: AuthorityCode
    party_b: AuthorityCode = Field(description="another authority than party_a")
    incident_id: Id | None = Field(None, description="the incident in dispute (not closed)")
    subject: Text(4000)
    provisional_squad_id: Id = Field(
        description="the squad handling the incident meanwhile (a certified officer on duty)"
    )


class DisputePoint(Body):
    """Art. 7: one point in dispute, with each side's view and its legal basis."""

    point: Text(4000)
    view_a: Text(4000)
    basis_a: Text(4000)
    view_b: Text(4000)
    basis_b: Text(4000)


class AgreeStep(Body):
    """Art. 6: the parties settle it by negotiation."""

    step: Literal["agree"]
    resolution: Text(4000)
    competent_authority: AuthorityCode


class RequestStep(Body):
    """Arts. 6-7: the written request to the coordination office."""

    step: Literal["request"]
    points: list[DisputePoint] = Field(min_length=1)
    other: Text(4000) | None = None


class CoordinateStep(Body):
    """Art. 8: the coordination office's opinion; agreed, it resolves (competent_authority required)."""

    step: Literal["coordinate"]
    opinion: Text(8000)
    agreed: bool = False
    competent_authority: AuthorityCode | None = Field(None, description="required when agreed")


class ConsultStep(Body):
    """Art. 9: the consultation opinion; accepted, it resolves (competent_authority required)."""

    step: Literal["consult"]
    opinion: Text(8000)
    accepted: bool = False
    competent_authority: AuthorityCode | None = Field(None, description="required when accepted")


class DecideStep(Body):
    """Art. 9: the government decides."""

    step: Literal["decide"]
    decision: Text(8000)
    competent_authority: AuthorityCode


class ReassignStep(Body):
    """Another squad handles the incident meanwhile."""

    step: Literal["reassign"]
    provisional_squad_id: Id
    reason: Text(2000)


_STEPS = (AgreeStep, RequestStep, CoordinateStep, ConsultStep, DecideStep, ReassignStep)
_TAGS = {model.model_fields["step"].annotation.__args__[0] for model in _STEPS}
assert set(STEP_FIELDS) == _TAGS, "a step of the domain is not declared"


class DisputeStep(RootModel):
    """One step along arts. 6-9, by ``step``; the dispute's stage says which it allows (409 otherwise)."""

    root: Annotated[
        AgreeStep | RequestStep | CoordinateStep | ConsultStep | DecideStep | ReassignStep,
        Field(discriminator="step"),
    ]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> DisputeStep:
        """pydantic names the union's tag in each finding's path (``request.points[0]``): the API
        names the body's own path (``points[0]``), and ``step`` when the tag is missing or unknown."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as err:
            raise _untagged(err) from None


def _untagged(err: ValidationError) -> ValidationError:
    details = []
    for item in err.errors(include_url=False):
        kind, loc, ctx = item["type"], item["loc"], item.get("ctx")
        if kind == "union_tag_not_found":
            kind, loc, ctx = "missing", ("step",), None
        elif kind == "union_tag_invalid":
            kind, loc, ctx = "literal_error", ("step",), {"expected": ctx["expected_tags"]}
        elif kind == "model_attributes_type" and not loc:
            kind, ctx = "model_type", {"class_name": "DisputeStep"}
        elif loc and loc[0] in _TAGS:
            loc = loc[1:]
        details.append({"type": kind, "loc": loc, "input": item["input"], **({"ctx": ctx} if ctx else {})})
    return ValidationError.from_exception_data(err.title, details)


class DisputePointAnswer(Answer):
    point: str
    view_a: str
    basis_a: str
    view_b: str
    basis_b: str


class Dispute(Answer):
    id: int
    party_a: AuthorityNames
    party_b: AuthorityNames
    incident_id: int | None
    subject: str
    stage: Stage
    allowed_steps: list[StepName] = Field(description="the steps its stage allows")
    provisional_squad: SquadRef
    points: list[DisputePointAnswer] | None
    coordination_opinion: str | None
    consultation_opinion: str | None
    government_decision: str | None
    resolution: str | None
    competent_authority: AuthorityNames | None
    opened_at: AnswerTime
    resolved_at: AnswerTime | None


class DisputeList(Answer):
    disputes: list[Dispute]


# -- supervision notices and decisions (seed 004 arts. 15-17) ----------------------------------


class NoticeBody(Body):
    """Art. 16: a notice to correct within a time limit."""

    authority: AuthorityCode = Field(description="the supervised authority")
    method: Method = Field(description="how the problem was found (seed 004 art. 15)")
    problem: Text(8000)
    required_action: Text(8000)
    deadline: Day | None = Field(None, description="correct by the end of this day (default: the county's notice_days)")
    major: bool = Field(False, description="a major problem goes to the government at once")
    case_ids: id_list(50, min_items=0) | None = Field(None, description="cases of the authority concerned")
    visit_id: Id | None = Field(None, description="the supervision visit that found it (of the same authority)")


class NoticeResponseBody(Body):
    response: Text(8000) = Field(description="the correction made and the measures taken")


class NoticeReviewBody(Body):
    accepted: bool
    note: Text(4000) | None = Field(None, description="required when not accepted: what is still not corrected")


class NoticeDecisionBody(Body):
    """Art. 17: change or revoke a penalty decision of one of the notice's cases."""

    penalty_decision_id: Id
    action: DecisionAction
    ground: Ground = Field(description="one of the statutory grounds (1)-(5) of art. 17")
    legal_basis: Text(2000) | None = Field(None, description="required for other_statutory: the provision")
    content: Text(8000)


class SupervisionDecision(Answer):
    id: int
    notice_id: int
    penalty_decision_id: int
    action: DecisionAction
    ground: Ground
    legal_basis: str | None
    content: str
    issued_by: BodyNames
    issued_at: AnswerTime


class SupervisionNotice(Answer):
    id: int
    authority: AuthorityNames
    issued_by: BodyNames
    method: Method
    visit_id: int | None
    problem: str
    required_action: str
    major: bool
    status: NoticeStatus
    issued_at: AnswerTime
    deadline: AnswerTime
    overdue: bool
    response: str | None
    responded_at: AnswerTime | None
    review_note: str | None
    case_ids: list[int]
    decisions: list[SupervisionDecision]


class NoticeList(Answer):
    supervision_notices: list[SupervisionNotice]


# -- information sharing (seed 000 §2.1) ------------------------------------------------------


class SharedPartyIn(Body):
    name: Text(200) | None = None
    business_id: Text(32) | None = Field(None, description="the unified social credit code")


class ShareBody(Body):
    """A licence or an inspection record (penalty decisions are shared as they are issued)."""

    kind: Literal["licence", "inspection_record"]
    authority: AuthorityCode = Field(description="whose record it is")
    title: Text(300)
    party: SharedPartyIn | None = None
    domains: list[Domain] | None = Field(None, description="the domains it concerns besides the authority's own")
    made_at: Time | None = Field(None, description="when the record was made (default: now; not ahead of the clock)")
    delay_reason: Text(2000) | None = Field(None, description="required when made on an earlier day (China)")
    data: RecordData | None = Field(None, description="the record's own fields (licence number, result...)")


class FeedQuery(Query):
    department: AuthorityCode = Field(description="whose feed: the records of its domain and its own")
    date: Day | None = Field(None, description="records shared on this day (default: today)")
    since: Time | None = Field(None, description="records shared after this time (instead of a day)")


class SharedParty(Answer):
    name: str | None
    business_id: str | None


class SharedRecord(Answer):
    id: int
    kind: Literal[tuple(SHARED_KINDS)]  # type: ignore[valid-type]
    authority: AuthorityNames
    domains: list[str]
    title: str
    party: SharedParty
    made_at: AnswerTime
    shared_at: AnswerTime
    same_day: bool
    delay_reason: str | None
    penalty_decision_id: int | None
    data: dict[str, Any]


class SharingFeed(Answer):
    department: AuthorityNames
    day: Annotated[str, Field(json_schema_extra={"format": "date"})] | None
    since: AnswerTime | None
    records: list[SharedRecord]
