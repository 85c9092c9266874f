"""Inspect-once campaigns (专项行动, 综合查一次 by area and industry).

Seed 001 §3.3.2: 针对适合联合执法的同一行业、同一区域、同一对象,全面推行...“综合查一次”联合执法 (inspect
once, by industry, by area, by target). Seed 003 §7: 推进跨行业、跨领域集中检查、指导整改、跟踪问效,
避免重复、多头执法 (concentrated checks, guided rectification, follow-up; no repeated inspections).

A campaign has a plan, a lead authority and participating departments, all of one county, over a
set of its townships or an industry (422 ``outside_county`` for a region or department of another
county). Its targets are businesses; one is the same target as another of the campaign when it has
the same credit code or lies within 100 m (as dispatch.joint merges inspection requests): 409
``same_target``. Every department's findings at a target come in one visit; a second visit is
refused (409 ``already_inspected``), so ``departments - 1`` visits are avoided per target. A
violation carries a rectification deadline, and its check (跟踪问效) says whether it was rectified.
A visit may name the joint inspection (dispatch.joint) that carried it out.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.jurisdiction import region_at
from dispatch.live.bus import publish_after_commit
from dispatch.oversight.calendar import end_of_day
from dispatch.oversight.common import authority_ref, county_of, find_authority, get_row, now_utc, past_time
from dispatch.oversight.joint_work import Campaign, CampaignFinding, CampaignTarget
from dispatch.record import record
from dispatch.scope import require_organisation
from dispatch.shapes import iso, point_json
from dispatch.store.models import JointInspection, Region
from dispatch.validation import check_fields, optional_id, optional_text, required_point, required_text
from gis.clock import local_day

SAME_TARGET_M = 100  # as JOINT_RADIUS_M: within this, two targets are one
CAMPAIGN_FIELDS = {"title", "plan", "lead", "departments", "regions", "industry", "starts_on", "ends_on"}
TARGET_FIELDS = {"name", "business_id", "address", "location"}
VISIT_FIELDS = {"target_id", "visited_at", "joint_inspection_id", "findings"}
FINDING_FIELDS = {"authority", "result", "note", "rectify_by"}


def _day(body: dict, name: str) -> dt.date:
    value = body.get(name)
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise ApiError("required: a date YYYY-MM-DD", field=name)


def _outside(what: str, theirs: Region, county: Region, field: str) -> ApiError:
    return ApiError(
        f"{what} belongs to {theirs.name_zh}, not {county.name_zh}: a campaign works within its county "
        "(seed 001 §3.3.2)",
        field=field,
        code="outside_county",
        status=422,
    )


def _record(session: Session, row, *, actor: str, action: str, data: dict, location=None):
    return record(
        session,
        actor=actor,
        action=action,
        entity_type=row.__tablename__,
        entity_id=row.id,
        location=location,
        data=data,
    )


def _publish(session: Session, campaign: Campaign, event) -> None:
    publish_after_commit(session, "campaign", campaign_summary(campaign), rev=event.id)


def create_campaign(session: Session, body: dict, *, actor: str) -> Campaign:
    check_fields(body, CAMPAIGN_FIELDS)
    lead = find_authority(session, body.get("lead"), "lead")
    require_organisation(actor, lead, what="lead a campaign in its name")
    county = county_of(session, lead.region)
    regions: list[Region] = []
    codes = body.get("regions") or []
    if not isinstance(codes, list) or len(set(codes)) != len(codes):
        raise ApiError("must be a list of distinct region codes", field="regions")
    for index, code in enumerate(codes):
        region = session.scalar(select(Region).where(Region.code == code))
        if region is None:
            raise ApiError(f"unknown region {code!r}", field=f"regions[{index}]", code="unknown_region", status=422)
        theirs = county_of(session, region)
        if theirs.id != county.id:
            raise _outside(region.name_zh, theirs, county, f"regions[{index}]")
        regions.append(region)
    industry = optional_text(body, "industry", 100)
    if not regions and industry is None:
        raise ApiError(
            "a campaign covers townships (regions) or an industry (seed 001 §3.3.2: 同一行业、同一区域)",
            field="regions",
            code="scope_required",
            status=422,
        )
    departments = []
    dept_codes = body.get("departments")
    if not isinstance(dept_codes, list) or not dept_codes or len(set(dept_codes)) != len(dept_codes):
        raise ApiError("required: the participating departments' codes, distinct", field="departments")
    for index, code in enumerate(dept_codes):
        authority = find_authority(session, code, f"departments[{index}]")
        theirs = county_of(session, authority.region)
        if theirs.id != county.id:
            raise _outside(authority.name_zh, theirs, county, f"departments[{index}]")
        departments.append(authority)
    starts_on, ends_on = _day(body, "starts_on"), _day(body, "ends_on")
    if ends_on < starts_on:
        raise ApiError("must not be before starts_on", field="ends_on", status=422)
    campaign = Campaign(
        title=required_text(body, "title", 300),
        plan=required_text(body, "plan", 20000),
        industry=industry,
        county=county,
        lead=lead,
        starts_on=starts_on,
        ends_on=ends_on,
        status="planned",
        regions=regions,
        departments=departments,
        created_by=actor,
    )
    session.add(campaign)
    session.flush()
    event = _record(
        session,
        campaign,
        actor=actor,
        action="campaign.planned",
        data={
            "lead": lead.code,
            "departments": [a.code for a in departments],
            "regions": [r.code for r in regions],
            "industry": industry,
        },
    )
    _publish(session, campaign, event)
    return campaign


def add_target(session: Session, campaign_id: int, body: dict, *, actor: str) -> CampaignTarget:
    check_fields(body, TARGET_FIELDS)
    name = required_text(body, "name", 200)
    business_id = optional_text(body, "business_id", 32)
    point = required_point(body, "location")
    campaign = get_row(session, Campaign, campaign_id, "campaign_id", lock=True)
    require_organisation(actor, campaign.lead, *campaign.departments, what="add a target to the campaign")
    region = region_at(session, point.x, point.y)
    if region is None or county_of(session, region).id != campaign.county_id:
        raise ApiError(
            f"the target lies outside {campaign.county.name_zh}", field="location", code="outside_county", status=422
        )
    if campaign.regions and region.id not in {r.id for r in campaign.regions}:
        raise ApiError(
            f"{region.name_zh} is not one of the campaign's townships",
            field="location",
            code="outside_area",
            status=422,
        )
    same = session.execute(
        text("""SELECT id FROM campaign_target WHERE campaign_id = :c
                AND ((CAST(:b AS varchar) IS NOT NULL AND business_id = CAST(:b AS varchar)) OR ST_DWithin(location, ST_GeogFromText(:p), :r))
                ORDER BY id LIMIT 1"""),
        {"c": campaign.id, "b": business_id, "p": point.wkt, "r": SAME_TARGET_M},
    ).scalar()
    if same is not None:
        raise Conflict(
            f"target {same} of the campaign has the same credit code or lies within {SAME_TARGET_M} m: inspect it once",
            field="business_id" if business_id else "location",
            code="same_target",
            details={"target_id": same},
        )
    target = CampaignTarget(
        campaign=campaign,
        name=name,
        business_id=business_id,
        address=optional_text(body, "address", 300),
        location=from_shape(point, srid=4326),
        region=region,
        status="pending",
        created_by=actor,
    )
    session.add(target)
    session.flush()
    event = _record(
        session,
        target,
        actor=actor,
        action="campaign_target.added",
        location=point,
        data={"campaign_id": campaign.id, "name": name, "business_id": business_id, "region": region.code},
    )
    _publish(session, campaign, event)
    return target


def record_visit(
    session: Session, campaign_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> CampaignTarget:
    """Every department's findings at one target, in its one visit."""
    check_fields(body, VISIT_FIELDS)
    now = now or now_utc()
    visited_at = past_time(body, "visited_at", now)
    findings = body.get("findings")
    if not isinstance(findings, list) or not findings:
        raise ApiError("required: each department's finding", field="findings")
    campaign = get_row(session, Campaign, campaign_id, "campaign_id", lock=True)
    require_organisation(actor, campaign.lead, *campaign.departments, what="record the campaign's findings")
    target_id = optional_id(body, "target_id")
    if target_id is None:
        raise ApiError("required: the target's id", field="target_id")
    target = get_row(session, CampaignTarget, target_id, "target_id", lock=True)
    if target.campaign_id != campaign.id:
        raise NotFound(f"campaign {campaign.id} has no target {target_id}", field="target_id")
    if target.status == "inspected":
        raise Conflict(
            f"{target.name} was inspected at {target.visited_at.isoformat()}: a business is inspected once "
            "(seed 001 §3.3.2, 综合查一次)",
            field="target_id",
            code="already_inspected",
        )
    joint_id = optional_id(body, "joint_inspection_id")
    if joint_id is not None:
        get_row(session, JointInspection, joint_id, "joint_inspection_id")
    members = {a.id for a in campaign.departments} | {campaign.lead_id}
    seen = set()
    rows = []
    for index, item in enumerate(findings):
        where = f"findings[{index}]."
        if not isinstance(item, dict):
            raise ApiError("must be an object", field=f"findings[{index}]")
        check_fields(item, FINDING_FIELDS, where)
        authority = find_authority(session, item.get("authority"), where + "authority")
        if authority.id not in members:
            raise ApiError(
                f"{authority.name_zh} does not take part in the campaign",
                field=where + "authority",
                code="not_in_campaign",
                status=422,
            )
        if authority.id in seen:
            raise ApiError("one finding per department", field=where + "authority", status=422)
        seen.add(authority.id)
        result = item.get("result")
        if result not in ("compliant", "violation"):
            raise ApiError("must be compliant or violation", field=where + "result")
        rectify_by = None
        if result == "violation":
            if item.get("rectify_by") is None:
                raise ApiError(
                    "a violation needs a rectification deadline (seed 003 §7: 指导整改、跟踪问效)",
                    field=where + "rectify_by",
                    code="rectify_by_required",
                    status=422,
                )
            rectify_by = end_of_day(_day(item, "rectify_by"))
            if rectify_by <= visited_at:
                raise ApiError("lies before the visit", field=where + "rectify_by", status=422)
        elif item.get("rectify_by") is not None:
            raise ApiError("only a violation is rectified", field=where + "rectify_by", status=422)
        rows.append((authority, result, required_text(item, "note", 4000, where), rectify_by))
    target.status, target.visited_at, target.joint_inspection_id = "inspected", visited_at, joint_id
    if campaign.status == "planned":
        campaign.status = "active"
    rows = [
        CampaignFinding(target=target, authority=a, result=r, note=n, rectify_by=by, created_by=actor)
        for a, r, n, by in rows
    ]
    session.add_all(rows)
    session.flush()
    event = _record(
        session,
        target,
        actor=actor,
        action="campaign_target.inspected",
        data={
            "campaign_id": campaign.id,
            "visited_at": visited_at.isoformat(),
            "departments": [r.authority.code for r in rows],
            "violations": sum(r.result == "violation" for r in rows),
            "visits_avoided": len(rows) - 1,
            "joint_inspection_id": joint_id,
        },
    )
    _publish(session, campaign, event)
    return target


def check_finding(
    session: Session, campaign_id: int, finding_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> CampaignFinding:
    """跟踪问效: the department that found a violation checks whether it was rectified."""
    check_fields(body, {"rectified", "note"})
    now = now or now_utc()
    rectified = body.get("rectified")
    if not isinstance(rectified, bool):
        raise ApiError("must be true or false", field="rectified")
    note = required_text(body, "note", 4000)
    finding = get_row(session, CampaignFinding, finding_id, "finding_id", lock=True)
    if finding.target.campaign_id != campaign_id:
        raise NotFound(f"campaign {campaign_id} has no finding {finding_id}", field="finding_id")
    require_organisation(actor, finding.authority, what="check a finding it made")
    if finding.result != "violation":
        raise Conflict("a compliant finding has nothing to rectify", code="nothing_to_check")
    if finding.check_result is not None:
        raise Conflict(f"finding {finding.id} was checked: {finding.check_result}", code="already_checked")
    finding.check_result = "rectified" if rectified else "not_rectified"
    finding.check_note, finding.checked_at = note, now
    event = _record(
        session,
        finding,
        actor=actor,
        action="campaign_finding.checked",
        data={
            "campaign_id": campaign_id,
            "target_id": finding.target_id,
            "result": finding.check_result,
            "checked_late": now > finding.rectify_by,
        },
    )
    _publish(session, finding.target.campaign, event)
    return finding


# -- reading ------------------------------------------------------------------------------------

_LOADS = (
    selectinload(Campaign.regions),
    selectinload(Campaign.departments),
    selectinload(Campaign.lead),
    selectinload(Campaign.targets).selectinload(CampaignTarget.findings).selectinload(CampaignFinding.authority),
)


def list_campaigns(session: Session, limit: int = 200) -> list[Campaign]:
    return list(session.scalars(select(Campaign).options(*_LOADS).order_by(Campaign.id.desc()).limit(limit)))


def finding_json(finding: CampaignFinding, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        "id": finding.id,
        "target_id": finding.target_id,
        "authority": authority_ref(finding.authority),
        "result": finding.result,
        "note": finding.note,
        "rectify_by": iso(finding.rectify_by),
        "rectify_last_day": local_day(finding.rectify_by - dt.timedelta(seconds=1)).isoformat()
        if finding.rectify_by
        else None,
        "check_result": finding.check_result,
        "check_note": finding.check_note,
        "checked_at": iso(finding.checked_at),
        "check_overdue": finding.result == "violation"
        and finding.check_result is None
        and finding.rectify_by is not None
        and now > finding.rectify_by,
    }


def target_json(target: CampaignTarget, now: dt.datetime | None = None) -> dict:
    return {
        "id": target.id,
        "campaign_id": target.campaign_id,
        "name": target.name,
        "business_id": target.business_id,
        "address": target.address,
        "location": point_json(target.location),
        "region": target.region.code if target.region else None,
        "status": target.status,
        "visited_at": iso(target.visited_at),
        "joint_inspection_id": target.joint_inspection_id,
        "visits_avoided": max(len(target.findings) - 1, 0),
        "findings": [finding_json(f, now) for f in target.findings],
    }


def campaign_summary(campaign: Campaign) -> dict:
    inspected = [t for t in campaign.targets if t.status == "inspected"]
    return {
        "id": campaign.id,
        "title": campaign.title,
        "status": campaign.status,
        "targets": len(campaign.targets),
        "inspected": len(inspected),
        "visits_avoided": sum(max(len(t.findings) - 1, 0) for t in inspected),
    }


def campaign_json(campaign: Campaign, now: dt.datetime | None = None) -> dict:
    now = now or now_utc()
    return {
        **campaign_summary(campaign),
        "plan": campaign.plan,
        "industry": campaign.industry,
        "county": {"code": campaign.county.code, "name": campaign.county.name_zh, "name_en": campaign.county.name_en},
        "lead": authority_ref(campaign.lead),
        "departments": [authority_ref(a) for a in campaign.departments],
        "regions": [{"code": r.code, "name": r.name_zh, "name_en": r.name_en} for r in campaign.regions],
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "target_list": [target_json(t, now) for t in campaign.targets],
    }


def campaign_figures(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """For the annual report: campaigns started in the year, targets inspected once, visits avoided,
    violations found, rectified on check, and checks overdue."""
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    campaigns = session.scalar(select(func.count(Campaign.id)).where(Campaign.starts_on.between(first, last))) or 0
    row = session.execute(
        text("""
        SELECT count(DISTINCT t.id) AS inspected,
               coalesce(sum(f.departments - 1), 0) AS avoided
        FROM campaign_target t
        JOIN (SELECT target_id, count(*) AS departments FROM campaign_finding GROUP BY target_id) f
             ON f.target_id = t.id
        WHERE t.status = 'inspected' AND t.visited_at >= :start AND t.visited_at < :end"""),
        {"start": start, "end": end},
    ).one()
    found = session.execute(
        text("""
        SELECT count(*) FILTER (WHERE f.result = 'violation') AS violations,
               count(*) FILTER (WHERE f.check_result = 'rectified') AS rectified,
               count(*) FILTER (WHERE f.result = 'violation' AND f.check_result IS NULL
                                AND f.rectify_by < :now) AS checks_overdue
        FROM campaign_finding f JOIN campaign_target t ON t.id = f.target_id
        WHERE t.visited_at >= :start AND t.visited_at < :end"""),
        {"start": start, "end": end, "now": now},
    ).one()
    return {
        "campaigns": campaigns,
        "targets_inspected_once": row.inspected,
        "visits_avoided": int(row.avoided),
        "violations": found.violations,
        "rectified": found.rectified,
        "checks_overdue": found.checks_overdue,
    }
