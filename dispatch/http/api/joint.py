"""Inspection requests and joint inspections ("inspect once")."""

from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.errors import ApiError
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, json_body, query_int, scope_regions
from dispatch.joint import (
    create_joint_inspection,
    create_request,
    get_joint,
    joint_json,
    list_joints,
    proposals,
    request_json,
    visits_avoided,
)
from dispatch.jurisdiction import region_at
from dispatch.scope import located_in
from dispatch.store.db import db
from dispatch.store.models import InspectionRequest


@bp.post("/inspection-requests")
def new_inspection_request():
    session = db.session
    created = create_request(session, json_body(), actor=actor())
    session.commit()
    return jsonify(request_json(created)), 201


@bp.get("/inspection-requests")
def list_inspection_requests():
    status = request.args.get("status")
    if status is not None and status not in ("pending", "merged", "done", "cancelled"):
        raise ApiError("one of pending, merged, done, cancelled", field="status")
    query = (
        select(InspectionRequest)
        .where(located_in(InspectionRequest.location, scope_regions()))
        .options(selectinload(InspectionRequest.authority))
        .order_by(InspectionRequest.id)
    )
    if status:
        query = query.where(InspectionRequest.status == status)
    return jsonify({"requests": [request_json(r) for r in db.session.scalars(query)]})


@bp.get("/joint-inspections/proposals")
def joint_inspection_proposals():
    """Joint inspections the server proposes now; each can be POSTed as it is."""
    regions = scope_regions()
    found = proposals(db.session, current_app.config)
    if regions is not None:  # the proposals at places of the principal's scope
        found = [p for p in found if _in_regions(p["target"]["location"]["coordinates"], regions)]
    return jsonify({"proposals": found})


def _in_regions(coordinates: list[float], regions: frozenset[int]) -> bool:
    region = region_at(db.session, coordinates[0], coordinates[1])
    return region is not None and region.id in regions


@bp.post("/joint-inspections")
def new_joint_inspection():
    session = db.session
    joint = create_joint_inspection(session, json_body(), actor=actor())
    session.commit()
    return jsonify(joint_json(get_joint(session, joint.id))), 201


@bp.get("/joint-inspections")
def list_joint_inspections():
    """Joint inspections (``?status=planned|completed|cancelled``), newest first, with the totals."""
    status = request.args.get("status")
    if status is not None and status not in ("planned", "completed", "cancelled"):
        raise ApiError("one of planned, completed, cancelled", field="status")
    joints = list_joints(
        db.session, status=status, limit=query_int("limit", 200, low=1, high=1000), regions=scope_regions()
    )
    return jsonify({"joint_inspections": [joint_json(j) for j in joints], "totals": visits_avoided(db.session)})


@bp.get("/joint-inspections/<int:joint_id>")
def show_joint_inspection(joint_id: int):
    return jsonify(joint_json(get_joint(db.session, joint_id)))
