"""Transport conditions (issue 29): ferry and boat suspensions, the network to pick from, timetables reloaded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from dispatch.http.contract.common import Answer, AnswerTime, Body, Text, Time, distinct
from dispatch.store.models import SUSPENSION_REASONS, SUSPENSION_SCOPES, VESSEL_CLASSES

Vessel = Literal[tuple(VESSEL_CLASSES)]  # type: ignore[valid-type]
PlaceCode = Annotated[str, StringConstraints(min_length=1, max_length=65, pattern=r"^[A-Za-z0-9_.:-]+$")]


class SuspensionReason(Body):
    kind: Literal[tuple(SUSPENSION_REASONS)] = Field(  # type: ignore[valid-type]
        description="wind (大风), fog (大雾), typhoon (台风预警) or other"
    )
    wind_force: int | None = Field(
        None, ge=0, le=17, description="Beaufort force; without ``vessels`` it stops the classes whose limit it reaches"
    )
    text: Text(500, description="what the harbour or weather office said")


def _scope_keys(schema: dict) -> None:
    """The document says which key each scope takes: link with scope link, pier with scope pier, neither else."""
    rules = []
    for scope, key in (("link", "link"), ("pier", "pier")):
        rules.append(
            {
                "if": {"properties": {"scope": {"const": scope}}, "required": ["scope"]},
                "then": {"required": [key], "properties": {key: {"type": "string"}}},
                "else": {"properties": {key: {"type": "null"}}},
            }
        )
    rules.append(
        {
            "if": {"properties": {"scope": {"const": "county"}}, "required": ["scope"]},
            "then": {},
            "else": {"properties": {"county": {"type": "null"}}},
        }
    )
    schema["allOf"] = rules


class SuspensionBody(Body):
    model_config = {**Body.model_config, "json_schema_extra": _scope_keys}

    scope: Literal[tuple(SUSPENSION_SCOPES)] = Field(  # type: ignore[valid-type]
        description="one ferry link, every link from a pier, or every sailing of the county"
    )
    link: PlaceCode | None = Field(None, description="with scope link: FROM-TO by the piers' codes (lizhushan-huaniao)")
    pier: PlaceCode | None = Field(None, description="with scope pier: the pier's code (huaniao)")
    county: PlaceCode | None = Field(
        None, description="with scope county: its region code, when your scope does not say which county"
    )
    vessels: (
        Annotated[
            list[Vessel],
            Field(min_length=1, max_length=2, json_schema_extra={"uniqueItems": True}),
            AfterValidator(distinct),
        ]
        | None
    ) = Field(None, description="the classes stopped; default: those the wind force stops, else all")
    from_: Time = Field(alias="from", description="the window's start")
    until: Time = Field(description="the window's end (after from)")
    reason: SuspensionReason


class SuspensionPier(Answer):
    code: str
    name: str
    name_en: str | None


class SuspensionLink(Answer):
    code: str = Field(description="FROM-TO")
    from_: SuspensionPier = Field(alias="from")
    to: SuspensionPier


class SuspensionCounty(Answer):
    code: str
    name: str
    name_en: str | None


class SuspensionReasonOut(Answer):
    kind: str
    wind_force: int | None
    text: str


class Suspension(Answer):
    id: int
    state: Literal["coming", "active", "lifted", "over"]
    scope: str
    county: SuspensionCounty
    link: SuspensionLink | None
    pier: SuspensionPier | None
    vessels: list[str]
    from_: AnswerTime = Field(alias="from")
    until: AnswerTime
    reason: SuspensionReasonOut
    created_by: str
    created_at: AnswerTime | None
    lifted_at: AnswerTime | None
    lifted_by: str | None


class SuspensionList(Answer):
    as_of: AnswerTime
    suspensions: list[Suspension] = Field(description="active and coming ones, soonest first")


class NetworkLink(Answer):
    code: str
    from_: SuspensionPier = Field(alias="from")
    to: SuspensionPier
    minutes: int
    timetable: list[str] = Field(description="departures today (China), HH:MM; empty: on demand")
    season: str | None = Field(description="the timetable version in force today, if any")


class TransportNetwork(Answer):
    piers: list[SuspensionPier]
    links: list[NetworkLink]
    wind_limits: dict[str, int] = Field(description="vessel class -> the Beaufort force at which it stops")
    vessels: list[str]
    reasons: list[str]


class ReloadBody(Body):
    dataset: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")] = Field(
        description="a dataset folder of REFERENCE_DATA_DIR (shengsi)"
    )


class ReloadResult(Answer):
    links_changed: int
    timetable_versions: int
