"""Referral of leads to the competent department, and escalation (联合会商制度, seed 000 §2.3).

综合执法部门在执法过程中,发现...涉及其他部门管辖的违法行为的,应立即通知相关部门,接到通知的部门
应立即派执法人员进行处理,对接到通知后不能说明理由又拒不处理的,综合执法部门应向县人民政府报告.

A referral names the department; it either acts (``acting``) or explains why not
(``explained``) within the county's set time (``oversight_policy.referral_response_hours``).
``escalate_overdue`` reports every referral that did neither to the county
government and records it. It runs from the server's own scheduler (``dispatch.live.duty``,
job "escalation", every ``SCHEDULE_ESCALATION_S`` = 300 s, actor ``scheduler``); ``flask --app
dispatch oversight-tick`` and ``POST /api/v1/referrals/escalate-overdue`` do the same by hand.
A department may still act after the escalation; the escalation stays on the record.

The set time: the seed says 立即 twice, for the notice and for the department's officers
(应立即派执法人员进行处理): no grace period of days. Shengsi's oversight.yaml sets one hour,
the reading of 立即 it already gives on-site help (seed 000 §2.4, ``urgent_on_site_minutes``
60), the shortest period the whole-hour setting takes: with the scheduler's period a silent
department is reported within 1 h 5 min. (It was 24 h, a day the seed does not give.)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict
from dispatch.incidents import get_incident
from dispatch.jurisdiction import find_matter
from dispatch.oversight.common import (
    authority_ref,
    body_of,
    body_ref,
    comprehensive_authority,
    find_authority,
    get_row,
    now_utc,
    past_time,
    policy_for,
    record_change,
)
from dispatch.oversight.models import Referral
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.validation import check_fields, optional_id, required_text

RESPONSES = ("acting", "explained")


def refer(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> Referral:
    """Notify the competent department of a lead; its answer is due within the county's set time."""
    check_fields(body, {"from", "to", "incident_id", "matter", "summary", "referred_at"})
    now = now or now_utc()
    department = find_authority(session, body.get("to"), "to")
    source = comprehensive_authority(session, body, "from", department)
    if department.id == source.id:
        raise ApiError("a lead is referred to another department", field="to", status=422)
    require_organisation(actor, source, what="refer a lead in its name")
    if department.kind != "department":
        raise ApiError(
            f"{department.name_zh} is not a functional department", field="to", status=422, code="not_a_department"
        )
    matter = find_matter(session, body["matter"]) if body.get("matter") is not None else None
    if matter is not None and matter.domain != department.domain:
        raise Conflict(
            f"matter {matter.code} ({matter.domain}) is not in the competence of {department.name_zh} "
            f"({department.domain})",
            field="to",
            code="not_competent",
        )
    incident_id = optional_id(body, "incident_id")
    if incident_id is not None:
        get_incident(session, incident_id)
    referred_at = past_time(body, "referred_at", now)
    hours = policy_for(session, source).referral_response_hours
    referral = Referral(
        from_authority=source,
        to_authority=department,
        incident_id=incident_id,
        matter=matter,
        summary=required_text(body, "summary", 4000),
        status="referred",
        referred_at=referred_at,
        respond_by=referred_at + dt.timedelta(hours=hours),
        created_by=actor,
    )
    session.add(referral)
    session.flush()
    record_change(
        session,
        referral,
        incident_id=referral.incident_id,
        actor=actor,
        action="referral.referred",
        data={
            "to": department.code,
            "matter": matter.code if matter else None,
            "respond_by": referral.respond_by.isoformat(),
        },
    )
    return referral


def respond(session: Session, referral_id: int, body: dict, *, actor: str, now: dt.datetime | None = None) -> Referral:
    """The department acts (who handles it) or explains why it does not (说明理由)."""
    check_fields(body, {"action", "note"})
    action = body.get("action")
    if action not in RESPONSES:
        raise ApiError("must be acting or explained", field="action")
    note = required_text(body, "note", 4000)
    referral = get_row(session, Referral, referral_id, "referral_id", lock=True)
    require_organisation(actor, referral.to_authority, what="answer a lead referred to it")
    if referral.status not in ("referred", "escalated"):
        raise Conflict(
            f"referral {referral.id} was already answered ({referral.status})",
            code="already_answered",
            details={"status": referral.status},
        )
    previous = referral.status
    referral.status = action
    referral.response = note
    referral.responded_at = now or now_utc()
    record_change(
        session,
        referral,
        incident_id=referral.incident_id,
        actor=actor,
        action=f"referral.{action}",
        data={"from": previous, "note": note, "late": referral.responded_at > referral.respond_by},
    )
    return referral


def overdue_referrals(session: Session, now: dt.datetime | None = None) -> list[Referral]:
    """Referrals neither acted on nor explained past their set time (not yet escalated)."""
    now = now or now_utc()
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.status == "referred", Referral.respond_by < now)
            .options(selectinload(Referral.to_authority), selectinload(Referral.from_authority))
            .order_by(Referral.respond_by, Referral.id)
        )
    )


def escalate_overdue(session: Session, *, actor: str, now: dt.datetime | None = None) -> list[Referral]:
    """Report every overdue referral to the county government and record it (idempotent)."""
    now = now or now_utc()
    ids = [r.id for r in overdue_referrals(session, now)]
    escalated = []
    for referral_id in ids:
        referral = get_row(session, Referral, referral_id, "referral_id", lock=True)
        if referral.status != "referred":  # answered meanwhile
            continue
        government = body_of(session, "government", referral.from_authority)
        referral.status = "escalated"
        referral.escalated_at = now
        referral.escalated_to = government
        record_change(
            session,
            referral,
            incident_id=referral.incident_id,
            actor=actor,
            action="referral.escalated",
            data={
                "to": government.code,
                "department": referral.to_authority.code,
                "respond_by": referral.respond_by.isoformat(),
                "overdue_minutes": round((now - referral.respond_by).total_seconds() / 60),
            },
        )
        escalated.append(referral)
    return escalated


def list_referrals(session: Session, *, status: str | None = None) -> list[Referral]:
    query = select(Referral).order_by(Referral.id)
    if status:
        query = query.where(Referral.status == status)
    return list(session.scalars(query))


def referral_json(referral: Referral, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": referral.id,
        "from": authority_ref(referral.from_authority),
        "to": authority_ref(referral.to_authority),
        "incident_id": referral.incident_id,
        "matter": referral.matter.code if referral.matter else None,
        "summary": referral.summary,
        "status": referral.status,
        "referred_at": iso(referral.referred_at),
        "respond_by": iso(referral.respond_by),
        "overdue": referral.status == "referred" and now > referral.respond_by,
        "responded_at": iso(referral.responded_at),
        "response": referral.response,
        "escalated_at": iso(referral.escalated_at),
        "escalated_to": body_ref(referral.escalated_to),
    }
