"""Routes of coordination between departments (Zhejiang's coordination measures): referrals and their
escalation, jurisdiction disputes, supervision notices and decisions, information sharing.

Each is declared (dispatch.http.contract.coordination): the body and query arrive checked; the
domain reads the checked body as plain JSON values and refuses what only the data can (422).
"""

from __future__ import annotations

from flask import jsonify, request

from dispatch.http.api.params import actor
from dispatch.http.contract import Link, operation
from dispatch.http.contract.coordination import (
    Dispute,
    DisputeBody,
    DisputeList,
    DisputeStep,
    Escalated,
    FeedQuery,
    NoticeBody,
    NoticeDecisionBody,
    NoticeList,
    NoticeResponseBody,
    NoticeReviewBody,
    OpenOnlyQuery,
    Referral,
    ReferralBody,
    ReferralList,
    ReferralQuery,
    ReferralResponseBody,
    ShareBody,
    SharedRecord,
    SharingFeed,
    SupervisionDecision,
    SupervisionNotice,
    plain,
)
from dispatch.http.oversight_api import api, created, saved
from dispatch.oversight import disputes, referrals, sharing, supervision
from dispatch.oversight.common import get_row, now_utc
from dispatch.oversight.models import JurisdictionDispute
from dispatch.oversight.models import SupervisionNotice as NoticeRow
from dispatch.store.db import db


def _body() -> dict:
    return plain(request.context.json)


# -- referrals and escalation -------------------------------------------------------------------

_REFERRAL = {"respond": Link("referral_response", "the department acts or explains", referral_id="$response.body#/id")}


@api.post("/referrals")
@operation(
    body=ReferralBody, answers={201: Referral}, errors=(404, 409, 422), tags=["coordination"], links={201: _REFERRAL}
)
def new_referral():
    """Refer a lead to the competent department (seed 000 §2.3); its answer is due within the county's set time."""
    return created(referrals.referral_json(referrals.refer(db.session, _body(), actor=actor())))


@api.get("/referrals")
@operation(query=ReferralQuery, answers={200: ReferralList}, tags=["coordination"])
def list_referrals():
    """Every referral, ``?status=`` one status, or ``?overdue=1`` those past their set time unanswered."""
    query = request.context.query
    now = now_utc()
    if query.overdue:
        rows = referrals.overdue_referrals(db.session, now)
    else:
        rows = referrals.list_referrals(db.session, status=query.status)
    return jsonify({"referrals": [referrals.referral_json(r, now) for r in rows]})


@api.post("/referrals/<int:referral_id>/response")
@operation(body=ReferralResponseBody, answers={200: Referral}, errors=(404, 409), tags=["coordination"])
def referral_response(referral_id: int):
    """The department referred to acts or explains why not, once (409 when already answered)."""
    return saved(referrals.referral_json, referrals.respond(db.session, referral_id, _body(), actor=actor()))


@api.post("/referrals/escalate-overdue")
@operation(answers={200: Escalated}, errors=(409,), tags=["coordination"])
def escalate_overdue():
    """For a scheduler: escalate every referral past its set time to the county government."""
    escalated = referrals.escalate_overdue(db.session, actor=actor())
    db.session.commit()
    return jsonify({"escalated": [referrals.referral_json(r) for r in escalated]})


# -- jurisdiction disputes ----------------------------------------------------------------------

_DISPUTE = {
    "show": Link("show_dispute", dispute_id="$response.body#/id"),
    "step": Link("dispute_step", "the next step along arts. 6-9", dispute_id="$response.body#/id"),
}


@api.post("/disputes")
@operation(
    body=DisputeBody, answers={201: Dispute}, errors=(404, 409, 422), tags=["coordination"], links={201: _DISPUTE}
)
def new_dispute():
    """Record a jurisdiction dispute between two authorities and the squad handling the incident meanwhile."""
    return created(disputes.dispute_json(disputes.open_dispute(db.session, _body(), actor=actor())))


@api.get("/disputes")
@operation(query=OpenOnlyQuery, answers={200: DisputeList}, tags=["coordination"])
def list_disputes():
    """Every dispute, or ``?open=1`` those not resolved."""
    rows = disputes.list_disputes(db.session, open_only=request.context.query.open)
    return jsonify({"disputes": [disputes.dispute_json(d) for d in rows]})


@api.get("/disputes/<int:dispute_id>")
@operation(answers={200: Dispute}, errors=(404,), tags=["coordination"])
def show_dispute(dispute_id: int):
    return jsonify(disputes.dispute_json(get_row(db.session, JurisdictionDispute, dispute_id, "dispute_id")))


@api.post("/disputes/<int:dispute_id>/steps")
@operation(body=DisputeStep, answers={200: Dispute}, errors=(404, 409, 422), tags=["coordination"])
def dispute_step(dispute_id: int):
    """``{"step": agree|request|coordinate|consult|decide|reassign, ...}``; 409 names the allowed steps."""
    return saved(disputes.dispute_json, disputes.step(db.session, dispute_id, _body(), actor=actor()))


# -- supervision notices and decisions ----------------------------------------------------------

_NOTICE = {
    "show": Link("show_notice", notice_id="$response.body#/id"),
    "respond": Link("notice_response", "the authority reports its correction", notice_id="$response.body#/id"),
    "review": Link("notice_review", notice_id="$response.body#/id"),
    "decide": Link("notice_decision", "the government changes or revokes", notice_id="$response.body#/id"),
}


@api.post("/supervision-notices")
@operation(
    body=NoticeBody,
    answers={201: SupervisionNotice},
    errors=(404, 409, 422),
    tags=["coordination"],
    links={201: _NOTICE},
)
def new_notice():
    """Art. 16: the justice bureau tells an authority to correct within a time limit."""
    return created(supervision.notice_json(supervision.issue_notice(db.session, _body(), actor=actor())))


@api.get("/supervision-notices")
@operation(query=OpenOnlyQuery, answers={200: NoticeList}, tags=["coordination"])
def list_notices():
    """Every notice, or ``?open=1`` those issued, answered or rejected; earliest time limit first."""
    now = now_utc()
    rows = supervision.list_notices(db.session, open_only=request.context.query.open)
    return jsonify({"supervision_notices": [supervision.notice_json(n, now) for n in rows]})


@api.get("/supervision-notices/<int:notice_id>")
@operation(answers={200: SupervisionNotice}, errors=(404,), tags=["coordination"])
def show_notice(notice_id: int):
    return jsonify(supervision.notice_json(get_row(db.session, NoticeRow, notice_id, "notice_id")))


@api.post("/supervision-notices/<int:notice_id>/response")
@operation(body=NoticeResponseBody, answers={200: SupervisionNotice}, errors=(404, 409), tags=["coordination"])
def notice_response(notice_id: int):
    """The supervised authority reports its correction (409 once accepted, or while under review)."""
    return saved(supervision.notice_json, supervision.respond(db.session, notice_id, _body(), actor=actor()))


@api.post("/supervision-notices/<int:notice_id>/review")
@operation(body=NoticeReviewBody, answers={200: SupervisionNotice}, errors=(404, 409, 422), tags=["coordination"])
def notice_review(notice_id: int):
    """The justice bureau accepts the correction, or rejects it saying what is still not corrected."""
    notice = supervision.review_response(db.session, notice_id, _body(), actor=actor())
    return saved(supervision.notice_json, notice)


@api.post("/supervision-notices/<int:notice_id>/decisions")
@operation(body=NoticeDecisionBody, answers={201: SupervisionDecision}, errors=(404, 409, 422), tags=["coordination"])
def notice_decision(notice_id: int):
    """Art. 17: change or revoke a penalty decision of the notice's cases on a statutory ground."""
    decision = supervision.decide(db.session, notice_id, _body(), actor=actor())
    return created(supervision.decision_json(decision))


# -- information sharing ------------------------------------------------------------------------


@api.post("/sharing/records")
@operation(body=ShareBody, answers={201: SharedRecord}, errors=(422,), tags=["coordination"])
def share_record():
    """A department shares a licence or an inspection record, the day it is made (or says why not)."""
    return created(sharing.shared_json(sharing.share_from_body(db.session, _body(), actor=actor())))


@api.get("/sharing/feed")
@operation(query=FeedQuery, answers={200: SharingFeed}, errors=(422,), tags=["coordination"])
def sharing_feed():
    """``?department=CODE`` and ``?date=YYYY-MM-DD`` (default today) or ``?since=ISO time``."""
    query = request.context.query
    return jsonify(sharing.feed(db.session, query.department, day=query.date, since=query.since))
