"""The application: configuration, database, HTTP blueprints, the live server, commands.

The composition root: the one module that knows every layer (see dispatch/__init__.py).
"""

from __future__ import annotations

import atexit
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch import commands, config
from dispatch.http import auth, compression, observability, oversight_labels
from dispatch.http.api import bp as api_bp
from dispatch.http.errors import DatabaseId, register_error_handlers
from dispatch.http.oversight import bp as oversight_bp
from dispatch.http.standards.ogc import bp as ogc_bp
from dispatch.http.standards.open311 import bp as open311_bp
from dispatch.http.web import bp as web_bp
from dispatch.live import server as live_server
from dispatch.store.db import db
from dispatch.store.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError


def _secret_key(data_dir: Path) -> str:
    """A key kept in the data folder, so sessions survive a restart of ``make run``."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _embedded_database(app: Flask) -> str:
    """Start (or join) the private PostGIS cluster; stop it at exit if we started it.

    A cluster that cannot be started (a damaged data folder, no binaries) ends the process with
    the message alone, which says what to do: every entry point (``make run``, the flask commands,
    ``dispatch.production``) builds the app first, and a traceback would hide it."""
    try:
        cluster = EmbeddedPostgres(Path(app.config["DATA_DIR"]) / "pg", fsync=True)
        url = cluster.start()
    except EmbeddedPostgresError as exc:
        raise SystemExit(f"dispatch: {exc}") from None
    app.extensions["embedded_pg"] = cluster
    if cluster.started_here:
        atexit.register(cluster.stop)
    return url


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the application: configuration, database, blueprints, Socket.IO, CLI."""
    observability.configure_logging(os.environ.get("LOG_FORMAT", "json"))
    app = Flask("dispatch", static_folder=str(config.PROJECT_ROOT / "static"), static_url_path="/static")
    app.url_map.converters["int"] = DatabaseId  # before any route is registered
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if app.config["PROXY_COUNT"] > 0:  # only then is X-Forwarded-* believed (never a client's word)
        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.json.ensure_ascii = False  # Chinese names stay readable
    app.json.sort_keys = False
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = _embedded_database(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(Path(app.config["DATA_DIR"]))

    db.init_app(app)
    register_error_handlers(app)
    compression.init_app(app)  # registered first: runs last, on the answer as the others left it
    observability.init_app(app)
    auth.init_app(app)
    oversight_labels.init_app(app)  # figure labels and seed titles on the supervisor's pages
    app.register_blueprint(api_bp)
    app.register_blueprint(oversight_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(ogc_bp)
    app.register_blueprint(open311_bp)
    live_server.init_app(app)
    commands.init_app(app)
    for command in (commands.backup_command, commands.restore_command):
        app.cli.add_command(command)
    return app
