"""The JSON API under /api/v1: routes parse, call a domain function, serialise."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from dispatch.api import incidents, joint, plans, realtime, reference, tasks  # noqa: E402,F401  (routes register on import)
