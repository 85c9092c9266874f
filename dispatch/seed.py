"""Writing a validated reference dataset (gis.reference) into the database."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.catalogue import ATTRIBUTES, first_version
from dispatch.store.models import (
    Authority,
    CoveragePlan,
    FerryLink,
    FerryTimetable,
    Island,
    Matter,
    Officer,
    Port,
    Region,
    Squad,
    TravelProfile,
    Zone,
    ZoneMember,
)
from gis.clock import local_day
from gis.reference import Dataset


class AlreadyLoaded(RuntimeError):
    """The dataset's root region is in the database already."""


def _geom(shape):
    return None if shape is None else from_shape(shape, srid=4326)


def load_dataset_into(session: Session, dataset: Dataset) -> dict[str, int]:
    """Insert every record of ``dataset`` in one transaction; return counts per kind."""
    root = dataset.root_region
    if session.scalar(select(Region.id).where(Region.code == root["code"])) is not None:
        raise AlreadyLoaded(f"{dataset.name}: region {root['code']} ({root['name_en']}) is already loaded")

    regions: dict[str, Region] = {}
    pending = list(dataset.regions)
    while pending:  # parents before children
        for item in [r for r in pending if r["parent"] is None or r["parent"] in regions]:
            region = Region(
                code=item["code"],
                level=item["level"],
                name_zh=item["name_zh"],
                name_en=item["name_en"],
                empowered=item["empowered"],
                boundary=_geom(item["boundary"]),
                parent=regions.get(item["parent"]),
            )
            session.add(region)
            regions[item["code"]] = region
            pending.remove(item)
    session.flush()

    islands = {
        i["code"]: Island(code=i["code"], name_zh=i["name_zh"], name_en=i["name_en"], outline=_geom(i["outline"]))
        for i in dataset.islands
    }
    session.add_all(islands.values())
    session.flush()
    transport = dataset.transport
    ports = {
        p["code"]: Port(
            code=p["code"],
            name_zh=p["name_zh"],
            name_en=p["name_en"],
            island_id=islands[p["island"]].id,
            location=_geom(p["location"]),
        )
        for p in transport["ports"]
    }
    session.add_all(ports.values())
    session.flush()
    links = {
        (link["from"], link["to"]): FerryLink(
            from_port_id=ports[link["from"]].id,
            to_port_id=ports[link["to"]].id,
            minutes=link["minutes"],
            timetable=link["timetable"],
        )
        for link in transport["ferry_links"]
    }
    session.add_all(links.values())
    session.flush()
    for season in transport.get("timetables", []):  # dated versions (summer, winter)
        for item in season["links"]:
            link = links.get((item["from"], item["to"])) or links[(item["to"], item["from"])]
            session.add(FerryTimetable(link_id=link.id, season=season["season"], effective_from=season["from"],
                                       effective_until=season["until"], departures=item["timetable"]))  # fmt: skip
    session.add(
        TravelProfile(
            region_id=regions[root["code"]].id,
            land_speed_kmh=transport["land_speed_kmh"],
            detour_factor=transport["detour_factor"],
            boat_speed_kmh=transport["boat_speed_kmh"],
            transfer_minutes=transport["transfer_minutes"],
            wind_limits=transport.get("wind_limits") or {},
        )
    )

    authorities = {
        a["code"]: Authority(
            code=a["code"],
            name_zh=a["name_zh"],
            name_en=a["name_en"],
            kind=a["kind"],
            domain=a["domain"],
            region=regions[a["region"]],
        )
        for a in dataset.authorities
    }
    session.add_all(authorities.values())
    session.add_all(Matter(**{k: m[k] for k in ("code", *ATTRIBUTES)}) for m in dataset.matters)

    session.flush()
    # The catalogue as loaded is the county's first version, from its plan's day (dispatch.catalogue).
    first_version(
        session,
        regions[root["code"]],
        list(session.scalars(select(Matter).where(Matter.code.in_([m["code"] for m in dataset.matters])))),
        local_day(dataset.plan["effective_at"]),
        f"matters.yaml ({dataset.name})",
        "seed",
    )

    plan_data = dataset.plan
    plan = CoveragePlan(
        code=plan_data["code"],
        region=regions[root["code"]],
        name_zh=plan_data["name_zh"],
        name_en=plan_data["name_en"],
        status="published",
        effective_at=plan_data["effective_at"],
    )
    session.add(plan)
    session.flush()
    for z in plan_data["zones"]:
        zone = Zone(plan=plan, code=z["code"], name_zh=z["name_zh"], name_en=z["name_en"], hub_region=regions[z["hub"]],
                    target_minutes=z.get("target_minutes"))  # fmt: skip
        session.add(zone)
        session.flush()
        for code in [z["hub"], *z["covered"]]:
            session.add(ZoneMember(zone_id=zone.id, region_id=regions[code].id, plan_id=plan.id))
    session.flush()
    refresh_zone_geometry(session, plan.id)

    officers = 0
    for s in dataset.squads:
        squad = Squad(
            code=s["code"],
            name_zh=s["name_zh"],
            name_en=s["name_en"],
            force=s["force"],
            domains=s["domains"],
            authority=authorities[s["authority"]],
            station_region=regions[s["station_region"]],
            scope=s["scope"],
            status=s["status"],
            station=_geom(s["station"]),
            last_position=_geom(s["station"]),
        )
        session.add(squad)
        for o in s["officers"]:
            squad.officers.append(Officer(**o))
            officers += 1
    session.flush()
    return {
        "regions": len(regions),
        "islands": len(islands),
        "ports": len(ports),
        "ferry_links": len(transport["ferry_links"]),
        "authorities": len(authorities),
        "matters": len(dataset.matters),
        "zones": len(plan_data["zones"]),
        "squads": len(dataset.squads),
        "officers": officers,
    }


def refresh_zone_geometry(session: Session, plan_id: int) -> None:
    """Derive each zone's geometry from its members' boundaries (in PostGIS)."""
    session.execute(
        text("""
        UPDATE zone SET geometry = sub.geom
        FROM (SELECT m.zone_id, ST_Multi(ST_CollectionExtract(ST_Union(r.boundary), 3)) AS geom
              FROM zone_member m JOIN region r ON r.id = m.region_id
              WHERE m.plan_id = :plan GROUP BY m.zone_id) AS sub
        WHERE zone.id = sub.zone_id
    """),
        {"plan": plan_id},
    )


def database_is_empty(session: Session) -> bool:
    return session.scalar(select(Region.id).limit(1)) is None
