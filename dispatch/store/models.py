"""The domain model (see shared/DOMAIN.md for the glossary).

Geometry columns carry SRID 4326. Areas are ``geometry`` (containment with a
GiST index); points whose distances are asked in metres are ``geography`` so
their GiST index serves ``ST_DWithin`` and ``<->`` directly.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dispatch.states import BLOCKING_STATES, INCIDENT_STATUSES, OPEN_STATUSES, TASK_KINDS, TASK_STATES, sql_list


class Base(DeclarativeBase):
    pass


class RegionLevel(enum.StrEnum):
    city = "city"
    county = "county"
    district = "district"
    township = "township"
    street = "street"


class AuthorityKind(enum.StrEnum):
    municipal_bureau = "municipal_bureau"
    county_bureau = "county_bureau"
    department = "department"
    township_government = "township_government"


class Force(enum.StrEnum):
    comprehensive = "comprehensive"
    professional = "professional"
    maritime = "maritime"


class SquadScope(enum.StrEnum):
    zone = "zone"  # stationed in a township, serves the zone of that township
    authority = "authority"  # serves the whole area of its authority


class SquadStatus(enum.StrEnum):
    available = "available"
    busy = "busy"  # on a task (set by dispatch, never by hand)
    returning = "returning"  # back from a task: may be sent again
    out_of_service = "out_of_service"  # with a reason (SQUAD_STATUS_REASONS)
    off_duty = "off_duty"


# Why a squad is out of service (PUT /api/v1/squads/<id>/status).
SQUAD_STATUS_REASONS = ("vessel_fault", "meal", "training", "leave")


class PlanStatus(enum.StrEnum):
    draft = "draft"
    published = "published"


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


def _enum_check(column: str, values: type[enum.Enum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def _timestamp() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Region(Base):
    """An administrative area; the tree runs city > county/district > township/street."""

    __tablename__ = "region"
    __table_args__ = (_enum_check("level", RegionLevel),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    empowered: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Deferred: a township's outline runs to tens of kB, and the ORM loads regions by the dozen
    # (a jurisdiction, its zone's members, its squads' stations) for their names and codes; the
    # geometry is read in SQL (GeoJSON, containment), never from the object.
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=True, deferred=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")


class Island(Base):
    """A piece of land: travel on it is by road, between islands by ferry."""

    __tablename__ = "island"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    outline = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=False)


class Port(Base):
    """A pier where ferries and patrol boats call."""

    __tablename__ = "port"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    island_id: Mapped[int] = mapped_column(ForeignKey("island.id"), index=True)
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)


class FerryLink(Base):
    """A crossing between two ports (both ways) with its duration and timetable."""

    __tablename__ = "ferry_link"
    __table_args__ = (
        UniqueConstraint("from_port_id", "to_port_id"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_port_id: Mapped[int] = mapped_column(ForeignKey("port.id"))
    to_port_id: Mapped[int] = mapped_column(ForeignKey("port.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    # Departure times "HH:MM" (local time); empty means on demand.
    timetable: Mapped[list[str]] = mapped_column(ARRAY(String(5)), default=list, server_default="{}")


class TravelProfile(Base):
    """Travel-time assumptions of one county or city (demo data, not code)."""

    __tablename__ = "travel_profile"
    __table_args__ = (
        CheckConstraint("land_speed_kmh > 0 AND boat_speed_kmh > 0 AND detour_factor >= 1", name="speeds_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True)
    land_speed_kmh: Mapped[float] = mapped_column(Float)
    detour_factor: Mapped[float] = mapped_column(Float)
    boat_speed_kmh: Mapped[float] = mapped_column(Float)
    transfer_minutes: Mapped[float] = mapped_column(Float)
    # Vessel class -> the wind force (Beaufort) at which it stops sailing: {"boat": 6, "ferry": 8}.
    wind_limits: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    # Bumped whenever sailings change (a suspension set or lifted, timetables reloaded): every
    # process compares it with the one its cached conditions were read at (dispatch.conditions).
    transport_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class FerryTimetable(Base):
    """A timetable version of a ferry link in force between two dates (China), e.g. summer and winter."""

    __tablename__ = "ferry_timetable"
    __table_args__ = (
        UniqueConstraint("link_id", "season", "effective_from"),
        CheckConstraint("effective_until IS NULL OR effective_until >= effective_from", name="season_dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("ferry_link.id", ondelete="CASCADE"), index=True)
    season: Mapped[str] = mapped_column(String(32))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_until: Mapped[dt.date | None] = mapped_column(Date)  # inclusive; None: until replaced
    departures: Mapped[list[str]] = mapped_column(ARRAY(String(5)), default=list, server_default="{}")


SUSPENSION_SCOPES = ("link", "pier", "county")
VESSEL_CLASSES = ("ferry", "boat")
SUSPENSION_REASONS = ("wind", "fog", "typhoon", "other")


class TransportSuspension(Base):
    """Sailings stopped for a time window (大风停航): one ferry link, every link from a pier, or the
    whole county; for ferries, boats or both. Lifted early by a person, never deleted."""

    __tablename__ = "transport_suspension"
    __table_args__ = (
        CheckConstraint("scope IN ('link', 'pier', 'county')", name="scope_valid"),
        CheckConstraint("reason_kind IN ('wind', 'fog', 'typhoon', 'other')", name="reason_kind_valid"),
        CheckConstraint("ends_at > starts_at", name="suspension_window"),
        CheckConstraint(
            "(scope = 'link') = (link_id IS NOT NULL) AND (scope = 'pier') = (port_id IS NOT NULL)",
            name="suspension_scope_key",
        ),
        CheckConstraint(
            "vessels <@ ARRAY['ferry', 'boat']::varchar[] AND cardinality(vessels) > 0", name="vessels_valid"
        ),
        CheckConstraint("wind_force IS NULL OR wind_force BETWEEN 0 AND 17", name="wind_force_beaufort"),
        Index(
            "ix_transport_suspension_active", "root_region_id", "ends_at", postgresql_where=text("lifted_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    root_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    scope: Mapped[str] = mapped_column(String(8))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("ferry_link.id"))
    port_id: Mapped[int | None] = mapped_column(ForeignKey("port.id"))
    vessels: Mapped[list[str]] = mapped_column(ARRAY(String(8)))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reason_kind: Mapped[str] = mapped_column(String(10))
    wind_force: Mapped[int | None] = mapped_column(Integer)
    reason_text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(String(100))


class Authority(Base):
    """The body in whose name an enforcement act is done."""

    __tablename__ = "authority"
    __table_args__ = (_enum_check("kind", AuthorityKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    kind: Mapped[str] = mapped_column(String(24))
    domain: Mapped[str] = mapped_column(String(40))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship()


class Matter(Base):
    """An entry of the enforcement catalogue; it decides who is competent."""

    __tablename__ = "matter"
    __table_args__ = (
        _enum_check("authority_kind", AuthorityKind),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        CheckConstraint("sla_minutes > 0", name="sla_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(40), index=True)
    authority_kind: Mapped[str] = mapped_column(String(24))
    # An empowered township enforces this matter in its own name.
    township_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Other domains whose forces must join an inspection of this matter.
    joint_domains: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    priority: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    sla_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")


class CatalogueVersion(Base):
    """A published version of a county's (or city's) matter catalogue (seed 001 §3.2.1, seed 004 art. 5:
    catalogues are adjusted and published). The version with the latest ``effective_from`` not after a
    day is in force on it (before the first one: the first); ``matter`` rows are the codes ever listed."""

    __tablename__ = "catalogue_version"
    __table_args__ = (UniqueConstraint("region_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The root region (county or city) whose catalogue it is.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)  # the publishing document
    published_at: Mapped[dt.datetime] = _timestamp()
    published_by: Mapped[str] = mapped_column(String(100))

    region: Mapped[Region] = relationship()
    entries: Mapped[list[CatalogueEntry]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="CatalogueEntry.code"
    )


class CatalogueEntry(Base):
    """One matter as a catalogue version lists it (the attributes a later version may change)."""

    __tablename__ = "catalogue_entry"
    __table_args__ = (
        UniqueConstraint("version_id", "code"),
        _enum_check("authority_kind", AuthorityKind),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        CheckConstraint("sla_minutes > 0", name="sla_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_version.id", ondelete="CASCADE"))
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(40))
    authority_kind: Mapped[str] = mapped_column(String(24))
    township_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    joint_domains: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    priority: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    sla_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")

    version: Mapped[CatalogueVersion] = relationship(back_populates="entries")


class CoveragePlan(Base):
    """A versioned set of zones; the published plan with the latest past effective time rules."""

    __tablename__ = "coverage_plan"
    __table_args__ = (
        _enum_check("status", PlanStatus),
        CheckConstraint("status = 'draft' OR effective_at IS NOT NULL", name="published_has_effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    # The county or city the plan covers: each has its own published plan.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    effective_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = _timestamp()

    region: Mapped[Region] = relationship()
    zones: Mapped[list[Zone]] = relationship(back_populates="plan", cascade="all, delete-orphan")


class Zone(Base):
    """A "1+X" zone: a hub township whose stationed squad also covers X neighbours."""

    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("coverage_plan.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    hub_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    # Response-time target of the zone's townships (minutes from dispatch to on scene); NULL:
    # COVERAGE_TARGET_MINUTES. A township is covered while a squad can make it (dispatch.coverage).
    target_minutes: Mapped[int | None] = mapped_column(Integer)
    # Derived from the members' boundaries (ST_Union) whenever membership changes. Deferred, as
    # Region.boundary: read in SQL, never from the object.
    geometry = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=True, deferred=True)

    plan: Mapped[CoveragePlan] = relationship(back_populates="zones")
    hub_region: Mapped[Region] = relationship()
    members: Mapped[list[ZoneMember]] = relationship(back_populates="zone", cascade="all, delete-orphan")

    @property
    def covered_regions(self) -> list[Region]:
        return [m.region for m in self.members if m.region_id != self.hub_region_id]


class ZoneMember(Base):
    """A region served by a zone (the hub included); a region is in one zone per plan."""

    __tablename__ = "zone_member"
    __table_args__ = (UniqueConstraint("plan_id", "region_id"),)

    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("coverage_plan.id", ondelete="CASCADE"))

    zone: Mapped[Zone] = relationship(back_populates="members")
    region: Mapped[Region] = relationship()


class Squad(Base):
    """An enforcement squad of one of the "1+8+1" forces."""

    __tablename__ = "squad"
    __table_args__ = (
        _enum_check("force", Force),
        _enum_check("scope", SquadScope),
        _enum_check("status", SquadStatus),
        CheckConstraint(
            "status_reason IS NULL OR status_reason IN ('vessel_fault', 'meal', 'training', 'leave')",
            name="status_reason_valid",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    force: Mapped[str] = mapped_column(String(16))
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"), index=True)
    station_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16), default="zone", server_default="zone")
    status: Mapped[str] = mapped_column(String(16), default="available", server_default="available")
    station = mapped_column(Geography("POINT", srid=4326), nullable=False)
    last_position = mapped_column(Geography("POINT", srid=4326), nullable=True)
    last_position_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The last sequence number given to a message for this squad's tablets.
    message_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The island the squad is on, kept by a trigger from its position (NULL: at sea).
    island_id: Mapped[int | None] = mapped_column(ForeignKey("island.id"), index=True)
    # Why it is out of service (SQUAD_STATUS_REASONS); NULL in every other status.
    status_reason: Mapped[str | None] = mapped_column(String(20))
    # Where it stands when its last fix is too old to trust (dispatch.rosters): the pier within
    # 500 m of that fix, else its station; kept by the squad_park trigger (migration 0013).
    parked_position = mapped_column(Geography("POINT", srid=4326, spatial_index=False), nullable=True)
    parked_island_id: Mapped[int | None] = mapped_column(ForeignKey("island.id"))
    parked_port_id: Mapped[int | None] = mapped_column(ForeignKey("port.id"))

    authority: Mapped[Authority] = relationship()
    station_region: Mapped[Region] = relationship()
    officers: Mapped[list[Officer]] = relationship(back_populates="squad", order_by="Officer.id")


Index("ix_squad_domains", Squad.domains, postgresql_using="gin")
# KNN within one island (btree_gist): the recommendation's candidate scans.
Index("ix_squad_island_position", Squad.island_id, Squad.last_position, postgresql_using="gist")
# The squads parked on another island than their (stale) fix's: the recommendation's extra scan.
Index(
    "ix_squad_parked_away",
    Squad.parked_island_id,
    Squad.parked_position,
    postgresql_using="gist",
    postgresql_where=text("island_id IS DISTINCT FROM parked_island_id"),
)


class Officer(Base):
    """A member of a squad: certified (holds an enforcement certificate) or auxiliary."""

    __tablename__ = "officer"
    __table_args__ = (
        CheckConstraint(
            "auxiliary OR (certificate_no IS NOT NULL AND certificate_expires IS NOT NULL)",
            name="certified_has_certificate",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    certificate_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_expires: Mapped[dt.date | None] = mapped_column(Date)
    auxiliary: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # A roster exists for the officer (a shift of theirs or their squad's was entered): the
    # roster, not ``on_duty``, then says whether they are on duty (ON_DUTY_SQL).
    rostered: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    squad: Mapped[Squad] = relationship(back_populates="officers")

    def certified_on(self, day: dt.date) -> bool:
        """Holds a certificate valid on ``day`` (seed 002 task 5: only they enforce)."""
        return (
            not self.auxiliary
            and self.certificate_no is not None
            and self.certificate_expires is not None
            and self.certificate_expires >= day
        )


# The same rule in SQL, the one definition every query uses: an officer ``o`` on duty at ``:now``
# who may enforce on the day ``:today`` (Officer.certified_on) and whose certificate is neither
# suspended nor revoked at ``:now``, and a squad ``s`` that has one. On duty: by the roster (a
# shift of the officer or of the squad covering ``:now``) once one exists for the officer, else
# the ``on_duty`` flag (issue 29, dispatch.rosters).
ON_DUTY_SQL = """(CASE WHEN o.rostered THEN
        EXISTS (SELECT 1 FROM shift sh WHERE sh.officer_id = o.id AND sh.starts_at <= :now AND sh.ends_at > :now)
        OR EXISTS (SELECT 1 FROM shift sh WHERE sh.squad_id = o.squad_id AND sh.starts_at <= :now AND sh.ends_at > :now)
    ELSE o.on_duty END)"""
CERTIFICATE_HELD_SQL = """NOT EXISTS (SELECT 1 FROM certificate_action ca WHERE ca.officer_id = o.id
        AND ca.starts_at <= :now AND (ca.ends_at IS NULL OR ca.ends_at > :now)
        AND (ca.lifted_at IS NULL OR ca.lifted_at > :now))"""
CERTIFIED_OFFICER_SQL = f"""NOT o.auxiliary AND o.certificate_no IS NOT NULL
                          AND o.certificate_expires >= :today AND {ON_DUTY_SQL} AND {CERTIFICATE_HELD_SQL}"""
CERTIFIED_ON_DUTY_SQL = f"EXISTS (SELECT 1 FROM officer o WHERE o.squad_id = s.id AND {CERTIFIED_OFFICER_SQL})"
# Squad ``s``'s officers and, of them, those certified on duty: ``[all, certified]`` (the
# ``officer_counts`` of a squad row, see shapes.squad_from_row).
OFFICER_COUNTS_SQL = (
    f"(SELECT ARRAY[count(*), count(*) FILTER (WHERE {CERTIFIED_OFFICER_SQL})] FROM officer o WHERE o.squad_id = s.id)"
)


# -- dispatch: incidents, tasks, joint inspections, the record ---------------------------------

INCIDENT_SOURCES = ("hotline_12345", "police_110", "patrol", "grid", "complaint", "supervision", "walk_in")
# The state names and the squad-holding rule come from dispatch.states (one home); the schema
# checks them (CHECK constraints, the partial unique index of a squad's holding task).
BLOCKING_SQL = " OR ".join(
    f"(kind = '{kind}' AND state IN ({', '.join(repr(s) for s in states)}))" for kind, states in BLOCKING_STATES.items()
)


def _in_check(column: str, values: tuple[str, ...], name: str | None = None) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_valid")


incident_matter = Table(
    "incident_matter",
    Base.metadata,
    Column("incident_id", ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True),
    Column("matter_id", ForeignKey("matter.id"), primary_key=True),
)


class Incident(Base):
    """Something reported at a place: a 12345 call, a 110 linkage, a patrol finding..."""

    __tablename__ = "incident"
    __table_args__ = (
        _in_check("source", INCIDENT_SOURCES),
        _in_check("status", INCIDENT_STATUSES),
        UniqueConstraint("source", "external_id", name="incident_source_external_id_key"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        Index(
            "ix_incident_open",
            "status",
            "priority",
            "sla_deadline",
            postgresql_where=text(f"status IN {sql_list(OPEN_STATUSES)}"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)
    address: Mapped[str | None] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authority.id"))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = _timestamp()
    sla_deadline: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    on_scene_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    created_by: Mapped[str] = mapped_column(String(100))
    # The first matter it was filed with: it decides the competent authority (intake) and the
    # jurisdiction shown for the incident ever after (incident_matter keeps no order).
    lead_matter_id: Mapped[int | None] = mapped_column(ForeignKey("matter.id"))
    # Who called (12345 and walk-ins): personal data, shown to dispatchers, never to OGC/Open311.
    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(40))
    # How a dispatcher ended it: closed with an outcome (states.CLOSE_OUTCOMES) and a note, or
    # cancelled with a reason.
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(100))

    matters: Mapped[list[Matter]] = relationship(secondary=incident_matter, order_by="Matter.code")
    region: Mapped[Region | None] = relationship()
    zone: Mapped[Zone | None] = relationship()
    authority: Mapped[Authority | None] = relationship()
    tasks: Mapped[list[Task]] = relationship(back_populates="incident", order_by="Task.id")


# An incident's matters in the order they are shown (shapes.ordered_matters): its lead matter
# first, then by code; for queries of an incident ``i`` and its matters ``m``.
INCIDENT_MATTERS_ORDER_SQL = "m.id IS DISTINCT FROM i.lead_matter_id, m.code"


class JointInspection(Base):
    """ "Inspect once": several forces visit one target together (seed 001 §3.2, seed 003 art. 7)."""

    __tablename__ = "joint_inspection"
    __table_args__ = (
        _in_check("status", ("planned", "completed", "cancelled")),
        CheckConstraint("slot_end > slot_start", name="slot_ordered"),
        CheckConstraint("visits_replaced >= 1", name="visits_replaced_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_name: Mapped[str] = mapped_column(String(200))
    # Unified social credit code of the registered business, when known.
    target_business_id: Mapped[str | None] = mapped_column(String(32), index=True)
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    lead_squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"))
    slot_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    slot_end: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="planned", server_default="planned")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    # Separate visits this one replaces; visits avoided = visits_replaced - 1.
    visits_replaced: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    lead_squad: Mapped[Squad] = relationship()
    incident: Mapped[Incident | None] = relationship()
    tasks: Mapped[list[Task]] = relationship(back_populates="joint_inspection", order_by="Task.id")
    requests: Mapped[list[InspectionRequest]] = relationship(back_populates="joint_inspection")


class InspectionRequest(Base):
    """A department's pending inspection of a target, candidate for a joint inspection."""

    __tablename__ = "inspection_request"
    __table_args__ = (
        _in_check("status", ("pending", "merged", "done", "cancelled")),
        CheckConstraint("window_end > window_start", name="window_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    domain: Mapped[str] = mapped_column(String(40))
    target_name: Mapped[str] = mapped_column(String(200))
    target_business_id: Mapped[str | None] = mapped_column(String(32), index=True)
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    purpose: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    joint_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("joint_inspection.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()

    authority: Mapped[Authority] = relationship()
    joint_inspection: Mapped[JointInspection | None] = relationship(back_populates="requests")


class Task(Base):
    """One squad's part of a dispatch or of a joint inspection, pushed to its tablet."""

    __tablename__ = "task"
    __table_args__ = (
        _in_check("state", TASK_STATES),
        _in_check("kind", TASK_KINDS),
        CheckConstraint("incident_id IS NOT NULL OR joint_inspection_id IS NOT NULL", name="task_has_subject"),
        # The database's own guard against double-booking a squad.
        Index("uq_task_blocking_squad", "squad_id", unique=True, postgresql_where=text(BLOCKING_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="response", server_default="response")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    joint_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("joint_inspection.id"), index=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()
    updated_at: Mapped[dt.datetime] = _timestamp()
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    en_route_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    on_scene_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Reassigned: the task that took its place (POST /tasks/<id>/reassign).
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))

    incident: Mapped[Incident | None] = relationship(back_populates="tasks")
    joint_inspection: Mapped[JointInspection | None] = relationship(back_populates="tasks")
    squad: Mapped[Squad] = relationship()


class Event(Base):
    """The full-process record (全过程记录, seed 001 §4.2, seed 002): append-only.

    The database refuses UPDATE, DELETE and TRUNCATE on this table (migration 0002).
    """

    __tablename__ = "event"
    # An entity's latest event (its ``rev``: the command centre's snapshot, a squad's status since).
    __table_args__ = (Index("ix_event_entity", "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # When it happened: in the field for a tablet's action (its device time, judged), else the
    # server's time of writing. ``recorded_at``: when the server wrote it (NULL before 0010).
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()"), nullable=False
    )
    recorded_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
    # Who acted: the signed-in account, the API token or the tablet (issue 25: never a header).
    actor: Mapped[str] = mapped_column(String(100))
    # The person an integration token acted for (X-Actor of an act-for token); in the hash chain.
    on_behalf_of: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    joint_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("joint_inspection.id"), index=True)
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"), index=True)
    location = mapped_column(Geography("POINT", srid=4326), nullable=True)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    # Tamper evidence, set by the event_chain trigger: order of the chain, hash of the
    # previous event, sha256(prev_hash || this row). `flask --app dispatch audit verify`.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    hash: Mapped[bytes | None] = mapped_column(LargeBinary)


# -- rosters and certificates (issue 29, dispatch.rosters) -----------------------------------------

CERTIFICATE_ACTION_KINDS = ("suspension", "revocation")


class Shift(Base):
    """A squad's or an officer's time on duty (a roster's line): start, end, the role on shift.
    Two shifts of one officer, or of one squad, never overlap (exclusion constraints)."""

    __tablename__ = "shift"
    __table_args__ = (
        CheckConstraint("(squad_id IS NULL) <> (officer_id IS NULL)", name="shift_of_squad_or_officer"),
        CheckConstraint("ends_at > starts_at", name="shift_ordered"),
        Index("ix_shift_officer", "officer_id", "starts_at"),
        Index("ix_shift_squad", "squad_id", "starts_at"),
        Index("ix_shift_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    role: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()


class CertificateAction(Base):
    """A certificate suspended (暂扣: from a time, until a date or until lifted) or revoked (注销:
    for good), with the deciding document; the officer counts as uncertified meanwhile."""

    __tablename__ = "certificate_action"
    __table_args__ = (
        _in_check("kind", CERTIFICATE_ACTION_KINDS),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="certificate_action_ordered"),
        CheckConstraint("kind = 'suspension' OR (ends_at IS NULL AND lifted_at IS NULL)", name="revocation_final"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    document: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(String(100))
    lift_document: Mapped[str | None] = mapped_column(String(200))


# -- the duty shift: coverage, alerts, the server's own periodic work ------------------------------


class TownshipCoverage(Base):
    """Whether a township is covered now (dispatch.coverage): an available competent squad reaches
    its reference point within its zone's target. One row per township, kept up to date."""

    __tablename__ = "township_coverage"

    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True)
    root_region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    target_minutes: Mapped[int] = mapped_column(Integer)
    covered: Mapped[bool] = mapped_column(Boolean)
    best_squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"))
    eta_seconds: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Bumped at every change of ``covered`` or of the best squad: the live update's order.
    rev: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


ALERT_KINDS = (
    "task_unacknowledged",
    "sla_due",
    "sla_breached",
    "township_uncovered",
    "position_stale",
    "escalation_due",
)
ALERT_SEVERITIES = ("critical", "warning", "info")


class Alert(Base):
    """Something a dispatcher must see now. Raised once per ``key`` while it holds (a partial unique
    index), cleared when the condition ends, acknowledged by a person; each step on the record."""

    __tablename__ = "alert"
    __table_args__ = (
        _in_check("kind", ALERT_KINDS),
        _in_check("severity", ALERT_SEVERITIES),
        Index("uq_alert_active_key", "key", unique=True, postgresql_where=text("cleared_at IS NULL")),
        Index("ix_alert_open", "raised_at", postgresql_where=text("acknowledged_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(120))
    severity: Mapped[str] = mapped_column(String(10))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    message: Mapped[str] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    region: Mapped[Region | None] = relationship()


class ScheduledRun(Base):
    """The last run of each periodic job (dispatch.scheduler): which process, when, how many times."""

    __tablename__ = "scheduled_run"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    host: Mapped[str] = mapped_column(String(120))
    runs: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class TaskAction(Base):
    """A tablet's action on a task by its client ``action_id``, with the first answer it got: a
    retry (the answer was lost on the way) gets the same answer, never a refusal of itself."""

    __tablename__ = "task_action"

    action_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    actor: Mapped[str] = mapped_column(String(100))
    status: Mapped[int] = mapped_column(Integer)
    answer: Mapped[dict] = mapped_column(JSONB)
    recorded_at: Mapped[dt.datetime] = _timestamp()


# -- real time: tablet tokens, the per-squad outbox, position fixes -------------------------------


class TabletToken(Base):
    """A squad's revocable tablet token; only its SHA-256 is stored."""

    __tablename__ = "tablet_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _timestamp()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    squad: Mapped[Squad] = relationship()


class SquadMessage(Base):
    """The outbox: every message to a squad, numbered per squad, written with its cause.

    A message is resent until the tablet acknowledges its seq; a later message
    about the same task supersedes an unacknowledged earlier one, so a task
    cancelled while the tablet was away arrives only as its cancellation.
    """

    __tablename__ = "squad_message"
    __table_args__ = (
        UniqueConstraint("squad_id", "seq"),
        Index(
            "ix_squad_message_pending",
            "squad_id",
            "seq",
            postgresql_where=text("acked_at IS NULL AND superseded_by IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(30))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = _timestamp()
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    send_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_by: Mapped[int | None] = mapped_column(Integer)


class PositionFix(Base):
    """A position report of a squad's tablet, kept even when flagged."""

    __tablename__ = "position_fix"
    __table_args__ = (
        UniqueConstraint("squad_id", "client_fix_id"),
        Index("ix_position_fix_squad_time", "squad_id", "fix_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squad.id"))
    client_fix_id: Mapped[str] = mapped_column(String(64))
    fix_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = _timestamp()
    location = mapped_column(Geography("POINT", srid=4326), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)
    source_crs: Mapped[str] = mapped_column(String(8), default="wgs84", server_default="wgs84")
    # Why the fix is not shown as the position: poor_accuracy, impossible_speed, outside_envelope.
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")


# -- accounts and tokens (issue 8) ----------------------------------------------------------------

ROLES = ("dispatcher", "squad", "planner", "supervisor", "admin")


class Scoped:
    """The scope an account or a token carries (issue 25, ``dispatch.scope``): ``region_id`` the
    province, county or township (NULL: every region this server holds); ``authority_id`` or
    ``body_id`` the enforcement authority or oversight body acted for, if any (at most one)."""

    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authority.id"))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_body.id"))


ONE_ORGANISATION = "authority_id IS NULL OR body_id IS NULL"


class Account(Scoped, Base):
    """A person who signs in with a password (argon2 hash): dispatcher, planner, supervisor, admin.

    Acts the seeds reserve to a department (answering its referrals, a justice bureau's notice,
    the government's decision) need an account whose scope names that department.
    """

    __tablename__ = "account"
    __table_args__ = (
        _in_check("role", ROLES),
        CheckConstraint(ONE_ORGANISATION, name="one_organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[dt.datetime] = _timestamp()
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the demo created the account with its printed password (make run only).
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class ApiToken(Scoped, Base):
    """A bearer token for a script or an integration (12345 bridge, monitoring); only its hash is kept.

    A token carries a scope like an account's (``Scoped``). ``account_id``: a person's own token, ended with
    that person's sessions. ``act_for``: an integration (the 12345 bridge) that may name, in
    ``X-Actor``, an account of its scope it acts for; never for acts reserved to a named role.
    """

    __tablename__ = "api_token"
    __table_args__ = (
        _in_check("role", ROLES),
        CheckConstraint(ONE_ORGANISATION, name="one_organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = _timestamp()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    act_for: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class AccountSession(Base):
    """A signed-in browser session, kept on the server so that it can be ended: the cookie
    holds only its random id (whose SHA-256 is stored). Logout, a password change, disabling
    the account or changing its role revoke every session of the account at once."""

    __tablename__ = "account_session"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = _timestamp()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class LoginThrottle(Base):
    """Failed sign-ins per key (``account:<name>`` or ``address:<ip>``): each failure doubles
    the wait before the next attempt; after LOCK_AFTER failures an account is locked until
    ``flask --app dispatch unlock-account``."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


# -- evidence from the scene (dispatch.evidence) ---------------------------------------------------

EVIDENCE_STATES = ("uploading", "stored", "failed")


class Evidence(Base):
    """A photo, video or document from the scene, stored content-addressed (its SHA-256 names
    the file in the evidence store) and attached to a task, a case or an incident. A chunked
    upload is a row in state ``uploading`` with the bytes ``received`` so far."""

    __tablename__ = "evidence"
    __table_args__ = (
        _in_check("state", EVIDENCE_STATES),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="evidence_sha256_hex"),
        CheckConstraint("size > 0 AND received >= 0 AND received <= size", name="evidence_sizes"),
        CheckConstraint("state <> 'stored' OR received = size", name="evidence_stored_whole"),
        Index("ix_evidence_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # the device's time
    recorded_at: Mapped[dt.datetime] = _timestamp()  # the server's
    uploaded_by: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="stored", server_default="stored")
    received: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    upload_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    action_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    source_url: Mapped[str | None] = mapped_column(Text)  # fetched from (Open311 media_url)

    task: Mapped[Task | None] = relationship()
