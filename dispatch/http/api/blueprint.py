"""The JSON API's blueprint, under /api/v1 (its routes live in the modules beside this one)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
