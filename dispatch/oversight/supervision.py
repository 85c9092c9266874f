"""Supervision notices and decisions (seed 002 task 6; seed 004 arts. 15-17).

Art. 16: the justice bureau issues a 行政执法监督通知书 telling an authority to correct
within a time limit. Seed 002 task 6: the authority corrects itself; for a major
problem, or when it refuses, the government issues a 行政执法监督决定书. Art. 17: the
decision changes or revokes the act, only on one of the statutory grounds (1)-(5)
and only after the notice lapsed (逾期不纠正或未落实整改措施). A decision names the penalty
decision it changes or revokes, which must belong to a case linked to the notice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict
from dispatch.oversight.calendar import end_of_day
from dispatch.oversight.common import (
    authority_ref,
    body_of,
    body_ref,
    find_authority,
    flag,
    get_row,
    now_utc,
    parse_day,
    policy_for,
    record_change,
)
from dispatch.oversight.models import (
    DECISION_ACTIONS,
    STATUTORY_GROUNDS,
    SUPERVISION_METHODS,
    EnforcementCase,
    PenaltyDecision,
    SupervisionDecision,
    SupervisionNotice,
    SupervisionVisit,
)
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.validation import check_fields, id_list, optional_id, optional_text, positive_id, required_text
from gis.clock import local_day

NOTICE_FIELDS = {"authority", "method", "problem", "required_action", "deadline", "major", "case_ids", "visit_id"}


def issue_notice(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> SupervisionNotice:
    """Art. 16: a notice to correct, with its time limit (default: the county's notice_days)."""
    check_fields(body, NOTICE_FIELDS)
    now = now or now_utc()
    authority = find_authority(session, body.get("authority"), "authority")
    require_organisation(actor, body_of(session, "justice_bureau", authority), what="issue a supervision notice")
    method = body.get("method")
    if method not in SUPERVISION_METHODS:
        raise ApiError(f"one of {', '.join(SUPERVISION_METHODS)} (seed 004 art. 15)", field="method")
    if body.get("deadline") is None:
        deadline = end_of_day(local_day(now) + dt.timedelta(days=policy_for(session, authority).notice_days))
    else:
        deadline = end_of_day(parse_day(body.get("deadline"), "deadline"))
        if deadline <= now:
            raise ApiError("the time limit must lie ahead", field="deadline", status=422)
    case_ids = id_list(body, "case_ids", minimum=0, maximum=50, required=False)
    cases = list(session.scalars(select(EnforcementCase).where(EnforcementCase.id.in_(case_ids))))
    missing = sorted(set(case_ids) - {c.id for c in cases})
    if missing:
        raise ApiError(f"no case {', '.join(map(str, missing))}", field="case_ids", status=404, code="not_found")
    for case in cases:
        if case.authority_id != authority.id:
            raise ApiError(f"case {case.id} is not a case of {authority.name_zh}", field="case_ids", status=422)
    visit_id = optional_id(body, "visit_id")
    if visit_id is not None and get_row(session, SupervisionVisit, visit_id, "visit_id").authority_id != authority.id:
        raise ApiError(f"visit {visit_id} supervised another authority", field="visit_id", status=422)
    notice = SupervisionNotice(
        authority=authority,
        issued_by=body_of(session, "justice_bureau", authority),
        visit_id=visit_id,
        method=method,
        problem=required_text(body, "problem", 8000),
        required_action=required_text(body, "required_action", 8000),
        major=flag(body, "major"),
        status="issued",
        issued_at=now,
        deadline=deadline,
        cases=cases,
        created_by=actor,
    )
    session.add(notice)
    session.flush()
    record_change(
        session,
        notice,
        notice_id=notice.id,
        actor=actor,
        action="supervision_notice.issued",
        data={
            "authority": authority.code,
            "deadline": deadline.isoformat(),
            "case_ids": case_ids,
            "major": notice.major,
        },
    )
    return notice


def respond(
    session: Session, notice_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> SupervisionNotice:
    """The supervised authority reports its correction (自行纠正) and measures."""
    check_fields(body, {"response"})
    response = required_text(body, "response", 8000)
    notice = get_row(session, SupervisionNotice, notice_id, "notice_id", lock=True)
    require_organisation(actor, notice.authority, what="answer a supervision notice addressed to it")
    if notice.status not in ("issued", "rejected"):
        raise Conflict(
            f"notice {notice.id} is {notice.status}", code="notice_closed", details={"status": notice.status}
        )
    now = now or now_utc()
    notice.status = "responded"
    notice.response = response
    notice.responded_at = now
    record_change(
        session,
        notice,
        notice_id=notice.id,
        actor=actor,
        action="supervision_notice.responded",
        data={"response": response, "late": now > notice.deadline},
    )
    return notice


def review_response(
    session: Session, notice_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> SupervisionNotice:
    """The justice bureau accepts the correction, or rejects it (未落实整改措施)."""
    check_fields(body, {"accepted", "note"})
    if not isinstance(body.get("accepted"), bool):
        raise ApiError("required: true or false", field="accepted")
    note = optional_text(body, "note", 4000)
    if not body["accepted"] and not note:
        raise ApiError("say what is still not corrected", field="note", status=422)
    notice = get_row(session, SupervisionNotice, notice_id, "notice_id", lock=True)
    require_organisation(actor, body_of(session, "justice_bureau", notice.authority), what="review a correction")
    if notice.status != "responded":
        raise Conflict(f"notice {notice.id} is {notice.status}: nothing to review", code="nothing_to_review")
    notice.status = "accepted" if body["accepted"] else "rejected"
    notice.review_note = note
    notice.reviewed_at = now or now_utc()
    record_change(
        session,
        notice,
        notice_id=notice.id,
        actor=actor,
        action=f"supervision_notice.{notice.status}",
        data={"note": note},
    )
    return notice


def lapsed(notice: SupervisionNotice, now: dt.datetime) -> bool:
    """Open for a decision: a major problem, a rejected correction, or past the limit uncorrected."""
    return notice.status != "accepted" and (
        notice.major or notice.status == "rejected" or (notice.status == "issued" and now > notice.deadline)
    )


def decide(
    session: Session, notice_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> SupervisionDecision:
    """Art. 17: the government changes or revokes a penalty decision on a statutory ground."""
    check_fields(body, {"penalty_decision_id", "action", "ground", "legal_basis", "content"})
    now = now or now_utc()
    action = body.get("action")
    if action not in DECISION_ACTIONS:
        raise ApiError("must be change or revoke", field="action")
    ground = body.get("ground")
    if ground not in STATUTORY_GROUNDS:
        raise ApiError(
            f"a supervision decision cites one of the statutory grounds of art. 17: {', '.join(STATUTORY_GROUNDS)}",
            field="ground",
            code="not_a_statutory_ground",
        )
    legal_basis = optional_text(body, "legal_basis", 2000)
    if ground == "other_statutory" and legal_basis is None:
        raise ApiError("name the law, regulation or rule that provides this ground", field="legal_basis", status=422)
    content = required_text(body, "content", 8000)
    decision_id = positive_id(body.get("penalty_decision_id"), "penalty_decision_id")
    notice = get_row(session, SupervisionNotice, notice_id, "notice_id", lock=True)
    government = body_of(session, "government", notice.authority)
    require_organisation(actor, government, what="change or revoke a penalty decision (seed 004 art. 17)")
    if not lapsed(notice, now):
        raise Conflict(
            f"notice {notice.id} is {notice.status} with time limit {notice.deadline.isoformat()}: a decision "
            "follows only a major problem, a rejected correction or a lapsed time limit",
            field="notice_id",
            code="notice_not_lapsed",
        )
    penalty = get_row(session, PenaltyDecision, decision_id, "penalty_decision_id", lock=True)
    if penalty.case_id not in {c.id for c in notice.cases}:
        raise ApiError(
            f"penalty decision {penalty.id} belongs to case {penalty.case_id}, not a case of notice {notice.id}",
            field="penalty_decision_id",
            status=422,
        )
    if penalty.status == "revoked":
        raise Conflict(f"penalty decision {penalty.id} is already revoked", field="penalty_decision_id", code="revoked")
    decision = SupervisionDecision(
        notice=notice,
        penalty_decision=penalty,
        action=action,
        ground=ground,
        legal_basis=legal_basis,
        content=content,
        issued_by=government,
        issued_at=now,
        created_by=actor,
    )
    session.add(decision)
    previous, penalty.status = penalty.status, "changed" if action == "change" else "revoked"
    session.flush()
    record_change(
        session,
        decision,
        notice_id=notice.id,
        actor=actor,
        action=f"supervision_decision.{action}",
        data={
            "penalty_decision_id": penalty.id,
            "case_id": penalty.case_id,
            "ground": ground,
            "legal_basis": legal_basis,
            "penalty_from": previous,
            "penalty_to": penalty.status,
        },
    )
    return decision


def list_notices(session: Session, *, open_only: bool = False) -> list[SupervisionNotice]:
    query = (
        select(SupervisionNotice)
        .options(
            selectinload(SupervisionNotice.authority),
            selectinload(SupervisionNotice.cases),
            selectinload(SupervisionNotice.decisions),
        )
        .order_by(SupervisionNotice.deadline, SupervisionNotice.id)
    )
    if open_only:
        query = query.where(SupervisionNotice.status.in_(("issued", "responded", "rejected")))
    return list(session.scalars(query))


def decision_json(decision: SupervisionDecision) -> dict:
    return {
        "id": decision.id,
        "notice_id": decision.notice_id,
        "penalty_decision_id": decision.penalty_decision_id,
        "action": decision.action,
        "ground": decision.ground,
        "legal_basis": decision.legal_basis,
        "content": decision.content,
        "issued_by": body_ref(decision.issued_by),
        "issued_at": iso(decision.issued_at),
    }


def notice_json(notice: SupervisionNotice, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": notice.id,
        "authority": authority_ref(notice.authority),
        "issued_by": body_ref(notice.issued_by),
        "method": notice.method,
        "visit_id": notice.visit_id,
        "problem": notice.problem,
        "required_action": notice.required_action,
        "major": notice.major,
        "status": notice.status,
        "issued_at": iso(notice.issued_at),
        "deadline": iso(notice.deadline),
        "overdue": notice.status == "issued" and now > notice.deadline,
        "response": notice.response,
        "responded_at": iso(notice.responded_at),
        "review_note": notice.review_note,
        "case_ids": [c.id for c in notice.cases],
        "decisions": [decision_json(d) for d in notice.decisions],
    }
