"""Rosters and live availability (issue 29): shifts, squad status by hand, certificate suspensions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dispatch.http.contract.common import Answer, AnswerTime, Body, Id, Query, Text, Time
from dispatch.store.models import SQUAD_STATUS_REASONS

SquadStatusByHand = Literal["available", "on_task", "busy", "returning", "out_of_service", "off_duty"]
StatusReason = Literal[tuple(SQUAD_STATUS_REASONS)]  # type: ignore[valid-type]


class ShiftQuery(Query):
    from_: Time = Field(alias="from", description="shifts ending after this time")
    to: Time = Field(description="shifts starting before this time (at most 62 days after from)")
    squad_id: Id | None = Field(None, description="one squad's (its own and its officers' shifts)")
    squads: bool = Field(False, description="1: also the squads (officers, who is on duty now) for the week grid")


class ShiftBody(Body):
    squad_id: Id | None = Field(None, description="a squad's shift (all its rostered officers on duty)")
    officer_id: Id | None = Field(None, description="or one officer's")
    start: Time
    end: Time = Field(description="after start, at most 48 hours later")
    role: Text(40) | None = Field(None, description="the role on shift: leader, crew, boat pilot, ...")


class ShiftImportBody(Body):
    csv: Text(1_000_000) = Field(
        description="header squad,officer,start,end,role; squad by code, officer by certificate number (empty: "
        "the squad's shift); times RFC 3339, or YYYY-MM-DD HH:MM China time. All lines or none."
    )
    dry_run: bool = Field(False, description="check only, store nothing")


class RosterSquadRef(Answer):
    id: int
    code: str
    name: str
    name_en: str | None


class RosterOfficerRef(Answer):
    id: int
    name: str


class RosterShift(Answer):
    id: int
    squad_id: int | None = Field(description="set for a squad's shift")
    officer_id: int | None = Field(description="set for an officer's shift")
    squad: RosterSquadRef | None
    officer: RosterOfficerRef | None
    start: AnswerTime
    end: AnswerTime
    role: str | None
    created_by: str


class RosterOfficer(Answer):
    id: int
    name: str
    certified: bool = Field(description="a certificate valid today (expiry only)")
    auxiliary: bool
    on_duty_now: bool = Field(description="on duty now (the roster, else the seed's flag) and certificate held")


class RosterSquad(Answer):
    id: int
    code: str
    name: str
    name_en: str | None
    status: str
    officers: list[RosterOfficer]


class ShiftList(Answer):
    shifts: list[RosterShift]
    squads: list[RosterSquad] | None = Field(None, description="with ?squads=1")


class ShiftDeleted(Answer):
    id: int
    deleted: bool


class ShiftImported(Answer):
    imported: int
    checked: int
    shifts: list[RosterShift]


class SquadStatusBody(Body):
    status: SquadStatusByHand = Field(description="on_task (busy) follows the tasks: never set by hand (409)")
    reason: StatusReason | None = Field(None, description="required for out_of_service, refused otherwise")


class SquadStatusSet(Answer):
    id: int
    status: str
    status_reason: str | None
    status_since: AnswerTime
    allowed: list[str] = Field(description="the statuses it may be given by hand next")
    event_id: int


class CertificateActionBody(Body):
    kind: Literal["suspension", "revocation"] = Field(description="暂扣 (until end or lifted) or 注销 (final)")
    start: Time | None = Field(None, description="from (default now)")
    end: Time | None = Field(None, description="a suspension's planned end (none: until lifted)")
    document: Text(200) = Field(description="the deciding document (its number and title)")
    reason: Text(2000) | None = None


class CertificateLiftBody(Body):
    document: Text(200) = Field(description="the document lifting the suspension")


class CertificateActionOut(Answer):
    id: int
    officer_id: int
    kind: str
    start: AnswerTime
    end: AnswerTime | None
    document: str
    reason: str | None
    created_by: str
    lifted_at: AnswerTime | None
    lifted_by: str | None
    lift_document: str | None


class CertificateActionList(Answer):
    actions: list[CertificateActionOut]
