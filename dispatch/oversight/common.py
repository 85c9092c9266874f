"""Helpers shared by the oversight workflows: lookups by code, body parsing, JSON references."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.jurisdiction import ancestors_of
from dispatch.oversight.models import OversightBody, OversightPolicy, OversightStaff
from dispatch.record import record
from dispatch.scope import principal_of
from dispatch.store.models import Authority, Region
from dispatch.validation import parse_time
from gis import clock

T = TypeVar("T")
# A clock a few minutes fast on a tablet is not "the future".
CLOCK_SKEW = dt.timedelta(minutes=5)


def find_authority(session: Session, code, field: str) -> Authority:
    if not isinstance(code, str) or not code.strip():
        raise ApiError("required: an authority code", field=field)
    authority = session.scalar(select(Authority).where(Authority.code == code.strip()))
    if authority is None:
        raise ApiError(f"unknown authority {code!r}", field=field, code="unknown_authority", status=422)
    return authority


def comprehensive_authority(session: Session, body: dict, field: str, near: Authority) -> Authority:
    """``body[field]`` by code, or by default the comprehensive bureau of ``near``'s county or city."""
    if body.get(field) is not None:
        return find_authority(session, body[field], field)
    county = county_of(session, near.region)
    bureau = session.scalar(
        select(Authority).where(
            Authority.kind.in_(("county_bureau", "municipal_bureau")), Authority.region_id == county.id
        )
    )
    if bureau is None:
        raise ApiError(f"{county.name_en} has no comprehensive bureau: name the requester", field=field, status=422)
    return bureau


def find_body(session: Session, code, field: str, kinds: tuple[str, ...]) -> OversightBody:
    if not isinstance(code, str) or not code.strip():
        raise ApiError(f"required: the code of a {' or '.join(kinds)}", field=field)
    body = session.scalar(select(OversightBody).where(OversightBody.code == code.strip()))
    if body is None or body.kind not in kinds:
        raise ApiError(f"{code!r} is not a {' or '.join(kinds)}", field=field, code="unknown_body", status=422)
    return body


def county_of(session: Session, region: Region) -> Region:
    """The county (or city) a region belongs to: the root of its tree."""
    ancestors = ancestors_of(session, region)
    return ancestors[-1] if ancestors else region


def body_of(session: Session, kind: str, authority: Authority) -> OversightBody:
    """The county's body of ``kind`` (its government, justice bureau...) for an authority."""
    county = county_of(session, authority.region)
    body = session.scalar(select(OversightBody).where(OversightBody.kind == kind, OversightBody.region_id == county.id))
    if body is None:
        raise Conflict(
            f"{county.name_en} has no {kind} in its oversight data (flask --app dispatch seed-oversight)",
            code="oversight_data_missing",
        )
    return body


def policy_for(session: Session, authority: Authority) -> OversightPolicy:
    county = county_of(session, authority.region)
    policy = session.scalar(select(OversightPolicy).where(OversightPolicy.region_id == county.id))
    if policy is None:
        raise Conflict(
            f"{county.name_en} has no oversight policy (flask --app dispatch seed-oversight)",
            code="oversight_data_missing",
        )
    return policy


def staff_acting(session: Session, actor: str, role: str) -> OversightStaff | None:
    """The active reviewer or supervisor whose account is acting (the account's username is the
    staff code, and the account acts for the staff member's own authority or body), if any."""
    staff = session.scalar(
        select(OversightStaff).where(OversightStaff.code == actor, OversightStaff.role == role, OversightStaff.active)
    )
    principal = principal_of(actor)
    mine = (staff.authority_id, staff.body_id) if staff is not None else None
    if principal is not None and mine is not None and (principal.authority_id, principal.body_id) != mine:
        return None  # an account named like the reviewer, of another organisation
    return staff


def get_row(session: Session, model: type[T], row_id: int, field: str, *, lock: bool = False) -> T:
    """A row by id (locked FOR UPDATE when asked), or 404 naming ``field``."""
    query = select(model).where(model.id == row_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        label = model.__tablename__.replace("_", " ")
        raise NotFound(f"no {label} {row_id}", field=field)
    return row


def flag(body: dict, name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ApiError("must be true or false", field=name)
    return value


def past_time(body: dict, name: str, now: dt.datetime) -> dt.datetime:
    """An optional ISO time that already happened (default: now): records say when a thing was done."""
    value = parse_time(body.get(name), name)
    if value is None:
        return now
    if value > now + CLOCK_SKEW:
        raise ApiError("lies in the future", field=name, status=422)
    return value


def parse_day(value, field: str, *, required: bool = True) -> dt.date | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ApiError("required: a date YYYY-MM-DD", field=field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(f"{value!r} is not a date YYYY-MM-DD", field=field) from None


def authority_ref(authority: Authority | None) -> dict | None:
    if authority is None:
        return None
    return {"code": authority.code, "name": authority.name_zh, "name_en": authority.name_en}


def body_ref(body: OversightBody | None) -> dict | None:
    if body is None:
        return None
    return {"code": body.code, "name": body.name_zh, "name_en": body.name_en, "kind": body.kind}


def record_change(
    session: Session,
    entity,
    *,
    actor: str,
    action: str,
    data: dict | None = None,
    incident_id: int | None = None,
    squad_id: int | None = None,
    **parents: int | None,
) -> None:
    """One event of the full-process record for an oversight document; ``parents`` (``case_id=``,
    ``notice_id=``) go into its data so the record of the case or notice finds it."""
    record(
        session,
        actor=actor,
        action=action,
        entity_type=entity.__tablename__,
        entity_id=entity.id,
        incident_id=incident_id,
        squad_id=squad_id,
        data={**parents, **(data or {})},
    )


def now_utc() -> dt.datetime:
    return clock.utc_now()
