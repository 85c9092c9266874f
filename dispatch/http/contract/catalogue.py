"""Versions of the matter catalogue (dispatch.http.api.catalogue; the rules in dispatch.catalogue).

What only the data can refuse (a day before today, a version not after the latest, an unknown
county) is a 422 or 409 there, naming the rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from dispatch.http.contract.common import Answer, AnswerTime, Body, Code, Day, Int, Text

# no blank text and no NUL (the body reader refuses one anywhere), as the document says of Text
Name = Text(200)
Domain = Text(40)


class CatalogueMatterIn(Body):
    """A matter as the new version lists it."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name_zh: Name
    name_en: Name
    domain: Domain = Field(description="comprehensive, or a department's domain")
    authority_kind: Literal["municipal_bureau", "county_bureau", "department", "township_government"]
    township_held: bool = Field(False, description="an empowered township enforces it in its own name")
    joint_domains: list[Domain] = Field([], max_length=20, description="other forces that join its inspections")
    priority: Int = Field(2, ge=1, le=3, description="1 urgent, 2 normal, 3 low")
    sla_minutes: Int = Field(120, ge=1, le=525600, description="report to arrival on scene")


class CatalogueVersionBody(Body):
    """A catalogue as adjusted and published (seed 001 §3.2.1, seed 004 art. 5): all its matters."""

    county: Code | None = Field(None, description="the county or city (optional while only one is loaded)")
    effective_from: Day = Field(description="the day it takes effect (China time): today or later")
    source: Text(2000) = Field(description="the publishing document")
    matters: list[CatalogueMatterIn] = Field(min_length=1, max_length=2000)


class CatalogueCounty(Answer):
    code: str
    name: str
    name_en: str | None = None


class CatalogueMatterOut(Answer):
    code: str
    name: str
    name_en: str | None = None
    domain: str
    authority_kind: str
    township_held: bool
    joint_domains: list[str]
    priority: int
    sla_minutes: int


class CatalogueVersion(Answer):
    id: int
    county: CatalogueCounty
    effective_from: str = Field(description="YYYY-MM-DD")
    source: str
    published_at: AnswerTime
    published_by: str
    matter_count: int
    in_force: bool = Field(description="the version in force today in its county")
    matters: list[CatalogueMatterOut] | None = Field(None, description="in GET of one version and the POST's answer")


class CatalogueVersionList(Answer):
    versions: list[CatalogueVersion]
