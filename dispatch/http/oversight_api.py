"""The JSON API blueprint of oversight and coordination (under /api/v1), and what its views share.

Its routes live in dispatch.http.oversight (personnel, cases, criminal referrals, assistance, the
annual report) and dispatch.http.oversight_coordination (referrals, disputes, supervision notices,
information sharing); dispatch.http.oversight registers it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from dispatch.store.db import db

api = Blueprint("api", __name__, url_prefix="/api/v1")


def created(payload: dict):
    db.session.commit()
    return jsonify(payload), 201


def saved(payload_of, row):
    db.session.commit()
    return jsonify(payload_of(row))
