"""Checking request bodies field by field; every refusal names the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shapely import Point

from dispatch.errors import MAX_ID, ApiError
from gis.geojson import GeometryError, parse_point


def check_fields(body: dict, allowed: set[str], prefix: str = "") -> None:
    """Refuse unknown fields: a typo must not be silently ignored."""
    for name in body:
        if name not in allowed:
            raise ApiError(
                f"unknown field (allowed: {', '.join(sorted(allowed))})", field=prefix + name, code="unknown_field"
            )


def required_text(body: dict, name: str, max_length: int, prefix: str = "") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError("required text", field=prefix + name)
    if len(value) > max_length:
        raise ApiError(f"longer than {max_length} characters", field=prefix + name)
    return value.strip()


def optional_text(body: dict, name: str, max_length: int, prefix: str = "") -> str | None:
    if body.get(name) is None:
        return None
    return required_text(body, name, max_length, prefix)


def required_point(body: dict, name: str, prefix: str = "") -> Point:
    try:
        return parse_point(body.get(name), prefix + name)
    except GeometryError as exc:
        raise ApiError(exc.message, field=exc.field) from None


def parse_time(value: Any, field: str, *, required: bool = False) -> dt.datetime | None:
    """An ISO 8601 date-time with a UTC offset."""
    if value is None:
        if required:
            raise ApiError("required (ISO 8601 date-time with offset)", field=field)
        return None
    if not isinstance(value, str):
        raise ApiError("must be an ISO 8601 date-time string", field=field)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(f"{value!r} is not an ISO 8601 date-time", field=field) from None
    if parsed.tzinfo is None:
        raise ApiError("needs a UTC offset, e.g. 2026-11-23T09:30:00+08:00", field=field)
    if parsed.year < 2000:
        raise ApiError("is implausibly early", field=field)
    return parsed


def positive_id(value: Any, field: str) -> int:
    """An id: an integer from 1 to ``MAX_ID`` (not a bool), else a 400 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ApiError(f"must be an integer id from 1 to {MAX_ID}", field=field)
    return value


def id_list(body: dict, name: str, *, minimum: int = 1, maximum: int = 50, required: bool = True) -> list[int]:
    """A list of distinct positive integer ids."""
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not (minimum <= len(value) <= maximum):
        raise ApiError(f"must be a list of {minimum} to {maximum} ids", field=name)
    for index, item in enumerate(value):
        positive_id(item, f"{name}[{index}]")
    if len(set(value)) != len(value):
        raise ApiError("ids must be distinct", field=name)
    return value


def optional_id(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    return positive_id(value, name)
