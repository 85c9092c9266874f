"""Fixtures of the standards tests: an Open311 client key, the Guiyang dataset in the test's database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from dispatch.config import PROJECT_ROOT
from dispatch.http.standards.open311 import hash_key
from dispatch.recommend import invalidate_caches
from dispatch.seed import load_dataset_into
from gis.reference import load_dataset

OPEN311_KEY = "test-key-12345-bridge"
GUIYANG = PROJECT_ROOT / "gis" / "data" / "guiyang"


@pytest.fixture
def open311_app(app):
    """The app with one Open311 client key (only its SHA-256 is configured)."""
    app.config["OPEN311_API_KEYS"] = {hash_key(OPEN311_KEY): "bridge-12345"}
    return app


@pytest.fixture
def open311(open311_app):
    return open311_app.test_client()


@pytest.fixture
def guiyang_url(database_url):
    """The test's copy of the Shengsi template with Guiyang loaded beside it."""
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        load_dataset_into(session, load_dataset(GUIYANG))
        session.commit()
    engine.dispose()
    invalidate_caches()
    yield database_url
    invalidate_caches()


@pytest.fixture
def guiyang_client(guiyang_url, app):
    from tests.conftest import TOKENS

    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS['api'][1]}"
    return client
