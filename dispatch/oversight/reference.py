"""Loading ``oversight.yaml``: holiday calendar, bodies, legal reviewers, supervisors, set times.

``load_oversight_into(session, path)`` validates the whole file first and raises
``gis.reference.ReferenceDataError`` listing every problem with its place, then
inserts it (without committing), like ``dispatch.seed.load_dataset_into``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dispatch.oversight.models import (
    BODY_KINDS,
    STAFF_ROLES,
    CalendarDay,
    OversightBody,
    OversightPolicy,
    OversightStaff,
)
from dispatch.store.models import Authority, Region
from gis.reference import ReferenceDataError

FILE = "oversight.yaml"
POLICY_KEYS = ("referral_response_hours", "urgent_on_site_minutes", "notice_days")


class OversightAlreadyLoaded(RuntimeError):
    """The county's oversight policy is in the database already."""


def _date(value, problems: list[str], where: str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{FILE}: {where}: {value!r} is not a date YYYY-MM-DD")
        return None


def _days(spec, problems: list[str], where: str) -> list[dt.date]:
    """'YYYY-MM-DD' or 'FIRST..LAST' -> the days it names."""
    first, _, last = str(spec).partition("..")
    start = _date(first, problems, where)
    end = _date(last, problems, where) if last else start
    if start is None or end is None:
        return []
    if end < start:
        problems.append(f"{FILE}: {where}: range {spec!r} ends before it starts")
        return []
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def read_oversight(path: Path) -> dict:
    """Parse and check the file; every problem is reported at once."""
    problems: list[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError([f"{FILE}: {exc}"]) from None
    if not isinstance(data, dict):
        raise ReferenceDataError([f"{FILE}: must be a mapping"])
    policy = data.get("policy") or {}
    for key in POLICY_KEYS:
        value = policy.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(f"{FILE}: policy.{key}: must be a positive whole number")
    bodies = data.get("bodies") or []
    body_codes = set()
    for i, body in enumerate(bodies):
        for key in ("code", "kind", "name_zh", "name_en"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                problems.append(f"{FILE}: bodies[{i}].{key}: required text")
        if body.get("kind") not in BODY_KINDS:
            problems.append(f"{FILE}: bodies[{i}].kind: one of {', '.join(BODY_KINDS)}")
        body_codes.add(body.get("code"))
    for kind in ("government", "coordination_office", "staffing_office", "justice_bureau"):
        if kind not in {b.get("kind") for b in bodies}:
            problems.append(f"{FILE}: bodies: the county needs a {kind}")
    for i, person in enumerate(data.get("staff") or []):
        where = f"staff[{i}] (code {person.get('code')!r})"
        if person.get("role") not in STAFF_ROLES:
            problems.append(f"{FILE}: {where}.role: one of {', '.join(STAFF_ROLES)}")
        if person.get("body") is not None and person["body"] not in body_codes:
            problems.append(f"{FILE}: {where}.body: unknown body {person['body']!r}")
        if person.get("authority") is None and person.get("body") is None:
            problems.append(f"{FILE}: {where}: needs an authority or a body")
        if person.get("role") == "supervisor":
            if not person.get("certificate_no"):
                problems.append(f"{FILE}: {where}.certificate_no: supervisors hold a supervision certificate")
            person["certificate_expires"] = _date(person.get("certificate_expires"), problems, where)
    calendar: dict[dt.date, tuple[bool, str]] = {}
    for i, entry in enumerate(data.get("calendar") or []):
        # YAML 1.1 reads an unquoted off/on/yes/no key as a boolean: refuse what is not ours.
        for key in set(entry) - {"name_zh", "holiday", "workday"}:
            problems.append(f"{FILE}: calendar[{i}]: unknown key {key!r} (name_zh, holiday, workday)")
        for working, key in ((False, "holiday"), (True, "workday")):
            for spec in entry.get(key) or []:
                for day in _days(spec, problems, f"calendar[{i}].{key}"):
                    if day in calendar:
                        problems.append(f"{FILE}: calendar[{i}]: {day} is listed twice")
                    calendar[day] = (working, entry.get("name_zh") or "")
    if problems:
        raise ReferenceDataError(problems)
    data["calendar_days"] = calendar
    return data


def load_oversight_into(session: Session, path: Path) -> dict[str, int]:
    """Insert the oversight data of ``path`` (a file, or a dataset folder holding oversight.yaml)."""
    path = path / FILE if path.is_dir() else path
    data = read_oversight(path)
    county = session.scalar(select(Region).where(Region.code == str(data.get("county"))))
    if county is None:
        raise ReferenceDataError([f"{FILE}: county: region {data.get('county')!r} is not loaded (seed it first)"])
    if session.scalar(select(OversightPolicy.id).where(OversightPolicy.region_id == county.id)) is not None:
        raise OversightAlreadyLoaded(f"the oversight data of {county.name_en} is already loaded")
    authorities = {a.code: a for a in session.scalars(select(Authority))}
    problems = [
        f"{FILE}: staff[{i}].authority: unknown authority {p['authority']!r}"
        for i, p in enumerate(data.get("staff") or [])
        if p.get("authority") is not None and p["authority"] not in authorities
    ]
    if problems:
        raise ReferenceDataError(problems)

    session.add(OversightPolicy(region=county, **{k: data["policy"][k] for k in POLICY_KEYS}))
    bodies = {
        b["code"]: OversightBody(
            code=b["code"], kind=b["kind"], name_zh=b["name_zh"], name_en=b["name_en"], region=county
        )
        for b in data["bodies"]
    }
    session.add_all(bodies.values())
    for p in data.get("staff") or []:
        session.add(
            OversightStaff(
                code=p["code"],
                name=p["name"],
                role=p["role"],
                authority=authorities.get(p.get("authority")),
                body=bodies.get(p.get("body")),
                certificate_no=p.get("certificate_no"),
                certificate_expires=p.get("certificate_expires"),
            )
        )
    days = data["calendar_days"]
    if days:  # the calendar is national: a second county adds nothing already there
        session.execute(
            insert(CalendarDay)
            .values([{"day": d, "working": w, "name_zh": n} for d, (w, n) in sorted(days.items())])
            .on_conflict_do_nothing(index_elements=["day"])
        )
    session.flush()
    return {"bodies": len(bodies), "staff": len(data.get("staff") or []), "calendar_days": len(days)}


def oversight_loaded(session: Session) -> bool:
    return session.scalar(select(OversightPolicy.id).limit(1)) is not None
