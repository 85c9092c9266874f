"""Inspection requests and joint inspections ("inspect once")."""

from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.contract import Link, operation
from dispatch.http.contract.common import GeoOnly
from dispatch.http.contract.joint import (
    InspectionRequest,
    InspectionRequestBody,
    InspectionRequests,
    JointBody,
    JointInspection,
    JointInspections,
    JointQuery,
    Proposals,
    RequestQuery,
)
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
from dispatch.store import models
from dispatch.store.db import db


def _body() -> dict:
    """The checked body as the domain reads it: JSON values, only the fields sent (5.0 given as 5)."""
    return request.context.json.model_dump(mode="json", by_alias=True, exclude_unset=True)


@bp.post("/inspection-requests")
@operation(
    query=GeoOnly,
    body=InspectionRequestBody,
    answers={201: InspectionRequest},
    errors=(422,),
    tags=["joint inspections"],
    links={201: {"proposals": Link("joint_inspection_proposals", "joint inspections it may be merged into")}},
)
def new_inspection_request():
    """A department's pending inspection of a target; pending ones of one target are proposed together."""
    session = db.session
    created = create_request(session, _body(), actor=actor())
    session.commit()
    return jsonify(request_json(created)), 201


@bp.get("/inspection-requests")
@operation(query=RequestQuery, answers={200: InspectionRequests}, tags=["joint inspections"])
def list_inspection_requests():
    """Inspection requests at places in scope (``?status=``), oldest first."""
    status = request.context.query.status
    query = (
        select(models.InspectionRequest)
        .where(located_in(models.InspectionRequest.location, scope_regions()))
        .options(selectinload(models.InspectionRequest.authority))
        .order_by(models.InspectionRequest.id)
    )
    if status:
        query = query.where(models.InspectionRequest.status == status)
    return jsonify({"requests": [request_json(r) for r in db.session.scalars(query)]})


@bp.get("/joint-inspections/proposals")
@operation(query=GeoOnly, answers={200: Proposals}, tags=["joint inspections"])
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


_JOINT = "$response.body#/id"


@bp.post("/joint-inspections")
@operation(
    query=GeoOnly,
    body=JointBody,
    answers={201: JointInspection},
    errors=(404, 409, 422),
    tags=["joint inspections"],
    links={
        201: {
            "show": Link("show_joint_inspection", joint_id=_JOINT),
            "task": Link("show_task", "the first squad's inspection task", task_id="$response.body#/tasks/0/id"),
        }
    },
)
def new_joint_inspection():
    """A joint inspection (a proposal as it is, or by hand): one scheduled task per squad."""
    session = db.session
    joint = create_joint_inspection(session, _body(), actor=actor())
    session.commit()
    return jsonify(joint_json(get_joint(session, joint.id))), 201


@bp.get("/joint-inspections")
@operation(query=JointQuery, answers={200: JointInspections}, tags=["joint inspections"])
def list_joint_inspections():
    """Joint inspections (``?status=planned|completed|cancelled``), newest first, with the totals."""
    query = request.context.query
    joints = list_joints(db.session, status=query.status, limit=query.limit, regions=scope_regions())
    return jsonify({"joint_inspections": [joint_json(j) for j in joints], "totals": visits_avoided(db.session)})


@bp.get("/joint-inspections/<int:joint_id>")
@operation(query=GeoOnly, answers={200: JointInspection}, errors=(404,), tags=["joint inspections"])
def show_joint_inspection(joint_id: int):
    return jsonify(joint_json(get_joint(db.session, joint_id)))
