"""Oversight tests run on the Shengsi template plus its oversight.yaml (calendar, bodies, staff).

The ``client`` here acts as the county's comprehensive bureau (its organisation token, role
admin): the acts the seeds give the bureau (cases, assistance requests, referrals, a dispute it
is party to) and incident intake and dispatch need nothing more; an act of another organisation
or person names its headers (``tests.oversight.factories``: MARKET, JUSTICE, REVIEWER, ...).
"""

import pytest

from dispatch.oversight.reference import load_oversight_into, oversight_loaded
from dispatch.store.db import db
from tests.conftest import SHENGSI, org_token


@pytest.fixture
def app(app):
    """The root ``app`` with the oversight reference data loaded (once the template holds it, a no-op)."""
    with app.app_context():
        if not oversight_loaded(db.session):
            load_oversight_into(db.session, SHENGSI)
            db.session.commit()
        db.session.remove()
    return app


@pytest.fixture
def client(client):
    """The root ``client`` with the county bureau's organisation token instead of the admin "api"."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {org_token('county-bureau')}"
    return client
