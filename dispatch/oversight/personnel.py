"""Officers' certificates and training hours; supervisors and on-site supervision.

- Seed 002 task 5: 未取得行政执法证件的人员不得独立从事行政执法工作 (certificates, see
  ``Officer.certified_on`` and dispatch.tasks.has_certified_officer); 执法人员每人每年 ... 在岗
  培训不少于60学时 — hours per officer per year, and the list of those under 60.
- Seed 004 art. 13: 实施现场行政执法监督的,行政执法监督人员不得少于2人,并出示有效的行政执法监督证件.
"""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.oversight.common import (
    authority_ref,
    body_of,
    find_authority,
    flag,
    now_utc,
    parse_day,
    past_time,
    record_change,
)
from dispatch.oversight.models import SUPERVISION_METHODS, OversightStaff, SupervisionVisit, TrainingRecord
from dispatch.scope import require_organisation
from dispatch.shapes import iso
from dispatch.store.models import Officer, Squad
from dispatch.validation import check_fields, optional_text, required_text
from gis.clock import local_day

TRAINING_HOURS_PER_YEAR = 60  # seed 002 task 5
ON_SITE_SUPERVISORS = 2  # seed 004 art. 13


def add_training(
    session: Session, officer_id: int, body: dict, *, actor: str, now: dt.datetime | None = None
) -> TrainingRecord:
    """Record hours of in-post training (public law, the trade, enforcement skills) of one officer."""
    check_fields(body, {"taken_on", "hours", "course"})
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"no officer {officer_id}", field="officer_id")
    require_organisation(actor, officer.squad.authority, what="record its officers' training")
    taken_on = parse_day(body.get("taken_on"), "taken_on")
    if taken_on > local_day(now or now_utc()):
        raise ApiError("lies in the future", field="taken_on", status=422)
    hours = body.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
        raise ApiError("hours of one day: more than 0, at most 24", field="hours")
    if round(hours * 10) != hours * 10:
        raise ApiError("at most one decimal (e.g. 1.5)", field="hours", status=422)
    course = required_text(body, "course", 200)
    row = TrainingRecord(
        officer=officer, taken_on=taken_on, hours=decimal.Decimal(str(hours)), course=course, created_by=actor
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        row,
        actor=actor,
        action="training.recorded",
        squad_id=officer.squad_id,
        data={"officer_id": officer.id, "taken_on": taken_on.isoformat(), "hours": hours, "course": course},
    )
    return row


def training_hours(session: Session, year: int, *, under_only: bool = False) -> list[dict]:
    """Hours of every enforcement officer (not auxiliaries) in ``year``; ``under_only``: those below 60."""
    hours = (
        select(TrainingRecord.officer_id, func.sum(TrainingRecord.hours).label("hours"))
        .where(extract("year", TrainingRecord.taken_on) == year)
        .group_by(TrainingRecord.officer_id)
        .subquery()
    )
    rows = session.execute(
        select(Officer, func.coalesce(hours.c.hours, 0))
        .outerjoin(hours, hours.c.officer_id == Officer.id)
        .where(Officer.auxiliary.is_(False))
        .options(selectinload(Officer.squad))
        .order_by(func.coalesce(hours.c.hours, 0), Officer.id)
    ).all()
    out = []
    for officer, total in rows:
        total = float(total)
        if under_only and total >= TRAINING_HOURS_PER_YEAR:
            continue
        out.append(
            {
                "officer": officer_ref(officer),
                "year": year,
                "hours": total,
                "required": TRAINING_HOURS_PER_YEAR,
                "missing": max(0.0, TRAINING_HOURS_PER_YEAR - total),
            }
        )
    return out


def certificates(session: Session, *, within_days: int, today: dt.date | None = None) -> list[dict]:
    """Officers whose enforcement certificate has expired or expires within ``within_days``."""
    today = today or local_day(now_utc())
    limit = today + dt.timedelta(days=within_days)
    rows = session.scalars(
        select(Officer)
        .where(Officer.auxiliary.is_(False), Officer.certificate_expires <= limit)
        .options(selectinload(Officer.squad))
        .order_by(Officer.certificate_expires, Officer.id)
    ).all()
    return [
        {
            **officer_ref(o),
            "certificate_no": o.certificate_no,
            "certificate_expires": o.certificate_expires.isoformat(),
            "valid": o.certified_on(today),
            "on_duty": o.on_duty,
        }
        for o in rows
    ]


def record_visit(session: Session, body: dict, *, actor: str, now: dt.datetime | None = None) -> SupervisionVisit:
    """Record a supervision (seed 004 art. 15); on site, at least two supervisors with valid certificates."""
    check_fields(body, {"authority", "method", "on_site", "supervisors", "place", "visited_at", "findings"})
    now = now or now_utc()
    authority = find_authority(session, body.get("authority"), "authority")
    require_organisation(actor, body_of(session, "justice_bureau", authority), what="record a supervision")
    method = body.get("method")
    if method not in SUPERVISION_METHODS:
        raise ApiError(f"one of {', '.join(SUPERVISION_METHODS)} (seed 004 art. 15)", field="method")
    on_site = flag(body, "on_site")
    visited_at = past_time(body, "visited_at", now)
    codes = body.get("supervisors")
    if not isinstance(codes, list) or not codes or any(not isinstance(c, str) for c in codes):
        raise ApiError("required: a list of supervisor codes", field="supervisors")
    if len(set(codes)) != len(codes):
        raise ApiError("supervisors must be distinct", field="supervisors")
    staff = {s.code: s for s in session.scalars(select(OversightStaff).where(OversightStaff.code.in_(codes)))}
    day = local_day(visited_at)
    supervisors = []
    for index, code in enumerate(codes):
        person = staff.get(code)
        if person is None or person.role != "supervisor":
            raise ApiError(
                f"{code!r} is not a supervisor", field=f"supervisors[{index}]", code="not_a_supervisor", status=422
            )
        supervisors.append(person)
    certified = [s for s in supervisors if s.certified_on(day)]
    if on_site and len(certified) < ON_SITE_SUPERVISORS:
        lapsed = [s.code for s in supervisors if not s.certified_on(day)]
        raise Conflict(
            f"on-site supervision needs at least {ON_SITE_SUPERVISORS} supervisors with a valid supervision "
            f"certificate; {len(certified)} here" + (f" ({', '.join(lapsed)} not valid on {day})" if lapsed else ""),
            field="supervisors",
            code="too_few_supervisors",
        )
    visit = SupervisionVisit(
        authority=authority,
        method=method,
        on_site=on_site,
        place=optional_text(body, "place", 200),
        visited_at=visited_at,
        findings=required_text(body, "findings", 8000),
        supervisors=supervisors,
        created_by=actor,
    )
    session.add(visit)
    session.flush()
    record_change(
        session,
        visit,
        actor=actor,
        action="supervision_visit.recorded",
        data={"authority": authority.code, "method": method, "on_site": on_site, "supervisors": codes},
    )
    return visit


def training_json(row: TrainingRecord) -> dict:
    return {
        "id": row.id,
        "officer_id": row.officer_id,
        "taken_on": row.taken_on.isoformat(),
        "hours": float(row.hours),
        "course": row.course,
    }


def officer_ref(officer: Officer) -> dict:
    squad: Squad = officer.squad
    return {
        "id": officer.id,
        "name": officer.name,
        "squad": {"id": squad.id, "code": squad.code, "name": squad.name_zh} if squad else None,
    }


def staff_json(person: OversightStaff, today: dt.date) -> dict:
    return {
        "code": person.code,
        "name": person.name,
        "role": person.role,
        "authority": authority_ref(person.authority),
        "body": person.body.code if person.body else None,
        "certificate_no": person.certificate_no,
        "certificate_expires": iso(person.certificate_expires),
        "certified": person.role == "supervisor" and person.certified_on(today),
        "active": person.active,
    }


def visit_json(visit: SupervisionVisit) -> dict:
    return {
        "id": visit.id,
        "authority": authority_ref(visit.authority),
        "method": visit.method,
        "on_site": visit.on_site,
        "place": visit.place,
        "visited_at": iso(visit.visited_at),
        "findings": visit.findings,
        "supervisors": [{"code": s.code, "name": s.name} for s in visit.supervisors],
        "created_by": visit.created_by,
    }
