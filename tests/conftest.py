"""Fixtures: one throwaway PostGIS cluster per test run, a fresh database per test.

The cluster runs with fsync off. A template database is migrated and loaded
with the Shengsi data once; each test gets its own copy (CREATE DATABASE ...
TEMPLATE takes about 0.1 s), so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from dispatch import create_app
from dispatch.accounts import add_account, add_api_token
from dispatch.config import PROJECT_ROOT
from dispatch.oversight.models import OversightBody, OversightStaff
from dispatch.oversight.reference import load_oversight_into
from dispatch.seed import load_dataset_into
from dispatch.store import migrate
from dispatch.store.db import db
from dispatch.store.embedded_pg import EmbeddedPostgres
from dispatch.store.models import Authority
from gis.reference import load_dataset

TEMPLATE = "dispatch_template"
# Fixed API tokens in the template: name, role, token. The clients below send the first two.
TOKENS = {
    "api": ("admin", "dpt_test-api-admin"),
    "dispatcher-test": ("admin", "dpt_test-live-admin"),
    "dispatcher": ("dispatcher", "dpt_test-dispatcher"),
    "planner": ("planner", "dpt_test-planner"),
    "supervisor": ("supervisor", "dpt_test-supervisor"),
}
SHENGSI = PROJECT_ROOT / "gis" / "data" / "shengsi"
PASSWORD = "correct horse battery staple"  # the test accounts' password (passes the policy)


def org_token(code: str) -> str:
    """The template's token of the organisation ``code`` (an authority or an oversight body):
    role admin, scope the organisation and its region. Oversight acts need one."""
    return f"dpt_test-org-{code}"


def person_token(code: str) -> str:
    """The own token of the oversight staff member ``code`` (a legal reviewer, a supervisor)."""
    return f"dpt_test-person-{code}"


def as_org(code: str) -> dict:
    return {"Authorization": f"Bearer {org_token(code)}"}


def as_person(code: str) -> dict:
    return {"Authorization": f"Bearer {person_token(code)}"}


def _add_scoped_principals(session: Session) -> None:
    """A token per authority and oversight body, an account and own token per oversight staff member."""
    for authority in session.scalars(select(Authority)):
        add_api_token(session, f"org-{authority.code}", "admin", org_token(authority.code),
                      region_id=authority.region_id, authority_id=authority.id)  # fmt: skip
    for body in session.scalars(select(OversightBody)):
        add_api_token(session, f"org-{body.code}", "admin", org_token(body.code),
                      region_id=body.region_id, body_id=body.id)  # fmt: skip
    for staff in session.scalars(select(OversightStaff)):
        organisation = staff.authority or staff.body
        account = add_account(session, staff.code, "supervisor", PASSWORD, staff.name,
                              region_id=organisation.region_id, authority_id=staff.authority_id,
                              body_id=staff.body_id)  # fmt: skip
        add_api_token(session, staff.code, "supervisor", person_token(staff.code), account_id=account.id,
                      region_id=account.region_id, authority_id=staff.authority_id, body_id=staff.body_id)  # fmt: skip


_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = EmbeddedPostgres(PROJECT_ROOT / "var" / f"test-{os.getpid()}", fsync=False, database=TEMPLATE)
    cluster.start()
    yield cluster
    cluster.destroy()


def _admin(cluster: EmbeddedPostgres) -> psycopg.Connection:
    return psycopg.connect(cluster.url("postgres", "postgresql"), autocommit=True)


@pytest.fixture(scope="session")
def template_url(pg_cluster):
    """The migrated template database holding the Shengsi reference data."""
    return load_template(pg_cluster.url(TEMPLATE))


def load_template(url: str) -> str:
    """Migrate the database at ``url`` and load what every test starts from: Shengsi, its oversight
    bodies, the fixed tokens, an account per role, a token per organisation (tests.record_examples too)."""
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        load_dataset_into(session, load_dataset(SHENGSI))
        load_oversight_into(session, SHENGSI)
        for name, (role, token) in TOKENS.items():
            add_api_token(session, name, role, token)
        for role in ("dispatcher", "planner", "supervisor", "admin"):  # people, for the browser tests
            add_account(session, f"test-{role}", role, PASSWORD)
        _add_scoped_principals(session)
        session.commit()
    engine.dispose()
    return url


def _new_database(cluster: EmbeddedPostgres, template: str):
    name = f"test_{os.getpid()}_{next(_counter)}"
    with _admin(cluster) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def _drop_database(cluster: EmbeddedPostgres, name: str) -> None:
    with _admin(cluster) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_cluster, template_url):
    """A private copy of the Shengsi template for one test."""
    name = _new_database(pg_cluster, TEMPLATE)
    yield pg_cluster.url(name)
    _drop_database(pg_cluster, name)


@pytest.fixture
def empty_database_url(pg_cluster):
    """A database with PostGIS and nothing else (no migrations)."""
    name = f"empty_{os.getpid()}_{next(_counter)}"
    with _admin(pg_cluster) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(pg_cluster.url(name, "postgresql"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    yield pg_cluster.url(name)
    _drop_database(pg_cluster, name)


@pytest.fixture
def app(database_url, tmp_path):
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DATA_DIR": tmp_path,
            "INTAKE_RATE_PER_MINUTE": 100000,
            "CHECK_ANSWERS": True,  # every answer is checked against its declaration (dispatch.http.contract)
        }
    )
    yield application
    db.session.remove()
    db.dispose()


@pytest.fixture
def client(app):
    """A test client signed in with an admin API token named "api"."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS['api'][1]}"
    return test_client


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """An ORM session on the test's database (outside any request)."""
    with app.app_context():
        yield db.session


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by init) does not count."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real ``flask --app dispatch serve`` process, for tests over real HTTP."""

    def __init__(self, env: dict[str, str], tmp_path: Path, *, seed: bool = False, production: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"server-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        if production:  # gevent + gevent-websocket, as docker-compose runs it
            args = [sys.executable, "-m", "dispatch.production", "--port", str(self.port)]
            args += [] if seed else ["--no-seed"]
        else:
            flask = str(Path(sys.executable).with_name("flask"))
            args = [flask, "--app", "dispatch", "serve", "--port", str(self.port), "--seed" if seed else "--no-seed"]
        self.process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> LiveServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def store(database_url):
    """A session on the test's database for factories next to a live server."""
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with Session(engine) as session:
        yield session
    engine.dispose()


class Api:
    """JSON over real HTTP to a live server, with a token (the record names the token's holder)."""

    def __init__(self, base: str, token: str = TOKENS["dispatcher-test"][1]):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params):
        return self.http.get(f"{self.base}/api/v1{path}", params=params, timeout=30)

    def post(self, path: str, body=None, **kwargs):
        return self.http.post(f"{self.base}/api/v1{path}", json=body, timeout=30, **kwargs)

    def close(self):
        self.http.close()


@pytest.fixture
def api(live_server):
    client = Api(live_server.url)
    yield client
    client.close()


@pytest.fixture
def start_server(database_url, tmp_path):
    """Start server processes on the test's database (``env`` overrides); all stopped at the end."""
    servers: list[LiveServer] = []

    def start(production: bool = False, **env) -> LiveServer:
        settings = {
            "DATABASE_URL": database_url,
            "DISPATCH_DATA_DIR": str(tmp_path),
            "INTAKE_RATE_PER_MINUTE": "100000",  # tests post many incidents with one token
            # The periodic jobs would add alerts to the records and coverage updates to the frames a
            # test compares; tests/test_scheduler.py turns them on (the coverage feed stays on).
            "SCHEDULE_ALERTS_S": "0",
            "SCHEDULE_ESCALATION_S": "0",
            "SCHEDULE_EVIDENCE_S": "0",
            "SCHEDULE_COVERAGE_S": "0",
            **{k: str(v) for k, v in env.items()},
        }
        server = LiveServer(settings, tmp_path, production=production)
        servers.append(server)
        return server.wait_ready()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(start_server):
    """A server process on the test's own database."""
    return start_server()
