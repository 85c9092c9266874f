"""Routes of coordination between departments (Zhejiang's coordination measures): referrals and their
escalation, jurisdiction disputes, supervision notices and decisions, information sharing."""

from __future__ import annotations

from flask import jsonify, request

from dispatch.errors import ApiError
from dispatch.http.api.params import actor, json_body, query_flag
from dispatch.http.oversight_api import api, created, saved, status_arg
from dispatch.oversight import disputes, referrals, sharing, supervision
from dispatch.oversight.common import get_row, now_utc, parse_day
from dispatch.oversight.models import REFERRAL_STATUSES, JurisdictionDispute, SupervisionNotice
from dispatch.store.db import db
from dispatch.validation import parse_time

# -- referrals and escalation -------------------------------------------------------------------


@api.post("/referrals")
def new_referral():
    return created(referrals.referral_json(referrals.refer(db.session, json_body(), actor=actor())))


@api.get("/referrals")
def list_referrals():
    now = now_utc()
    if query_flag("overdue"):
        rows = referrals.overdue_referrals(db.session, now)
    else:
        rows = referrals.list_referrals(db.session, status=status_arg(REFERRAL_STATUSES))
    return jsonify({"referrals": [referrals.referral_json(r, now) for r in rows]})


@api.post("/referrals/<int:referral_id>/response")
def referral_response(referral_id: int):
    return saved(referrals.referral_json, referrals.respond(db.session, referral_id, json_body(), actor=actor()))


@api.post("/referrals/escalate-overdue")
def escalate_overdue():
    """For a scheduler: escalate every referral past its set time to the county government."""
    escalated = referrals.escalate_overdue(db.session, actor=actor())
    db.session.commit()
    return jsonify({"escalated": [referrals.referral_json(r) for r in escalated]})


# -- jurisdiction disputes ----------------------------------------------------------------------


@api.post("/disputes")
def new_dispute():
    return created(disputes.dispute_json(disputes.open_dispute(db.session, json_body(), actor=actor())))


@api.get("/disputes")
def list_disputes():
    rows = disputes.list_disputes(db.session, open_only=query_flag("open"))
    return jsonify({"disputes": [disputes.dispute_json(d) for d in rows]})


@api.get("/disputes/<int:dispute_id>")
def show_dispute(dispute_id: int):
    return jsonify(disputes.dispute_json(get_row(db.session, JurisdictionDispute, dispute_id, "dispute_id")))


@api.post("/disputes/<int:dispute_id>/steps")
def dispute_step(dispute_id: int):
    """``{"step": agree|request|coordinate|consult|decide|reassign, ...}``; 409 names the allowed steps."""
    return saved(disputes.dispute_json, disputes.step(db.session, dispute_id, json_body(), actor=actor()))


# -- supervision notices and decisions ----------------------------------------------------------


@api.post("/supervision-notices")
def new_notice():
    return created(supervision.notice_json(supervision.issue_notice(db.session, json_body(), actor=actor())))


@api.get("/supervision-notices")
def list_notices():
    now = now_utc()
    rows = supervision.list_notices(db.session, open_only=query_flag("open"))
    return jsonify({"supervision_notices": [supervision.notice_json(n, now) for n in rows]})


@api.get("/supervision-notices/<int:notice_id>")
def show_notice(notice_id: int):
    return jsonify(supervision.notice_json(get_row(db.session, SupervisionNotice, notice_id, "notice_id")))


@api.post("/supervision-notices/<int:notice_id>/response")
def notice_response(notice_id: int):
    return saved(supervision.notice_json, supervision.respond(db.session, notice_id, json_body(), actor=actor()))


@api.post("/supervision-notices/<int:notice_id>/review")
def notice_review(notice_id: int):
    notice = supervision.review_response(db.session, notice_id, json_body(), actor=actor())
    return saved(supervision.notice_json, notice)


@api.post("/supervision-notices/<int:notice_id>/decisions")
def notice_decision(notice_id: int):
    """Art. 17: change or revoke a penalty decision of the notice's cases on a statutory ground."""
    decision = supervision.decide(db.session, notice_id, json_body(), actor=actor())
    return created(supervision.decision_json(decision))


# -- information sharing ------------------------------------------------------------------------


@api.post("/sharing/records")
def share_record():
    return created(sharing.shared_json(sharing.share_from_body(db.session, json_body(), actor=actor())))


@api.get("/sharing/feed")
def sharing_feed():
    """``?department=CODE`` and ``?date=YYYY-MM-DD`` (default today) or ``?since=ISO time``."""
    department = request.args.get("department")
    if not department:
        raise ApiError("query parameter 'department' is required", field="department", code="missing_parameter")
    since = parse_time(request.args.get("since"), "since")
    day = parse_day(request.args.get("date"), "date", required=False)
    return jsonify(sharing.feed(db.session, department, day=day, since=since))
