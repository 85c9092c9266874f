"""The JSON API under /api/v1: routes parse, call a domain function, serialise."""

from dispatch.http.api import duty, evidence, incidents, joint, openapi, plans, realtime, reference, tablet, tasks  # noqa: F401  (routes register on import)
from dispatch.http.api.blueprint import bp

__all__ = ["bp"]
