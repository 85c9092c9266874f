"""Incidents: intake, queue, recommendations, dispatch, duplicates and the record."""

from __future__ import annotations

from flask import current_app, jsonify, request

from dispatch import incident_actions
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, json_body, scope_regions
from dispatch.http.auth import current_principal
from dispatch.http.contract import Link, operation
from dispatch.http.contract.common import GeoOnly
from dispatch.http.contract.incidents import (
    CallAttached,
    CallBody,
    CancelBody,
    CloseBody,
    DispatchBody,
    DuplicateBody,
    Incident,
    IncidentCreated,
    IncidentEvents,
    IncidentIntake,
    IncidentList,
    IncidentQuery,
    IntakePreview,
    RecommendationQuery,
    Recommendations,
    ReopenBody,
    TaskList,
    UndoDuplicateBody,
)
from dispatch.http.responses import json_response
from dispatch.incidents import (
    get_incident,
    incident_jurisdiction,
    intake,
    mark_duplicate,
    open_queue,
    preview,
)
from dispatch.recommend import recommend
from dispatch.record import event_json, events_of_incident
from dispatch.shapes import incident_json, task_json
from dispatch.store.db import db
from dispatch.tasks import dispatch

_READ_INCIDENT = {
    "show": Link("show_incident", incident_id="$response.body#/id"),
    "recommend": Link("incident_recommendations", "the squads to send", incident_id="$response.body#/id"),
    "dispatch": Link("dispatch_incident", incident_id="$response.body#/id"),
    "record": Link("incident_events", incident_id="$response.body#/id"),
    "close": Link("close_incident", "close it with an outcome", incident_id="$response.body#/id"),
    "cancel": Link("cancel_incident", incident_id="$response.body#/id"),
    "call": Link("attach_incident_call", "a further call about it", incident_id="$response.body#/id"),
}


@bp.post("/incidents")
@operation(
    query=GeoOnly,
    body=IncidentIntake,
    answers={201: IncidentCreated, 200: (IncidentCreated, "the stored incident of a repeated (source, external_id)")},
    errors=(422,),
    tags=["incidents"],
    links={201: _READ_INCIDENT, 200: _READ_INCIDENT},
)
def create_incident():
    """201 with jurisdiction, priority, SLA and possible duplicates; 200 for a repeated ticket."""
    session = db.session
    result = intake(session, json_body(), actor=actor(), config=current_app.config)
    session.commit()
    body = incident_json(result.incident)
    body["jurisdiction"] = incident_jurisdiction(session, result.incident, result.placed)
    body["possible_duplicates"] = result.possible_duplicates
    body["possible_duplicates_total"] = result.possible_duplicates_total
    return jsonify(body), (201 if result.created else 200)


@bp.get("/incidents")
@operation(query=IncidentQuery, answers={200: IncidentList}, tags=["incidents"])
def list_incidents():
    """The queue: open and dispatched incidents (or ``?status=a,b``), most urgent first."""
    query = request.context.query
    incidents = open_queue(
        db.session,
        status=query.status.split(",") if query.status else None,
        limit=query.limit,
        regions=scope_regions(),
    )
    return jsonify({"incidents": [incident_json(i) for i in incidents]})


@bp.post("/incidents/preview")
@operation(query=GeoOnly, body=IncidentIntake, answers={200: IntakePreview}, errors=(422,), tags=["incidents"])
def preview_incident():
    """What filing this call would give: jurisdiction, zone, authority, priority, SLA and the open
    incidents it may repeat. Nothing is stored (file with POST /incidents, or attach the call)."""
    result = preview(db.session, json_body(), actor=actor(), config=current_app.config)
    db.session.rollback()
    return jsonify(result)


def _detail(incident) -> dict:
    """One incident as its detail shows it: with what the asking user may do to it and its tasks."""
    role = getattr(current_principal(), "role", None)
    body = incident_json(incident)
    body["jurisdiction"] = incident_jurisdiction(db.session, incident)
    body["actions"] = incident_actions.actions_for(role, incident)
    for task, shown in zip(incident.tasks, body["tasks"], strict=True):
        shown["actions"] = incident_actions.task_actions_for(role, task, incident.status)
    return body


def _acted(incident_id: int):
    """After an act: commit, then the incident as it now is (its detail)."""
    db.session.commit()
    return jsonify(_detail(get_incident(db.session, incident_id)))


@bp.get("/incidents/<int:incident_id>")
@operation(query=GeoOnly, answers={200: Incident}, errors=(404,), tags=["incidents"])
def show_incident(incident_id: int):
    """The incident, its jurisdiction, its tasks, and the ``actions`` the asking user may take now."""
    return jsonify(_detail(get_incident(db.session, incident_id)))


@bp.post("/incidents/<int:incident_id>/cancel")
@operation(query=GeoOnly, body=CancelBody, answers={200: Incident}, errors=(404, 409, 422), tags=["incidents"])
def cancel_incident(incident_id: int):
    """Withdraw it with a reason; its assigned tasks are cancelled. 409 ``illegal_action`` names the allowed."""
    incident_actions.cancel(db.session, incident_id, reason=request.context.json.reason, actor=actor())
    return _acted(incident_id)


@bp.post("/incidents/<int:incident_id>/close")
@operation(query=GeoOnly, body=CloseBody, answers={200: Incident}, errors=(404, 409), tags=["incidents"])
def close_incident(incident_id: int):
    """Close with an outcome of the catalogue and a note; 409 while a squad still holds a task."""
    body = request.context.json
    incident_actions.close(db.session, incident_id, outcome=body.outcome, note=body.note, actor=actor())
    return _acted(incident_id)


@bp.post("/incidents/<int:incident_id>/reopen")
@operation(query=GeoOnly, body=ReopenBody, answers={200: Incident}, errors=(404, 409, 422), tags=["incidents"])
def reopen_incident(incident_id: int):
    """Back to the queue (open) from resolved, closed or cancelled, with a reason."""
    incident_actions.reopen(db.session, incident_id, reason=request.context.json.reason, actor=actor())
    return _acted(incident_id)


@bp.post("/incidents/<int:incident_id>/undo-duplicate")
@operation(query=GeoOnly, body=UndoDuplicateBody, answers={200: Incident}, errors=(404, 409), tags=["incidents"])
def undo_incident_duplicate(incident_id: int):
    """It was not a duplicate: back to the queue (the tasks cancelled then stay cancelled)."""
    incident_actions.undo_duplicate(db.session, incident_id, reason=request.context.json.reason, actor=actor())
    return _acted(incident_id)


@bp.post("/incidents/<int:incident_id>/calls")
@operation(query=GeoOnly, body=CallBody, answers={201: CallAttached}, errors=(404, 409, 422), tags=["incidents"])
def attach_incident_call(incident_id: int):
    """A further call about this incident, on its record, instead of a new incident."""
    result = incident_actions.attach_call(db.session, incident_id, json_body(), actor=actor())
    db.session.commit()
    return jsonify(result), 201


@bp.get("/incidents/<int:incident_id>/recommendations")
@operation(query=RecommendationQuery, answers={200: Recommendations}, errors=(404,), tags=["incidents"])
def incident_recommendations(incident_id: int):
    """Squads best placed to go, with ETA and route legs; ``?explain=1`` adds who was left out."""
    query = request.context.query
    domain, at, limit, explain = query.domain, query.at, query.limit, query.explain
    # A read: an autocommit connection spares the BEGIN and ROLLBACK round trips. Autocommit is
    # switched on the driver's connection itself (SQLAlchemy's isolation_level option does the
    # same with twice the bookkeeping) and off again before the pool takes the connection back.
    with db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        driver.autocommit = True
        try:
            result = recommend(
                conn,
                incident_id,
                limit=limit,
                domains=[domain] if domain else None,
                explain=explain,
                now=at,
                stale_minutes=current_app.config["POSITION_STALE_MINUTES"],
            )
        finally:
            if driver.closed or driver.broken:
                conn.invalidate()  # lost (a database restart): the pool must not hand it out again
            else:
                driver.autocommit = False
    return json_response(result)  # plain JSON values: orjson


@bp.post("/incidents/<int:incident_id>/dispatch")
@operation(
    body=DispatchBody,
    answers={201: TaskList},
    errors=(404, 409),
    tags=["incidents"],
    links={201: {"task": Link("show_task", task_id="$response.body#/tasks/0/id"),
                 "transition": Link("transition_task", task_id="$response.body#/tasks/0/id"),
                 "reassign": Link("reassign_task", task_id="$response.body#/tasks/0/id")}},
)  # fmt: skip
def dispatch_incident(incident_id: int):
    """One task per squad; 409 if a squad is busy, incompetent or without a certified officer."""
    body = request.context.json
    tasks = dispatch(db.session, incident_id, body.squad_ids, actor=actor(), note=body.note)  # committed
    return jsonify({"tasks": [task_json(t) for t in tasks]}), 201


@bp.post("/incidents/<int:incident_id>/duplicate")
@operation(query=GeoOnly, body=DuplicateBody, answers={200: Incident}, errors=(404, 409, 422), tags=["incidents"])
def mark_incident_duplicate(incident_id: int):
    """Mark this incident a duplicate of ``{"of": ID}``; both keep their record."""
    incident = mark_duplicate(db.session, incident_id, request.context.json.of, actor=actor())
    return _acted(incident.id)


@bp.get("/incidents/<int:incident_id>/events")
@operation(query=GeoOnly, answers={200: IncidentEvents}, errors=(404,), tags=["incidents"])
def incident_events(incident_id: int):
    """The full-process record of the incident, in order."""
    get_incident(db.session, incident_id)
    return jsonify(
        {"incident_id": incident_id, "events": [event_json(e) for e in events_of_incident(db.session, incident_id)]}
    )
