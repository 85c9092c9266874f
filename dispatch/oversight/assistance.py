"""Enforcement assistance (执法协助制度, seed 000 §2.4).

The comprehensive force asks a department, in writing, for a technical opinion it
needs to establish a violation. The department answers with a written opinion
and evidence within 5 working days (一般应在5个工作日内); when the situation is
urgent or evidence may be lost (情况紧急或证据可能灭失) it sends officers on site at once;
when the matter is special or takes longer it says so beforehand (应事先告知) and
the time limit is extended with that reason.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict
from dispatch.incidents import get_incident
from dispatch.oversight.calendar import ASSISTANCE_WORKING_DAYS, deadline_after, end_of_day
from dispatch.oversight.common import (
    authority_ref,
    comprehensive_authority,
    find_authority,
    flag,
    get_row,
    now_utc,
    past_time,
    policy_for,
    record_change,
)
from dispatch.oversight.models import AssistanceRequest, EnforcementCase
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.validation import check_fields, optional_id, required_text
from gis.clock import local_day

WORKING_DAYS = ASSISTANCE_WORKING_DAYS  # seed 000 §2.4
PROVISIONAL_NOTE = (
    "provisional: the time limit runs past the holiday calendar's horizon, where only weekends were skipped; "
    "it is computed again when that year's State Council notice is loaded"
)
FIELDS = {"from", "to", "case_id", "incident_id", "question", "urgent", "evidence_at_risk", "sent_at"}


def send_request(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> AssistanceRequest:
    """Send a request; due at the end of the 5th working day after it was sent."""
    check_fields(body, FIELDS)
    now = now or now_utc()
    department = find_authority(session, body.get("to"), "to")
    requester = comprehensive_authority(session, body, "from", department)
    if department.kind != "department":
        raise ApiError(
            f"{department.name_zh} is not a functional department", field="to", code="not_a_department", status=422
        )
    if department.id == requester.id:
        raise ApiError("a department does not assist itself", field="to", status=422)
    require_organisation(actor, requester, what="ask for assistance in its name")
    case_id = optional_id(body, "case_id")
    if case_id is not None:
        get_row(session, EnforcementCase, case_id, "case_id")
    incident_id = optional_id(body, "incident_id")
    if incident_id is not None:
        get_incident(session, incident_id)
    urgent = flag(body, "urgent")
    at_risk = flag(body, "evidence_at_risk")
    sent_at = past_time(body, "sent_at", now)
    on_site_due = None
    if urgent or at_risk:
        on_site_due = sent_at + dt.timedelta(minutes=policy_for(session, requester).urgent_on_site_minutes)
    due_at, provisional = deadline_after(session, sent_at, WORKING_DAYS)
    request = AssistanceRequest(
        from_authority=requester,
        to_authority=department,
        case_id=case_id,
        incident_id=incident_id,
        question=required_text(body, "question", 4000),
        urgent=urgent,
        evidence_at_risk=at_risk,
        status="sent",
        sent_at=sent_at,
        due_at=due_at,
        due_provisional=provisional,
        on_site_due_at=on_site_due,
        created_by=actor,
    )
    session.add(request)
    session.flush()
    record_change(
        session,
        request,
        incident_id=request.incident_id,
        case_id=request.case_id,
        actor=actor,
        action="assistance_request.sent",
        data={
            "to": department.code,
            "due_at": request.due_at.isoformat(),
            "due_provisional": provisional,
            "on_site_due_at": iso(on_site_due),
            "urgent": urgent,
            "evidence_at_risk": at_risk,
        },
    )
    return request


def _lock_open(session: Session, request_id: int, actor: str) -> AssistanceRequest:
    """The request, locked, while it waits for its department: only that department answers it."""
    request = get_row(session, AssistanceRequest, request_id, "request_id", lock=True)
    require_organisation(actor, request.to_authority, what="answer an assistance request sent to it")
    if request.status != "sent":
        raise Conflict(f"assistance request {request.id} is {request.status}", code="request_closed")
    return request


def on_site(
    session: Session, request_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> AssistanceRequest:
    """The department's officers reached the scene (urgent requests, evidence at risk)."""
    check_fields(body, {"officers", "at"})
    now = now or now_utc()
    officers = required_text(body, "officers", 300)
    at = past_time(body, "at", now)
    request = _lock_open(session, request_id, actor)
    if request.on_site_at is not None:
        raise Conflict(f"officers were on site at {request.on_site_at.isoformat()}", code="already_on_site")
    if at < request.sent_at:
        raise ApiError("before the request was sent", field="at", status=422)
    request.on_site_at = at
    request.on_site_officers = officers
    record_change(
        session,
        request,
        incident_id=request.incident_id,
        case_id=request.case_id,
        actor=actor,
        action="assistance_request.on_site",
        data={
            "officers": officers,
            "at": at.isoformat(),
            "late": bool(request.on_site_due_at and at > request.on_site_due_at),
        },
    )
    return request


def answer(
    session: Session, request_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> AssistanceRequest:
    """The written opinion and its evidence (书面意见和相关证据材料)."""
    check_fields(body, {"opinion", "evidence"})
    now = now or now_utc()
    opinion = required_text(body, "opinion", 8000)
    evidence = body.get("evidence") or []
    if not isinstance(evidence, list) or any(not isinstance(e, str) or not e.strip() for e in evidence):
        raise ApiError("must be a list of evidence references (text)", field="evidence")
    request = _lock_open(session, request_id, actor)
    request.status = "answered"
    request.opinion = opinion
    request.evidence = evidence
    request.answered_at = now
    record_change(
        session,
        request,
        incident_id=request.incident_id,
        case_id=request.case_id,
        actor=actor,
        action="assistance_request.answered",
        data={"on_time": now <= request.due_at, "evidence": evidence},
    )
    return request


def extend(
    session: Session, request_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> AssistanceRequest:
    """A longer time limit, asked for before the current one passes and with a reason (应事先告知)."""
    check_fields(body, {"reason", "until"})
    now = now or now_utc()
    reason = required_text(body, "reason", 2000)
    until_text = body.get("until")
    if not isinstance(until_text, str):
        raise ApiError("required: the new last day YYYY-MM-DD", field="until")
    try:
        day = dt.date.fromisoformat(until_text)
    except ValueError:
        raise ApiError(f"{until_text!r} is not a date YYYY-MM-DD", field="until") from None
    if day >= dt.date.max:
        raise ApiError("lies too far ahead", field="until", status=422)
    until = end_of_day(day)
    request = _lock_open(session, request_id, actor)
    if now > request.due_at:
        raise Conflict(
            f"the time limit passed at {request.due_at.isoformat()}: an extension is asked for beforehand",
            field="until",
            code="extension_too_late",
        )
    if until <= request.due_at:
        raise ApiError(
            f"must be after the current last day {local_day(request.due_at - dt.timedelta(seconds=1))}",
            field="until",
            status=422,
        )
    previous, request.due_at = request.due_at, until
    request.due_provisional = False  # a day named by the extension, not counted in working days
    request.extension_reason = reason
    record_change(
        session,
        request,
        incident_id=request.incident_id,
        case_id=request.case_id,
        actor=actor,
        action="assistance_request.extended",
        data={"from": previous.isoformat(), "to": until.isoformat(), "reason": reason},
    )
    return request


def overdue_requests(session: Session, now: dt.datetime | None = None) -> list[AssistanceRequest]:
    """Open requests past their time limit, or urgent ones with nobody on site in time."""
    now = now or now_utc()
    return list(
        session.scalars(
            select(AssistanceRequest)
            .where(
                AssistanceRequest.status == "sent",
                or_(
                    AssistanceRequest.due_at < now,
                    (AssistanceRequest.on_site_due_at < now) & AssistanceRequest.on_site_at.is_(None),
                ),
            )
            .options(selectinload(AssistanceRequest.to_authority), selectinload(AssistanceRequest.from_authority))
            .order_by(AssistanceRequest.due_at, AssistanceRequest.id)
        )
    )


def list_requests(session: Session, *, status: str | None = None) -> list[AssistanceRequest]:
    query = select(AssistanceRequest).order_by(AssistanceRequest.id)
    if status:
        query = query.where(AssistanceRequest.status == status)
    return list(session.scalars(query))


def assistance_json(request: AssistanceRequest, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    waiting_on_site = request.on_site_due_at is not None and request.on_site_at is None
    return {
        "id": request.id,
        "from": authority_ref(request.from_authority),
        "to": authority_ref(request.to_authority),
        "case_id": request.case_id,
        "incident_id": request.incident_id,
        "question": request.question,
        "urgent": request.urgent,
        "evidence_at_risk": request.evidence_at_risk,
        "status": request.status,
        "sent_at": iso(request.sent_at),
        "due_at": iso(request.due_at),
        "due_provisional": request.due_provisional,
        **({"due_note": PROVISIONAL_NOTE} if request.due_provisional else {}),
        "on_site_due_at": iso(request.on_site_due_at),
        "on_site_at": iso(request.on_site_at),
        "on_site_officers": request.on_site_officers,
        "extension_reason": request.extension_reason,
        "answered_at": iso(request.answered_at),
        "opinion": request.opinion,
        "evidence": request.evidence,
        "overdue": request.status == "sent"
        and (now > request.due_at or (waiting_on_site and now > request.on_site_due_at)),
    }
