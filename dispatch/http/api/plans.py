"""Coverage plans: list, draft, edit (optimistic lock), validate, compare, publish."""

from __future__ import annotations

from flask import jsonify, request

from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.contract import Link, operation
from dispatch.http.contract.common import GeoOnly, Plain
from dispatch.http.contract.plans import (
    CheckBody,
    CompareQuery,
    Comparison,
    DraftBody,
    EditCheck,
    Plan,
    PlanList,
    PublishBody,
    SaveBody,
)
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

_PLAN = "$response.body#/id"


def _body() -> dict:
    """The checked body as the domain reads it: JSON values, only the fields sent (5.0 given as 5)."""
    return request.context.json.model_dump(mode="json", by_alias=True, exclude_unset=True)


@bp.get("/plans")
@operation(query=Plain, answers={200: PlanList}, tags=["plans"])
def plans_index():
    """Every coverage plan of the counties in scope, by county and newest first."""
    return jsonify({"plans": list_plans(db.session, regions=scope_regions())})


@bp.post("/plans")
@operation(
    query=GeoOnly,
    body=DraftBody,
    answers={201: Plan},
    errors=(422,),
    tags=["plans"],
    links={
        201: {
            "show": Link("show_plan", plan_id=_PLAN),
            "edit": Link("update_plan", "save zones and names on the answer's version", plan_id=_PLAN),
            "validate": Link("validate_edit", plan_id=_PLAN),
            "compare": Link("compare_plan", plan_id=_PLAN),
            "publish": Link("publish_plan", plan_id=_PLAN),
        }
    },
)
def new_draft():
    """``{"region"?, "from"?, "name"?, "name_en"?}``: a draft copied from the plan in effect."""
    session = db.session
    plan = create_draft(session, _body(), actor=actor())
    session.commit()
    return jsonify(plan_json(session, plan)), 201


@bp.get("/plans/<int:plan_id>")
@operation(query=GeoOnly, answers={200: Plan}, errors=(404,), tags=["plans"])
def show_plan(plan_id: int):
    """The plan with its zones, the townships it must cover and its validation issues."""
    return jsonify(plan_json(db.session, get_plan(db.session, plan_id)))


@bp.put("/plans/<int:plan_id>")
@operation(query=GeoOnly, body=SaveBody, answers={200: Plan}, errors=(404, 409, 422), tags=["plans"])
def update_plan(plan_id: int):
    """``{"version", "zones"?, "name"?, "name_en"?}``; 409 ``version_conflict`` with both versions when stale."""
    session = db.session
    plan = save_draft(session, plan_id, _body(), actor=actor())
    session.commit()
    return jsonify(plan_json(session, plan))


@bp.post("/plans/<int:plan_id>/validate")
@operation(query=GeoOnly, body=CheckBody, answers={200: EditCheck}, errors=(404, 409, 422), tags=["plans"])
def validate_edit(plan_id: int):
    """``{"zones"}``: the issues of an edit in progress and its zones as saved (nothing is saved)."""
    result = check_edit(db.session, plan_id, _body())
    db.session.rollback()
    return jsonify(result)


@bp.get("/plans/<int:plan_id>/compare")
@operation(query=CompareQuery, answers={200: Comparison}, errors=(404, 422), tags=["plans"])
def compare_plan(plan_id: int):
    """Differences from the published plan in effect (or ``?with=CODE``)."""
    return jsonify(compare(db.session, plan_id, request.context.query.with_))


@bp.post("/plans/<int:plan_id>/publish")
@operation(query=GeoOnly, body=PublishBody, answers={200: Plan}, errors=(404, 409, 422), tags=["plans"])
def publish_plan(plan_id: int):
    """``{"version", "effective_at"?}``; 422 ``plan_invalid`` lists the problems."""
    session = db.session
    plan = publish(session, plan_id, _body(), actor=actor())
    session.commit()
    invalidate_caches()  # this process's cached zones; the others' expire within minutes
    return jsonify(plan_json(session, plan))
