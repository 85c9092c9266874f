"""Factories for test data: a squad, an officer, an incident, with sensible defaults."""

from __future__ import annotations

import datetime as dt
import itertools

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.store.models import Authority, Officer, Region, Squad

_seq = itertools.count(1)
CAIYUAN = "330922100"


def certified(name: str | None = None, *, expires: dt.date | None = None, on_duty: bool = True) -> dict:
    n = next(_seq)
    return {
        "name": name or f"执法员{n}",
        "certificate_no": f"TEST{n:06d}",
        "auxiliary": False,
        "certificate_expires": expires or dt.date.today() + dt.timedelta(days=365),
        "on_duty": on_duty,
    }


def auxiliary(name: str | None = None) -> dict:
    return {
        "name": name or f"协勤{next(_seq)}",
        "auxiliary": True,
        "certificate_no": None,
        "certificate_expires": None,
        "on_duty": True,
    }


def make_squad(
    session: Session,
    *,
    at: tuple[float, float],
    domains=("comprehensive",),
    force=None,
    region: str = CAIYUAN,
    authority: str = "county-bureau",
    scope: str = "zone",
    status: str = "available",
    officers: list[dict] | None = None,
    code: str | None = None,
) -> Squad:
    """A squad positioned at ``at`` (lon, lat); by default one certified officer on duty."""
    n = next(_seq)
    force = force or (
        "comprehensive" if "comprehensive" in domains else "maritime" if "maritime" in domains else "professional"
    )
    squad = Squad(
        code=code or f"test-{n}",
        name_zh=f"测试中队{n}",
        name_en=f"Test squad {n}",
        force=force,
        domains=list(domains),
        scope=scope,
        status=status,
        authority=session.scalar(select(Authority).where(Authority.code == authority)),
        station_region=session.scalar(select(Region).where(Region.code == region)),
        station=from_shape(Point(*at), srid=4326),
        last_position=from_shape(Point(*at), srid=4326),
    )
    for officer in officers if officers is not None else [certified()]:
        squad.officers.append(Officer(**officer))
    session.add(squad)
    session.commit()
    return squad


def set_status(
    session: Session, codes: list[str] | None = None, *, domain: str | None = None, status: str = "off_duty"
) -> None:
    """Take seeded squads out of the picture (by code, or every squad of a domain)."""
    query = select(Squad)
    if codes:
        query = query.where(Squad.code.in_(codes))
    if domain:
        query = query.where(Squad.domains.contains([domain]))
    for squad in session.scalars(query):
        squad.status = status
    session.commit()


def incident_body(
    *,
    at=(122.77, 30.72),
    matters=("CM-001",),
    source="hotline_12345",
    external_id=None,
    description="群众反映占道经营",
    reported_at: dt.datetime | None = None,
    **extra,
) -> dict:
    body = {
        "source": source,
        "matters": list(matters),
        "location": {"type": "Point", "coordinates": list(at)},
        "description": description,
        "reported_at": (reported_at or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))).isoformat(),
        **extra,
    }
    if external_id is not None:
        body["external_id"] = external_id
    return body
