"""Jurisdiction disputes (执法职责争议), seed 004 arts. 6-9 (and seed 000 §2.5).

Art. 6: the authorities negotiate; failing that, either side asks the coordination
office in writing. Art. 7: the written request states the points in dispute and
each side's view with its legal basis. Art. 8: an agreed coordination ends in a
written opinion copied to the staffing office and the justice bureau. Art. 9:
otherwise the coordination office consults with the staffing office and the
justice bureau; if the sides reject the consultation opinion, the government
decides and the office issues its written opinion accordingly.

Who coordinates (art. 6 ¶2): 同级 disputes go to that level's coordination office; 跨层级、跨区域
disputes to the city's; a township and a county-level authority to the county's. That is the
office of the lowest region over both parties (their lowest common superior), not party A's
county: ``dispute_body`` walks up from there to the first region holding a body of the kind, and
the consultation (staffing office, justice bureau) and the decision (government, art. 9) are that
level's too. No region over both with such a body: 409 ``no_common_superior``, nothing saved.

Meanwhile the incident is not lost: a dispute names the squad that handles it
provisionally (with a certified officer on duty, seed 002 task 5), and the
incident's record says so.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.incidents import get_incident
from dispatch.jurisdiction import ancestors_of
from dispatch.oversight.common import authority_ref, find_authority, flag, get_row, now_utc, record_change
from dispatch.oversight.models import JurisdictionDispute, OversightBody
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.states import CLOSED_STATUSES
from dispatch.store.models import Authority, Squad
from dispatch.tasks import has_certified_officer
from dispatch.validation import check_fields, optional_id, required_text
from gis.clock import local_day

# Which step each stage allows, and where it leads (art. 6 -> 7 -> 8 -> 9).
STEPS = {
    "negotiation": ("agree", "request", "reassign"),
    "coordination": ("coordinate", "reassign"),
    "consultation": ("consult", "reassign"),
    "government": ("decide", "reassign"),
    "resolved": (),
}
STEP_FIELDS = {
    "agree": {"step", "resolution", "competent_authority"},
    "request": {"step", "points", "other"},
    "coordinate": {"step", "opinion", "agreed", "competent_authority"},
    "consult": {"step", "opinion", "accepted", "competent_authority"},
    "decide": {"step", "decision", "competent_authority"},
    "reassign": {"step", "provisional_squad_id", "reason"},
}
POINT_FIELDS = ("point", "view_a", "basis_a", "view_b", "basis_b")


def dispute_body(session: Session, kind: str, party_a: Authority, party_b: Authority) -> OversightBody:
    """The body of ``kind`` at the lowest common superior of both parties' regions (art. 6 ¶2)."""
    chain_a = [party_a.region, *ancestors_of(session, party_a.region)]
    over_b = {r.id for r in (party_b.region, *ancestors_of(session, party_b.region))}
    for region in (r for r in chain_a if r.id in over_b):
        body = session.scalar(
            select(OversightBody).where(OversightBody.kind == kind, OversightBody.region_id == region.id)
        )
        if body is not None:
            return body
    raise Conflict(
        f"no {kind} over both {party_a.name_zh} and {party_b.name_zh}: seed 004 art. 6 ¶2 sends a dispute to the "
        "coordination of their lowest common superior (跨层级、跨区域: the city's), which the oversight data lacks",
        field="party_b",
        code="no_common_superior",
    )


def _provisional_squad(session: Session, squad_id: int | None, now: dt.datetime) -> Squad:
    if squad_id is None:
        raise ApiError("required: the squad handling the incident meanwhile", field="provisional_squad_id")
    squad = session.get(Squad, squad_id)
    if squad is None:
        raise NotFound(f"no squad {squad_id}", field="provisional_squad_id")
    if squad.status in ("off_duty", "out_of_service") or not has_certified_officer(squad, local_day(now), now):
        raise Conflict(
            f"squad {squad.id} ({squad.name_zh}) has no certified officer on duty to handle it meanwhile",
            field="provisional_squad_id",
            code="no_certified_officer",
        )
    return squad


def open_dispute(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> JurisdictionDispute:
    """Record a dispute between two authorities and who handles the incident meanwhile."""
    check_fields(body, {"party_a", "party_b", "incident_id", "subject", "provisional_squad_id"})
    now = now or now_utc()
    party_a = find_authority(session, body.get("party_a"), "party_a")
    party_b = find_authority(session, body.get("party_b"), "party_b")
    if party_a.id == party_b.id:
        raise ApiError("a dispute is between two authorities", field="party_b", status=422)
    coordination = dispute_body(session, "coordination_office", party_a, party_b)
    require_organisation(actor, party_a, party_b, coordination, what="record this dispute")
    incident_id = optional_id(body, "incident_id")
    if incident_id is not None:
        incident = get_incident(session, incident_id)
        if incident.status in CLOSED_STATUSES:
            raise Conflict(f"incident {incident.id} is {incident.status}", field="incident_id", code="incident_closed")
    squad = _provisional_squad(session, optional_id(body, "provisional_squad_id"), now)
    dispute = JurisdictionDispute(
        party_a=party_a,
        party_b=party_b,
        incident_id=incident_id,
        subject=required_text(body, "subject", 4000),
        stage="negotiation",
        provisional_squad=squad,
        opened_at=now,
        created_by=actor,
    )
    session.add(dispute)
    session.flush()
    record_change(
        session,
        dispute,
        incident_id=dispute.incident_id,
        squad_id=dispute.provisional_squad_id,
        actor=actor,
        action="dispute.opened",
        data={"party_a": party_a.code, "party_b": party_b.code, "provisional_squad": squad.code},
    )
    return dispute


def _points(body: dict) -> list[dict]:
    """Art. 7: each point in dispute with both sides' views and their legal bases."""
    points = body.get("points")
    if not isinstance(points, list) or not points:
        raise ApiError("required: the points in dispute, each with both views and legal bases", field="points")
    out = []
    for index, point in enumerate(points):
        prefix = f"points[{index}]."
        if not isinstance(point, dict):
            raise ApiError("must be an object", field=f"points[{index}]")
        check_fields(point, set(POINT_FIELDS), prefix)
        out.append({name: required_text(point, name, 4000, prefix) for name in POINT_FIELDS})
    return out


def _resolve(session, dispute, body, *, text: str, now: dt.datetime) -> None:
    if body.get("competent_authority") is None:  # optional in coordinate and consult, owed when they resolve
        raise ApiError(
            "required when the dispute is resolved: the competent authority's code",
            field="competent_authority",
            status=422,
        )
    competent = find_authority(session, body.get("competent_authority"), "competent_authority")
    dispute.stage = "resolved"
    dispute.resolution = text
    dispute.competent_authority = competent
    dispute.resolved_at = now


def step_takers(session: Session, dispute: JurisdictionDispute, name: str) -> list:
    """Who takes a step (seed 004 arts. 6-9): the parties negotiate and ask; the coordination
    office coordinates, consults and assigns a squad meanwhile; the government decides."""
    if name in ("agree", "request"):
        return [dispute.party_a, dispute.party_b]
    if name == "decide":
        return [_body(session, "government", dispute)]
    return [_body(session, "coordination_office", dispute)]


_step_takers = step_takers  # its former name (tests/oversight/test_dispute_routing.py)


def _body(session: Session, kind: str, dispute: JurisdictionDispute) -> OversightBody:
    return dispute_body(session, kind, dispute.party_a, dispute.party_b)


def step(
    session: Session, dispute_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> JurisdictionDispute:
    """Move a dispute one step along arts. 6-9; 409 naming the allowed steps otherwise."""
    now = now or now_utc()
    name = body.get("step")
    if not isinstance(name, str) or name not in STEP_FIELDS:
        raise ApiError(f"one of {', '.join(STEP_FIELDS)}", field="step")
    check_fields(body, STEP_FIELDS[name])
    dispute = get_row(session, JurisdictionDispute, dispute_id, "dispute_id", lock=True)
    allowed = STEPS[dispute.stage]
    if name not in allowed:
        raise Conflict(
            f"a dispute in {dispute.stage} cannot take the step {name!r}",
            field="step",
            code="illegal_step",
            details={"stage": dispute.stage, "allowed": list(allowed)},
        )
    require_organisation(actor, *step_takers(session, dispute, name), what=f"take the step {name!r}")
    previous = dispute.stage
    data: dict = {"from": previous}
    if name == "agree":  # art. 6: settled by negotiation
        _resolve(session, dispute, body, text=required_text(body, "resolution", 4000), now=now)
    elif name == "request":  # arts. 6-7: the written request to the coordination office
        dispute.points = _points(body)
        if body.get("other") is not None:
            data["other"] = required_text(body, "other", 4000)
        dispute.stage = "coordination"
        data["to"] = _body(session, "coordination_office", dispute).code
        data["points"] = dispute.points
    elif name == "coordinate":  # art. 8
        dispute.coordination_opinion = required_text(body, "opinion", 8000)
        if flag(body, "agreed"):
            _resolve(session, dispute, body, text=dispute.coordination_opinion, now=now)
            data["copied_to"] = [_body(session, k, dispute).code for k in ("staffing_office", "justice_bureau")]
        else:
            dispute.stage = "consultation"
    elif name == "consult":  # art. 9, first paragraph
        dispute.consultation_opinion = required_text(body, "opinion", 8000)
        data["with"] = [_body(session, k, dispute).code for k in ("staffing_office", "justice_bureau")]
        if flag(body, "accepted"):
            _resolve(session, dispute, body, text=dispute.consultation_opinion, now=now)
        else:
            dispute.stage = "government"
            data["proposal_to"] = _body(session, "government", dispute).code
    elif name == "decide":  # art. 9, second paragraph
        dispute.government_decision = required_text(body, "decision", 8000)
        _resolve(session, dispute, body, text=dispute.government_decision, now=now)
        data["by"] = _body(session, "government", dispute).code
    else:  # reassign: another squad takes the incident meanwhile
        squad = _provisional_squad(session, optional_id(body, "provisional_squad_id"), now)
        data.update(
            squad_from=dispute.provisional_squad_id, squad_to=squad.id, reason=required_text(body, "reason", 2000)
        )
        dispute.provisional_squad = squad
    if dispute.stage == "resolved":
        data["competent_authority"] = dispute.competent_authority.code
    data["to_stage"] = dispute.stage
    session.flush()
    record_change(
        session,
        dispute,
        incident_id=dispute.incident_id,
        squad_id=dispute.provisional_squad_id,
        actor=actor,
        action=f"dispute.{name}",
        data=data,
    )
    return dispute


def list_disputes(session: Session, *, open_only: bool = False) -> list[JurisdictionDispute]:
    query = (
        select(JurisdictionDispute)
        .options(
            selectinload(JurisdictionDispute.party_a),
            selectinload(JurisdictionDispute.party_b),
            selectinload(JurisdictionDispute.provisional_squad),
        )
        .order_by(JurisdictionDispute.opened_at, JurisdictionDispute.id)
    )
    if open_only:
        query = query.where(JurisdictionDispute.stage != "resolved")
    return list(session.scalars(query))


def dispute_json(dispute: JurisdictionDispute) -> dict:
    squad = dispute.provisional_squad
    return {
        "id": dispute.id,
        "party_a": authority_ref(dispute.party_a),
        "party_b": authority_ref(dispute.party_b),
        "incident_id": dispute.incident_id,
        "subject": dispute.subject,
        "stage": dispute.stage,
        "allowed_steps": list(STEPS[dispute.stage]),
        "provisional_squad": {"id": squad.id, "code": squad.code, "name": squad.name_zh},
        "points": dispute.points,
        "coordination_opinion": dispute.coordination_opinion,
        "consultation_opinion": dispute.consultation_opinion,
        "government_decision": dispute.government_decision,
        "resolution": dispute.resolution,
        "competent_authority": authority_ref(dispute.competent_authority),
        "opened_at": iso(dispute.opened_at),
        "resolved_at": iso(dispute.resolved_at),
    }
