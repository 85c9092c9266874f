"""dispatch: command and dispatch for comprehensive administrative law enforcement."""

from __future__ import annotations

import atexit
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from dispatch import config as config_module

log = logging.getLogger(__name__)


def _secret_key(data_dir: Path) -> str:
    """A key kept in the data folder, so sessions survive a restart of ``make run``."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _embedded_database(app: Flask) -> str:
    """Start (or join) the private PostGIS cluster; stop it at exit if we started it."""
    from dispatch.embedded_pg import EmbeddedPostgres

    cluster = EmbeddedPostgres(Path(app.config["DATA_DIR"]) / "pg", fsync=True)
    url = cluster.start()
    app.extensions["embedded_pg"] = cluster
    if cluster.started_here:
        atexit.register(cluster.stop)
    return url


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the application: configuration, database, blueprints, Socket.IO, CLI."""
    from dispatch import observability

    observability.configure_logging(os.environ.get("LOG_FORMAT", "json"))
    app = Flask(__name__, static_folder=str(config_module.PROJECT_ROOT / "static"), static_url_path="/static")
    from dispatch.errors import DatabaseId

    app.url_map.converters["int"] = DatabaseId  # before any route is registered
    app.config.update(config_module.from_environment())
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False  # Chinese names stay readable
    app.json.sort_keys = False
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = _embedded_database(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(Path(app.config["DATA_DIR"]))

    from dispatch import cli, realtime
    from dispatch.api import bp as api_bp
    from dispatch.db import db
    from dispatch.errors import register_error_handlers
    from dispatch.ogc import bp as ogc_bp
    from dispatch.open311 import bp as open311_bp
    from dispatch.oversight.api import bp as oversight_bp
    from dispatch.web import bp as web_bp

    db.init_app(app)
    register_error_handlers(app)
    observability.init_app(app)
    from dispatch import auth

    auth.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(oversight_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(ogc_bp)
    app.register_blueprint(open311_bp)
    realtime.init_app(app)
    cli.init_app(app)
    return app
