"""A squad's tablet: its own open work (and the last day's), for a re-sign-in or a second device."""

from __future__ import annotations

import datetime as dt

from flask import jsonify
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from dispatch.evidence import item_json
from dispatch.http.api.blueprint import bp
from dispatch.http.auth import current_principal
from dispatch.http.contract import operation
from dispatch.http.contract.common import GeoOnly
from dispatch.http.contract.tablet import TabletTasks
from dispatch.shapes import iso, ordered_matters, point_json, task_json
from dispatch.states import ASSIGNED
from dispatch.store.db import db
from dispatch.store.models import Evidence, Incident, Squad, Task

RECENT = dt.timedelta(hours=24)


def _incident(incident: Incident | None) -> dict | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "priority": incident.priority,
        "status": incident.status,
        "description": incident.description,
        "address": incident.address,
        "location": point_json(incident.location),
        "matters": [{"code": m.code, "name": m.name_zh, "name_en": m.name_en} for m in ordered_matters(incident)],
        "sla_deadline": iso(incident.sla_deadline),
        "region": {"code": incident.region.code, "name": incident.region.name_zh, "name_en": incident.region.name_en}
        if incident.region
        else None,
        "caller": {"name": incident.caller_name, "phone": incident.caller_phone}
        if incident.caller_name or incident.caller_phone
        else None,
    }


@bp.get("/tablet/tasks")
@operation(query=GeoOnly, answers={200: TabletTasks}, tags=["real time"])
def tablet_tasks():
    """The token's squad's open tasks and those closed in the last 24 hours, newest first, each with
    its incident: what a tablet shows after a sign-in, on a second device, or after a wipe."""
    squad_id = current_principal().squad_id  # the permission matrix lets only a tablet's token here
    session = db.session
    squad = session.get(Squad, squad_id)
    since = dt.datetime.now(dt.UTC) - RECENT
    tasks = session.scalars(
        select(Task)
        .where(Task.squad_id == squad_id, or_(Task.state.in_(ASSIGNED), Task.closed_at >= since))
        .options(
            selectinload(Task.squad),
            selectinload(Task.incident).selectinload(Incident.matters),
            selectinload(Task.incident).selectinload(Incident.region),
        )
        .order_by(Task.state.in_(ASSIGNED).desc(), Task.id.desc())
    ).all()
    evidence: dict[int, list[dict]] = {}
    if tasks:
        for item in session.scalars(
            select(Evidence)
            .where(Evidence.task_id.in_([t.id for t in tasks]), Evidence.state == "stored")
            .order_by(Evidence.id)
        ):
            evidence.setdefault(item.task_id, []).append(item_json(item))  # as GET /evidence/<sha256> describes it
    return jsonify(
        {
            "squad": {
                "id": squad.id,
                "code": squad.code,
                "name": squad.name_zh,
                "name_en": squad.name_en,
                "status": squad.status,
                "status_reason": squad.status_reason,
            },
            "tasks": [
                task_json(t) | {"incident": _incident(t.incident), "evidence": evidence.get(t.id, [])} for t in tasks
            ],
        }
    )
