"""The JSON API under /api/v1: routes parse, call a domain function, serialise."""

from dispatch.http.api import (  # noqa: F401  (routes register on import)
    catalogue,
    duty,
    evidence,
    incidents,
    joint,
    openapi,
    plans,
    realtime,
    reference,
    rosters,
    tablet,
    tasks,
    transport,
)
from dispatch.http.api.blueprint import bp

__all__ = ["bp"]
