"""Types every part of the contract shares: the error, GeoJSON, times, ids, texts, bases.

Request models derive from ``Body`` (unknown fields refused, no coercion: ``"5"`` is not an id,
``true`` is not a number) or ``Query`` (query strings are text, so numbers and flags are parsed).
Answer models derive from ``Answer``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from dispatch.errors import MAX_ID
from gis.crs import SYSTEMS


class Body(BaseModel):
    """A JSON request body: the fields declared and no others, each of its declared JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)


class Query(BaseModel):
    """A query string: declared parameters parsed from text; others are ignored."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, defer_build=True)


class Answer(BaseModel):
    """A JSON answer (checked against its declaration in the test suite)."""

    model_config = ConfigDict(extra="allow", defer_build=True)


# -- the error ---------------------------------------------------------------------------------


class ErrorDetail(Answer):
    code: str = Field(description="what went wrong, for programs: outside_jurisdiction, unknown_field, ...")
    message: str = Field(description="what went wrong, for people")
    field: str | None = Field(None, description="where: a parameter, a body path (matters[1]), a header")


class ErrorBody(Answer):
    """Every error of the API."""

    error: ErrorDetail


# -- scalars -----------------------------------------------------------------------------------


def _integral(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer: so do we (but not true, nor "5")."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_integral)]
# The bounds before the validator, so that they reach the document as minimum/maximum (not "ge"/"le").
Id = Annotated[int, Field(ge=1, le=MAX_ID, description="an id"), BeforeValidator(_integral)]


def distinct(values: list) -> list:
    """A list's values, refused when one repeats (the document says uniqueItems)."""
    if len(set(values)) != len(values):
        raise ValueError("must be distinct")
    return values


def id_list(max_items: int = 50, min_items: int = 1) -> Any:
    """A list of ``min_items`` to ``max_items`` distinct ids."""
    return Annotated[
        list[Id],
        Field(min_length=min_items, max_length=max_items, json_schema_extra={"uniqueItems": True}),
        AfterValidator(distinct),
    ]


def _strip(value: str) -> str:
    return value.strip()


# Blank is Python's whitespace (str.strip) and ECMAScript's (the \s of clients' validators) alike:
# U+001C-U+001F and U+0085 are only Python's, U+FEFF only ECMAScript's.
_SPACE_CLASS = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_SPACES = (
    "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _not_blank(value: str) -> str:
    stripped = value.strip(_SPACES)
    if not stripped:
        raise ValueError("required text: not blank")
    return stripped


NOT_BLANK = rf"^[^\x00]*[^\x00{_SPACE_CLASS}][^\x00]*$"  # Text's pattern in the document


def Text(max_length: int, *, min_length: int = 1, description: str | None = None) -> Any:  # noqa: N802 - a type
    """Text of 1..max_length characters, not blank (blank text is refused; stored stripped)."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_not_blank),
        WithJsonSchema(
            # not blank, and no NUL (the body reader refuses one anywhere: PostgreSQL stores none)
            {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": NOT_BLANK}
            | ({"description": description} if description else {})
        ),
    ]


Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with an offset, e.g. 2026-11-23T09:30:00+08:00")
    if not _RFC3339.match(value):
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 date-time with an offset (2026-11-23T09:30:00+08:00)")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date-time") from None
    if parsed.year < 2000:
        raise ValueError("is implausibly early (before 2000)")
    return parsed


Time = Annotated[
    dt.datetime,
    BeforeValidator(_time),
    Field(strict=False),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": r"^[2-9]\d{3}-", "description":
                    "RFC 3339 date-time with an offset, 2000 or later"}),
]  # fmt: skip
_DAY = re.compile(r"^2\d{3}-\d{2}-\d{2}$")


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError("must be a date YYYY-MM-DD, 2000 to 2999")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date") from None


Day = Annotated[
    dt.date,
    BeforeValidator(_day),
    Field(strict=False),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^2\d{3}-\d{2}-\d{2}$",
                    "description": "a date YYYY-MM-DD (China), 2000 to 2999"}),
]  # fmt: skip

AnswerTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

Crs = Literal[tuple(SYSTEMS)]  # type: ignore[valid-type]


# -- GeoJSON -----------------------------------------------------------------------------------


def _lon_lat(position: list[float]) -> list[float]:
    lon, lat = position[0], position[1]
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {lon} is outside -180..180")
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {lat} is outside -90..90")
    return position


Position = Annotated[
    list[float],
    Field(min_length=2, max_length=3),
    AfterValidator(_lon_lat),
    WithJsonSchema({
        "type": "array", "minItems": 2, "maxItems": 3, "description": "[lon, lat] or [lon, lat, height]",
        "prefixItems": [{"type": "number", "minimum": -180, "maximum": 180},
                        {"type": "number", "minimum": -90, "maximum": 90}, {"type": "number"}],
        "items": {"type": "number"},
    }),
]  # fmt: skip


class PointIn(Body):
    """A GeoJSON Point, [lon, lat] in WGS84 (or the request's ?crs=)."""

    type: Literal["Point"]
    coordinates: Position

    @property
    def lon(self) -> float:
        return self.coordinates[0]

    @property
    def lat(self) -> float:
        return self.coordinates[1]


class Geometry(Answer):
    """A GeoJSON geometry."""

    type: Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    coordinates: list


class PointOut(Answer):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class Feature(Answer):
    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(Answer):
    type: Literal["FeatureCollection"]
    features: list[Feature]


class GeoQuery(Query):
    """The coordinate systems of an operation that takes or gives geometry."""

    crs: Crs = Field("wgs84", description="coordinate system of coordinates sent (query lon/lat, GeoJSON in the body)")
    out_crs: Crs = Field("wgs84", description="coordinate system of GeoJSON answered (gcj02 for Chinese map SDKs)")


class Plain(Query):
    """An operation with no parameters of its own."""


class GeoOnly(GeoQuery):
    """An operation whose only parameters are the coordinate systems."""


class Limit(Query):
    limit: int = Field(200, ge=1, le=1000, description="at most this many")


def comma_list(*allowed: str) -> Any:
    """A comma-separated list of values from ``allowed``, e.g. ``?status=open,dispatched``."""
    alternatives = "|".join(re.escape(a) for a in allowed)
    return Annotated[
        str,
        StringConstraints(pattern=rf"^({alternatives})(,({alternatives}))*$"),
        Field(description=f"comma-separated, each one of {', '.join(allowed)}"),
    ]


Events = list[dict[str, Any]]
