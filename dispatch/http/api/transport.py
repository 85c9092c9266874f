"""Transport conditions: suspensions of sailings (set, list, lift), the network, timetables reloaded."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, jsonify, request
from sqlalchemy import text

from dispatch import conditions
from dispatch.errors import ApiError
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.contract import Link, operation
from dispatch.http.contract.common import Plain
from dispatch.http.contract.transport import (
    ReloadBody,
    ReloadResult,
    Suspension,
    SuspensionBody,
    SuspensionList,
    TransportNetwork,
)
from dispatch.store.db import db
from dispatch.store.refcache import clear as clear_reference_cache


def _roots(regions: frozenset[int] | None) -> frozenset[int] | None:
    """Counties a listing shows: those of the regions in scope (a township's county too)."""
    if regions is None:
        return None
    rows = db.session.execute(
        text("""WITH RECURSIVE up(id, parent_id, start) AS (
                    SELECT id, parent_id, id FROM region WHERE id = ANY(:ids)
                    UNION ALL SELECT r.id, r.parent_id, up.start FROM region r JOIN up ON r.id = up.parent_id)
                SELECT id FROM up WHERE parent_id IS NULL"""),
        {"ids": list(regions)},
    ).scalars()
    return frozenset(rows)


@bp.post("/transport/suspensions")
@operation(
    body=SuspensionBody,
    answers={201: Suspension},
    errors=(422,),
    tags=["transport"],
    links={201: {"lift": Link("lift_suspension", suspension_id="$response.body#/id")}},
)
def create_suspension():
    """Stop sailings for a window: one link, a pier's links or the county; ferries, boats or both.

    400 naming the field: a scope without its key (or with another scope's); 422 naming it: until not
    after from, an unknown link, pier or county, a window over already, a wind force that stops no
    vessel class. Nothing is saved
    then. Recommendations, coverage and routes use it at once; a ``suspension`` update goes to /command."""
    body = request.context.json.model_dump(by_alias=True)
    session = db.session
    item = conditions.create(session, body, actor=actor())
    session.commit()
    conditions.forget()
    return jsonify(item), 201


@bp.get("/transport/suspensions")
@operation(query=Plain, answers={200: SuspensionList}, tags=["transport"])
def list_suspensions():
    """The active and coming suspensions of the counties in scope, soonest first."""
    return jsonify(conditions.list_suspensions(db.session, regions=_roots(scope_regions())))


@bp.delete("/transport/suspensions/<int:suspension_id>")
@operation(query=Plain, answers={200: Suspension}, errors=(404, 409), tags=["transport"])
def lift_suspension(suspension_id: int):
    """Lift a suspension now: sailings resume at once (on the record: who lifted it and when).
    409 when lifted or over already."""
    session = db.session
    item = conditions.lift(session, suspension_id, actor=actor())
    session.commit()
    conditions.forget()
    return jsonify(item)


@bp.get("/transport/network")
@operation(query=Plain, answers={200: TransportNetwork}, tags=["transport"])
def transport_network():
    """Piers and ferry links (their timetable in force today) and the vessel classes' wind limits:
    what a suspension may name."""
    return jsonify(conditions.network_json(db.session))


@bp.post("/transport/timetables/reload")
@operation(body=ReloadBody, answers={200: ReloadResult}, errors=(422,), tags=["transport"])
def reload_timetables():
    """Read the dataset's transport.yaml again: timetables, their dated versions (summer, winter) and the
    wind limits, without a restart. Every server process uses them within a second."""
    folder = Path(current_app.config["REFERENCE_DATA_DIR"]) / request.context.json.dataset
    if not (folder / "transport.yaml").is_file():
        raise ApiError(
            f"no dataset {request.context.json.dataset!r} with a transport.yaml", field="dataset", status=422
        )
    session = db.session
    result = conditions.reload_timetables(session, folder, actor=actor())
    session.commit()
    conditions.forget()
    clear_reference_cache()
    return jsonify(result)
