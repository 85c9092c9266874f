"""Parsing request input into typed values, or an ApiError naming the field."""

from __future__ import annotations

import math

from flask import request

from dispatch.errors import ApiError
from dispatch.http.auth import current_principal


def query_float(
    name: str, *, required: bool = True, low: float | None = None, high: float | None = None
) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise ApiError(f"query parameter {name!r} is required", field=name, code="missing_parameter")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(f"{name!r} must be a number, not {raw!r}", field=name, code="invalid_parameter") from None
    if not math.isfinite(value):
        raise ApiError(f"{name!r} must be a finite number", field=name, code="invalid_parameter")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError(f"{name!r} must lie between {low} and {high}, not {value}", field=name, code="invalid_parameter")
    return value


def query_int(name: str, default: int, *, low: int = 0, high: int = 10_000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name!r} must be a whole number, not {raw!r}", field=name, code="invalid_parameter") from None
    if not low <= value <= high:
        raise ApiError(f"{name!r} must lie between {low} and {high}", field=name, code="invalid_parameter")
    return value


def query_flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


def json_body() -> dict:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise ApiError("the body must be JSON (Content-Type: application/json)", code="invalid_body")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError("the body is not valid JSON", code="invalid_body")
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object", code="invalid_body")
    return body


def actor() -> str:
    """Who acts, recorded on every event: the signed-in person or the tablet's squad.

    An integration's API token (the 12345 bridge, a script) may name the person it acts
    for in ``X-Actor``; otherwise its own name is the actor.
    """
    principal = current_principal()
    header = (request.headers.get("X-Actor") or "").strip()
    if len(header) > 100:
        raise ApiError("X-Actor must be at most 100 characters", field="X-Actor", code="invalid_header")
    if principal is not None:
        return header if principal.kind == "api_token" and header else principal.name
    return header or "api"
