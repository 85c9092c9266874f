"""The duty shift: live 1+X coverage and the dispatcher's alerts."""

from __future__ import annotations

from flask import current_app, jsonify, request

from dispatch import alerts
from dispatch.coverage import coverage
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.contract import operation
from dispatch.http.contract.common import GeoOnly, Plain
from dispatch.http.contract.duty import Alert, AlertList, AlertQuery, Coverage
from dispatch.http.responses import json_response
from dispatch.store.db import db


@bp.get("/coverage")
@operation(query=GeoOnly, answers={200: Coverage}, tags=["duty"])
def coverage_now():
    """Per township: covered or not, the squad that reaches it first and its ETA, the zone's target.

    Kept live (``coverage`` updates on /command within a second or two of a dispatch, a squad's
    status change or a plan published); recomputed in full periodically as squads move."""
    return json_response(coverage(db.session, current_app.config, regions=scope_regions()))


@bp.get("/alerts")
@operation(query=AlertQuery, answers={200: AlertList}, tags=["duty"])
def list_alerts():
    """Open alerts (``?status=all``: every one), critical first, newest first."""
    query = request.context.query
    return jsonify(
        {"alerts": alerts.list_alerts(db.session, status=query.status, limit=query.limit, regions=scope_regions())}
    )


@bp.post("/alerts/<int:alert_id>/ack")
@operation(query=Plain, answers={200: Alert}, errors=(404, 409), tags=["duty"])
def acknowledge_alert(alert_id: int):
    """A person has seen it: acknowledged, with who and when, on the record. 409 when already."""
    result = alerts.acknowledge(db.session, alert_id, actor=actor())
    db.session.commit()
    return jsonify(result)
