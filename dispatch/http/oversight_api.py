"""The JSON API blueprint of oversight and coordination (under /api/v1), and what its views share.

Its routes live in dispatch.http.oversight (personnel, cases, criminal referrals, assistance, the
annual report) and dispatch.http.oversight_coordination (referrals, disputes, supervision notices,
information sharing); dispatch.http.oversight registers it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from dispatch.errors import ApiError
from dispatch.store.db import db

api = Blueprint("api", __name__, url_prefix="/api/v1")


def created(payload: dict):
    db.session.commit()
    return jsonify(payload), 201


def saved(payload_of, row):
    db.session.commit()
    return jsonify(payload_of(row))


def status_arg(allowed: tuple[str, ...]) -> str | None:
    status = request.args.get("status")
    if status is not None and status not in allowed:
        raise ApiError(f"one of {', '.join(allowed)}", field="status")
    return status
