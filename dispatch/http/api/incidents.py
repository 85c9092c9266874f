"""Incidents: intake, queue, recommendations, dispatch, duplicates and the record."""

from __future__ import annotations

from flask import current_app, jsonify, request

from dispatch.errors import ApiError
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, json_body, query_flag, query_int, scope_regions
from dispatch.http.responses import json_response
from dispatch.incidents import (
    get_incident,
    incident_jurisdiction,
    intake,
    mark_duplicate,
    open_queue,
)
from dispatch.recommend import recommend
from dispatch.record import event_json, events_of_incident
from dispatch.shapes import incident_json, task_json
from dispatch.states import INCIDENT_STATUSES
from dispatch.store.db import db
from dispatch.store.models import DOMAINS
from dispatch.tasks import dispatch
from dispatch.validation import check_fields, id_list, optional_id, optional_text, parse_time


@bp.post("/incidents")
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
def list_incidents():
    """The queue: open and dispatched incidents (or ``?status=a,b``), most urgent first."""
    statuses = [s for s in (request.args.get("status") or "").split(",") if s]
    for status in statuses:
        if status not in INCIDENT_STATUSES:
            raise ApiError(f"unknown status {status!r}; one of {', '.join(INCIDENT_STATUSES)}", field="status")
    incidents = open_queue(
        db.session,
        status=statuses or None,
        limit=query_int("limit", 200, low=1, high=1000),
        regions=scope_regions(),
    )
    return jsonify({"incidents": [incident_json(i) for i in incidents]})


@bp.get("/incidents/<int:incident_id>")
def show_incident(incident_id: int):
    incident = get_incident(db.session, incident_id)
    body = incident_json(incident)
    body["jurisdiction"] = incident_jurisdiction(db.session, incident)
    return jsonify(body)


@bp.get("/incidents/<int:incident_id>/recommendations")
def incident_recommendations(incident_id: int):
    """Squads best placed to go, with ETA and route legs; ``?explain=1`` adds who was left out."""
    domain = request.args.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise ApiError(f"unknown domain {domain!r}", field="domain")
    at = parse_time(request.args.get("at"), "at")  # ETA as of another time (ferry timetables)
    limit = query_int("limit", 5, low=1, high=50)
    explain = query_flag("explain")
    # A read: an autocommit connection spares the BEGIN and ROLLBACK round trips. Autocommit is
    # switched on the driver's connection itself (SQLAlchemy's isolation_level option does the
    # same with twice the bookkeeping) and off again before the pool takes the connection back.
    with db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        driver.autocommit = True
        try:
            result = recommend(
                conn, incident_id, limit=limit, domains=[domain] if domain else None, explain=explain, now=at
            )
        finally:
            if driver.closed or driver.broken:
                conn.invalidate()  # lost (a database restart): the pool must not hand it out again
            else:
                driver.autocommit = False
    return json_response(result)  # plain JSON values: orjson


@bp.post("/incidents/<int:incident_id>/dispatch")
def dispatch_incident(incident_id: int):
    """One task per squad; 409 if a squad is busy, incompetent or without a certified officer."""
    body = json_body()
    check_fields(body, {"squad_ids", "note"})
    squad_ids = id_list(body, "squad_ids", maximum=20)
    note = optional_text(body, "note", 2000)
    tasks = dispatch(db.session, incident_id, squad_ids, actor=actor(), note=note)  # committed
    return jsonify({"tasks": [task_json(t) for t in tasks]}), 201


@bp.post("/incidents/<int:incident_id>/duplicate")
def mark_incident_duplicate(incident_id: int):
    """Mark this incident a duplicate of ``{"of": ID}``; both keep their record."""
    body = json_body()
    check_fields(body, {"of"})
    original = optional_id(body, "of")
    if original is None:
        raise ApiError("required: the id of the original incident", field="of")
    session = db.session
    incident = mark_duplicate(session, incident_id, original, actor=actor())
    session.commit()
    return jsonify(incident_json(get_incident(session, incident.id)))


@bp.get("/incidents/<int:incident_id>/events")
def incident_events(incident_id: int):
    """The full-process record of the incident, in order."""
    get_incident(db.session, incident_id)
    return jsonify(
        {"incident_id": incident_id, "events": [event_json(e) for e in events_of_incident(db.session, incident_id)]}
    )
