"""Coverage plans: list, draft, edit (optimistic lock), validate, compare, publish."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from dispatch.http.contract.common import (
    Answer,
    AnswerTime,
    Body,
    Geometry,
    GeoQuery,
    Id,
    Int,
    Position,
    Text,
    Time,
)
from dispatch.http.contract.incidents import RegionRef
from dispatch.plans import MAX_ZONES, NAME_EN_MAX, NAME_MAX

PlanStatus = Literal["draft", "published"]
RegionCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")]
PlanCode = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
ZoneCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"),
    Field(description="lower-case letters, digits, - or _; at most 40, unique in the plan"),
]

# -- answers -----------------------------------------------------------------------------------


class PlanSummary(Answer):
    id: int
    code: str
    name: str
    name_en: str | None
    status: PlanStatus
    effective_at: AnswerTime | None
    in_effect: bool = Field(description="the plan its county follows now")
    version: int = Field(description="goes up by one with every save (the optimistic lock)")
    region: RegionRef = Field(description="the county or city it covers")
    created_at: AnswerTime | None


class PlanList(Answer):
    plans: list[PlanSummary]


class PlanZone(Answer):
    code: str
    name: str
    name_en: str | None
    hub: str = Field(description="the hub township's code")
    target_minutes: int | None = Field(None, description="response-time target of its townships (null: the default)")
    members: list[str] = Field(description="the codes of its townships")
    drawn: bool = Field(description="its outline was drawn (not the union of its townships)")
    geometry: Geometry | None


class IssueRegion(Answer):
    code: str
    name: str
    name_en: str | None = None


class Issue(Answer):
    """A problem of the plan: it may be saved with problems and published only without."""

    kind: Literal["uncovered", "invalid_geometry", "empty_zone", "hub_outside", "overlap"]
    severity: Literal["error", "warning"]
    message: str
    geometry: Geometry | None = Field(description="where it lies")
    zone: str | None = None
    zones: list[str] | None = None
    region: IssueRegion | None = None


class Plan(PlanSummary):
    zones: list[PlanZone]
    townships: list[RegionRef] = Field(description="the townships and streets the plan must cover")
    issues: list[Issue]


class EditCheck(Answer):
    issues: list[Issue]
    zones: list[PlanZone] = Field(description="the zones as they would be saved (members of drawn outlines derived)")


class TownshipMove(Answer):
    region: RegionRef
    from_: str | None = Field(alias="from", description="its zone in the other plan")
    to: str | None = Field(description="its zone in this plan")


class HubChange(Answer):
    zone: str
    from_: str = Field(alias="from")
    to: str


class Comparison(Answer):
    plan: str
    against: str | None = Field(description="the plan compared with (None: no plan in effect)")
    townships: list[TownshipMove]
    zones_added: list[str]
    zones_removed: list[str]
    hubs_changed: list[HubChange]
    outlines_changed: list[str]


# -- requests ----------------------------------------------------------------------------------


class PolygonIn(Body):
    type: Literal["Polygon"]
    coordinates: list[Annotated[list[Position], Field(min_length=4)]] = Field(min_length=1)


class MultiPolygonIn(Body):
    type: Literal["MultiPolygon"]
    coordinates: list[list[Annotated[list[Position], Field(min_length=4)]]] = Field(min_length=1)


class ZoneIn(Body):
    code: ZoneCode
    name: Text(100)
    name_en: Text(150) | None = Field(None, description="default: the name")
    hub: RegionCode = Field(description="a township of the plan's county, inside the zone")
    target_minutes: int | None = Field(
        None,
        ge=5,
        le=1440,
        strict=True,
        description="response-time target of its townships, minutes (null: the default)",
    )
    members: list[RegionCode] | None = Field(
        None, max_length=1000, description="township codes (none: those mostly inside the drawn outline)"
    )
    geometry: PolygonIn | MultiPolygonIn | None = Field(
        None, discriminator="type", description="a drawn outline (at most 50,000 positions), instead of the union"
    )


Zones = Annotated[list[ZoneIn], Field(max_length=MAX_ZONES)]


class DraftBody(Body):
    """A new draft: a copy of the plan in effect of ``region`` (or of the plan ``from``)."""

    region: RegionCode | None = Field(None, description="the county or city (required when several are loaded)")
    from_: PlanCode | None = Field(None, alias="from", description="copy this plan instead of the plan in effect")
    name: Text(NAME_MAX) | None = None
    name_en: Text(NAME_EN_MAX) | None = None


class SaveBody(Body):
    version: Id = Field(description="the version the edit is based on")
    zones: Zones | None = Field(None, description="replace the zones (absent or null: keep them)")
    name: Text(NAME_MAX) | None = None
    name_en: Text(NAME_EN_MAX) | None = None


class CheckBody(Body):
    zones: Zones
    version: Int | None = Field(None, description="ignored (the editor sends it along)")


class PublishBody(Body):
    version: Id = Field(description="the version the edit is based on")
    effective_at: Time | None = Field(None, description="from when (default now; not in the past)")


class CompareQuery(GeoQuery):
    with_: PlanCode | None = Field(
        None, alias="with", description="the plan compared with (default: the one in effect)"
    )
