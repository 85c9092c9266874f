"""Joint meetings and their tasks, inspect-once campaigns with their targets and findings
(dispatch.http.oversight_meetings; the rules in dispatch.oversight.meetings and campaigns).

What only the data can refuse (an unknown code, a department of another county, a task without its
owner or deadline, a second visit of a target) is a 422 or 409 there, naming the rule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dispatch.http.contract.common import Answer, AnswerTime, Body, Code, Day, Id, Int, PointIn, Query, Text, Time
from dispatch.http.contract.coordination import AuthorityNames
from dispatch.oversight.joint_work import CAMPAIGN_STATUSES, FINDING_RESULTS, MEETING_KINDS, TARGET_STATUSES

Kind = Literal[tuple(MEETING_KINDS)]  # type: ignore[valid-type]
OrgCode = Code


class RegionNames(Answer):
    code: str
    name: str
    name_en: str | None


class MeetingBody(Body):
    """A joint meeting (seed 000 §2.2: regular, ad hoc) or a consultation on a major lead (§2.3)."""

    kind: Kind
    title: Text(300)
    held_at: Time = Field(description="when it is (or was) held")
    convenor: OrgCode = Field(description="the convening authority or oversight body's code")
    participants: list[Code] = Field(
        min_length=1, max_length=50, description="the participating departments (authorities of the same county)"
    )
    incident_id: Id | None = Field(None, description="the major lead consulted on")
    agenda: Text(8000) | None = None
    minutes: Text(20000) | None = Field(None, description="the minutes (会议纪要)")


class MeetingTaskBody(Body):
    """A decision of the minutes: an owner and a deadline (a day, or working days from the meeting) are
    required by seed 003 annex 三(三); without them 422 ``owner_and_deadline_required``."""

    decision: Text(4000)
    owner: Code | None = Field(None, description="the responsible department's code (required)")
    person: Text(100) | None = Field(None, description="the responsible person")
    deadline: Day | None = Field(None, description="the last day (or give working_days)")
    working_days: Int | None = Field(None, ge=1, le=250, description="working days after the meeting's day")


class FeedbackBody(Body):
    feedback: Text(8000) = Field(description="the written report on what was done (seed 003 annex 三(四))")
    done_at: Time | None = Field(None, description="when it was done (default: now)")


class MeetingListQuery(Query):
    kind: Kind | None = Field(None, description="only meetings of this kind")


class MeetingTask(Answer):
    id: int
    meeting_id: int
    decision: str
    owner: AuthorityNames
    person: str | None
    working_days: int | None
    due_at: AnswerTime
    last_day: str
    status: Literal["open", "done"]
    feedback: str | None
    done_at: AnswerTime | None
    on_time: bool | None
    overdue: bool


class MeetingTaskList(Answer):
    tasks: list[MeetingTask]


class Meeting(Answer):
    id: int
    kind: Kind
    title: str
    held_at: AnswerTime
    county: RegionNames
    convenor: AuthorityNames
    participants: list[AuthorityNames]
    incident_id: int | None
    agenda: str | None
    minutes: str | None
    tasks: list[MeetingTask]


class MeetingList(Answer):
    meetings: list[Meeting]


# -- campaigns ----------------------------------------------------------------------------------


class CampaignBody(Body):
    """An inspect-once campaign over townships or an industry (seed 001 §3.3.2, seed 003 §7)."""

    title: Text(300)
    plan: Text(20000)
    lead: Code = Field(description="the leading authority's code")
    departments: list[Code] = Field(min_length=1, max_length=30, description="participating departments")
    regions: list[Code] | None = Field(None, max_length=50, description="township codes of the same county")
    industry: Text(100) | None = Field(None, description="the industry (regions or industry required)")
    starts_on: Day
    ends_on: Day


class TargetBody(Body):
    name: Text(200)
    business_id: Text(32) | None = Field(None, description="the unified social credit code")
    address: Text(300) | None = None
    location: PointIn


class FindingIn(Body):
    authority: Code
    result: Literal[tuple(FINDING_RESULTS)]  # type: ignore[valid-type]
    note: Text(4000)
    rectify_by: Day | None = Field(None, description="a violation's rectification deadline (required for one)")


class CampaignVisitBody(Body):
    """Every department's findings at one target, in its one visit (409 ``already_inspected`` after)."""

    target_id: Id
    visited_at: Time | None = None
    joint_inspection_id: Id | None = Field(None, description="the joint inspection that carried out the visit")
    findings: list[FindingIn] = Field(min_length=1, max_length=30)


class FindingCheckBody(Body):
    rectified: bool
    note: Text(4000)


class Finding(Answer):
    id: int
    target_id: int
    authority: AuthorityNames
    result: Literal[tuple(FINDING_RESULTS)]  # type: ignore[valid-type]
    note: str
    rectify_by: AnswerTime | None
    rectify_last_day: str | None
    check_result: Literal["rectified", "not_rectified"] | None
    check_note: str | None
    checked_at: AnswerTime | None
    check_overdue: bool


class Target(Answer):
    id: int
    campaign_id: int
    name: str
    business_id: str | None
    address: str | None
    location: dict
    region: str | None
    status: Literal[tuple(TARGET_STATUSES)]  # type: ignore[valid-type]
    visited_at: AnswerTime | None
    joint_inspection_id: int | None
    visits_avoided: int
    findings: list[Finding]


class TargetList(Answer):
    targets: list[Target]


class Campaign(Answer):
    id: int
    title: str
    status: Literal[tuple(CAMPAIGN_STATUSES)]  # type: ignore[valid-type]
    targets: int
    inspected: int
    visits_avoided: int
    plan: str
    industry: str | None
    county: RegionNames
    lead: AuthorityNames
    departments: list[AuthorityNames]
    regions: list[RegionNames]
    starts_on: str
    ends_on: str
    target_list: list[Target]


class CampaignList(Answer):
    campaigns: list[Campaign]
