"""Routes of oversight and coordination: thin adapters over the domain modules.

``bp`` is the one blueprint to register; it nests the JSON API (under /api/v1)
and the pages (/supervisor), and carries the CLI commands ``seed-oversight`` and
``oversight-tick``.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select

from dispatch.errors import ApiError
from dispatch.http.api.params import actor, json_body, query_flag, query_int
from dispatch.oversight import assistance, cases, disputes, personnel, referrals, sharing, supervision
from dispatch.oversight.charts import report_charts
from dispatch.oversight.common import get_row, now_utc, parse_day
from dispatch.oversight.dashboard import dashboard
from dispatch.oversight.figures import annual_report, report_csv
from dispatch.oversight.models import (
    ASSISTANCE_STATUSES,
    CRIMINAL_STATUSES,
    REFERRAL_STATUSES,
    CriminalReferral,
    JurisdictionDispute,
    OversightStaff,
    SupervisionNotice,
)
from dispatch.record import event_json
from dispatch.store.db import db
from dispatch.validation import parse_time
from gis.clock import CHINA, local_day

bp = Blueprint("oversight", __name__, template_folder="templates")
api = Blueprint("api", __name__, url_prefix="/api/v1")
pages = Blueprint("pages", __name__)


def _created(payload: dict):
    db.session.commit()
    return jsonify(payload), 201


def _saved(payload_of, row):
    db.session.commit()
    return jsonify(payload_of(row))


def _status_arg(allowed: tuple[str, ...]) -> str | None:
    status = request.args.get("status")
    if status is not None and status not in allowed:
        raise ApiError(f"one of {', '.join(allowed)}", field="status")
    return status


# -- personnel: certificates, training, supervisors ---------------------------------------------


@api.post("/officers/<int:officer_id>/training")
def add_training(officer_id: int):
    row = personnel.add_training(db.session, officer_id, json_body(), actor=actor())
    return _created(personnel.training_json(row))


@api.get("/training")
def training():
    """Hours per officer in ``?year=`` (default this year); ``?under=1``: those below 60."""
    year = query_int("year", local_day(now_utc()).year, low=2000, high=2100)
    return jsonify(
        {
            "year": year,
            "required_hours": personnel.TRAINING_HOURS_PER_YEAR,
            "officers": personnel.training_hours(db.session, year, under_only=query_flag("under")),
        }
    )


@api.get("/certificates")
def certificates():
    """Enforcement certificates expired or expiring within ``?within_days=`` (default 60)."""
    within = query_int("within_days", 60, low=0, high=3650)
    return jsonify({"within_days": within, "officers": personnel.certificates(db.session, within_days=within)})


@api.get("/oversight-staff")
def oversight_staff():
    today = local_day(now_utc())
    rows = db.session.scalars(select(OversightStaff).order_by(OversightStaff.role, OversightStaff.code))
    return jsonify({"staff": [personnel.staff_json(s, today) for s in rows]})


@api.post("/supervision-visits")
def new_visit():
    return _created(personnel.visit_json(personnel.record_visit(db.session, json_body(), actor=actor())))


# -- cases, legal review, penalty decisions, criminal referrals ---------------------------------


@api.post("/cases")
def new_case():
    return _created(cases.case_json(cases.open_case(db.session, json_body(), actor=actor())))


@api.get("/cases/<int:case_id>")
def show_case(case_id: int):
    body = cases.case_json(cases.get_case(db.session, case_id))
    body["events"] = [event_json(e) for e in cases.events_of_case(db.session, case_id)]
    return jsonify(body)


@api.post("/cases/<int:case_id>/legal-reviews")
def request_review(case_id: int):
    return _created(cases.review_json(cases.request_review(db.session, case_id, json_body(), actor=actor())))


@api.post("/legal-reviews/<int:review_id>/outcome")
def review_outcome(review_id: int):
    """Only a legal reviewer of the case's authority (``X-Actor``) passes or fails it, with reasons."""
    return _saved(cases.review_json, cases.decide_review(db.session, review_id, json_body(), actor=actor()))


@api.post("/cases/<int:case_id>/decisions")
def issue_decision(case_id: int):
    """409 ``legal_review_required`` for a major penalty without a passed legal review."""
    return _created(cases.decision_json(cases.issue_decision(db.session, case_id, json_body(), actor=actor())))


@api.post("/cases/<int:case_id>/criminal-referrals")
def transfer_case(case_id: int):
    return _created(cases.criminal_json(cases.transfer_case(db.session, case_id, json_body(), actor=actor())))


@api.get("/criminal-referrals")
def list_criminal_referrals():
    status = _status_arg(CRIMINAL_STATUSES)
    query = select(CriminalReferral).order_by(CriminalReferral.id)
    if status:
        query = query.where(CriminalReferral.status == status)
    return jsonify({"criminal_referrals": [cases.criminal_json(r) for r in db.session.scalars(query)]})


@api.get("/criminal-referrals/<int:referral_id>")
def show_criminal_referral(referral_id: int):
    row = get_row(db.session, CriminalReferral, referral_id, "criminal_referral_id")
    return jsonify(cases.criminal_json(row, with_record=True))


@api.post("/criminal-referrals/<int:referral_id>/status")
def criminal_referral_status(referral_id: int):
    return _saved(cases.criminal_json, cases.update_transfer(db.session, referral_id, json_body(), actor=actor()))


# -- assistance requests ------------------------------------------------------------------------


@api.post("/assistance-requests")
def new_assistance_request():
    return _created(assistance.assistance_json(assistance.send_request(db.session, json_body(), actor=actor())))


@api.get("/assistance-requests")
def list_assistance_requests():
    """All requests (``?status=``), or ``?overdue=1``: past their time limit, or nobody on site in time."""
    now = now_utc()
    if query_flag("overdue"):
        rows = assistance.overdue_requests(db.session, now)
    else:
        rows = assistance.list_requests(db.session, status=_status_arg(ASSISTANCE_STATUSES))
    return jsonify({"assistance_requests": [assistance.assistance_json(r, now) for r in rows]})


@api.post("/assistance-requests/<int:request_id>/on-site")
def assistance_on_site(request_id: int):
    return _saved(assistance.assistance_json, assistance.on_site(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/answer")
def assistance_answer(request_id: int):
    return _saved(assistance.assistance_json, assistance.answer(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/extend")
def assistance_extend(request_id: int):
    return _saved(assistance.assistance_json, assistance.extend(db.session, request_id, json_body(), actor=actor()))


# -- referrals and escalation -------------------------------------------------------------------


@api.post("/referrals")
def new_referral():
    return _created(referrals.referral_json(referrals.refer(db.session, json_body(), actor=actor())))


@api.get("/referrals")
def list_referrals():
    now = now_utc()
    if query_flag("overdue"):
        rows = referrals.overdue_referrals(db.session, now)
    else:
        rows = referrals.list_referrals(db.session, status=_status_arg(REFERRAL_STATUSES))
    return jsonify({"referrals": [referrals.referral_json(r, now) for r in rows]})


@api.post("/referrals/<int:referral_id>/response")
def referral_response(referral_id: int):
    return _saved(referrals.referral_json, referrals.respond(db.session, referral_id, json_body(), actor=actor()))


@api.post("/referrals/escalate-overdue")
def escalate_overdue():
    """For a scheduler: escalate every referral past its set time to the county government."""
    escalated = referrals.escalate_overdue(db.session, actor=actor())
    db.session.commit()
    return jsonify({"escalated": [referrals.referral_json(r) for r in escalated]})


# -- jurisdiction disputes ----------------------------------------------------------------------


@api.post("/disputes")
def new_dispute():
    return _created(disputes.dispute_json(disputes.open_dispute(db.session, json_body(), actor=actor())))


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
    return _saved(disputes.dispute_json, disputes.step(db.session, dispute_id, json_body(), actor=actor()))


# -- supervision notices and decisions ----------------------------------------------------------


@api.post("/supervision-notices")
def new_notice():
    return _created(supervision.notice_json(supervision.issue_notice(db.session, json_body(), actor=actor())))


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
    return _saved(supervision.notice_json, supervision.respond(db.session, notice_id, json_body(), actor=actor()))


@api.post("/supervision-notices/<int:notice_id>/review")
def notice_review(notice_id: int):
    notice = supervision.review_response(db.session, notice_id, json_body(), actor=actor())
    return _saved(supervision.notice_json, notice)


@api.post("/supervision-notices/<int:notice_id>/decisions")
def notice_decision(notice_id: int):
    """Art. 17: change or revoke a penalty decision of the notice's cases on a statutory ground."""
    decision = supervision.decide(db.session, notice_id, json_body(), actor=actor())
    return _created(supervision.decision_json(decision))


# -- information sharing ------------------------------------------------------------------------


@api.post("/sharing/records")
def share_record():
    return _created(sharing.shared_json(sharing.share_from_body(db.session, json_body(), actor=actor())))


@api.get("/sharing/feed")
def sharing_feed():
    """``?department=CODE`` and ``?date=YYYY-MM-DD`` (default today) or ``?since=ISO time``."""
    department = request.args.get("department")
    if not department:
        raise ApiError("query parameter 'department' is required", field="department", code="missing_parameter")
    since = parse_time(request.args.get("since"), "since")
    day = parse_day(request.args.get("date"), "date", required=False)
    return jsonify(sharing.feed(db.session, department, day=day, since=since))


# -- the annual report --------------------------------------------------------------------------

FORMATS = {"json": "application/json", "csv": "text/csv", "html": "text/html"}


@api.get("/reports/annual")
def annual():
    """``?year=`` (default: last year, as published each January) as JSON, ``?format=csv`` or ``html``."""
    year = query_int("year", local_day(now_utc()).year - 1, low=2000, high=2100)
    fmt = request.args.get("format")
    if fmt is None:
        best = request.accept_mimetypes.best_match(list(FORMATS.values()), default="application/json")
        fmt = next(k for k, v in FORMATS.items() if v == best)
    if fmt not in FORMATS:
        raise ApiError("one of json, csv, html", field="format", code="invalid_parameter")
    report = annual_report(db.session, year)
    if fmt == "csv":
        return Response(
            report_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="annual-report-{year}.csv"'},
        )
    if fmt == "html":
        return render_template("oversight/annual_report.html", report=report, charts=report_charts(report))
    return jsonify(report)


# -- pages --------------------------------------------------------------------------------------


@pages.get("/supervisor")
def supervisor_page():
    """The supervisor's page: overdue work, open disputes, notices and this year's figures."""
    data = dashboard(db.session, now_utc())
    return render_template("oversight/supervisor.html", charts=report_charts(data["report"]), **data)


@bp.app_template_filter("cst")
def china_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the county reads it (China Standard Time)."""
    if value is None:
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CHINA).strftime(fmt)


@bp.app_template_filter("last_day")
def last_day(value: dt.datetime) -> str:
    """The last day of a time limit that ends at midnight (``calendar.end_of_day``)."""
    return local_day(value - dt.timedelta(seconds=1)).isoformat()


bp.register_blueprint(api)
bp.register_blueprint(pages)
