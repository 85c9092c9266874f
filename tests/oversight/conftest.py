"""Oversight tests run on the Shengsi template plus its oversight.yaml (calendar, bodies, staff)."""

import pytest

from dispatch.oversight.reference import load_oversight_into, oversight_loaded
from dispatch.store.db import db
from tests.conftest import SHENGSI


@pytest.fixture
def app(app):
    """The root ``app`` with the oversight reference data loaded (once the template holds it, a no-op)."""
    with app.app_context():
        if not oversight_loaded(db.session):
            load_oversight_into(db.session, SHENGSI)
            db.session.commit()
        db.session.remove()
    return app
