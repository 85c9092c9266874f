"""The matter catalogue over time: versions published, each in force from its day.

Seed 001 §3.2.1 (综合行政执法事项目录: the catalogue of matters the comprehensive force enforces is
drawn up, adjusted and published) and seed 004 art. 5 (the catalogue is adjusted dynamically and
published to society). A county's (or city's) catalogue is a list of dated versions, each with its
publishing document. The version in force on a day is the one with the latest ``effective_from`` not
after it; before the first version, the first (the catalogue from before versions were kept).

- Intake and jurisdiction take the version in force at the incident's reported time: a matter it
  does not list (withdrawn, or not yet in force) is refused (422 ``matter_not_in_catalogue``, naming
  the matter), and the version's entry (domain, authority kind, ``township_held``, priority, SLA)
  decides the authority, priority and deadline.
- A new version takes effect from today or a later day, never an earlier one (422
  ``retroactive_catalogue``: what was decided under a catalogue stays decided), and after the
  county's latest version (409 ``catalogue_superseded``).
- The annual report of a year counts with that year's catalogue (the version in force at its end),
  and names each incident's matters as the version in force at its report time listed them.

``matter`` rows are every code ever listed (incidents refer to them); their attributes are the
version in force now, brought up to date when a version is published for today (``apply_in_force``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.errors import ApiError, Conflict, NotFound
from dispatch.record import record
from dispatch.scope import principal_of, require_region
from dispatch.store.models import AuthorityKind, CatalogueEntry, CatalogueVersion, Matter, Region
from dispatch.validation import check_fields, required_text
from gis.clock import local_day

ATTRIBUTES = (
    "name_zh",
    "name_en",
    "domain",
    "authority_kind",
    "township_held",
    "joint_domains",
    "priority",
    "sla_minutes",
)
MAX_MATTERS = 2000
BODY_FIELDS = {"county", "effective_from", "source", "matters"}
MATTER_FIELDS = {"code", *ATTRIBUTES}


@dataclass(frozen=True)
class CatalogueMatter:
    """A matter as one catalogue version lists it; ``id`` is its ``matter`` row's."""

    id: int
    code: str
    name_zh: str
    name_en: str
    domain: str
    authority_kind: str
    township_held: bool
    joint_domains: tuple[str, ...]
    priority: int
    sla_minutes: int

    @classmethod
    def of(cls, row: Matter | CatalogueEntry, matter_id: int | None = None) -> CatalogueMatter:
        values = {name: getattr(row, name) for name in ATTRIBUTES}
        values["joint_domains"] = tuple(values["joint_domains"] or ())
        return cls(id=matter_id if matter_id is not None else row.id, code=row.code, **values)


def root_of(session: Session, region: Region) -> Region:
    """The county or city a region lies in (the region itself at the top)."""
    while region.parent_id is not None:
        region = session.get(Region, region.parent_id)
    return region


def version_in_force(session: Session, root_id: int, day: dt.date) -> CatalogueVersion | None:
    """The version in force on ``day``: the latest effective by then, else the first; None without versions."""
    found = session.scalar(
        select(CatalogueVersion)
        .where(CatalogueVersion.region_id == root_id, CatalogueVersion.effective_from <= day)
        .order_by(CatalogueVersion.effective_from.desc())
        .limit(1)
    )
    if found is None:
        found = session.scalar(
            select(CatalogueVersion)
            .where(CatalogueVersion.region_id == root_id)
            .order_by(CatalogueVersion.effective_from)
            .limit(1)
        )
    return found


def matters_in_force(
    session: Session, root: Region, matters: list[Matter], at: dt.datetime, field: str = "matters"
) -> list[CatalogueMatter]:
    """``matters`` as the catalogue in force at ``at`` lists them; 422 naming the first it does not list.

    A county without versions (loaded before they were kept, with others beside it) uses the rows as they are.
    """
    version = version_in_force(session, root.id, local_day(at))
    if version is None:
        return [CatalogueMatter.of(m) for m in matters]
    entries = {
        e.code: e
        for e in session.scalars(
            select(CatalogueEntry).where(
                CatalogueEntry.version_id == version.id, CatalogueEntry.code.in_([m.code for m in matters])
            )
        )
    }
    out = []
    for index, matter in enumerate(matters):
        entry = entries.get(matter.code)
        if entry is None:
            later = version.effective_from > local_day(at) or _listed_later(session, root.id, matter.code, version)
            why = "not yet in force" if later else "withdrawn"
            raise ApiError(
                f"matter {matter.code} is not in {root.name_zh}'s catalogue in force on {local_day(at)} "
                f"(effective from {version.effective_from}, {version.source}): {why}",
                field=f"{field}[{index}]" if field == "matters" else field,
                status=422,
                code="matter_not_in_catalogue",
            )
        out.append(CatalogueMatter.of(entry, matter.id))
    return out


def _listed_later(session: Session, root_id: int, code: str, version: CatalogueVersion) -> bool:
    return (
        session.scalar(
            select(CatalogueEntry.id)
            .join(CatalogueVersion, CatalogueVersion.id == CatalogueEntry.version_id)
            .where(
                CatalogueVersion.region_id == root_id,
                CatalogueVersion.effective_from > version.effective_from,
                CatalogueEntry.code == code,
            )
            .limit(1)
        )
        is not None
    )


def first_version(
    session: Session, root: Region, matters: list[Matter], effective_from: dt.date, source: str, actor: str
) -> CatalogueVersion:
    """A county's catalogue as loaded with its dataset: its first version."""
    version = CatalogueVersion(region=root, effective_from=effective_from, source=source, published_by=actor)
    session.add(version)
    session.flush()
    for matter in matters:
        session.add(_entry(version, matter.id, {"code": matter.code, **{a: getattr(matter, a) for a in ATTRIBUTES}}))
    session.flush()
    return version


def _entry(version: CatalogueVersion, matter_id: int, item: dict) -> CatalogueEntry:
    return CatalogueEntry(version_id=version.id, matter_id=matter_id, **{k: item[k] for k in ("code", *ATTRIBUTES)})


def _check_matter(item, index: int) -> dict:
    where = f"matters[{index}]."
    if not isinstance(item, dict):
        raise ApiError(
            "must be a matter {code, name_zh, name_en, domain, authority_kind, ...}", field=f"matters[{index}]"
        )
    check_fields(item, MATTER_FIELDS, prefix=where)
    out = {
        "code": required_text(item, "code", 32, where),
        "name_zh": required_text(item, "name_zh", 200, where),
        "name_en": required_text(item, "name_en", 200, where),
        "domain": required_text(item, "domain", 40, where),
    }
    kind = item.get("authority_kind")
    if kind not in {k.value for k in AuthorityKind}:
        raise ApiError(f"must be one of {', '.join(k.value for k in AuthorityKind)}", field=where + "authority_kind")
    out["authority_kind"] = kind
    held = item.get("township_held", False)
    if not isinstance(held, bool):
        raise ApiError("must be true or false", field=where + "township_held")
    out["township_held"] = held
    joint = item.get("joint_domains", [])
    if not isinstance(joint, list) or not all(isinstance(d, str) and d.strip() and len(d) <= 40 for d in joint):
        raise ApiError("must be a list of domains", field=where + "joint_domains")
    out["joint_domains"] = [d.strip() for d in joint]
    for name, default, low, high in (("priority", 2, 1, 3), ("sla_minutes", 120, 1, 60 * 24 * 365)):
        value = item.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ApiError(f"must be a whole number from {low} to {high}", field=where + name)
        out[name] = value
    return out


def read_body(body) -> tuple[str | None, dt.date, str, list[dict]]:
    """A new version as sent: county code (optional), effective day, source, matters (400 naming the field)."""
    if not isinstance(body, dict):
        raise ApiError("must be an object {effective_from, source, matters, county?}", field="body")
    check_fields(body, BODY_FIELDS)
    county = body.get("county")
    if county is not None and (not isinstance(county, str) or not county.strip()):
        raise ApiError("must be a region code", field="county")
    try:
        effective_from = dt.date.fromisoformat(str(body.get("effective_from")))
    except ValueError:
        raise ApiError("must be a day YYYY-MM-DD", field="effective_from") from None
    source = required_text(body, "source", 2000)
    items = body.get("matters")
    if not isinstance(items, list) or not items:
        raise ApiError("must be a non-empty list of matters", field="matters")
    if len(items) > MAX_MATTERS:
        raise ApiError(f"at most {MAX_MATTERS} matters", field="matters")
    matters, seen = [], set()
    for index, item in enumerate(items):
        checked = _check_matter(item, index)
        if checked["code"] in seen:
            # well formed, against a rule (a code once per version): 422, as the document cannot say it
            raise ApiError(f"{checked['code']} is listed twice", field=f"matters[{index}].code", status=422,
                           code="duplicate_matter")  # fmt: skip
        seen.add(checked["code"])
        matters.append(checked)
    return (county.strip() if county else None), effective_from, source, matters


def _county(session: Session, code: str | None) -> Region:
    if code is not None:
        region = session.scalar(select(Region).where(Region.code == code))
        if region is None or region.parent_id is not None:
            raise ApiError(f"{code} is no loaded county or city", field="county", status=422, code="unknown_county")
        return region
    roots = session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)).all()
    if len(roots) != 1:
        raise ApiError(
            f"name the county: {', '.join(r.code for r in roots) or 'none is loaded'}",
            field="county",
            status=422,
            code="county_required",
        )
    return roots[0]


def publish(session: Session, body, *, actor: str, today: dt.date | None = None) -> CatalogueVersion:
    """A new version of a county's catalogue, effective from a day (today or later), on the record."""
    county_code, effective_from, source, items = read_body(body)
    root = _county(session, county_code)
    require_region(session, principal_of(actor), root.id, "the catalogue's county")
    today = today or local_day()
    if effective_from < today:
        raise ApiError(
            f"a catalogue takes effect from today ({today}) or later, not {effective_from}: incidents filed "
            "under the catalogue in force stay as they were decided (seed 004 art. 5: adjusted and published)",
            field="effective_from",
            status=422,
            code="retroactive_catalogue",
        )
    latest = session.scalar(
        select(CatalogueVersion)
        .where(CatalogueVersion.region_id == root.id)
        .order_by(CatalogueVersion.effective_from.desc())
        .limit(1)
        .with_for_update()
    )
    if latest is not None and latest.effective_from >= effective_from:
        raise Conflict(
            f"{root.name_zh}'s catalogue of {latest.effective_from} ({latest.source}) is the latest: "
            f"a new version takes effect after it",
            code="catalogue_superseded",
            field="effective_from",
        )
    before = {e.code: e for e in latest.entries} if latest is not None else {}
    rows = {m.code: m for m in session.scalars(select(Matter).where(Matter.code.in_([i["code"] for i in items])))}
    version = CatalogueVersion(region=root, effective_from=effective_from, source=source, published_by=str(actor))
    session.add(version)
    session.flush()
    added, changed = [], []
    for item in items:
        matter = rows.get(item["code"])
        if matter is None:  # a code never listed: its row, with the attributes it is published with
            matter = Matter(**{k: item[k] for k in ("code", *ATTRIBUTES)})
            session.add(matter)
            session.flush()
        session.add(_entry(version, matter.id, item))
        old = before.get(item["code"])
        if old is None:
            added.append(item["code"])
        elif any(getattr(old, a) != item[a] for a in ATTRIBUTES if a != "joint_domains") or list(
            old.joint_domains
        ) != list(item["joint_domains"]):
            changed.append(item["code"])
    session.flush()
    withdrawn = sorted(set(before) - {i["code"] for i in items})
    record(
        session,
        actor=actor,
        action="catalogue.published",
        entity_type="catalogue_version",
        entity_id=version.id,
        data={
            "county": root.code,
            "effective_from": effective_from.isoformat(),
            "source": source,
            "matters": len(items),
            "added": added,
            "withdrawn": withdrawn,
            "changed": changed,
        },
    )
    apply_in_force(session, root, today)
    session.expire(version, ["entries"])
    return version


def apply_in_force(session: Session, root: Region, today: dt.date | None = None) -> int:
    """Bring the ``matter`` rows of ``root``'s catalogue to the version in force today; returns rows changed."""
    version = version_in_force(session, root.id, today or local_day())
    if version is None:
        return 0
    changed = 0
    for entry in session.scalars(select(CatalogueEntry).where(CatalogueEntry.version_id == version.id)):
        matter = session.get(Matter, entry.matter_id)
        for name in ATTRIBUTES:
            value = list(getattr(entry, name)) if name == "joint_domains" else getattr(entry, name)
            if getattr(matter, name) != value:
                setattr(matter, name, value)
                changed += 1
    session.flush()
    return changed


def list_versions(session: Session, regions: frozenset[int] | None = None) -> list[CatalogueVersion]:
    query = select(CatalogueVersion).options(selectinload(CatalogueVersion.region))
    rows = session.scalars(query.order_by(CatalogueVersion.region_id, CatalogueVersion.effective_from)).all()
    return [v for v in rows if regions is None or v.region_id in regions]


def get_version(session: Session, version_id: int) -> CatalogueVersion:
    version = session.get(CatalogueVersion, version_id, options=[selectinload(CatalogueVersion.entries)])
    if version is None:
        raise NotFound(f"no catalogue version {version_id}")
    return version


def version_json(version: CatalogueVersion, *, today: dt.date | None = None, entries: bool = False) -> dict:
    today = today or local_day()
    out = {
        "id": version.id,
        "county": {"code": version.region.code, "name": version.region.name_zh, "name_en": version.region.name_en},
        "effective_from": version.effective_from.isoformat(),
        "source": version.source,
        "published_at": version.published_at.isoformat(),
        "published_by": version.published_by,
        "matter_count": len(version.entries),
    }
    if entries:
        out["matters"] = [
            {
                "code": e.code,
                "name": e.name_zh,
                "name_en": e.name_en,
                "domain": e.domain,
                "authority_kind": e.authority_kind,
                "township_held": e.township_held,
                "joint_domains": list(e.joint_domains),
                "priority": e.priority,
                "sla_minutes": e.sla_minutes,
            }
            for e in version.entries
        ]
    return out


def in_force_flags(session: Session, versions: list[CatalogueVersion], today: dt.date | None = None) -> dict[int, bool]:
    """Which of ``versions`` is in force today in its county."""
    today = today or local_day()
    out = {}
    for root_id in {v.region_id for v in versions}:
        current = version_in_force(session, root_id, today)
        for v in versions:
            if v.region_id == root_id:
                out[v.id] = current is not None and v.id == current.id
    return out
