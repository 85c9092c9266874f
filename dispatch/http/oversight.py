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

from dispatch import evidence
from dispatch.http import (
    oversight_coordination,  # noqa: F401 - its routes join the api blueprint
    oversight_desk,
    oversight_meetings,  # its routes join the api blueprint; its pages below
)
from dispatch.http.api.params import actor, json_body
from dispatch.http.auth import current_principal
from dispatch.http.contract import Link, operation
from dispatch.http.contract.oversight import (
    AnnualReport,
    AnswerBody,
    AssistanceBody,
    AssistanceList,
    AssistanceQuery,
    AssistanceRequest,
    Case,
    CaseBody,
    CaseWithRecord,
    CertificateQuery,
    Certificates,
    CriminalReferralList,
    CriminalReferralQuery,
    CriminalReferralRecord,
    DecisionBody,
    ExtendBody,
    LegalReview,
    OnSiteBody,
    PenaltyDecision,
    ReportQuery,
    ReviewOutcome,
    ReviewRequest,
    StaffList,
    TrainingBody,
    TrainingHours,
    TrainingQuery,
    TrainingRecord,
    TransferBody,
    TransferStatusBody,
    Visit,
    VisitBody,
)
from dispatch.http.contract.oversight import CriminalReferral as CriminalReferralAnswer
from dispatch.http.oversight_api import api, created, saved
from dispatch.http.web.pages import current_language
from dispatch.oversight import assistance, cases, personnel
from dispatch.oversight.charts import report_charts
from dispatch.oversight.common import get_row, now_utc
from dispatch.oversight.dashboard import dashboard
from dispatch.oversight.figures import annual_report, report_csv
from dispatch.oversight.models import CriminalReferral, OversightStaff
from dispatch.record import event_json
from dispatch.store.db import db
from gis.clock import CHINA, local_day

bp = Blueprint("oversight", __name__, template_folder="templates")
pages = Blueprint("pages", __name__)


# -- personnel: certificates, training, supervisors ---------------------------------------------

_CASE_LINKS = {
    "show": Link("show_case", "the case with its record", case_id="$response.body#/id"),
    "review": Link("request_review", "submit it to legal review", case_id="$response.body#/id"),
    "decide": Link("issue_decision", "issue its penalty decision", case_id="$response.body#/id"),
    "transfer": Link("transfer_case", "transfer it to the police or procuratorate", case_id="$response.body#/id"),
}
_REVIEW_LINKS = {"outcome": Link("review_outcome", "pass or fail it", review_id="$response.body#/id")}
_REFERRAL_LINKS = {
    "show": Link("show_criminal_referral", "the referral with its record", referral_id="$response.body#/id"),
    "status": Link("criminal_referral_status", "what became of it", referral_id="$response.body#/id"),
}
_ASSISTANCE_LINKS = {
    "on_site": Link("assistance_on_site", "officers reached the scene", request_id="$response.body#/id"),
    "answer": Link("assistance_answer", "the written opinion", request_id="$response.body#/id"),
    "extend": Link("assistance_extend", "a longer time limit", request_id="$response.body#/id"),
}


@api.post("/officers/<int:officer_id>/training")
@operation(body=TrainingBody, answers={201: TrainingRecord}, errors=(404, 422), tags=["oversight"])
def add_training(officer_id: int):
    """422 for a day ahead of today or hours with more than one decimal."""
    row = personnel.add_training(db.session, officer_id, json_body(), actor=actor())
    return created(personnel.training_json(row))


@api.get("/training")
@operation(query=TrainingQuery, answers={200: TrainingHours}, tags=["oversight"])
def training():
    """Hours per officer in ``?year=`` (default this year); ``?under=1``: those below 60."""
    query = request.context.query
    year = query.year or local_day(now_utc()).year
    return jsonify(
        {
            "year": year,
            "required_hours": personnel.TRAINING_HOURS_PER_YEAR,
            "officers": personnel.training_hours(db.session, year, under_only=query.under),
        }
    )


@api.get("/certificates")
@operation(query=CertificateQuery, answers={200: Certificates}, tags=["oversight"])
def certificates():
    """Enforcement certificates expired or expiring within ``?within_days=`` (default 60)."""
    within = request.context.query.within_days
    return jsonify({"within_days": within, "officers": personnel.certificates(db.session, within_days=within)})


@api.get("/oversight-staff")
@operation(answers={200: StaffList}, tags=["oversight"])
def oversight_staff():
    today = local_day(now_utc())
    rows = db.session.scalars(select(OversightStaff).order_by(OversightStaff.role, OversightStaff.code))
    return jsonify({"staff": [personnel.staff_json(s, today) for s in rows]})


@api.post("/supervision-visits")
@operation(body=VisitBody, answers={201: Visit}, errors=(409, 422), tags=["oversight"])
def new_visit():
    """409 ``too_few_supervisors`` on site without two certified supervisors; 422 for an unknown code."""
    return created(personnel.visit_json(personnel.record_visit(db.session, json_body(), actor=actor())))


# -- cases, legal review, penalty decisions, criminal referrals ---------------------------------


@api.post("/cases")
@operation(body=CaseBody, answers={201: Case}, errors=(404, 409, 422), tags=["cases"], links={201: _CASE_LINKS})
def new_case():
    """409 for an auxiliary or an expired certificate among the enforcers; 422 for unknown codes."""
    return created(cases.case_json(cases.open_case(db.session, json_body(), actor=actor())))


@api.get("/cases/<int:case_id>")
@operation(answers={200: CaseWithRecord}, errors=(404,), tags=["cases"])
def show_case(case_id: int):
    body = cases.case_json(cases.get_case(db.session, case_id))
    body["events"] = [event_json(e) for e in cases.events_of_case(db.session, case_id)]
    body["files"] = evidence.files_of(db.session, case_id=case_id)
    return jsonify(body)


@api.post("/cases/<int:case_id>/legal-reviews")
@operation(
    body=ReviewRequest, answers={201: LegalReview}, errors=(404, 409), tags=["cases"], links={201: _REVIEW_LINKS}
)
def request_review(case_id: int):
    return created(cases.review_json(cases.request_review(db.session, case_id, json_body(), actor=actor())))


@api.post("/legal-reviews/<int:review_id>/outcome")
@operation(body=ReviewOutcome, answers={200: LegalReview}, errors=(404, 409), tags=["cases"])
def review_outcome(review_id: int):
    """Only a legal reviewer of the case's authority, signed in as herself, passes or fails it, with reasons."""
    return saved(cases.review_json, cases.decide_review(db.session, review_id, json_body(), actor=actor()))


@api.post("/cases/<int:case_id>/decisions")
@operation(body=DecisionBody, answers={201: PenaltyDecision}, errors=(404, 409, 422), tags=["cases"])
def issue_decision(case_id: int):
    """409 ``legal_review_required`` for a major penalty without a passed legal review."""
    return created(cases.decision_json(cases.issue_decision(db.session, case_id, json_body(), actor=actor())))


@api.post("/cases/<int:case_id>/criminal-referrals")
@operation(
    body=TransferBody,
    answers={201: CriminalReferralAnswer},
    errors=(404, 409, 422),
    tags=["cases"],
    links={201: _REFERRAL_LINKS},
)
def transfer_case(case_id: int):
    return created(cases.criminal_json(cases.transfer_case(db.session, case_id, json_body(), actor=actor())))


@api.get("/criminal-referrals")
@operation(query=CriminalReferralQuery, answers={200: CriminalReferralList}, tags=["cases"])
def list_criminal_referrals():
    status = request.context.query.status
    query = select(CriminalReferral).order_by(CriminalReferral.id)
    if status:
        query = query.where(CriminalReferral.status == status)
    return jsonify({"criminal_referrals": [cases.criminal_json(r) for r in db.session.scalars(query)]})


@api.get("/criminal-referrals/<int:referral_id>")
@operation(answers={200: CriminalReferralRecord}, errors=(404,), tags=["cases"])
def show_criminal_referral(referral_id: int):
    row = get_row(db.session, CriminalReferral, referral_id, "criminal_referral_id")
    return jsonify(cases.criminal_json(row, with_record=True))


@api.post("/criminal-referrals/<int:referral_id>/status")
@operation(body=TransferStatusBody, answers={200: CriminalReferralAnswer}, errors=(404, 409, 422), tags=["cases"])
def criminal_referral_status(referral_id: int):
    """409 ``illegal_transition`` names the states allowed; 422 to decline without a note."""
    return saved(cases.criminal_json, cases.update_transfer(db.session, referral_id, json_body(), actor=actor()))


# -- assistance requests ------------------------------------------------------------------------


@api.post("/assistance-requests")
@operation(
    body=AssistanceBody,
    answers={201: AssistanceRequest},
    errors=(404, 409, 422),
    tags=["assistance"],
    links={201: _ASSISTANCE_LINKS},
)
def new_assistance_request():
    """Due at the end of the 5th working day; 422 for an unknown code or one that is no department."""
    return created(assistance.assistance_json(assistance.send_request(db.session, json_body(), actor=actor())))


@api.get("/assistance-requests")
@operation(query=AssistanceQuery, answers={200: AssistanceList}, tags=["assistance"])
def list_assistance_requests():
    """All requests (``?status=``), or ``?overdue=1``: past their time limit, or nobody on site in time."""
    query = request.context.query
    now = now_utc()
    if query.overdue:
        rows = assistance.overdue_requests(db.session, now)
    else:
        rows = assistance.list_requests(db.session, status=query.status)
    return jsonify({"assistance_requests": [assistance.assistance_json(r, now) for r in rows]})


@api.post("/assistance-requests/<int:request_id>/on-site")
@operation(body=OnSiteBody, answers={200: AssistanceRequest}, errors=(404, 409, 422), tags=["assistance"])
def assistance_on_site(request_id: int):
    return saved(assistance.assistance_json, assistance.on_site(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/answer")
@operation(body=AnswerBody, answers={200: AssistanceRequest}, errors=(404, 409), tags=["assistance"])
def assistance_answer(request_id: int):
    return saved(assistance.assistance_json, assistance.answer(db.session, request_id, json_body(), actor=actor()))


@api.post("/assistance-requests/<int:request_id>/extend")
@operation(body=ExtendBody, answers={200: AssistanceRequest}, errors=(404, 409, 422), tags=["assistance"])
def assistance_extend(request_id: int):
    """409 ``extension_too_late`` once the time limit passed; 422 for a day not after the current last one."""
    return saved(assistance.assistance_json, assistance.extend(db.session, request_id, json_body(), actor=actor()))


# -- the annual report --------------------------------------------------------------------------

FORMATS = {"json": "application/json", "csv": "text/csv", "html": "text/html"}


@api.get("/reports/annual")
@operation(
    query=ReportQuery,
    answers={200: AnnualReport},
    tags=["oversight"],
    media={200: {"text/csv": {"type": "string"}, "text/html": {"type": "string"}}},
)
def annual():
    """``?year=`` (default: last year, as published each January) as JSON, ``?format=csv`` or ``html``."""
    query = request.context.query
    year = query.year or local_day(now_utc()).year - 1
    fmt = query.format
    if fmt is None:
        best = request.accept_mimetypes.best_match(list(FORMATS.values()), default="application/json")
        fmt = next(k for k, v in FORMATS.items() if v == best)
    report = annual_report(db.session, year)
    if fmt == "csv":
        return Response(
            report_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="annual-report-{year}.csv"'},
        )
    if fmt == "html":
        page = render_template("oversight/annual_report.html", report=report, charts=report_charts(report))
        return Response(page, mimetype="text/html")
    return jsonify(report)


# -- pages --------------------------------------------------------------------------------------


@pages.get("/supervisor")
def supervisor_page():
    """The supervisor's page: overdue work, open disputes, notices and this year's figures."""
    now = now_utc()
    data = dashboard(db.session, now)
    lang = current_language()
    return render_template(
        "oversight/supervisor.html",
        charts=report_charts(data["report"]),
        desk=oversight_desk.supervisor_desk(db.session, current_principal(), now, data["open_disputes"]),
        desk_strings=oversight_desk.strings(lang),
        stage_label=oversight_desk.stage_label,
        lang=lang,
        **data,
    )


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
bp.register_blueprint(oversight_meetings.pages)  # /supervisor/meetings, /supervisor/campaigns
