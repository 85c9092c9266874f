"""Reference data of a county or city, read from version-controlled files and validated.

A dataset is a folder (``gis/data/<name>/``) holding regions.geojson,
islands.geojson, transport.yaml, authorities.yaml, plan.yaml, squads.yaml and
matters.yaml (see that folder's README). ``load_dataset`` reads all of it and
either returns a ``Dataset`` or raises ``ReferenceDataError`` listing every
problem with its file and place, so a bad file is fixed in one pass.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from shapely import MultiPolygon, Point
from shapely.ops import unary_union

from gis.geojson import GeometryError, as_multipolygon, check_lon_lat, parse_area

LEVELS = ("city", "county", "district", "township", "street")
AUTHORITY_KINDS = ("municipal_bureau", "county_bureau", "department", "township_government")
FORCES = ("comprehensive", "professional", "maritime")
SCOPES = ("zone", "authority")
DOMAINS = (
    "comprehensive",
    "market_supervision",
    "ecology_environment",
    "culture_tourism_sport",
    "transport",
    "agriculture_rural",
    "natural_resources_planning",
    "emergency_management",
    "health",
    "maritime",
    "human_resources_social_security",
    "water_affairs",
    "city_management",
)
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ReferenceDataError(ValueError):
    """The dataset has problems; ``problems`` lists each as 'file: place: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the reference data:\n  " + "\n  ".join(problems))


@dataclass
class Dataset:
    name: str
    regions: list[dict]
    islands: list[dict]
    transport: dict
    authorities: list[dict]
    plan: dict
    squads: list[dict]
    matters: list[dict]

    @property
    def root_region(self) -> dict:
        return next(r for r in self.regions if r["parent"] is None)


@dataclass
class _Reader:
    """Collects problems while reading one dataset."""

    folder: Path
    problems: list[str] = field(default_factory=list)

    def problem(self, file: str, where: str, message: str) -> None:
        self.problems.append(f"{file}: {where}: {message}")

    def load(self, file: str) -> Any:
        path = self.folder / file
        if not path.exists():
            self.problem(file, "file", "missing")
            return None
        text = path.read_text(encoding="utf-8")
        try:
            if file.endswith(".geojson"):
                return json.loads(text)
            return yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            self.problem(file, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "file"
            self.problem(file, where, f"invalid YAML: {getattr(exc, 'problem', exc)}")
        return None

    def items(self, file: str, data: Any, key: str | None = None) -> list[tuple[str, dict]]:
        """The entries of a list (or of ``data[key]``) with a readable place for each."""
        seq = data.get(key) if (key and isinstance(data, dict)) else data
        if not isinstance(seq, list):
            self.problem(file, key or "top level", "must be a list")
            return []
        out = []
        for index, item in enumerate(seq):
            place = f"{key or ''}[{index}]"
            if not isinstance(item, dict):
                self.problem(file, place, "must be a mapping")
                continue
            if isinstance(item.get("code"), str):
                place += f" (code {item['code']!r})"
            out.append((place, item))
        return out

    def text(self, file: str, place: str, item: dict, name: str, *, optional: bool = False) -> str | None:
        value = item.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(file, f"{place}.{name}", "required text is missing")
            return None
        return value.strip()

    def choice(self, file: str, place: str, item: dict, name: str, allowed, default=None) -> str | None:
        value = item.get(name, default)
        if value not in allowed:
            self.problem(file, f"{place}.{name}", f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def flag(self, file: str, place: str, item: dict, name: str, default: bool) -> bool:
        value = item.get(name, default)
        if not isinstance(value, bool):
            self.problem(file, f"{place}.{name}", f"must be true or false, not {value!r}")
            return default
        return value

    def number(
        self, file: str, place: str, item: dict, name: str, *, minimum: float = 0, integer: bool = False, default=None
    ) -> float | None:
        value = item.get(name, default)
        ok_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type) or value <= minimum:
            kind = "a whole number" if integer else "a number"
            self.problem(file, f"{place}.{name}", f"must be {kind} greater than {minimum}, not {value!r}")
            return None
        return value

    def unique(self, file: str, entries: list[dict], key: str = "code") -> dict[str, dict]:
        seen: dict[str, dict] = {}
        for entry in entries:
            value = entry.get(key)
            if value is None:
                continue
            if value in seen:
                self.problem(file, f"{key} {value!r}", "appears more than once")
            seen[value] = entry
        return seen


def _date(reader: _Reader, file: str, place: str, value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        reader.problem(file, place, f"{value!r} is not a date (YYYY-MM-DD)")
        return None


def _datetime(reader: _Reader, file: str, place: str, value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            reader.problem(file, place, f"{value!r} is not a date-time (ISO 8601 with offset)")
            return None
    if parsed.tzinfo is None:
        reader.problem(file, place, "needs a UTC offset, e.g. +08:00")
        return None
    return parsed


def _point(reader: _Reader, file: str, place: str, lon: Any, lat: Any) -> Point | None:
    try:
        return Point(*check_lon_lat(lon, lat, place))
    except GeometryError as exc:
        reader.problem(file, place, exc.message)
        return None


def _read_features(reader: _Reader, file: str) -> list[tuple[str, dict, dict]]:
    data = reader.load(file)
    if data is None:
        return []
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        reader.problem(file, "top level", "must be a GeoJSON FeatureCollection")
        return []
    out = []
    for index, feat in enumerate(data.get("features") or []):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            reader.problem(file, f"features[{index}]", "a Feature with properties is required")
            continue
        place = f"features[{index}]" + (f" (code {props['code']!r})" if isinstance(props.get("code"), str) else "")
        out.append((place, feat, props))
    return out


def _area(reader: _Reader, file: str, place: str, geometry: Any, required: bool) -> MultiPolygon | None:
    if geometry is None:
        if required:
            reader.problem(file, f"{place}.geometry", "required")
        return None
    try:
        return parse_area(geometry, f"{place}.geometry")
    except GeometryError as exc:
        reader.problem(file, exc.field, exc.message)
        return None


def load_dataset(folder: Path | str) -> Dataset:
    """Read and cross-check a dataset folder; raise ReferenceDataError on any problem."""
    folder = Path(folder)
    reader = _Reader(folder)
    if not folder.is_dir():
        raise ReferenceDataError([f"{folder}: no such dataset folder"])

    regions = _load_regions(reader)
    region_by_code = reader.unique("regions.geojson", regions)
    islands = _load_islands(reader)
    island_by_code = reader.unique("islands.geojson", islands)
    transport = _load_transport(reader, island_by_code)
    authorities = _load_authorities(reader, region_by_code)
    authority_by_code = reader.unique("authorities.yaml", authorities)
    plan = _load_plan(reader, region_by_code)
    squads = _load_squads(reader, region_by_code, authority_by_code)
    matters = _load_matters(reader)
    reader.unique("matters.yaml", matters)
    certs = [o for s in squads for o in s["officers"] if o.get("certificate_no")]
    reader.unique("squads.yaml", certs, key="certificate_no")

    if reader.problems:
        raise ReferenceDataError(reader.problems)
    return Dataset(folder.name, regions, islands, transport, authorities, plan, squads, matters)


def _load_regions(reader: _Reader) -> list[dict]:
    file = "regions.geojson"
    regions = []
    for place, feat, props in _read_features(reader, file):
        region = {
            "code": reader.text(file, place, props, "code"),
            "parent": reader.text(file, place, props, "parent", optional=True),
            "level": reader.choice(file, place, props, "level", LEVELS),
            "name_zh": reader.text(file, place, props, "name_zh"),
            "name_en": reader.text(file, place, props, "name_en"),
            "empowered": reader.flag(file, place, props, "empowered", False),
            "place": place,
        }
        region["boundary"] = _area(
            reader, file, place, feat.get("geometry"), required=region["level"] in ("township", "street")
        )
        regions.append(region)
    codes = {r["code"] for r in regions}
    roots = [r for r in regions if r["parent"] is None]
    if regions and len(roots) != 1:
        reader.problem(file, "parent", f"exactly one region without a parent is required, found {len(roots)}")
    for region in regions:
        if region["parent"] is not None and region["parent"] not in codes:
            reader.problem(file, f"{region['place']}.parent", f"unknown region code {region['parent']!r}")
    # A parent without a boundary takes the union of its children's.
    by_parent: dict[str, list[dict]] = {}
    for region in regions:
        by_parent.setdefault(region["parent"], []).append(region)

    def derive(region: dict):
        if region["boundary"] is None:
            parts = [derive(child) for child in by_parent.get(region["code"], [])]
            parts = [p for p in parts if p is not None]
            region["boundary"] = as_multipolygon(unary_union(parts)) if parts else None
        return region["boundary"]

    for root in roots:
        derive(root)
    return regions


def _load_islands(reader: _Reader) -> list[dict]:
    file = "islands.geojson"
    islands = []
    for place, feat, props in _read_features(reader, file):
        islands.append(
            {
                "code": reader.text(file, place, props, "code"),
                "name_zh": reader.text(file, place, props, "name_zh"),
                "name_en": reader.text(file, place, props, "name_en"),
                "outline": _area(reader, file, place, feat.get("geometry"), required=True),
            }
        )
    valid = [i for i in islands if i["outline"] is not None]
    for a_index, a in enumerate(valid):
        for b in valid[a_index + 1 :]:
            if a["outline"].intersects(b["outline"]):
                reader.problem(file, f"islands {a['code']!r} and {b['code']!r}", "overlap or touch")
    return islands


def _load_transport(reader: _Reader, island_by_code: dict[str, dict]) -> dict:
    file = "transport.yaml"
    data = reader.load(file)
    if not isinstance(data, dict):
        if data is not None:
            reader.problem(file, "top level", "must be a mapping")
        return {"ports": [], "ferry_links": [], "wind_limits": {}, "timetables": []}
    transport = {
        "land_speed_kmh": reader.number(file, "top level", data, "land_speed_kmh"),
        "detour_factor": reader.number(file, "top level", data, "detour_factor", minimum=0.99),
        "boat_speed_kmh": reader.number(file, "top level", data, "boat_speed_kmh"),
        "transfer_minutes": reader.number(file, "top level", data, "transfer_minutes", minimum=-1, default=0),
        "ports": [],
        "ferry_links": [],
    }
    for place, item in reader.items(file, data, "ports"):
        port = {
            "code": reader.text(file, place, item, "code"),
            "name_zh": reader.text(file, place, item, "name_zh"),
            "name_en": reader.text(file, place, item, "name_en"),
            "island": reader.text(file, place, item, "island"),
            "location": _point(reader, file, place, item.get("lon"), item.get("lat")),
        }
        island = island_by_code.get(port["island"])
        if port["island"] and island is None:
            reader.problem(file, f"{place}.island", f"unknown island code {port['island']!r}")
        elif (
            island
            and island["outline"] is not None
            and port["location"] is not None
            and not island["outline"].covers(port["location"])
        ):
            reader.problem(file, place, f"port lies outside its island {port['island']!r}")
        transport["ports"].append(port)
    port_codes = set(reader.unique(file, transport["ports"]))
    for place, item in reader.items(file, data, "ferry_links"):
        link = {
            "from": reader.text(file, place, item, "from"),
            "to": reader.text(file, place, item, "to"),
            "minutes": reader.number(file, place, item, "minutes"),
            "timetable": item.get("timetable") or [],
        }
        for end in ("from", "to"):
            if link[end] and link[end] not in port_codes:
                reader.problem(file, f"{place}.{end}", f"unknown port code {link[end]!r}")
        if link["from"] and link["from"] == link["to"]:
            reader.problem(file, place, "a ferry link joins two different ports")
        if not isinstance(link["timetable"], list) or not all(
            isinstance(t, str) and HHMM.match(t) for t in link["timetable"]
        ):
            reader.problem(file, f"{place}.timetable", 'must be a list of departure times "HH:MM"')
            link["timetable"] = []
        transport["ferry_links"].append(link)
    transport["wind_limits"] = _wind_limits(reader, file, data.get("wind_limits"))
    pairs = {(link["from"], link["to"]) for link in transport["ferry_links"]}
    transport["timetables"] = _timetable_versions(reader, file, data, port_codes, pairs)
    return transport


VESSEL_CLASSES = ("ferry", "boat")


def _wind_limits(reader: _Reader, file: str, data: Any) -> dict[str, int]:
    """``wind_limits: {boat: 6, ferry: 8}``: the wind force (Beaufort 0-17) at which each class stops."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        reader.problem(file, "wind_limits", "must be a mapping of vessel class to a wind force")
        return {}
    out = {}
    for name, force in data.items():
        if name not in VESSEL_CLASSES:
            reader.problem(file, f"wind_limits.{name}", f"unknown vessel class (one of {', '.join(VESSEL_CLASSES)})")
        elif not isinstance(force, int) or isinstance(force, bool) or not 0 <= force <= 17:
            reader.problem(file, f"wind_limits.{name}", "must be a Beaufort force 0-17")
        else:
            out[name] = force
    return out


def _timetable_versions(reader: _Reader, file: str, data: dict, port_codes: set, pairs: set) -> list[dict]:
    """``timetables``: versions (seasons) with effective dates, each listing links' departures."""
    if data.get("timetables") is None:
        return []
    out = []
    for place, item in reader.items(file, data, "timetables"):
        season = {
            "season": reader.text(file, place, item, "season"),
            "from": _season_date(reader, file, f"{place}.from", item.get("from")),
            "until": _season_date(reader, file, f"{place}.until", item.get("until"), optional=True),
            "links": [],
        }
        if season["from"] and season["until"] and season["until"] < season["from"]:
            reader.problem(file, f"{place}.until", "before from")
        for link_place, link in reader.items(file, item, "links"):
            where = f"{place}.{link_place}"
            for end in ("from", "to"):
                if link.get(end) not in port_codes:
                    reader.problem(file, f"{where}.{end}", f"unknown port code {link.get(end)!r}")
            ends = (link.get("from"), link.get("to"))
            if ends not in pairs and ends[::-1] not in pairs and all(e in port_codes for e in ends):
                reader.problem(file, where, f"no ferry link {ends[0]}-{ends[1]} in ferry_links")
            table = link.get("timetable") or []
            if not isinstance(table, list) or not all(isinstance(t, str) and HHMM.match(t) for t in table):
                reader.problem(file, f"{where}.timetable", 'must be a list of departure times "HH:MM"')
                table = []
            season["links"].append({"from": link.get("from"), "to": link.get("to"), "timetable": table})
        out.append(season)
    return out


def _season_date(reader: _Reader, file: str, where: str, value: Any, *, optional: bool = False) -> dt.date | None:
    if value is None and optional:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        reader.problem(file, where, "must be a date YYYY-MM-DD")
        return None


def load_transport_file(folder: Path | str) -> dict:
    """Only a dataset's transport.yaml (checked against its islands): what a timetable reload reads."""
    reader = _Reader(Path(folder))
    islands = _load_islands(reader)
    transport = _load_transport(reader, reader.unique("islands.geojson", islands))
    if reader.problems:
        raise ReferenceDataError(reader.problems)
    return transport


def _load_authorities(reader: _Reader, region_by_code: dict[str, dict]) -> list[dict]:
    file = "authorities.yaml"
    out = []
    for place, item in reader.items(file, reader.load(file)):
        authority = {
            "code": reader.text(file, place, item, "code"),
            "name_zh": reader.text(file, place, item, "name_zh"),
            "name_en": reader.text(file, place, item, "name_en"),
            "kind": reader.choice(file, place, item, "kind", AUTHORITY_KINDS),
            "domain": reader.choice(file, place, item, "domain", DOMAINS),
            "region": reader.text(file, place, item, "region"),
        }
        if authority["region"] and authority["region"] not in region_by_code:
            reader.problem(file, f"{place}.region", f"unknown region code {authority['region']!r}")
        out.append(authority)
    return out


def _load_plan(reader: _Reader, region_by_code: dict[str, dict]) -> dict:
    file = "plan.yaml"
    data = reader.load(file)
    if not isinstance(data, dict):
        if data is not None:
            reader.problem(file, "top level", "must be a mapping")
        return {"zones": []}
    plan = {
        "code": reader.text(file, "top level", data, "code"),
        "name_zh": reader.text(file, "top level", data, "name_zh"),
        "name_en": reader.text(file, "top level", data, "name_en"),
        "effective_at": _datetime(reader, file, "effective_at", data.get("effective_at")),
        "zones": [],
    }
    member_of: dict[str, str] = {}
    for place, item in reader.items(file, data, "zones"):
        zone = {
            "code": reader.text(file, place, item, "code"),
            "name_zh": reader.text(file, place, item, "name_zh"),
            "name_en": reader.text(file, place, item, "name_en"),
            "hub": reader.text(file, place, item, "hub"),
            "covered": item.get("covered") or [],
            "target_minutes": item.get("target_minutes"),
        }
        target = zone["target_minutes"]
        if target is not None and (isinstance(target, bool) or not isinstance(target, int) or not 5 <= target <= 1440):
            reader.problem(file, f"{place}.target_minutes", "whole minutes from 5 to 1440 (omit it for the default)")
        if not isinstance(zone["covered"], list):
            reader.problem(file, f"{place}.covered", "must be a list of region codes")
            zone["covered"] = []
        for code in [zone["hub"], *zone["covered"]]:
            if code is None:
                continue
            region = region_by_code.get(code)
            if region is None:
                reader.problem(file, place, f"unknown region code {code!r}")
            elif region["level"] not in ("township", "street"):
                reader.problem(file, place, f"region {code!r} is a {region['level']}, not a township or street")
            elif code in member_of:
                reader.problem(file, place, f"region {code!r} is already in zone {member_of[code]!r}")
            else:
                member_of[code] = zone["code"]
        plan["zones"].append(zone)
    reader.unique(file, plan["zones"])
    uncovered = [c for c, r in region_by_code.items() if r["level"] in ("township", "street") and c not in member_of]
    if uncovered:
        reader.problem(file, "zones", f"regions in no zone: {', '.join(sorted(uncovered))}")
    return plan


def _load_squads(reader: _Reader, region_by_code: dict[str, dict], authority_by_code: dict[str, dict]) -> list[dict]:
    file = "squads.yaml"
    out = []
    for place, item in reader.items(file, reader.load(file)):
        squad = {
            "code": reader.text(file, place, item, "code"),
            "name_zh": reader.text(file, place, item, "name_zh"),
            "name_en": reader.text(file, place, item, "name_en"),
            "force": reader.choice(file, place, item, "force", FORCES),
            "authority": reader.text(file, place, item, "authority"),
            "station_region": reader.text(file, place, item, "station_region"),
            "scope": reader.choice(file, place, item, "scope", SCOPES, default="zone"),
            "status": reader.choice(
                file, place, item, "status", ("available", "busy", "off_duty"), default="available"
            ),
            "domains": item.get("domains"),
            "officers": [],
        }
        if not isinstance(squad["domains"], list) or not squad["domains"]:
            reader.problem(file, f"{place}.domains", "must be a non-empty list of domains")
            squad["domains"] = []
        for domain in squad["domains"]:
            if domain not in DOMAINS:
                reader.problem(file, f"{place}.domains", f"{domain!r} is not one of {', '.join(DOMAINS)}")
        if squad["authority"] and squad["authority"] not in authority_by_code:
            reader.problem(file, f"{place}.authority", f"unknown authority code {squad['authority']!r}")
        region = region_by_code.get(squad["station_region"])
        if squad["station_region"] and region is None:
            reader.problem(file, f"{place}.station_region", f"unknown region code {squad['station_region']!r}")
        station = item.get("station")
        if not isinstance(station, list) or len(station) != 2:
            reader.problem(file, f"{place}.station", "must be [lon, lat]")
            squad["station"] = None
        else:
            squad["station"] = _point(reader, file, f"{place}.station", *station)
            if (
                squad["station"] is not None
                and region
                and region["boundary"] is not None
                and not region["boundary"].covers(squad["station"])
            ):
                reader.problem(file, f"{place}.station", f"lies outside its station region {squad['station_region']!r}")
        for o_place, officer in reader.items(file, item, "officers"):
            o_place = f"{place}.{o_place}"
            auxiliary = reader.flag(file, o_place, officer, "auxiliary", False)
            record = {
                "name": reader.text(file, o_place, officer, "name"),
                "auxiliary": auxiliary,
                "on_duty": reader.flag(file, o_place, officer, "on_duty", True),
                "certificate_no": reader.text(file, o_place, officer, "certificate_no", optional=auxiliary),
                "certificate_expires": _date(
                    reader, file, f"{o_place}.certificate_expires", officer.get("certificate_expires")
                ),
            }
            if not auxiliary and record["certificate_expires"] is None:
                reader.problem(file, f"{o_place}.certificate_expires", "a certified officer needs an expiry date")
            squad["officers"].append(record)
        if not squad["officers"]:
            reader.problem(file, f"{place}.officers", "a squad needs at least one officer")
        elif all(o["auxiliary"] for o in squad["officers"]):
            reader.problem(file, f"{place}.officers", "auxiliaries are never sent alone: add a certified officer")
        out.append(squad)
    reader.unique(file, out)
    return out


def _load_matters(reader: _Reader) -> list[dict]:
    file = "matters.yaml"
    out = []
    for place, item in reader.items(file, reader.load(file)):
        matter = {
            "code": reader.text(file, place, item, "code"),
            "name_zh": reader.text(file, place, item, "name_zh"),
            "name_en": reader.text(file, place, item, "name_en"),
            "domain": reader.choice(file, place, item, "domain", DOMAINS),
            "authority_kind": reader.choice(file, place, item, "authority_kind", AUTHORITY_KINDS),
            "township_held": reader.flag(file, place, item, "township_held", False),
            "joint_domains": item.get("joint_domains") or [],
            "priority": reader.number(file, place, item, "priority", integer=True, default=2),
            "sla_minutes": reader.number(file, place, item, "sla_minutes", integer=True, default=120),
        }
        if matter["priority"] is not None and matter["priority"] > 3:
            reader.problem(file, f"{place}.priority", "must be 1 (urgent), 2 (normal) or 3 (low)")
        if not isinstance(matter["joint_domains"], list) or any(d not in DOMAINS for d in matter["joint_domains"]):
            reader.problem(file, f"{place}.joint_domains", f"must be a list of domains: {', '.join(DOMAINS)}")
            matter["joint_domains"] = []
        out.append(matter)
    return out
