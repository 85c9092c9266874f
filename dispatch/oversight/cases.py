"""Cases, legal review before a major penalty, penalty decisions and criminal referrals.

- Seed 002 task 5 (and 004 art. 14 (6)): only officers holding a valid certificate act as
  enforcers of a case; an auxiliary assists a certified officer, never alone.
- Administrative Penalty Law (2021) art. 42 (执法人员不得少于两人): a case is opened with at
  least two certified enforcers; one is refused (422 ``two_enforcers_required``).
- Seed 002 tasks 1 and 4: 重大行政处罚案件未经法制机构审核,不得下发处罚决定 — a major penalty
  decision is refused until the latest legal review of the case passed; only a legal
  reviewer of the case's authority reviews, and outcome and reasons go on the record.
- "Major" is a rule, not only the caller's word: a fine above the county's threshold
  (``oversight_policy.major_fine_yuan``, from oversight.yaml, where its source is documented:
  seed 002 task 4's 重大执法决定法制审核, Administrative Penalty Law art. 58) is a major decision
  whatever the case says. Without a passed legal review such a decision is refused (422
  ``major_by_threshold``, the rule named); with one, the case is raised to major on the record.
- Seed 000 §2.6 and seed 001 §3.3.4 (行刑衔接): a case is transferred to the police or the
  procuratorate with its record; while the transfer stands no penalty replaces it (杜绝以罚代刑).
"""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, object_session

from dispatch.errors import ApiError, Conflict
from dispatch.incidents import get_incident
from dispatch.jurisdiction import find_matter
from dispatch.oversight.common import (
    authority_ref,
    body_ref,
    find_authority,
    find_body,
    flag,
    get_row,
    now_utc,
    past_time,
    policy_for,
    record_change,
    staff_acting,
)
from dispatch.oversight.models import (
    CriminalReferral,
    EnforcementCase,
    LegalReview,
    PenaltyDecision,
    case_officer,
)
from dispatch.oversight.sharing import share_penalty_decision
from dispatch.record import event_json
from dispatch.rosters import certificate_held
from dispatch.scope import require_organisation, require_person
from dispatch.shapes import iso
from dispatch.store.models import Event, Officer
from dispatch.validation import check_fields, id_list, optional_id, optional_text, required_text
from gis.clock import local_day

CASE_FIELDS = {"authority", "matter", "incident_id", "party", "summary", "major", "enforcer_ids", "assistant_ids"}
# Seed 000 §2.6: who may receive a transfer, and how its status moves.
MAX_FINE_YUAN = 9_999_999_999.99  # numeric(12, 2)
# Administrative Penalty Law (2021) art. 42: 执法人员不得少于两人, each holding a certificate.
MIN_ENFORCERS = 2
CRIMINAL_TRANSITIONS = {"transferred": ("accepted", "declined"), "accepted": ("concluded",)}


def _officers(session: Session, ids: list[int], field: str) -> list[Officer]:
    rows = {o.id: o for o in session.scalars(select(Officer).where(Officer.id.in_(ids)))}
    for index, officer_id in enumerate(ids):
        if officer_id not in rows:
            raise ApiError(f"no officer {officer_id}", field=f"{field}[{index}]", code="unknown_officer", status=404)
    return [rows[i] for i in ids]


def open_case(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> EnforcementCase:
    """Open a case in an authority's name with its enforcers (certified) and assistants."""
    check_fields(body, CASE_FIELDS)
    now = now or now_utc()
    authority = find_authority(session, body.get("authority"), "authority")
    require_organisation(actor, authority, what="open a case in its name")
    matter = find_matter(session, body["matter"]) if body.get("matter") is not None else None
    if matter is not None and matter.domain != authority.domain:
        raise Conflict(
            f"{authority.name_zh} ({authority.domain}) is not competent for matter {matter.code} ({matter.domain})",
            field="matter",
            code="not_competent",
        )
    incident_id = optional_id(body, "incident_id")
    if incident_id is not None:
        get_incident(session, incident_id)
    party = body.get("party")
    if not isinstance(party, dict):
        raise ApiError("required: {name, business_id?}", field="party")
    check_fields(party, {"name", "business_id"}, "party.")
    party_name = required_text(party, "name", 200, "party.")
    business_id = optional_text(party, "business_id", 32, "party.")
    summary = required_text(body, "summary", 4000)
    major = flag(body, "major")
    enforcer_ids = id_list(body, "enforcer_ids", maximum=10)
    assistant_ids = id_list(body, "assistant_ids", minimum=0, maximum=10, required=False)
    both = set(enforcer_ids) & set(assistant_ids)
    if both:
        raise ApiError(f"officer {min(both)} is listed as enforcer and assistant", field="assistant_ids", status=422)
    today = local_day(now)
    enforcers = _officers(session, enforcer_ids, "enforcer_ids")
    for index, officer in enumerate(enforcers):
        if officer.auxiliary:
            raise Conflict(
                f"{officer.name} is an auxiliary (协勤): auxiliaries assist, they never enforce",
                field=f"enforcer_ids[{index}]",
                code="auxiliary_not_enforcer",
            )
        if not officer.certified_on(today):
            raise Conflict(
                f"{officer.name}'s enforcement certificate expired on {officer.certificate_expires}",
                field=f"enforcer_ids[{index}]",
                code="certificate_expired",
            )
        if not certificate_held(session, officer.id, now):
            raise Conflict(
                f"{officer.name}'s enforcement certificate is suspended or revoked (暂扣/注销)",
                field=f"enforcer_ids[{index}]",
                code="certificate_suspended",
            )
    if len(enforcers) < MIN_ENFORCERS:
        raise ApiError(
            f"a case needs at least {MIN_ENFORCERS} certified enforcers (Administrative Penalty Law art. 42: "
            f"执法人员不得少于两人); {len(enforcers)} named",
            field="enforcer_ids",
            status=422,
            code="two_enforcers_required",
            details={"rule": "Administrative Penalty Law art. 42", "minimum": MIN_ENFORCERS},
        )
    assistants = _officers(session, assistant_ids, "assistant_ids")

    case = EnforcementCase(
        authority=authority,
        matter=matter,
        incident_id=incident_id,
        party_name=party_name,
        party_business_id=business_id,
        summary=summary,
        major=major,
        status="investigating",
        opened_at=now,
        created_by=actor,
    )
    session.add(case)
    session.flush()
    session.execute(
        case_officer.insert(),
        [{"case_id": case.id, "officer_id": o.id, "role": "enforcer"} for o in enforcers]
        + [{"case_id": case.id, "officer_id": o.id, "role": "assistant"} for o in assistants],
    )
    record_change(
        session,
        case,
        case_id=case.id,
        incident_id=case.incident_id,
        actor=actor,
        action="case.opened",
        data={
            "authority": authority.code,
            "matter": matter.code if matter else None,
            "major": major,
            "enforcers": enforcer_ids,
            "assistants": assistant_ids,
        },
    )
    return case


def get_case(session: Session, case_id: int, *, lock: bool = False) -> EnforcementCase:
    return get_row(session, EnforcementCase, case_id, "case_id", lock=lock)


def _require_open(case: EnforcementCase, doing: str) -> None:
    if case.status != "investigating":
        raise Conflict(
            f"case {case.id} is {case.status}; {doing} needs a case under investigation",
            field="case_id",
            code="case_not_open",
            details={"status": case.status},
        )


def request_review(session: Session, case_id: int, body: dict, *, actor: str) -> LegalReview:
    """Submit the intended decision of a case to legal review (法制审核)."""
    check_fields(body, {"proposed_decision"})
    proposed = required_text(body, "proposed_decision", 4000)
    case = get_case(session, case_id, lock=True)
    require_organisation(actor, case.authority, what="submit its case to legal review")
    _require_open(case, "a legal review")
    if any(r.status == "pending" for r in case.reviews):
        raise Conflict(f"case {case.id} already has a legal review pending", field="case_id", code="review_pending")
    review = LegalReview(case=case, status="pending", proposed_decision=proposed, requested_by=actor)
    session.add(review)
    session.flush()
    record_change(
        session, review, case_id=case.id, incident_id=case.incident_id, actor=actor, action="legal_review.requested"
    )
    return review


def decide_review(
    session: Session, review_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> LegalReview:
    """Seed 002 task 1: the authority's legal office (a legal reviewer) passes or fails, with reasons."""
    check_fields(body, {"outcome", "reasons"})
    outcome = body.get("outcome")
    if outcome not in ("passed", "failed"):
        raise ApiError("must be passed or failed", field="outcome")
    reasons = required_text(body, "reasons", 4000)
    review = get_row(session, LegalReview, review_id, "review_id", lock=True)
    require_person(actor, "a legal review")
    reviewer = staff_acting(session, actor, "legal_reviewer")
    if reviewer is None or reviewer.authority_id != review.case.authority_id:
        raise ApiError(
            f"{actor!r} is not a legal reviewer of {review.case.authority.name_zh}; only they review its cases",
            field="actor",
            status=403,
            code="not_a_reviewer",
        )
    if review.status != "pending":
        raise Conflict(f"legal review {review.id} is already {review.status}", code="review_closed")
    review.status = outcome
    review.reasons = reasons
    review.reviewer = reviewer
    review.reviewed_at = now or now_utc()
    record_change(
        session,
        review,
        case_id=review.case.id,
        incident_id=review.case.incident_id,
        actor=actor,
        action=f"legal_review.{outcome}",
        data={"reviewer": reviewer.code, "reasons": reasons},
    )
    return review


def _active_transfer(case: EnforcementCase, session: Session) -> CriminalReferral | None:
    return session.scalar(
        select(CriminalReferral).where(
            CriminalReferral.case_id == case.id, CriminalReferral.status.in_(("transferred", "accepted", "concluded"))
        )
    )


def issue_decision(
    session: Session, case_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> PenaltyDecision:
    """Issue the penalty decision of a case; a major one only after its legal review passed."""
    check_fields(body, {"number", "content", "fine_yuan", "issued_at"})
    now = now or now_utc()
    number = required_text(body, "number", 60)
    content = required_text(body, "content", 8000)
    fine = body.get("fine_yuan")
    if fine is not None and (
        isinstance(fine, bool) or not isinstance(fine, int | float) or not 0 <= fine <= MAX_FINE_YUAN
    ):
        raise ApiError(f"an amount in yuan from 0 to {MAX_FINE_YUAN}", field="fine_yuan")
    issued_at = past_time(body, "issued_at", now)
    case = get_case(session, case_id, lock=True)
    require_organisation(actor, case.authority, what="issue the penalty decision of its case")
    transfer = _active_transfer(case, session)
    if transfer is not None:
        raise Conflict(
            f"case {case.id} was transferred to {transfer.to_body.name_zh} (criminal referral {transfer.id}, "
            f"{transfer.status}); no penalty replaces a criminal prosecution",
            field="case_id",
            code="transferred_to_justice",
        )
    _require_open(case, "a penalty decision")
    review = case.reviews[-1] if case.reviews else None
    threshold = policy_for(session, case.authority).major_fine_yuan
    over = fine is not None and threshold is not None and decimal.Decimal(str(fine)) > threshold
    if over and not case.major and (review is None or review.status != "passed"):
        raise ApiError(
            f"a fine of ¥{fine:,} is above ¥{threshold:,.0f}, the threshold of a major penalty decision "
            "(oversight_policy.major_fine_yuan; seed 002 task 4: 重大执法决定法制审核): the case is major "
            "whatever it says, and its decision is issued only after its legal review passed"
            + (f" (latest review {review.id} is {review.status})" if review else " (none requested)"),
            field="fine_yuan",
            status=422,
            code="major_by_threshold",
            details={"rule": "seed 002 task 4", "threshold_yuan": float(threshold)},
        )
    if over and not case.major:
        case.major = True
        record_change(
            session,
            case,
            case_id=case.id,
            incident_id=case.incident_id,
            actor=actor,
            action="case.raised_to_major",
            data={"rule": "seed 002 task 4", "fine_yuan": fine, "threshold_yuan": float(threshold)},
        )
    if case.major and (review is None or review.status != "passed"):
        raise Conflict(
            "a major penalty decision is issued only after its legal review passed"
            + (f" (latest review {review.id} is {review.status})" if review else " (none requested)"),
            field="legal_review",
            code="legal_review_required",
        )
    if session.scalar(select(PenaltyDecision.id).where(PenaltyDecision.number == number)) is not None:
        raise Conflict(f"decision number {number!r} is taken", field="number", code="duplicate_number")
    decision = PenaltyDecision(
        case=case,
        number=number,
        content=content,
        fine_yuan=decimal.Decimal(str(fine)) if fine is not None else None,
        legal_review=review if review is not None and review.status == "passed" else None,
        status="issued",
        issued_at=issued_at,
        issued_by=actor,
    )
    session.add(decision)
    case.status = "decided"
    session.flush()
    record_change(
        session,
        decision,
        case_id=case.id,
        incident_id=case.incident_id,
        actor=actor,
        action="penalty_decision.issued",
        data={"number": number, "legal_review_id": decision.legal_review_id, "fine_yuan": fine},
    )
    share_penalty_decision(session, decision, actor=actor, now=now)
    return decision


def events_of_case(session: Session, case_id: int) -> list[Event]:
    """The case's record: its own events and those of its reviews, decisions and transfers."""
    return list(
        session.scalars(
            select(Event)
            .where(
                or_(
                    and_(Event.entity_type == "enforcement_case", Event.entity_id == case_id),
                    Event.data["case_id"].astext == str(case_id),
                )
            )
            .order_by(Event.id)
        )
    )


def transfer_case(session: Session, case_id: int, body: dict, *, actor: str) -> CriminalReferral:
    """Transfer a case suspected of a crime to the police or procuratorate, with its record."""
    check_fields(body, {"to", "suspected_offence"})
    to = find_body(session, body.get("to"), "to", ("police", "procuratorate"))
    offence = required_text(body, "suspected_offence", 2000)
    case = get_case(session, case_id, lock=True)
    require_organisation(actor, case.authority, what="transfer its case")
    transfer = _active_transfer(case, session)
    if transfer is not None:
        raise Conflict(
            f"case {case.id} is already with {transfer.to_body.name_zh} (criminal referral {transfer.id})",
            field="case_id",
            code="already_transferred",
        )
    if case.status == "closed":
        raise Conflict(f"case {case.id} is closed", field="case_id", code="case_not_open")
    snapshot = [event_json(e) for e in events_of_case(session, case.id)]
    referral = CriminalReferral(
        case=case,
        to_body=to,
        suspected_offence=offence,
        status="transferred",
        record={"case": case_json(case), "events": snapshot},
        created_by=actor,
    )
    session.add(referral)
    case.status = "transferred"
    session.flush()
    record_change(
        session,
        referral,
        case_id=case.id,
        incident_id=case.incident_id,
        actor=actor,
        action="criminal_referral.transferred",
        data={"to": to.code, "suspected_offence": offence, "events_handed_over": len(snapshot)},
    )
    return referral


def update_transfer(
    session: Session, referral_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> CriminalReferral:
    """Track what the police or procuratorate did: accepted (立案), declined (back to the authority), concluded."""
    check_fields(body, {"to", "note"})
    to = body.get("to")
    note = optional_text(body, "note", 4000)
    referral = get_row(session, CriminalReferral, referral_id, "criminal_referral_id", lock=True)
    require_organisation(actor, referral.to_body, what="say what became of a case transferred to it")
    allowed = CRIMINAL_TRANSITIONS.get(referral.status, ())
    if to not in allowed:
        raise Conflict(
            f"a {referral.status} criminal referral cannot become {to!r}",
            field="to",
            code="illegal_transition",
            details={"state": referral.status, "allowed": list(allowed)},
        )
    if to == "declined" and not note:
        raise ApiError("say why the case was not accepted", field="note", status=422)
    previous, referral.status = referral.status, to
    referral.note = note
    referral.updated_at = now or now_utc()
    case = referral.case
    if to == "declined":
        # Not a crime after all: the authority handles it administratively again.
        case.status = "decided" if case.decisions else "investigating"
    record_change(
        session,
        referral,
        case_id=case.id,
        incident_id=case.incident_id,
        actor=actor,
        action=f"criminal_referral.{to}",
        data={"from": previous, "note": note},
    )
    return referral


def review_json(review: LegalReview) -> dict:
    return {
        "id": review.id,
        "case_id": review.case_id,
        "status": review.status,
        "proposed_decision": review.proposed_decision,
        "requested_by": review.requested_by,
        "requested_at": iso(review.requested_at),
        "reviewer": {"code": review.reviewer.code, "name": review.reviewer.name} if review.reviewer else None,
        "reasons": review.reasons,
        "reviewed_at": iso(review.reviewed_at),
    }


def decision_json(decision: PenaltyDecision) -> dict:
    return {
        "id": decision.id,
        "case_id": decision.case_id,
        "number": decision.number,
        "content": decision.content,
        "fine_yuan": float(decision.fine_yuan) if decision.fine_yuan is not None else None,
        "legal_review_id": decision.legal_review_id,
        "status": decision.status,
        "issued_at": iso(decision.issued_at),
        "issued_by": decision.issued_by,
    }


def criminal_json(referral: CriminalReferral, *, with_record: bool = False) -> dict:
    body = {
        "id": referral.id,
        "case_id": referral.case_id,
        "to": body_ref(referral.to_body),
        "suspected_offence": referral.suspected_offence,
        "status": referral.status,
        "allowed": list(CRIMINAL_TRANSITIONS.get(referral.status, ())),
        "transferred_at": iso(referral.transferred_at),
        "updated_at": iso(referral.updated_at),
        "note": referral.note,
        "events_handed_over": len(referral.record.get("events", [])),
    }
    if with_record:
        body["record"] = referral.record
    return body


def case_json(case: EnforcementCase) -> dict:
    return {
        "id": case.id,
        "authority": authority_ref(case.authority),
        "matter": case.matter.code if case.matter else None,
        "incident_id": case.incident_id,
        "party": {"name": case.party_name, "business_id": case.party_business_id},
        "summary": case.summary,
        "major": case.major,
        "status": case.status,
        "opened_at": iso(case.opened_at),
        "created_by": case.created_by,
        "officers": [
            {"id": officer_id, "role": role}
            for officer_id, role in object_session(case).execute(
                select(case_officer.c.officer_id, case_officer.c.role)
                .where(case_officer.c.case_id == case.id)
                .order_by(case_officer.c.role.desc(), case_officer.c.officer_id)
            )
        ],
        "reviews": [review_json(r) for r in case.reviews],
        "decisions": [decision_json(d) for d in case.decisions],
    }
