"""Every command of ``flask --app dispatch ...``: the server, schema, data, tokens and accounts,
boundaries, oversight, the record's audit and the demo simulation.

- ``serve``: migrate, load the demo data into an empty database, serve HTTP + Socket.IO.
- ``db upgrade|downgrade``, ``seed``, ``seed-oversight``, ``import-regions``, ``export-plan``.
- ``squad-token``, ``api-token``, ``add-account``.
- ``audit verify``, ``oversight-tick``, ``simulate``, ``open311-key``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import signal
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from dispatch.accounts import add_account, ensure_demo_accounts, issue_api_token
from dispatch.audit import verify_chain
from dispatch.boundaries import (
    ImportRefused,
    Report,
    export_plan,
    import_zones,
    load_regions,
    read_features,
    validate_regions,
)
from dispatch.errors import ApiError
from dispatch.http.standards.open311 import new_key
from dispatch.live import server as live_server
from dispatch.oversight import referrals
from dispatch.oversight.reference import OversightAlreadyLoaded, load_oversight_into
from dispatch.recommend import invalidate_caches
from dispatch.seed import AlreadyLoaded, database_is_empty, load_dataset_into
from dispatch.simulate import Simulation
from dispatch.store import migrate
from dispatch.store.db import db
from dispatch.store.models import ApiToken, Squad
from dispatch.tablets import issue_token, revoke, revoke_labelled
from gis.crs import SYSTEMS
from gis.reference import ReferenceDataError, load_dataset

GC_THRESHOLDS = (20_000, 20, 20)  # the collector's (700, 10, 10) by default; see run_server

db_cli = AppGroup("db", help="Schema migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. base, or -1)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)


def _dataset_folder(app: Flask, name: str) -> Path:
    """A dataset given by path, or by name (a folder of REFERENCE_DATA_DIR, e.g. shengsi)."""
    folder = Path(name)
    return folder if folder.is_dir() else Path(app.config["REFERENCE_DATA_DIR"]) / name


def seed_dataset(app: Flask, name: str) -> dict[str, int]:
    """Validate the dataset ``name`` and load it; raises on bad data or a second load."""
    folder = _dataset_folder(app, name)
    dataset = load_dataset(folder)
    with app.app_context():
        session = db.session
        try:
            counts = load_dataset_into(session, dataset)
            if (folder / "oversight.yaml").exists():  # reviewers, supervisors, holidays (issue 6)
                counts |= load_oversight_into(session, folder)
            session.commit()
        except Exception:
            session.rollback()
            raise
    invalidate_caches()
    return counts


@click.command("seed")
@with_appcontext
@click.argument("name", default="shengsi")
def seed_command(name: str) -> None:
    """Load the reference dataset NAME (a folder of gis/data, or a path)."""
    try:
        counts = seed_dataset(current_app, name)
    except ReferenceDataError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    except AlreadyLoaded as exc:
        click.echo(f"nothing to do: {exc}")
        return
    click.echo(f"loaded {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@click.command("serve")
@click.option("--host", default=None, envvar="HOST", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, envvar="PORT", help="Port (default 5000).")
@click.option("--seed/--no-seed", default=True, help="Load the Shengsi data when the database is empty.")
@with_appcontext
def serve_command(host: str | None, port: int | None, seed: bool) -> None:
    """Migrate, load the demo data if the database is empty, and serve HTTP + Socket.IO."""
    run_server(current_app._get_current_object(), host or "127.0.0.1", port or 5000, seed=seed)


DEMO_TABLET_LABEL = "demo tablet"


def _print_demo_access(app: Flask) -> None:
    """The demo accounts (one per role) and a tablet token, so a newcomer can sign in at once.

    Only the clear text of a new token can be printed, so each start issues one; the demo
    tablet token of the start before is revoked, not left valid (one per start piled up)."""
    with app.app_context():
        session = db.session
        accounts = ensure_demo_accounts(session)
        squad = session.scalar(select(Squad).where(Squad.code == "cb-shengshan"))
        token = None
        if squad is not None:
            revoke_labelled(session, squad.id, DEMO_TABLET_LABEL)
            token = issue_token(session, squad.id, DEMO_TABLET_LABEL)[1]
        session.commit()
        db.session.remove()
    click.echo("demo sign-in (demo data only; change or remove these accounts in production):")
    for username, password, role in accounts:
        click.echo(f"  {role:<11} username {username:<11} password {password}")
    if token:
        click.echo(f"  squad      tablet token for {squad.name_zh} (/tablet): {token}")


def run_server(app: Flask, host: str, port: int, *, seed: bool = True) -> None:
    """What `make run` and the production entry point do: migrate, seed, serve, stop cleanly."""
    migrate.upgrade(app.config["DATABASE_URL"])
    if seed:
        with app.app_context():
            empty = database_is_empty(db.session)
            db.session.remove()
        if empty:
            counts = seed_dataset(app, "shengsi")
            click.echo("loaded the Shengsi demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        _print_demo_access(app)

    def _stop(signum, frame):  # noqa: ARG001
        if not live_server.stop_serving():  # gevent stops its server; Werkzeug's threads are interrupted
            raise KeyboardInterrupt

    # SIGTERM ends the server the way Ctrl-C does, so the cluster is stopped on exit.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    live_server.start_background_work(app)
    if os.environ.get("DEMO_SIMULATION") == "1":  # the demo: moving squads, 12345 calls (dispatch/simulate.py)
        start_in_background(app)
    # What start-up made (modules, the app, reference data) lives as long as the process: keep it
    # out of the collector's generations, so its collections walk only what requests allocate.
    gc.collect()
    gc.freeze()
    # A full collection walks every connection's objects: tens of ms with 1,000 tablets, and
    # with the default thresholds one came every few seconds under load. Collecting less
    # often (the cycles left between collections are few) took the tablets' reply p99 during
    # ingest from 20-43 ms to 13-15 ms (bench/realtime.py).
    gc.set_threshold(*GC_THRESHOLDS)
    click.echo(f"dispatch serving on http://{host}:{port} ({app.config['SOCKETIO_ASYNC_MODE']})")
    # Flask refuses app.run() inside a CLI command; this command is the server itself.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    try:
        live_server.serve(app, host, port)
    except KeyboardInterrupt:
        pass
    finally:
        db.dispose()
        cluster = app.extensions.get("embedded_pg")
        if cluster is not None and cluster.started_here:
            cluster.stop()
            click.echo("stopped the embedded PostGIS cluster")


@click.command("squad-token")
@click.argument("squad_id", type=int, required=False)
@click.option("--label", default=None, help="Which tablet the token is for (e.g. its asset number).")
@click.option("--revoke", "revoke_id", type=int, default=None, help="Revoke the token with this id instead.")
@with_appcontext
def squad_token_command(squad_id: int | None, label: str | None, revoke_id: int | None) -> None:
    """Print a new tablet token for SQUAD_ID (only its hash is stored), or --revoke TOKEN_ID."""
    session = db.session
    try:
        if revoke_id is not None:
            row = revoke(session, revoke_id)
            session.commit()
            click.echo(f"revoked tablet token {row.id} of squad {row.squad_id}")
            return
        if squad_id is None:
            raise click.UsageError("give a SQUAD_ID, or --revoke TOKEN_ID")
        row, token = issue_token(session, squad_id, label)
        session.commit()
    except ApiError as exc:
        click.echo(f"refused: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"token id {row.id} for squad {squad_id}:", err=True)
    click.echo(token)


@click.command("api-token")
@click.argument("name", required=False)
@click.option(
    "--role",
    type=click.Choice(["dispatcher", "squad", "planner", "supervisor", "admin"]),
    default="dispatcher",
    show_default=True,
)
@click.option("--revoke", "revoke_id", type=int, default=None, help="Revoke the API token with this id instead.")
@with_appcontext
def api_token_command(name: str | None, role: str, revoke_id: int | None) -> None:
    """Print a bearer token for a script or integration NAME (only its hash is kept), or --revoke ID."""
    session = db.session
    if revoke_id is not None:
        row = session.get(ApiToken, revoke_id)
        if row is None:
            click.echo(f"refused: no API token {revoke_id}", err=True)
            sys.exit(1)
        row.revoked_at = row.revoked_at or dt.datetime.now(dt.UTC)
        session.commit()
        click.echo(f"revoked API token {row.id} ({row.name})")
        return
    if not name:
        raise click.UsageError("give a NAME (who uses the token), or --revoke ID")
    row, token = issue_api_token(session, name, role)
    session.commit()
    click.echo(f"API token {row.id} for {name} ({role}); send it as Authorization: Bearer <token>", err=True)
    click.echo(token)


@click.command("add-account")
@click.argument("username")
@click.option("--role", type=click.Choice(["dispatcher", "planner", "supervisor", "admin"]), required=True)
@click.option("--name", "display_name", default=None, help="The name shown on screens.")
@click.password_option()
@with_appcontext
def add_account_command(username: str, role: str, display_name: str | None, password: str) -> None:
    """Create a person's account (the password is stored as an argon2 hash)."""
    add_account(db.session, username, role, password, display_name)
    db.session.commit()
    click.echo(f"account {username} ({role}) created")


audit_cli = AppGroup("audit", help="The tamper-evident record.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check every event's hash and link; exit 0 with the count, or 1 naming the first bad event."""
    verdict = verify_chain(db.session)
    if verdict.ok:
        click.echo(f"verified {verdict.verified} events: the record is intact")
        return
    click.echo(
        f"event {verdict.first_bad_event} fails verification: {verdict.problem} "
        f"({verdict.verified} events before it verified)",
        err=True,
    )
    sys.exit(1)


@click.command("import-regions")
@click.argument("path", type=click.Path(exists=True, dir_okay=True))
@click.option("--as", "kind", type=click.Choice(["regions", "zones"]), default="regions", show_default=True)
@click.option(
    "--crs",
    type=click.Choice(SYSTEMS),
    default="wgs84",
    show_default=True,
    help="Coordinate system of the file (gcj02/bd09: drawn on a Chinese web map).",
)
@click.option("--plan", "plan_code", help="Zones: code of the draft plan to create.")
@click.option("--root", "root_code", help="Zones: code of the county or city the plan covers.")
@click.option("--dry-run", is_flag=True, help="Validate and report only.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the full report (JSON) here.")
@with_appcontext
def import_regions_command(path, kind, crs, plan_code, root_code, dry_run, report_path) -> None:  # fmt: skip
    """Load regions (or zones, as a draft plan) from a GeoJSON file or Shapefile, with a validation report."""
    session = db.session
    try:
        if kind == "zones":
            if not plan_code or not root_code:
                raise click.UsageError("--as zones needs --plan CODE and --root REGION_CODE")
            report = import_zones(session, path, plan_code=plan_code, root_code=root_code, crs=crs, dry_run=dry_run)
        else:
            with click.progressbar(length=1, label="reading and validating", file=sys.stderr) as bar:
                features = read_features(path, crs)
                report = Report()
                rows = validate_regions(session, features, report)
                bar.update(1)
            if report.ok and not dry_run:
                with click.progressbar(length=len(features), label="loading", file=sys.stderr) as bar:
                    report.loaded = load_regions(session, rows, bar)
    except ImportRefused as exc:
        session.rollback()
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    for line in report.lines():
        click.echo(line)
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    if not report.ok:
        session.rollback()
        click.echo("nothing loaded: fix the errors above", err=True)
        sys.exit(1)
    if dry_run:
        session.rollback()
        click.echo("dry run: nothing loaded")
        return
    session.commit()
    invalidate_caches()


@click.command("export-plan")
@click.argument("code", required=False)
@click.option("--root", "root_code", help="The county or city whose effective plan to export (default: the first).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: standard output).")
@with_appcontext
def export_plan_command(code, root_code, output) -> None:
    """Write a coverage plan's zones (default: the effective plan) as GeoJSON."""
    try:
        collection = export_plan(db.session, code, root_code)
    except ImportRefused as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    data = json.dumps(collection, ensure_ascii=False, indent=1)
    if output:
        Path(output).write_text(data + "\n", encoding="utf-8")
        click.echo(f"wrote {len(collection['features'])} zones of {collection['plan']['code']} to {output}", err=True)
    else:
        click.echo(data)


@click.command("oversight-tick")
@with_appcontext
def oversight_tick() -> None:
    """Escalate overdue referrals to the county government (run it from cron, e.g. every 10 minutes)."""
    session = db.session
    escalated = referrals.escalate_overdue(session, actor="oversight-tick")
    session.commit()
    click.echo(
        f"escalated {len(escalated)} overdue referral(s)"
        + "".join(f"\n  referral {r.id} -> {r.escalated_to.code}" for r in escalated)
    )


@click.command("seed-oversight")
@with_appcontext
@click.argument("name", default="shengsi")
def seed_oversight(name: str) -> None:
    """Load oversight.yaml of dataset NAME (holiday calendar, bodies, reviewers, supervisors, set times)."""
    folder = _dataset_folder(current_app, name)
    session = db.session
    try:
        counts = load_oversight_into(session, folder)
        session.commit()
    except ReferenceDataError as exc:
        session.rollback()
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    except OversightAlreadyLoaded as exc:
        session.rollback()
        click.echo(f"nothing to do: {exc}")
        return
    click.echo(f"loaded oversight data of {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def start_in_background(app: Flask) -> Simulation:
    """Run the demo inside the server process (``DEMO_SIMULATION=1``), as a Socket.IO background task."""
    rate = float(os.environ.get("DEMO_INCIDENTS_PER_HOUR") or 60)
    simulation = Simulation(app, incidents_per_hour=rate)
    live_server.start_background_task(simulation.run, None, live_server.sleep)
    click.echo("demo simulation running: squads on patrol, 12345 calls arriving")
    return simulation


@click.command("simulate")
@click.option("--incidents-per-hour", default=60.0, show_default=True, help="Average rate of 12345 calls.")
@click.option("--tick", "tick_s", default=3.0, show_default=True, help="Seconds between position fixes.")
@click.option("--duration", default=None, type=float, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--seed", default=None, type=int, help="Random seed, for a repeatable demo.")
@with_appcontext
def simulate_command(incidents_per_hour: float, tick_s: float, duration: float | None, seed: int | None) -> None:
    """Move the demo squads and raise 12345 calls against the database (next to a running server)."""
    simulation = Simulation(
        current_app._get_current_object(), tick_s=tick_s, incidents_per_hour=incidents_per_hour, seed=seed
    )
    click.echo(f"simulating: {incidents_per_hour:g} calls per hour, a fix every {tick_s:g} s per squad (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        simulation.run(duration)
    click.echo(f"simulated {simulation.fixes} fixes and {simulation.calls} calls")


@click.command("open311-key")
@click.argument("client")
def open311_key_command(client: str) -> None:
    """Print a new Open311 api_key for CLIENT and the OPEN311_API_KEYS entry that accepts it."""
    if ":" in client or "," in client:
        raise click.UsageError("no ':' or ',' in the client's name")
    api_key, entry = new_key(client)
    click.echo(f"api_key (give it to the client):   {api_key}", err=True)
    click.echo(f"add to OPEN311_API_KEYS (comma-separated): {entry}")


def init_app(app: Flask) -> None:
    for command in (
        db_cli,
        audit_cli,
        seed_command,
        seed_oversight,
        serve_command,
        squad_token_command,
        api_token_command,
        add_account_command,
        import_regions_command,
        export_plan_command,
        oversight_tick,
        simulate_command,
        open311_key_command,
    ):
        app.cli.add_command(command)
