"""Health, the reference layers (regions, zones, squads, matters) and jurisdiction."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dispatch.http.contract.common import Answer, AnswerTime, Code, Geometry, GeoQuery, PointOut
from dispatch.http.contract.incidents import Matter, RegionRef, SquadSummary, ZoneOut

# -- answers -----------------------------------------------------------------------------------


class CalendarHorizon(Answer):
    horizon: str | None = Field(
        description="the last day (YYYY-MM-DD) the holiday calendar knows: 31 December of its last loaded year"
    )
    days_left: int | None = Field(None, description="days to the horizon, when a warning is given")
    warning: str | None = Field(
        None, description="present while the horizon is under 60 days away: load next year's State Council notice"
    )


class Health(Answer):
    status: Literal["ok"]
    postgis: str = Field(description="the PostGIS version of the database")
    calendar: CalendarHorizon = Field(
        description="the working-day calendar's horizon (deadlines past it are provisional)"
    )


class RegionProperties(RegionRef):
    level: str = Field(description="county, township, street, ...")
    empowered: bool = Field(description="a township empowered to enforce in its own name")
    parent: str | None = Field(description="the code of the region it lies in")


class RegionFeature(Answer):
    type: Literal["Feature"]
    id: str = Field(description="the region's code")
    geometry: Geometry | None = Field(description="its boundary (GeoJSON MultiPolygon), if loaded")
    properties: RegionProperties


class Regions(Answer):
    """The regions as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[RegionFeature]


class ZonePlan(Answer):
    code: str
    status: Literal["draft", "published"]
    effective_at: AnswerTime | None


class ZoneProperties(ZoneOut):
    plan: ZonePlan


class ZoneFeature(Answer):
    type: Literal["Feature"]
    id: int
    geometry: Geometry | None = Field(description="the zone's outline (GeoJSON MultiPolygon)")
    properties: ZoneProperties


class Zones(Answer):
    """The zones as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]


class SquadFeature(Answer):
    type: Literal["Feature"]
    id: int
    geometry: PointOut = Field(description="the last position, or the station when none is known")
    properties: SquadSummary


class Squads(Answer):
    """The squads as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[SquadFeature]


class Matters(Answer):
    matters: list[Matter]


# -- requests ----------------------------------------------------------------------------------


class ZoneQuery(GeoQuery):
    plan: Code | None = Field(None, description="the zones of this plan (its code) instead of the plans in effect")


class JurisdictionQuery(GeoQuery):
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude (in ?crs=)")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude (in ?crs=)")
    matter: Code | None = Field(None, description="a matter code (GET /api/v1/matters): whose it is depends on it")
    major: bool = Field(False, description="a cross-district or major complex case (the city's municipal tier)")
