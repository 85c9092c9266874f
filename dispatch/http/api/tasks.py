"""Tasks: read one, move it through its lifecycle."""

from __future__ import annotations

from flask import jsonify

from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, json_body
from dispatch.shapes import task_json
from dispatch.store.db import db
from dispatch.tasks import get_task, transition
from dispatch.validation import check_fields, optional_text, required_point, required_text


@bp.get("/tasks/<int:task_id>")
def show_task(task_id: int):
    return jsonify(task_json(get_task(db.session, task_id)))


@bp.post("/tasks/<int:task_id>/transition")
def transition_task(task_id: int):
    """``{"to": STATE, "reason"?, "note"?, "location"?}``; 409 names the allowed states."""
    body = json_body()
    check_fields(body, {"to", "reason", "note", "location"})
    to = required_text(body, "to", 20)
    location = required_point(body, "location") if body.get("location") is not None else None
    session = db.session
    task = transition(
        session,
        task_id,
        to,
        actor=actor(),
        reason=optional_text(body, "reason", 2000),
        note=optional_text(body, "note", 2000),
        location=location,
    )
    session.commit()
    return jsonify(task_json(task))
