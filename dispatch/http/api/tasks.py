"""Tasks: read one, move it through its lifecycle."""

from __future__ import annotations

import datetime as dt

from flask import current_app, jsonify, request
from geoalchemy2.shape import to_shape

from dispatch.errors import Conflict
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor
from dispatch.http.contract import operation
from dispatch.http.contract.common import GeoOnly
from dispatch.http.contract.incidents import ReassignBody, Reassigned, Task, TransitionBody
from dispatch.http.contract.tablet import TaskRoute
from dispatch.recommend import route_of_squad
from dispatch.shapes import task_json
from dispatch.store.db import db
from dispatch.tasks import act_once, get_task, keep_refused_note, reassign, transition
from gis.geojson import parse_point


@bp.get("/tasks/<int:task_id>")
@operation(answers={200: Task}, errors=(404,), tags=["tasks"])
def show_task(task_id: int):
    return jsonify(task_json(get_task(db.session, task_id)))


@bp.get("/tasks/<int:task_id>/route")
@operation(query=GeoOnly, answers={200: TaskRoute}, errors=(404,), tags=["tasks"])
def task_route(task_id: int):
    """The way the task's squad gets to its incident now, by the recommendation's travel model:
    road, pier, the next ferry with its departure, road (or a boat). What the tablet draws."""
    task = get_task(db.session, task_id)
    route = None
    if task.incident is not None:
        place = to_shape(task.incident.location)
        route = route_of_squad(
            db.session, task.squad_id, place.x, place.y, stale_minutes=current_app.config["POSITION_STALE_MINUTES"]
        )
    return jsonify({"task_id": task.id, "route": route})


@bp.post("/tasks/<int:task_id>/transition")
@operation(query=GeoOnly, body=TransitionBody, answers={200: Task}, errors=(404, 409, 422), tags=["tasks"])
def transition_task(task_id: int):
    """``{"to": STATE, "reason"?, "note"?, "location"?, "action_id"?, "occurred_at"?, "sent_at"?}``;
    409 names the allowed states. A repeated ``action_id`` answers the first answer again."""
    body = request.context.json
    session = db.session

    def act() -> dict:
        return task_json(
            transition(
                session,
                task_id,
                body.to,
                actor=actor(),
                reason=body.reason,
                note=body.note,
                location=parse_point(body.location.model_dump()) if body.location else None,
                occurred_at=body.occurred_at,
                sent_at=body.sent_at,
                max_ahead=dt.timedelta(seconds=current_app.config["FIX_MAX_AHEAD_S"]),
            )
        )

    try:
        answer, _ = act_once(session, body.action_id, task_id, actor(), act)
    except Conflict:
        session.rollback()
        if body.note:  # refused (the dispatcher cancelled meanwhile): what the squad wrote still reaches the record
            keep_refused_note(session, task_id, body.note, to=body.to, actor=actor(), occurred_at=body.occurred_at)
            session.commit()
        raise
    session.commit()
    return jsonify(answer)


@bp.post("/tasks/<int:task_id>/reassign")
@operation(body=ReassignBody, answers={201: Reassigned}, errors=(404, 409, 422), tags=["tasks"])
def reassign_task(task_id: int):
    """Send ``{"squad_id"}`` instead: the old task cancelled (superseded), the new one dispatched,
    in one transaction. 409 as a dispatch (the squad busy, incompetent...) or when the task is done."""
    body = request.context.json
    session = db.session
    old, new = reassign(session, task_id, body.squad_id, actor=actor(), note=body.note)
    session.commit()
    return jsonify({"superseded": task_json(old), "task": task_json(new)}), 201
