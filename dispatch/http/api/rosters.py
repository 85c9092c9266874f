"""Rosters and live availability (issue 29): shifts, the squad's status by hand, certificates."""

from __future__ import annotations

from flask import jsonify, request

from dispatch import rosters
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.contract import operation
from dispatch.http.contract.common import Plain
from dispatch.http.contract.rosters import (
    CertificateActionBody,
    CertificateActionList,
    CertificateActionOut,
    CertificateLiftBody,
    RosterShift,
    ShiftBody,
    ShiftDeleted,
    ShiftImportBody,
    ShiftImported,
    ShiftList,
    ShiftQuery,
    SquadStatusBody,
    SquadStatusSet,
)
from dispatch.store.db import db


@bp.get("/shifts")
@operation(query=ShiftQuery, answers={200: ShiftList}, errors=(422,), tags=["rosters"])
def list_shifts():
    """Shifts overlapping ``[from, to)`` of the squads in your scope (squads' and officers'), by start;
    ``?squads=1`` adds the squads with their officers and who is on duty now (the week grid)."""
    query = request.context.query
    regions = scope_regions()
    answer = {
        "shifts": rosters.list_shifts(db.session, query.from_, query.to, regions=regions, squad_id=query.squad_id)
    }
    if query.squads:
        answer["squads"] = rosters.roster_squads(db.session, regions=regions)
    return jsonify(answer)


@bp.post("/shifts")
@operation(query=Plain, body=ShiftBody, answers={201: RosterShift}, errors=(403, 404, 409, 422), tags=["rosters"])
def add_shift():
    """A shift of a squad or of one officer: ``{"squad_id" | "officer_id", "start", "end", "role"?}``.
    422 ``end_before_start`` (field ``end``: a rule the document cannot say); 409 ``shift_overlap`` (field ``start``) when it overlaps
    another of the same officer or squad. Who is on duty now follows the roster at once."""
    body = request.context.json
    shift = rosters.add_shift(
        db.session,
        rosters.ShiftIn(body.squad_id, body.officer_id, body.start, body.end, body.role),
        actor=actor(),
    )
    db.session.commit()
    return jsonify(shift), 201


@bp.delete("/shifts/<int:shift_id>")
@operation(query=Plain, answers={200: ShiftDeleted}, errors=(403, 404), tags=["rosters"])
def delete_shift(shift_id: int):
    """Remove a shift (on the record with what it was)."""
    rosters.delete_shift(db.session, shift_id, actor=actor())
    db.session.commit()
    return jsonify({"id": shift_id, "deleted": True})


@bp.post("/shifts/import")
@operation(query=Plain, body=ShiftImportBody, answers={201: ShiftImported, 200: ShiftImported},
           errors=(422,), tags=["rosters"])  # fmt: skip
def import_shifts():
    """Shifts from CSV (``squad,officer,start,end,role``), all lines or none: 422 ``invalid_csv`` lists
    every problem with its line and column (``problems``); ``dry_run``: check only (200)."""
    body = request.context.json
    result = rosters.import_csv(db.session, body.csv, actor=actor(), dry_run=body.dry_run)
    if body.dry_run:
        db.session.rollback()
        return jsonify(result), 200
    db.session.commit()
    return jsonify(result), 201


@bp.put("/squads/<int:squad_id>/status")
@operation(
    query=Plain, body=SquadStatusBody, answers={200: SquadStatusSet}, errors=(403, 404, 409, 422), tags=["rosters"]
)
def set_squad_status(squad_id: int):
    """A squad's status by hand: available, returning, out_of_service (with ``reason``: vessel_fault,
    meal, training, leave), off_duty. A tablet sets its own squad's only. 409 ``illegal_status`` with
    ``allowed`` when it cannot take it from its present one (on a task; on_task is never set by hand).
    On the record, live on /command (and coverage follows)."""
    body = request.context.json
    result = rosters.set_status(db.session, squad_id, body.status, body.reason, actor=actor())
    db.session.commit()
    return jsonify(result)


@bp.get("/officers/<int:officer_id>/certificate-actions")
@operation(query=Plain, answers={200: CertificateActionList}, errors=(403, 404), tags=["rosters"])
def list_certificate_actions(officer_id: int):
    """An officer's certificate suspensions and revocation."""
    return jsonify({"actions": rosters.certificate_actions(db.session, officer_id, actor=actor())})


@bp.post("/officers/<int:officer_id>/certificate-actions")
@operation(query=Plain, body=CertificateActionBody, answers={201: CertificateActionOut}, errors=(403, 404, 409, 422),
           tags=["rosters"])  # fmt: skip
def add_certificate_action(officer_id: int):
    """Suspend (暂扣: from ``start``, until ``end`` or lifted) or revoke (注销: final) an officer's
    certificate, with the deciding ``document``: uncertified meanwhile for recommendation,
    dispatch and case opening alike. On the record."""
    body = request.context.json
    result = rosters.add_certificate_action(
        db.session,
        officer_id,
        kind=body.kind,
        start=body.start,
        end=body.end,
        document=body.document,
        reason=body.reason,
        actor=actor(),
    )
    db.session.commit()
    return jsonify(result), 201


@bp.post("/certificate-actions/<int:action_id>/lift")
@operation(query=Plain, body=CertificateLiftBody, answers={200: CertificateActionOut}, errors=(403, 404, 409),
           tags=["rosters"])  # fmt: skip
def lift_certificate_suspension(action_id: int):
    """Lift a suspension now, with the lifting document; 409 for a revocation or one already ended."""
    body = request.context.json
    result = rosters.lift_suspension(db.session, action_id, document=body.document, actor=actor())
    db.session.commit()
    return jsonify(result)
