"""Loading ``oversight.yaml``: holiday calendar, bodies, legal reviewers, supervisors, set times.

``load_oversight_into(session, path)`` validates the whole file first and raises
``gis.reference.ReferenceDataError`` listing every problem with its place, then
inserts it (without committing), like ``dispatch.seed.load_dataset_into``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dispatch.oversight.models import (
    BODY_KINDS,
    STAFF_ROLES,
    CalendarDay,
    CalendarYear,
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


def _date(value, problems: list[str], where: str, file: str = FILE) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{file}: {where}: {value!r} is not a date YYYY-MM-DD")
        return None


def _days(spec, problems: list[str], where: str, file: str = FILE) -> list[dt.date]:
    """'YYYY-MM-DD' or 'FIRST..LAST' -> the days it names."""
    first, _, last = str(spec).partition("..")
    start = _date(first, problems, where, file)
    end = _date(last, problems, where, file) if last else start
    if start is None or end is None:
        return []
    if end < start:
        problems.append(f"{file}: {where}: range {spec!r} ends before it starts")
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
    major = policy.get("major_fine_yuan")
    if major is not None and (isinstance(major, bool) or not isinstance(major, int | float) or not 0 < major < 1e10):
        problems.append(f"{FILE}: policy.major_fine_yuan: an amount in yuan above 0 (or absent: no threshold)")
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
    calendar = _calendar(data.get("calendar") or [], problems)
    sources = data.get("calendar_sources") or {}
    if not isinstance(sources, dict):
        problems.append(f"{FILE}: calendar_sources: a mapping year -> the State Council notice")
        sources = {}
    for year in sorted({d.year for d in calendar}):
        if not isinstance(sources.get(year), str) or not sources[year].strip():
            problems.append(f"{FILE}: calendar_sources.{year}: name the State Council notice of {year}")
    if problems:
        raise ReferenceDataError(problems)
    data["calendar_days"] = calendar
    data["calendar_sources"] = sources
    return data


def _calendar(entries, problems: list[str], file: str = FILE) -> dict[dt.date, tuple[bool, str]]:
    """Holiday and 调休 entries -> day -> (working, name)."""
    calendar: dict[dt.date, tuple[bool, str]] = {}
    if not isinstance(entries, list):
        problems.append(f"{file}: calendar: a list of {{name_zh, holiday, workday}}")
        return calendar
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"{file}: calendar[{i}]: a mapping {{name_zh, holiday, workday}}")
            continue
        # YAML 1.1 reads an unquoted off/on/yes/no key as a boolean: refuse what is not ours.
        for key in set(entry) - {"name_zh", "holiday", "workday"}:
            problems.append(f"{file}: calendar[{i}]: unknown key {key!r} (name_zh, holiday, workday)")
        for working, key in ((False, "holiday"), (True, "workday")):
            for spec in entry.get(key) or []:
                for day in _days(spec, problems, f"calendar[{i}].{key}", file):
                    if day in calendar:
                        problems.append(f"{file}: calendar[{i}]: {day} is listed twice")
                    calendar[day] = (working, entry.get("name_zh") or "")
    return calendar


def read_calendar_file(path: Path) -> tuple[int, str, dict[dt.date, tuple[bool, str]]]:
    """One year of the State Council's holiday notice (``gis/data/calendar/README.md``):
    ``year``, ``source`` (the notice), ``calendar`` (entries as in oversight.yaml), every day in that year."""
    name = path.name
    problems: list[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError([f"{name}: {exc}"]) from None
    if not isinstance(data, dict):
        raise ReferenceDataError([f"{name}: must be a mapping (year, source, calendar)"])
    for key in set(data) - {"year", "source", "calendar"}:
        problems.append(f"{name}: unknown key {key!r} (year, source, calendar)")
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.append(f"{name}: year: a year from 2000 to 2100")
        year = None
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(f"{name}: source: required text (the State Council notice, or 'test fixture')")
    days = _calendar(data.get("calendar"), problems, name)
    if not days:
        problems.append(f"{name}: calendar: no holiday listed")
    if year is not None:
        problems += [f"{name}: calendar: {d} is not in {year}" for d in sorted(days) if d.year != year]
    if problems:
        raise ReferenceDataError(problems)
    return year, source.strip(), days


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

    major = data["policy"].get("major_fine_yuan")
    session.add(
        OversightPolicy(
            region=county,
            major_fine_yuan=decimal.Decimal(str(major)) if major is not None else None,
            **{k: data["policy"][k] for k in POLICY_KEYS},
        )
    )
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
        session.execute(
            insert(CalendarYear)
            .values(
                [
                    {"year": y, "source": data["calendar_sources"][y], "loaded_by": "seed-oversight"}
                    for y in sorted({d.year for d in days})
                ]
            )
            .on_conflict_do_nothing(index_elements=["year"])
        )
    session.flush()
    return {"bodies": len(bodies), "staff": len(data.get("staff") or []), "calendar_days": len(days)}


def oversight_loaded(session: Session) -> bool:
    return session.scalar(select(OversightPolicy.id).limit(1)) is not None
