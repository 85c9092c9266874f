"""The domain model (see shared/DOMAIN.md for the glossary).

Geometry columns carry SRID 4326. Areas are ``geometry`` (containment with a
GiST index); points whose distances are asked in metres are ``geography`` so
their GiST index serves ``ST_DWithin`` and ``<->`` directly.
"""

from __future__ import annotations

import datetime as dt
import enum

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    busy = "busy"
    off_duty = "off_duty"


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
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=True)

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
    # Derived from the members' boundaries (ST_Union) whenever membership changes.
    geometry = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=True)

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

    authority: Mapped[Authority] = relationship()
    station_region: Mapped[Region] = relationship()
    officers: Mapped[list[Officer]] = relationship(back_populates="squad", order_by="Officer.id")


Index("ix_squad_domains", Squad.domains, postgresql_using="gin")


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

    squad: Mapped[Squad] = relationship(back_populates="officers")

    def certified_on(self, day: dt.date) -> bool:
        """Holds a certificate valid on ``day`` (seed 002 task 5: only they enforce)."""
        return (
            not self.auxiliary
            and self.certificate_no is not None
            and self.certificate_expires is not None
            and self.certificate_expires >= day
        )
