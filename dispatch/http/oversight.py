"""Routes of oversight and coordination: thin adapters over the domain modules.

``bp`` is the one blueprint to register; it nests the JSON API (under /api/v1: dispatch.http.oversight_api,
with the routes here and in dispatch.http.oversight_coordination)
and the pages (/supervisor), and carries the CLI commands ``seed-oversight`` and
``oversight-tick``.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select

from dispatch.errors import ApiError
from dispatch.http import oversight_coordination  # noqa: F401 - its routes join the api blueprint
from dispatch.http.api.params import actor, json_body, query_flag, query_int
from dispatch.http.oversight_api import api, created, saved, status_arg
from dispatch.oversight import assistance, cases, personnel
from dispatch.oversight.charts import report_charts
from dispatch.oversight.common import get_row, now_utc
from dispatch.oversight.dashboard import dashboard
from dispatch.oversight.figures import annual_report, report_csv
from dispatch.oversight.models import (
    ASSISTANCE_STATUSES,
    CRIMINAL_STATUSES,
    CriminalReferral,
    OversightStaff,
)
from dispatch.record import event_json
from dispatch.store.db import db
from gis.clock import CHINA, local_day

bp = Blueprint("oversight", __name__, template_folder="templates")
pages = Blueprint("pages", __name__)


# -- personnel: certificates, training, supervisors ---------------------------------------------


@api.post("/officers/<int:officer_id>/training")
def add_training(officer_id: int):
    row = personnel.add_training(db.session, officer_id, json_body(), actor=actor())
    return created(personnel.training_json(row))


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
    return created(personnel.visit_json(personnel.record_visit(db.session, json_body(), actor=actor())))


# -- cases, legal review, penalty decisions, criminal referrals ---------------------------------


@api.post("/cases")
def new_case():
    return created(cases.case_json(cases.open_case(db.session, json_body(), actor=actor())))


@api.get("/cases/<int:case_id>")
def show_case(case_id: int):
    body = cases.case_json(cases.get_case(db.session, case_id))
    body["events"] = [event_json(e) for e in cases.events_of_case(db.session, case_id)]
    return jsonify(body)


@api.post("/cases/<int:case_id>/legal-reviews")
def request_review(case_id: int):
    return created(cases.review_json(cases.request_review(db.session, case_id, json_body(), actor=actor())))


@api.post("/legal-reviews/<int:review_id>/outcome")
def review_outcome(review_id: int):
    """Only a legal reviewer of the case's authority (``X-Actor``) passes or fails it, with reasons."""
    return saved(cases.review_json, cases.decide_review(db.session, review_id, json_body(), actor=actor()))


@api.post("/cases/<int:case_id>/decisions")
def issue_decision(case_id: int):
    """409 ``legal_review_required`` for a major penalty without a passed legal review."""
    return created(cases.decision_json(cases.issue_decision(db.session, case_id, json_body(), actor=actor())))


@api.post("/cases/<int:case_id>/criminal-referrals")
def transfer_case(case_id: int):
    return created(cases.criminal_json(cases.transfer_case(db.session, case_id, json_body(), actor=actor())))


@api.get("/criminal-referrals")
def list_criminal_referrals():
    status = status_arg(CRIMINAL_STATUSES)
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
    return saved(cases.criminal_json, cases.update_transfer(db.session, referral_id, json_body(), actor=actor()))


# -- assistance requests ------------------------------------------------------------------------


@api.post("/assistance-requests")
def new_assistance_request():
    return created(assistance.assistance_json(assistance.send_request(db.session, json_body(), actor=actor())))


@api.get("/assistance-requests")
def list_assistance_requests():
    """All requests (``?status=``), or ``?overdue=1``: past their time limit, or nobody on site in time."""
    now = now_utc()
    if query_flag("overdue"):
        rows = assistance.overdue_requests(db.session, now)
    else:
        rows = assistance.list_requests(db.session, status=status_arg(ASSISTANCE_STATUSES))
    return jsonify({"assistance_requests": [assistance.assistance_json(r, now) for r in rows]})


@api.post("/assistance-requests/<int:request_id>/on-site")
def assistance_on_site(request_id: int):
    return saved(assistance.assistance_json, assistance.on_site(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/answer")
def assistance_answer(request_id: int):
    return saved(assistance.assistance_json, assistance.answer(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/extend")
def assistance_extend(request_id: int):
    return saved(assistance.assistance_json, assistance.extend(db.session, request_id, json_body(), actor=actor()))


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


bp.register_blueprint(api)  # with the routes of oversight_coordination too
bp.register_blueprint(pages)
