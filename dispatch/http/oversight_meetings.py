"""Routes of joint meetings (with the tasks of their minutes) and inspect-once campaigns (with their
targets and findings), on the oversight API blueprint; and their pages /supervisor/meetings and
/supervisor/campaigns. The rules are in dispatch.oversight.meetings and dispatch.oversight.campaigns.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from dispatch.http import oversight_desk
from dispatch.http.api.params import actor
from dispatch.http.auth import current_principal
from dispatch.http.contract import Link, operation
from dispatch.http.contract.coordination import plain
from dispatch.http.contract.meetings import (
    Campaign,
    CampaignBody,
    CampaignList,
    CampaignVisitBody,
    FeedbackBody,
    Finding,
    FindingCheckBody,
    Meeting,
    MeetingBody,
    MeetingList,
    MeetingListQuery,
    MeetingTask,
    MeetingTaskBody,
    MeetingTaskList,
    Target,
    TargetBody,
    TargetList,
)
from dispatch.http.oversight_api import api, created, saved
from dispatch.http.web.pages import current_language
from dispatch.oversight import campaigns, meetings
from dispatch.oversight.common import get_row, now_utc
from dispatch.oversight.joint_work import Campaign as CampaignRow
from dispatch.store.db import db

pages = Blueprint("meeting_pages", __name__)


def _body() -> dict:
    return plain(request.context.json)


_MEETING = {
    "show": Link("show_meeting", meeting_id="$response.body#/id"),
    "task": Link("new_meeting_task", "a decision of the minutes as a task", meeting_id="$response.body#/id"),
}


@api.post("/meetings")
@operation(body=MeetingBody, answers={201: Meeting}, errors=(404, 422), tags=["meetings"], links={201: _MEETING})
def new_meeting():
    """A joint meeting or a consultation, its participants (one county: 422 ``outside_county``) and minutes."""
    return created(meetings.meeting_json(meetings.create_meeting(db.session, _body(), actor=actor())))


@api.get("/meetings")
@operation(query=MeetingListQuery, answers={200: MeetingList}, tags=["meetings"])
def list_meetings():
    """Meetings, latest first, with their tasks (``overdue``: open past the deadline)."""
    now = now_utc()
    rows = meetings.list_meetings(db.session, kind=request.context.query.kind)
    return jsonify({"meetings": [meetings.meeting_json(m, now) for m in rows]})


@api.get("/meetings/<int:meeting_id>")
@operation(answers={200: Meeting}, errors=(404,), tags=["meetings"])
def show_meeting(meeting_id: int):
    return jsonify(meetings.meeting_json(meetings.get_meeting(db.session, meeting_id)))


@api.post("/meetings/<int:meeting_id>/tasks")
@operation(body=MeetingTaskBody, answers={201: MeetingTask}, errors=(404, 422), tags=["meetings"])
def new_meeting_task(meeting_id: int):
    """422 ``owner_and_deadline_required`` (seed 003 annex 三(三)); ``working_days`` by the county's calendar."""
    return created(meetings.task_json(meetings.add_task(db.session, meeting_id, _body(), actor=actor())))


@api.get("/meetings/<int:meeting_id>/tasks")
@operation(answers={200: MeetingTaskList}, errors=(404,), tags=["meetings"])
def list_meeting_tasks(meeting_id: int):
    meeting = meetings.get_meeting(db.session, meeting_id)
    now = now_utc()
    return jsonify({"tasks": [meetings.task_json(t, now) for t in meeting.tasks]})


@api.post("/meetings/<int:meeting_id>/tasks/<int:task_id>/feedback")
@operation(body=FeedbackBody, answers={200: MeetingTask}, errors=(404, 409, 422), tags=["meetings"])
def meeting_task_feedback(meeting_id: int, task_id: int):
    """The owner reports back (409 ``task_done`` when it already did); ``on_time`` against the deadline."""
    task = meetings.feedback(db.session, meeting_id, task_id, _body(), actor=actor())
    return saved(meetings.task_json, task)


# -- campaigns ----------------------------------------------------------------------------------

_CAMPAIGN = {
    "show": Link("show_campaign", campaign_id="$response.body#/id"),
    "target": Link("new_campaign_target", campaign_id="$response.body#/id"),
    "findings": Link("new_campaign_findings", "a target's one visit", campaign_id="$response.body#/id"),
}


@api.post("/campaigns")
@operation(body=CampaignBody, answers={201: Campaign}, errors=(404, 422), tags=["campaigns"], links={201: _CAMPAIGN})
def new_campaign():
    """An inspect-once campaign over townships or an industry of one county (422 ``outside_county``)."""
    return created(campaigns.campaign_json(campaigns.create_campaign(db.session, _body(), actor=actor())))


@api.get("/campaigns")
@operation(answers={200: CampaignList}, tags=["campaigns"])
def list_campaigns():
    now = now_utc()
    return jsonify({"campaigns": [campaigns.campaign_json(c, now) for c in campaigns.list_campaigns(db.session)]})


@api.get("/campaigns/<int:campaign_id>")
@operation(answers={200: Campaign}, errors=(404,), tags=["campaigns"])
def show_campaign(campaign_id: int):
    return jsonify(campaigns.campaign_json(get_row(db.session, CampaignRow, campaign_id, "campaign_id")))


@api.post("/campaigns/<int:campaign_id>/targets")
@operation(body=TargetBody, answers={201: Target}, errors=(404, 409, 422), tags=["campaigns"])
def new_campaign_target(campaign_id: int):
    """409 ``same_target`` for the same credit code or a place within 100 m of a target of the campaign."""
    return created(campaigns.target_json(campaigns.add_target(db.session, campaign_id, _body(), actor=actor())))


@api.get("/campaigns/<int:campaign_id>/targets")
@operation(answers={200: TargetList}, errors=(404,), tags=["campaigns"])
def list_campaign_targets(campaign_id: int):
    campaign = get_row(db.session, CampaignRow, campaign_id, "campaign_id")
    now = now_utc()
    return jsonify({"targets": [campaigns.target_json(t, now) for t in campaign.targets]})


@api.post("/campaigns/<int:campaign_id>/findings")
@operation(body=CampaignVisitBody, answers={201: Target}, errors=(404, 409, 422), tags=["campaigns"])
def new_campaign_findings(campaign_id: int):
    """Every department's findings at a target in one visit; 409 ``already_inspected`` for a second."""
    target = campaigns.record_visit(db.session, campaign_id, _body(), actor=actor())
    return created(campaigns.target_json(target))


@api.post("/campaigns/<int:campaign_id>/findings/<int:finding_id>/check")
@operation(body=FindingCheckBody, answers={200: Finding}, errors=(404, 409), tags=["campaigns"])
def check_campaign_finding(campaign_id: int, finding_id: int):
    """跟踪问效: was the violation rectified (409 for a compliant finding or a second check)."""
    finding = campaigns.check_finding(db.session, campaign_id, finding_id, _body(), actor=actor())
    return saved(campaigns.finding_json, finding)


# -- pages --------------------------------------------------------------------------------------


@pages.get("/supervisor/meetings")
def meetings_page():
    """Meetings with their minutes and tasks; overdue tasks first."""
    now = now_utc()
    return render_template(
        "oversight/meetings.html",
        now=now,
        meetings=[meetings.meeting_json(m, now) for m in meetings.list_meetings(db.session)],
        overdue=[meetings.task_json(t, now) for t in meetings.overdue_tasks(db.session, now)],
        feedback_ids=oversight_desk.feedback_tasks(db.session, current_principal()),
        desk_strings=oversight_desk.strings(_lang()),
        lang=_lang(),
    )


@pages.get("/supervisor/campaigns")
def campaigns_page():
    """Campaigns with their townships or industry, targets, findings and follow-up."""
    now = now_utc()
    return render_template(
        "oversight/campaigns.html",
        now=now,
        campaigns=[campaigns.campaign_json(c, now) for c in campaigns.list_campaigns(db.session)],
        check_ids=oversight_desk.checkable_findings(db.session, current_principal()),
        desk_strings=oversight_desk.strings(_lang()),
        lang=_lang(),
    )


def _lang() -> str:
    """``?lang=``, else the language the person chose (the cookie), as the other screens and the menu."""
    return current_language()
