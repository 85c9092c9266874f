"""Every command of ``flask --app dispatch ...``: the server, schema, data, tokens and accounts,
boundaries, oversight, the record's audit and the demo simulation.

- ``serve``: migrate, load the demo data into an empty database, serve HTTP + Socket.IO.
- ``db upgrade|downgrade``, ``seed``, ``seed-oversight``, ``import-regions``, ``export-plan``.
- ``squad-token``, ``api-token``; accounts: ``add-account``, ``set-password``, ``disable-account``,
  ``enable-account``, ``unlock-account``, ``set-role``, ``list-accounts``.
- ``audit verify``, ``oversight-tick``, ``simulate``, ``open311-key``.
- ``backup``, ``restore``: the database and the evidence store, in one file and back.
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

from dispatch import catalogue, conditions, evidence, rosters
from dispatch.accounts import (
    PasswordRejected,
    add_account,
    check_password_policy,
    ensure_demo_accounts,
    find_account,
    issue_api_token,
    set_active,
    set_password,
    set_role,
)
from dispatch.audit import last_events, verify_chain
from dispatch.boundaries import (
    ImportRefused,
    Report,
    export_plan,
    import_zones,
    load_regions,
    read_features,
    validate_regions,
)
from dispatch.config import EVIDENCE_DIR
from dispatch.errors import ApiError
from dispatch.http.standards.open311 import new_key
from dispatch.live import server as live_server
from dispatch.oversight import calendar, referrals
from dispatch.oversight.models import CalendarYear, OversightBody
from dispatch.oversight.reference import OversightAlreadyLoaded, load_oversight_into, read_calendar_file
from dispatch.recommend import invalidate_caches
from dispatch.record import record
from dispatch.seed import AlreadyLoaded, database_is_empty, load_dataset_into
from dispatch.signin import account_key, unlock
from dispatch.simulate import Simulation
from dispatch.store import backup as backups
from dispatch.store import migrate
from dispatch.store.db import db
from dispatch.store.models import Account, ApiToken, Authority, LoginThrottle, Region, Squad
from dispatch.tablets import issue_token, revoke, revoke_labelled
from gis.clock import local_day
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


@click.command("reload-timetables")
@with_appcontext
@click.argument("name", default="shengsi")
def reload_timetables_command(name: str) -> None:
    """Read NAME's transport.yaml again (timetables, their dated versions, wind limits): running
    servers use it within a second (the county's transport version), no restart."""
    session = db.session
    try:
        result = conditions.reload_timetables(session, _dataset_folder(current_app, name), actor="cli")
        session.commit()
    except ApiError as exc:
        session.rollback()
        click.echo(f"refused: {exc.message}", err=True)
        sys.exit(1)
    invalidate_caches()
    click.echo(
        f"reloaded {name}: {result['links_changed']} links changed, {result['timetable_versions']} timetable versions"
    )


@click.command("serve")
@click.option("--host", default=None, envvar="HOST", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, envvar="PORT", help="Port (default 5000).")
@click.option("--seed/--no-seed", default=True, help="Load the Shengsi data when the database is empty.")
@click.option("--demo/--no-demo", default=True, help="Make the demo's sign-ins (first start) and print them.")
@with_appcontext
def serve_command(host: str | None, port: int | None, seed: bool, demo: bool) -> None:
    """Migrate, load the demo data if the database is empty, and serve HTTP + Socket.IO (``make run``)."""
    run_server(current_app._get_current_object(), host or "127.0.0.1", port or 5000, seed=seed, demo=demo)


DEMO_TABLET_LABEL = "demo tablet"
DEMO_SQUAD = "cb-shengshan"  # the squad whose tablet token the demo prints: a person plays it


def _print_demo_access(app: Flask) -> None:
    """The demo accounts (one per role) and a tablet token, so a newcomer can sign in at once.

    The accounts are made on the first start only (a database with no account); later starts
    print those that still have their printed password. Only the clear text of a new token can
    be printed, so each start issues one; the demo tablet token of the start before is revoked,
    not left valid (one per start piled up)."""
    with app.app_context():
        session = db.session
        accounts = ensure_demo_accounts(session)
        squad = session.scalar(select(Squad).where(Squad.code == DEMO_SQUAD))
        token = None
        if squad is not None:
            revoke_labelled(session, squad.id, DEMO_TABLET_LABEL)
            token = issue_token(session, squad.id, DEMO_TABLET_LABEL)[1]
        session.commit()
        db.session.remove()
    click.echo("demo sign-in (make run only; the production entry point never makes these):")
    for username, password, role in accounts:
        click.echo(f"  {role:<11} username {username:<11} password {password}")
    if token:
        click.echo(f"  squad      tablet token for {squad.name_zh} (/tablet): {token}")


def first_administrator(app: Flask) -> None:
    """Production: the first administrator from DISPATCH_ADMIN_PASSWORD_FILE (or, read once and
    dropped from the environment, DISPATCH_ADMIN_PASSWORD), only while no administrator exists;
    with neither, say how to make one. Nobody can sign in until there is one."""
    password_file = os.environ.get("DISPATCH_ADMIN_PASSWORD_FILE")
    password = os.environ.pop("DISPATCH_ADMIN_PASSWORD", None) or None  # empty: unset (docker-compose)
    username = os.environ.get("DISPATCH_ADMIN_USERNAME", "admin")
    with app.app_context():
        session = db.session
        exists = session.scalar(select(Account.id).where(Account.role == "admin", Account.active.is_(True)).limit(1))
        if exists is None and password_file:
            lines = Path(password_file).read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
        if exists is None and password is not None:
            try:
                account = add_account(session, username, "admin", password, "系统管理员 Administrator")
            except ValueError as exc:
                raise click.ClickException(f"the first administrator's password is refused: {exc}") from None
            record(session, actor="environment", action="account.created", entity_type="account",
                   entity_id=account.id, data={"username": username, "role": "admin"})  # fmt: skip
            session.commit()
            click.echo(f"created the administrator {username} (from the environment)")
        elif exists is None:
            click.echo(
                "no administrator yet, so nobody can sign in: create one with "
                "`flask --app dispatch add-account NAME --role admin` (the password is prompted for)"
            )
        db.session.remove()


def run_server(app: Flask, host: str, port: int, *, seed: bool = True, demo: bool = False) -> None:
    """What `make run` (``demo``) and the production entry point do: migrate, seed, serve, stop cleanly."""
    migrate.upgrade(app.config["DATABASE_URL"])
    if seed:
        with app.app_context():
            empty = database_is_empty(db.session)
            db.session.remove()
        if empty:
            counts = seed_dataset(app, "shengsi")
            click.echo("loaded the Shengsi reference data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if demo and seed:
        with app.app_context():
            added = rosters.seed_demo_shifts(db.session)  # rolling day/night shifts: the demo stays on duty
            db.session.commit()
            db.session.remove()
        if added:
            click.echo(f"rostered the demo squads: {added} shifts of 12 hours")
        _print_demo_access(app)
    elif not demo:
        first_administrator(app)

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


def _scope_options(session, region: str | None, authority: str | None, body: str | None) -> dict:
    """Scope codes given on the command line -> ids; exits naming an unknown code."""
    scope = {"region_id": None, "authority_id": None, "body_id": None}
    for key, model, code in (("region_id", Region, region), ("authority_id", Authority, authority),
                             ("body_id", OversightBody, body)):  # fmt: skip
        if code is None:
            continue
        row_id = session.scalar(select(model.id).where(model.code == code))
        if row_id is None:
            click.echo(f"refused: no {model.__tablename__.replace('_', ' ')} with code {code!r}", err=True)
            sys.exit(1)
        scope[key] = row_id
    if scope["authority_id"] is not None and scope["body_id"] is not None:
        click.echo("refused: --authority or --body, not both", err=True)
        sys.exit(1)
    if region is None and scope["authority_id"] is not None:  # a department works where it is
        scope["region_id"] = session.scalar(select(Authority.region_id).where(Authority.id == scope["authority_id"]))
    if region is None and scope["body_id"] is not None:
        scope["region_id"] = session.scalar(select(OversightBody.region_id).where(OversightBody.id == scope["body_id"]))
    return scope


_SCOPE = [
    click.option(
        "--region", default=None, help="Region code of the scope (province, county or township); none: every region."
    ),  # fmt: skip
    click.option("--authority", default=None, help="Code of the enforcement authority acted for."),
    click.option("--body", default=None, help="Code of the oversight body acted for (justice bureau, government)."),
]


def scope_options(command):
    for option in reversed(_SCOPE):
        command = option(command)
    return command


@click.command("api-token")
@click.argument("name", required=False)
@click.option(
    "--role",
    type=click.Choice(["dispatcher", "squad", "planner", "supervisor", "admin"]),
    default="dispatcher",
    show_default=True,
)
@scope_options
@click.option("--account", "username", default=None, help="A person's own token: ended with their account.")
@click.option("--act-for", is_flag=True, help="An integration that names in X-Actor the account it acts for.")
@click.option("--revoke", "revoke_id", type=int, default=None, help="Revoke the API token with this id instead.")
@with_appcontext
def api_token_command(
    name: str | None,
    role: str,
    region: str | None,
    authority: str | None,
    body: str | None,
    username: str | None,
    act_for: bool,
    revoke_id: int | None,
) -> None:
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
    if not name and not username:
        raise click.UsageError("give a NAME (who uses the token), --account USERNAME, or --revoke ID")
    scope = _scope_options(session, region, authority, body)
    if username is not None:
        account = _account_or_exit(session, username)
        role = account.role
        scope = {"region_id": account.region_id, "authority_id": account.authority_id, "body_id": account.body_id}
        scope["account_id"] = account.id
        name = name or username
    row, token = issue_api_token(session, name, role, act_for=act_for, **scope)
    session.commit()
    click.echo(f"API token {row.id} for {name} ({role}); send it as Authorization: Bearer <token>", err=True)
    click.echo(token)


def _read_password(password_file: str | None, username: str) -> str:
    """From a file (its first line), else prompted twice with no echo: never on the command line."""
    if password_file is not None:
        text = Path(password_file).read_text(encoding="utf-8").splitlines()
        password = text[0] if text else ""
    else:
        password = click.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True)
    try:
        check_password_policy(username, password)
    except PasswordRejected as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    return password


def _account_or_exit(session, username: str) -> Account:
    account = find_account(session, username)
    if account is None:
        click.echo(f"refused: no account {username!r}", err=True)
        sys.exit(1)
    return account


_PASSWORD_FILE = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False), default=None,
    help="Read the password from the first line of this file (else it is prompted for).",
)  # fmt: skip


@click.command("add-account")
@click.argument("username")
@click.option("--role", type=click.Choice(["dispatcher", "planner", "supervisor", "admin"]), required=True)
@click.option("--name", "display_name", default=None, help="The name shown on screens.")
@scope_options
@_PASSWORD_FILE
@with_appcontext
def add_account_command(
    username: str,
    role: str,
    display_name: str | None,
    region: str | None,
    authority: str | None,
    body: str | None,
    password_file: str | None,
) -> None:
    """Create a person's account (the password is prompted for, or read from a file; kept as an argon2 hash)."""
    session = db.session
    if find_account(session, username) is not None:
        click.echo(f"refused: the account {username!r} exists (set-password to change its password)", err=True)
        sys.exit(1)
    scope = _scope_options(session, region, authority, body)
    password = _read_password(password_file, username)
    try:
        account = add_account(session, username, role, password, display_name, **scope)
    except ValueError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    record(session, actor="cli", action="account.created", entity_type="account", entity_id=account.id,
           data={"username": username, "role": role, **scope})  # fmt: skip
    session.commit()
    click.echo(f"account {username} ({role}) created")


def _change_account(username: str, action: str, change) -> None:
    """Find the account (exit naming it when unknown), apply ``change(session, account)``, whose
    answer is the event's data, put ``action`` on the record and commit."""
    session = db.session
    account = _account_or_exit(session, username)
    data = change(session, account)
    record(session, actor="cli", action=action, entity_type="account", entity_id=account.id, data=data)
    session.commit()


@click.command("set-password")
@click.argument("username")
@_PASSWORD_FILE
@with_appcontext
def set_password_command(username: str, password_file: str | None) -> None:
    """Give an account a new password; every session and token of the account ends at once."""
    _change_account(
        username, "account.password_set", lambda s, a: set_password(s, a, _read_password(password_file, username))
    )
    click.echo(f"password of {username} changed; its sessions and tokens are ended")


@click.command("disable-account")
@click.argument("username")
@with_appcontext
def disable_account_command(username: str) -> None:
    """Disable an account: it cannot sign in, and its sessions, tokens and sockets end at once."""
    _change_account(username, "account.disabled", lambda s, a: set_active(s, a, False))
    click.echo(f"account {username} disabled")


@click.command("enable-account")
@click.argument("username")
@with_appcontext
def enable_account_command(username: str) -> None:
    """Enable a disabled account again (its old sessions and tokens stay ended)."""
    _change_account(username, "account.enabled", lambda s, a: set_active(s, a, True))
    click.echo(f"account {username} enabled")


@click.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["dispatcher", "planner", "supervisor", "admin"]))
@with_appcontext
def set_role_command(username: str, role: str) -> None:
    """Give an account another role; its sessions and tokens end at once (they carried the old one)."""

    changed: dict = {}

    def change(session, account) -> dict:
        changed.update({"from": account.role, "to": role})
        set_role(session, account, role)
        return changed

    _change_account(username, "account.role_set", change)
    click.echo(f"account {username}: {changed['from']} -> {role}; its sessions and tokens are ended")


@click.command("unlock-account")
@click.argument("username")
@with_appcontext
def unlock_account_command(username: str) -> None:
    """Lift the lock that failed sign-ins put on an account."""
    session = db.session
    account = _account_or_exit(session, username)
    was_locked = unlock(session, account, actor="cli")
    session.commit()
    click.echo(f"account {username} unlocked" if was_locked else f"account {username} was not locked")


@click.command("list-accounts")
@with_appcontext
def list_accounts_command() -> None:
    """Every account: role, scope, state."""
    session = db.session
    names = {("region", r.id): r.code for r in session.scalars(select(Region).where(Region.level.in_(_SCOPE_LEVELS)))}
    names.update({("authority", a.id): a.code for a in session.scalars(select(Authority))})
    names.update({("body", b.id): b.code for b in session.scalars(select(OversightBody))})
    locked = set(session.scalars(select(LoginThrottle.key).where(LoginThrottle.locked.is_(True))))
    for a in session.scalars(select(Account).order_by(Account.username)):
        where = names.get(("region", a.region_id), "everywhere" if a.region_id is None else str(a.region_id))
        org = names.get(("authority", a.authority_id)) or names.get(("body", a.body_id)) or "-"
        state = "active" if a.active else "disabled"
        if account_key(a.username) in locked:
            state += ", locked"
        if a.demo:
            state += ", demo"
        click.echo(f"{a.username:<24} {a.role:<11} {where:<20} {org:<24} {state}")


_SCOPE_LEVELS = ("province", "city", "county", "district", "township", "street")


audit_cli = AppGroup("audit", help="The tamper-evident record.")


@audit_cli.command("verify")
@click.option("--show", "show", type=int, default=10, show_default=True, help="List the last N events verified.")
@click.option("--evidence", "with_evidence", is_flag=True, help="Also hash every evidence file again.")
def audit_verify(show: int, with_evidence: bool) -> None:
    """Check every event's hash and link; exit 0 with the count, or 1 naming the first bad event.

    The events listed name who acted (the account, token or tablet) and, for an integration
    acting for a person, on whose behalf: both are part of each event's hash. With --evidence,
    every file of the evidence store is hashed again: 1 naming the first whose content no longer
    matches the SHA-256 it was recorded under (or that is missing)."""
    verdict = verify_chain(db.session)
    if verdict.ok:
        click.echo(f"verified {verdict.verified} events: the record is intact")
        for event in last_events(db.session, show):
            behalf = f" on behalf of {event.on_behalf_of}" if event.on_behalf_of else ""
            click.echo(f"  #{event.id} {event.occurred_at:%Y-%m-%d %H:%M:%S} {event.action}: {event.actor}{behalf}")
        if with_evidence:
            files = evidence.verify_files(db.session, evidence.store_for(current_app.config))
            if not files.ok:
                click.echo(
                    f"evidence file {files.first_bad} fails verification: {files.problem} "
                    f"({files.verified} files before it verified)",
                    err=True,
                )
                sys.exit(1)
            click.echo(f"verified {files.verified} evidence files: each matches its SHA-256")
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
    simulation = Simulation(app, incidents_per_hour=rate, people=(DEMO_SQUAD,))
    live_server.start_background_task(simulation.run, None, live_server.sleep)
    click.echo(f"demo simulation running: squads on patrol, 12345 calls arriving ({DEMO_SQUAD} is left to its tablet)")
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


calendar_cli = AppGroup("calendar", help="The holiday calendar: the State Council's notices, year by year.")


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load_command(file: Path) -> None:
    """Load (or load again) one year of the State Council's holiday notice from FILE (year, source,
    calendar; gis/data/calendar/README.md): it replaces that year's days and moves the horizon."""
    session = db.session
    try:
        year, source, days = read_calendar_file(file)
        result = calendar.load_year(session, year, source, days, actor="cli:calendar-load")
        session.commit()
    except ReferenceDataError as exc:
        session.rollback()
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"loaded {result['days']} calendar day(s) of {year} ({source}); horizon {result['horizon']}"
        + (f"; time limits computed again: assistance {result['recomputed']}" if result["recomputed"] else "")
    )


@calendar_cli.command("show")
def calendar_show_command() -> None:
    """The years loaded, their sources and the horizon (with the warning health gives)."""
    session = db.session
    for row in session.scalars(select(CalendarYear).order_by(CalendarYear.year)):
        click.echo(f"{row.year}  {row.source}  (loaded {row.loaded_at:%Y-%m-%d} by {row.loaded_by})")
    status = calendar.calendar_status(session, local_day())
    click.echo(f"horizon: {status['horizon']}" + (f"\nwarning: {status['warning']}" if "warning" in status else ""))


catalogue_cli = AppGroup("catalogue", help="The matter catalogue: versions published, each in force from its day.")


@catalogue_cli.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--effective", "effective", required=True, help="The day it takes effect, YYYY-MM-DD (today or later).")
@click.option("--source", default=None, help="The publishing document (else the file's 'source').")
@click.option("--county", default=None, help="The county or city code (needed when several are loaded).")
def catalogue_publish_command(file: Path, effective: str, source: str | None, county: str | None) -> None:
    """Publish FILE (YAML or JSON: a list of matters as in matters.yaml, or {source, county?, matters})
    as a new version of the catalogue, effective from --effective; on the record."""
    import yaml

    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    body = {"matters": data} if isinstance(data, list) else dict(data or {})
    body["effective_from"] = effective
    if source is not None:
        body["source"] = source
    if county is not None:
        body["county"] = county
    session = db.session
    try:
        version = catalogue.publish(session, body, actor="cli:catalogue-publish")
        session.commit()
    except ApiError as exc:
        session.rollback()
        click.echo(f"refused: {exc.field + ': ' if exc.field else ''}{exc.message}", err=True)
        sys.exit(1)
    click.echo(
        f"published catalogue version {version.id} of {version.region.code}: {len(version.entries)} matter(s), "
        f"effective from {version.effective_from} ({version.source})"
    )


shifts_cli = AppGroup("shifts", help="Rosters: shifts of squads and officers.")


@shifts_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="Check every line, store nothing.")
def import_shifts_command(file, dry_run: bool) -> None:
    """Shifts from a CSV FILE (header squad,officer,start,end,role), all lines or none: every
    problem is printed with its line and column."""
    try:
        result = rosters.import_csv(db.session, file.read(), actor="cli:shifts-import", dry_run=dry_run)
    except rosters.CsvProblems as exc:
        db.session.rollback()
        for problem in exc.problems:
            where = f"{file.name}: line {problem['line']}, column {problem['column']}"
            click.echo(f"{where}: {problem['message']}", err=True)
        sys.exit(1)
    except ApiError as exc:
        db.session.rollback()
        click.echo(f"{file.name}: {exc.message}", err=True)
        sys.exit(1)
    if dry_run:
        db.session.rollback()
        click.echo(f"{result['checked']} shift(s) checked, nothing stored")
        return
    db.session.commit()
    click.echo(f"imported {result['imported']} shift(s)")


def init_app(app: Flask) -> None:
    for command in (
        db_cli,
        calendar_cli,
        catalogue_cli,
        shifts_cli,
        audit_cli,
        seed_command,
        seed_oversight,
        serve_command,
        squad_token_command,
        api_token_command,
        add_account_command,
        set_password_command,
        disable_account_command,
        enable_account_command,
        unlock_account_command,
        set_role_command,
        list_accounts_command,
        import_regions_command,
        export_plan_command,
        oversight_tick,
        simulate_command,
        open311_key_command,
        reload_timetables_command,
    ):
        app.cli.add_command(command)


# -- backup and restore: the database and the evidence store (dispatch.store.backup) --------------


def _evidence_dir(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"]) / EVIDENCE_DIR


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write the database (pg_dump, custom format) and the evidence store into the new file PATH,
    or into a new dispatch-DATE.tar in the folder PATH."""
    try:
        outcome = backups.backup(current_app.config["DATABASE_URL"], path, _evidence_dir(current_app))
    except backups.BackupError as exc:
        click.echo(f"no backup written: {exc}", err=True)
        sys.exit(1)
    manifest, evidence = outcome.manifest, outcome.manifest["evidence"].values()
    click.echo(
        f"wrote {outcome.path}: the database at revision {manifest['alembic_revision']} "
        f"({_size(manifest['database']['bytes'])}, sha256 {manifest['database']['sha256'][:12]}...) and "
        f"{len(evidence)} evidence file(s) ({_size(sum(e['bytes'] for e in evidence))}); keep it off this machine"
    )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that holds data, and evidence files that differ.")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    """Put a backup back: the database (replaced in one transaction), the evidence files, then the
    migrations to head. Stop the servers first; a database holding data needs --force."""
    db.session.remove()
    db.dispose()  # this process's own connections let go of the database being replaced
    evidence_dir = _evidence_dir(current_app)
    try:
        outcome = backups.restore(current_app.config["DATABASE_URL"], path, evidence_dir, force=force)
    except backups.BackupError as exc:
        click.echo(f"nothing restored: {exc}", err=True)
        sys.exit(1)
    invalidate_caches()
    manifest = outcome.manifest
    click.echo(
        f"restored {path} (made {manifest['created_at']}): the database at revision "
        f"{manifest['alembic_revision']}, migrated to {outcome.revision_after}; "
        f"{len(manifest['evidence'])} evidence file(s) into {evidence_dir}"
    )
    if outcome.evidence_kept:
        click.echo(f"left in place: {len(outcome.evidence_kept)} evidence file(s) not in the backup")
