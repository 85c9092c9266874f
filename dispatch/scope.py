"""Least privilege by place and organisation (issue 25): the one scope check beside the
permission matrix.

A principal (``dispatch.accounts.Principal``) carries a scope:
- a **region**: a province, county or township; it covers that region and every region under
  it, and a township also the other townships of its 1+X zone (seed 001 §3.2.4: the township
  directs the squads stationed in it, the zone's hub squad serves its neighbours). None: every
  region of this server (the installation's administrators and integrations).
- an **organisation**: the enforcement authority (a department, the county bureau, a township
  government) or the oversight body (justice bureau, county government, coordination office,
  police) the principal acts for. Acts the seeds give to one organisation (answering its
  referrals, the justice bureau's notice, the government's decision) need a principal of
  that organisation: no role stands in for it.

``Actor`` is what the domain receives for every act: the name the record keeps (the principal,
never a header), on whose behalf an integration acted, and the principal to check.
Every check raises ``OutOfScope`` (403, ``out_of_scope``) naming what is outside.
"""

from __future__ import annotations

from sqlalchemy import exists, func, select, text, true
from sqlalchemy.orm import Session

from dispatch.accounts import Principal
from dispatch.errors import ApiError
from dispatch.store import refcache
from dispatch.store.models import Region


class OutOfScope(ApiError):
    status = 403
    code = "out_of_scope"


class Actor(str):
    """The actor's name as the record keeps it (a ``str``, so the domain writes it as before),
    with on whose behalf (``X-Actor`` of an act-for integration token) and the principal."""

    on_behalf_of: str | None
    principal: Principal | None

    def __new__(cls, name: str, *, on_behalf_of: str | None = None, principal: Principal | None = None):
        actor = super().__new__(cls, name)
        actor.on_behalf_of = on_behalf_of
        actor.principal = principal
        return actor


def principal_of(actor: str) -> Principal | None:
    """The principal behind an actor (None for the server's own acts: seeding, the scheduler)."""
    return getattr(actor, "principal", None)


# -- regions ----------------------------------------------------------------------------------------


def covered_regions(session: Session, region_id: int | None) -> frozenset[int] | None:
    """The ids of the regions a scope of ``region_id`` covers; None: every region."""
    if region_id is None:
        return None
    return refcache.cached(session, ("scope", region_id), lambda: _load_covered(session, region_id))


def _load_covered(session: Session, region_id: int) -> frozenset[int]:
    below = session.execute(
        text("""
        WITH RECURSIVE down(id) AS (
            SELECT id FROM region WHERE id = :id
            UNION ALL
            SELECT r.id FROM region r JOIN down ON r.parent_id = down.id
        ) SELECT id FROM down
    """),
        {"id": region_id},
    ).scalars()
    covered = set(below)
    level = session.scalar(select(Region.level).where(Region.id == region_id))
    if level in ("township", "street"):  # and the other townships of its zone in the plan in effect
        covered.update(
            session.execute(
                text("""
            WITH in_effect AS (
                SELECT DISTINCT ON (region_id) id FROM coverage_plan
                WHERE status = 'published' AND effective_at <= now()
                ORDER BY region_id, effective_at DESC)
            SELECT mate.region_id FROM zone_member own JOIN zone_member mate ON mate.zone_id = own.zone_id
            WHERE own.region_id = :id AND own.plan_id IN (SELECT id FROM in_effect)
        """),
                {"id": region_id},
            ).scalars()
        )
    return frozenset(covered)


def covers(session: Session, principal: Principal | None, region_id: int | None) -> bool:
    """Whether the principal's region covers ``region_id`` (None principal: the server itself)."""
    if principal is None or principal.region_id is None:
        return True
    regions = covered_regions(session, principal.region_id)
    return region_id is not None and region_id in regions


def require_squads(session: Session, actor: str, squads) -> None:
    """A township's account directs the squads stationed in its township and zone (seed 001
    §3.2.4): 403 naming the first squad (anything with id, name_zh, station_region_id) outside."""
    principal = principal_of(actor)
    for squad in squads:
        if not covers(session, principal, squad.station_region_id):
            raise OutOfScope(
                f"squad {squad.id} ({squad.name_zh}) is stationed outside your scope",
                field="squad_ids",
                details={"squad_id": squad.id},
            )


def located_in(location, regions: frozenset[int] | None):
    """A SQL condition: the point column ``location`` lies in one of ``regions`` (None: anywhere)."""
    if regions is None:
        return true()
    return exists().where(Region.id.in_(regions), func.ST_Covers(Region.boundary, func.geometry(location)))


def require_region(session: Session, principal: Principal | None, region_id: int | None, what: str) -> None:
    if not covers(session, principal, region_id):
        name = session.scalar(select(Region.name_zh).where(Region.id == region_id)) if region_id else None
        scope = session.scalar(select(Region.name_zh).where(Region.id == principal.region_id))
        raise OutOfScope(f"{what} ({name or 'no region'}) lies outside your scope ({scope})", field="scope")


# -- organisations ------------------------------------------------------------------------------------


def require_organisation(actor: str, *organisations, what: str) -> None:
    """Only a principal acting for one of ``organisations`` (enforcement authorities or
    oversight bodies) may do ``what``; the server's own acts (no principal) pass."""
    principal = principal_of(actor)
    if principal is None:
        return
    for organisation in organisations:
        mine = principal.authority_id if organisation.__tablename__ == "authority" else principal.body_id
        if mine == organisation.id:
            return
    names = " or ".join(o.name_zh for o in organisations)
    raise OutOfScope(f"only an account of {names} may {what}", field="scope")


def require_person(actor: str, what: str) -> None:
    """Acts the seeds reserve to a named person: that person's own session or token, never an
    integration acting on someone's behalf."""
    principal = principal_of(actor)
    if principal is None:
        return
    if not principal.personal or getattr(actor, "on_behalf_of", None):
        raise OutOfScope(f"{what} needs the person's own sign-in or token, not one acting for them", field="actor")
