"""Backups: the database and the evidence store in one file, and putting them back.

A backup is a tar file (not compressed again: the dump is compressed, photos are) holding

- ``database.dump``: ``pg_dump --format=custom`` of the database;
- ``evidence/...``: the files of the evidence store (``DATA_DIR/evidence``), when there is one;
- ``manifest.json``: when it was made, the Alembic revision of the schema, the PostgreSQL
  version, and the size and sha256 of every file above.

It is written beside its destination and renamed into place, mode 0600 (it holds password
hashes and people's names). Restoring checks the manifest and every checksum before it
touches anything, refuses a database that holds data (or evidence files that would be
overwritten) unless forced, replaces the database's content in one transaction (a failure
leaves it as it was), writes the evidence files and migrates the schema to head.

The client programs (``pg_dump``, ``pg_restore``, ``psql``) are those of the embedded cluster's
binaries (``find_bindir``); they run as the current user, who reaches the embedded cluster's
socket (the cluster is ours, or we are root), and the password goes in their environment,
never on a command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from psycopg.conninfo import make_conninfo
from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import make_url

from dispatch.store import migrate
from dispatch.store.embedded_pg import find_bindir
from gis.clock import local_now

FORMAT = "dispatch-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
EVIDENCE = "evidence"
_CHUNK = 1 << 20


class BackupError(RuntimeError):
    """A backup that cannot be written or restored, or a restore refused; the message says why."""


@dataclass
class Outcome:
    """What a backup wrote or a restore put back, for the command to print."""

    path: Path
    manifest: dict
    evidence_kept: list[str] = field(default_factory=list)  # restore: files not in the backup, left in place
    revision_after: str | None = None  # restore: the schema's revision after migrating


# -- talking to PostgreSQL -----------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy ``url`` as a libpq connection string without its password, and an
    environment holding the password (``PGPASSWORD``) for the client programs."""
    parsed = make_url(url)
    params = {"dbname": parsed.database, "user": parsed.username, "host": parsed.host, "port": parsed.port}
    for key, value in parsed.query.items():  # the embedded cluster's socket: ?host=/path&port=N
        params[key] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _connect(url: str):
    return create_engine(url, poolclass=pool.NullPool).connect()


def _revision(url: str) -> str | None:
    """The Alembic revision of the database's schema (several heads joined by commas), or None."""
    with _connect(url) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        heads = conn.execute(text("SELECT version_num FROM alembic_version ORDER BY 1")).scalars().all()
    return ",".join(heads) or None


_TABLES = text(r"""
    SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
      AND c.relname <> 'alembic_version'
      -- tables of an extension (PostGIS's spatial_ref_sys) are not our data
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY 1
""")


def tables_with_rows(url: str) -> list[str]:
    """The tables of the database that hold at least one row (ours, not the extensions')."""
    with _connect(url) as conn:
        tables = conn.execute(_TABLES).scalars().all()
        return [t for t in tables if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {t})")).scalar_one()]


def other_sessions(url: str) -> list[str]:
    """Other client connections to the database (a server still running), by application name."""
    with _connect(url) as conn:
        rows = conn.execute(
            text("""
            SELECT coalesce(nullif(application_name, ''), 'pid ' || pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            ORDER BY 1
        """)
        ).scalars()
        return list(rows)


# -- files ---------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _evidence_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """The evidence store's regular files, by their path under it (``2026/12/photo.jpg``)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(folder).as_posix(), path


# -- backup --------------------------------------------------------------------------------------


class _Hashing:
    """A file read into the tar, hashed on the way: the manifest holds the sha256 of what the
    backup holds, even of a file that changes meanwhile."""

    def __init__(self, handle):
        self.handle, self.digest = handle, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        return chunk


def _add(tar: tarfile.TarFile, path: Path, arcname: str) -> dict:
    info = tar.gettarinfo(path, arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with open(path, "rb") as handle:
        reader = _Hashing(handle)
        tar.addfile(info, reader)
    return {"bytes": info.size, "sha256": reader.digest.hexdigest()}


def backup(url: str, destination: Path, evidence_dir: Path) -> Outcome:
    """Write a backup of the database at ``url`` and of the evidence store to ``destination``.

    ``destination`` must not exist, or be a folder: the backup is then written into it as
    ``dispatch-YYYYmmdd-HHMMSS.tar`` (China time)."""
    made = local_now()
    destination = Path(destination)
    if destination.is_dir():
        destination = destination / f"dispatch-{made:%Y%m%d-%H%M%S}.tar"
    if destination.exists():
        raise BackupError(f"{destination} exists: a backup never overwrites a file, give another name")
    if not destination.parent.is_dir():
        raise BackupError(f"no folder {destination.parent}")
    conninfo, env = _libpq(url)
    bindir = find_bindir()
    revision = _revision(url)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".dispatch-backup-") as work:
        dump = Path(work) / DUMP
        _run([str(bindir / "pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={conninfo}"], env)
        server = _run([str(bindir / "psql"), "-XAtq", "-c", "SHOW server_version", f"--dbname={conninfo}"], env)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": made.isoformat(timespec="seconds"),
            "alembic_revision": revision,
            "postgresql": server.stdout.strip(),
        }
        partial = Path(work) / "backup.tar"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            manifest["database"] = {"file": DUMP, **_add(tar, dump, DUMP)}
            manifest["evidence"] = {
                name: _add(tar, path, f"{EVIDENCE}/{name}") for name, path in _evidence_files(evidence_dir)
            }
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(made.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
        os.chmod(partial, 0o600)  # password hashes, people's names
        os.replace(partial, destination)  # whole or absent: never a half-written backup under the name
    return Outcome(destination, manifest)


# -- restore -------------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict:
    """The backup's manifest, after checking it is one of ours, in a format this version reads."""
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise BackupError(f"{path} has no {MANIFEST}: not a backup made by flask --app dispatch backup") from None
    try:
        manifest = json.loads(tar.extractfile(member).read())
    except (ValueError, AttributeError) as exc:
        raise BackupError(f"{path}: {MANIFEST} is not readable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: {MANIFEST} is not a dispatch backup's")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is a backup of format {manifest.get('format_version')}; this version reads {FORMAT_VERSION}"
        )
    for name in manifest.get("evidence", {}):
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts or PurePosixPath(name).as_posix() != name:
            raise BackupError(f"{path}: the evidence file {name!r} would land outside the evidence store")
    return manifest


def _check_revision(url: str, revision: str | None) -> None:
    """Refuse a backup whose schema this version of dispatch cannot migrate (a newer version made it)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    for head in (revision or "").split(","):
        if not head:
            continue
        try:
            script.get_revision(head)
        except CommandError:
            raise BackupError(
                f"the backup's schema is at revision {head}, unknown to this version of dispatch "
                "(a newer version made it): restore it with that version"
            ) from None


def _extract(tar: tarfile.TarFile, arcname: str, expected: dict, target: Path) -> None:
    """Copy one member out of the backup, checking its size and sha256 against the manifest."""
    try:
        member = tar.getmember(arcname)
    except KeyError:
        raise BackupError(f"the backup lacks {arcname}, which its manifest lists: it is incomplete") from None
    if not member.isfile():
        raise BackupError(f"{arcname} in the backup is not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tar.extractfile(member) as source, open(target, "wb") as copy:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            copy.write(chunk)
    if member.size != expected.get("bytes") or digest.hexdigest() != expected.get("sha256"):
        raise BackupError(f"{arcname} does not match its sha256 in the manifest: the backup is damaged")


# Empties the database: every schema of ours and of the extensions (PostGIS goes with public),
# then a public schema as a new PostgreSQL 15 database has it. Run with the restore, in its transaction.
_EMPTY_DATABASE = r"""
DO $$
DECLARE s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
END $$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
"""


def _replace_database(url: str, dump: Path) -> None:
    """The database's content replaced by the dump's, in one transaction: on any error nothing changes.

    pg_restore writes the dump as SQL into psql, between our BEGIN (and the emptying) and a COMMIT
    sent only when pg_restore has finished well: a dump that breaks off midway is rolled back."""
    conninfo, env = _libpq(url)
    env["PGOPTIONS"] = "-c client_min_messages=warning"  # not a NOTICE per object dropped
    bindir = find_bindir()
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        psql = subprocess.Popen(
            [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--dbname={conninfo}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=env,
        )
        script = subprocess.Popen(
            [str(bindir / "pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=restore_errors,
            env=env,
        )
        try:
            psql.stdin.write(f"BEGIN;\n{_EMPTY_DATABASE}\n".encode())
            shutil.copyfileobj(script.stdout, psql.stdin, _CHUNK)
            if script.wait() == 0:
                psql.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped at an error (ON_ERROR_STOP); its stderr says which
        finally:
            script.stdout.close()
            if script.poll() is None:
                script.kill()
            script.wait()
            with contextlib.suppress(BrokenPipeError):
                psql.stdin.close()
            psql.wait()
        if script.returncode != 0:
            restore_errors.seek(0)
            raise BackupError(
                f"the database was left as it was: pg_restore failed ({script.returncode}): "
                + restore_errors.read().decode(errors="replace").strip()
            )
        if psql.returncode != 0:
            psql_errors.seek(0)
            raise BackupError(
                f"the database was left as it was: psql failed ({psql.returncode}): "
                + psql_errors.read().decode(errors="replace").strip()
            )


def _refuse_to_overwrite(url: str, evidence: dict, evidence_dir: Path) -> None:
    """Refuse (``--force`` missing) when the database holds data or an evidence file differs from the backup's."""
    tables = tables_with_rows(url)
    clashes = [
        name
        for name, entry in evidence.items()
        if (evidence_dir / name).is_file() and _sha256(evidence_dir / name) != entry["sha256"]
    ]
    held = []
    if tables:
        more = ", ..." if len(tables) > 6 else ""
        held.append(f"the database holds data ({len(tables)} tables with rows: {', '.join(tables[:6])}{more})")
    if clashes:
        held.append(f"{len(clashes)} evidence file(s) differ from the backup's ({', '.join(clashes[:3])})")
    if held:
        raise BackupError(
            f"{' and '.join(held)}. A restore replaces them: back them up first if they matter, "
            "then restore with --force"
        )


def restore(url: str, source: Path, evidence_dir: Path, *, force: bool = False) -> Outcome:
    """Put the backup at ``source`` back: the database at ``url`` and the evidence store, then
    migrate the schema to head.

    Refused (``BackupError``, raised before anything changed) when the backup is not ours, is damaged or was
    made by a newer version, when other sessions use the database, and, unless ``force``,
    when the database holds data or an evidence file would be overwritten by another. Evidence
    files that are not in the backup stay (``Outcome.evidence_kept``)."""
    source = Path(source)
    if not source.is_file() or not tarfile.is_tarfile(source):
        raise BackupError(f"{source} is not a backup file (a tar written by flask --app dispatch backup)")
    with tarfile.open(source, "r:") as tar:
        manifest = read_manifest(tar, source)
        _check_revision(url, manifest.get("alembic_revision"))
        sessions = other_sessions(url)
        if sessions:
            raise BackupError(
                f"{len(sessions)} other session(s) use the database ({', '.join(sorted(set(sessions)))}): "
                "stop the servers first"
            )
        evidence = manifest.get("evidence", {})
        if not force:
            _refuse_to_overwrite(url, evidence, evidence_dir)
        evidence_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=evidence_dir.parent, prefix=".dispatch-restore-") as work:
            staging = Path(work)
            # Every checksum first: a damaged backup changes nothing.
            _extract(tar, DUMP, manifest.get("database", {}), staging / DUMP)
            for name, entry in evidence.items():
                _extract(tar, f"{EVIDENCE}/{name}", entry, staging / EVIDENCE / name)
            _replace_database(url, staging / DUMP)
            for name in evidence:
                target = evidence_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(staging / EVIDENCE / name, target)
    kept = [name for name, _ in _evidence_files(evidence_dir) if name not in evidence]
    migrate.upgrade(url)
    return Outcome(source, manifest, evidence_kept=kept, revision_after=_revision(url))
