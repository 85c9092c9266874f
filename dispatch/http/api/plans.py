"""Coverage plans: list, draft, edit (optimistic lock), validate, compare, publish."""

from __future__ import annotations

from flask import jsonify, request

from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, json_body, scope_regions
from dispatch.plans import (
    check_edit,
    compare,
    create_draft,
    get_plan,
    list_plans,
    plan_json,
    publish,
    save_draft,
)
from dispatch.recommend import invalidate_caches
from dispatch.store.db import db


@bp.get("/plans")
def plans_index():
    return jsonify({"plans": list_plans(db.session, regions=scope_regions())})


@bp.post("/plans")
def new_draft():
    """``{"region"?, "from"?, "name"?, "name_en"?}``: a draft copied from the plan in effect."""
    session = db.session
    plan = create_draft(session, json_body() if request.data else {}, actor=actor())
    session.commit()
    return jsonify(plan_json(session, plan)), 201


@bp.get("/plans/<int:plan_id>")
def show_plan(plan_id: int):
    """The plan with its zones, the townships it must cover and its validation issues."""
    return jsonify(plan_json(db.session, get_plan(db.session, plan_id)))


@bp.put("/plans/<int:plan_id>")
def update_plan(plan_id: int):
    """``{"version", "zones"?, "name"?, "name_en"?}``; 409 ``version_conflict`` with both versions when stale."""
    session = db.session
    plan = save_draft(session, plan_id, json_body(), actor=actor())
    session.commit()
    return jsonify(plan_json(session, plan))


@bp.post("/plans/<int:plan_id>/validate")
def validate_edit(plan_id: int):
    """``{"zones"}``: the issues of an edit in progress and its zones as saved (nothing is saved)."""
    result = check_edit(db.session, plan_id, json_body())
    db.session.rollback()
    return jsonify(result)


@bp.get("/plans/<int:plan_id>/compare")
def compare_plan(plan_id: int):
    """Differences from the published plan in effect (or ``?with=CODE``)."""
    return jsonify(compare(db.session, plan_id, request.args.get("with") or None))


@bp.post("/plans/<int:plan_id>/publish")
def publish_plan(plan_id: int):
    """``{"version", "effective_at"?}``; 422 ``plan_invalid`` lists the problems."""
    session = db.session
    plan = publish(session, plan_id, json_body(), actor=actor())
    session.commit()
    invalidate_caches()  # this process's cached zones; the others' expire within minutes
    return jsonify(plan_json(session, plan))
