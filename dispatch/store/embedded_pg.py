"""A private PostGIS cluster owned by the project: initdb, start, stop.

Used by ``make run`` when no ``DATABASE_URL`` is given and by the test suite.
The cluster lives in a git-ignored data folder, listens on a unix socket in
that folder and on a free port of 127.0.0.1 only, and authenticates with a
generated password kept (mode 0600) beside it. Its URL names the socket (less
CPU per round trip than TCP) unless the socket's path is too long for the kernel.

initdb and pg_ctl refuse to run as root, so when we are root they run as the
``postgres`` user through ``runuser``, and every path they write is owned by
that user. A data folder whose parents ``postgres`` cannot traverse (a
checkout under /root) is replaced by one under /var/tmp, and the log says so.

Start-up never deletes a cluster: an absent or empty ``pgdata`` is initialised, anything
else that cannot be started (files but no ``PG_VERSION``, another PostgreSQL version,
``pg_ctl start`` failing) raises ``ClusterError`` saying what is wrong and what to do.
Only ``destroy()`` (throwaway test clusters) deletes a folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

DATABASE_NAME = "dispatch"
_SOCKET_PATH_MAX = 108  # sizeof(sockaddr_un.sun_path) on Linux, the terminating NUL included
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The private cluster could not be created, started or stopped."""


class ClusterError(EmbeddedPostgresError):
    """The data folder holds a cluster that cannot be started as it is; it is left untouched."""


def find_bindir() -> Path:
    """The newest PostgreSQL server binaries installed by Debian's packages."""
    override = os.environ.get("PG_BINDIR")
    candidates = (
        [override]
        if override
        else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    )
    for candidate in reversed(candidates):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries not found (install postgresql-15-postgis-3, "
        "or set DATABASE_URL to use an existing server)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as_root() -> bool:
    return os.geteuid() == 0


def _postgres_can_reach(path: Path) -> bool:
    """Whether the ``postgres`` user can traverse every parent of ``path``."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    result = subprocess.run(
        ["runuser", "-u", SUPERUSER, "--", "test", "-x", str(existing)],
        capture_output=True,
    )
    return result.returncode == 0


def resolve_data_dir(requested: Path) -> Path:
    """The data folder to use: ``requested``, or a reachable fallback when root."""
    requested = requested.resolve()
    if not _run_as_root() or _postgres_can_reach(requested.parent):
        return requested
    digest = hashlib.sha1(str(requested).encode()).hexdigest()[:12]
    fallback = Path("/var/tmp") / f"dispatch-pg-{digest}"
    log.warning(
        "data folder %s is not reachable by the postgres user (its parents are not traversable); using %s instead",
        requested,
        fallback,
    )
    return fallback


class EmbeddedPostgres:
    """One private cluster in ``data_dir``; ``start()`` returns its SQLAlchemy URL."""

    def __init__(self, data_dir: Path, *, fsync: bool = True, database: str = DATABASE_NAME):
        self.data_dir = resolve_data_dir(Path(data_dir))
        self.fsync = fsync
        self.database = database
        self.bindir = find_bindir()
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = self.data_dir / "run"
        self.logfile = self.data_dir / "postgres.log"
        self.password_file = self.data_dir / "password"
        self.started_here = False
        self.port: int | None = None

    # -- running commands as the cluster's owner ---------------------------------

    def _owner_cmd(self, args: list[str]) -> list[str]:
        if _run_as_root():
            return ["runuser", "-u", SUPERUSER, "--", *args]
        return args

    def _chown(self, path: Path) -> None:
        if _run_as_root():
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(self._owner_cmd(args), capture_output=True, text=True, **kwargs)
        if result.returncode != 0:
            tail = ""
            if self.logfile.exists():
                tail = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
            )
        return result

    # -- lifecycle -----------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o755)
        with open(self.data_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        os.chmod(self.password_file, 0o600)
        for path in (self.pgdata, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o700)
            self._chown(path)
        pwfile = self.socket_dir / "initdb-password"
        pwfile.write_text(password)
        self._chown(pwfile)
        try:
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        log.info("initialised a PostGIS cluster in %s", self.pgdata)

    def _running_port(self) -> int | None:
        """The port of a cluster already running on ``pgdata``, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        status = subprocess.run(
            self._owner_cmd([str(self.bindir / "pg_ctl"), "status", "-D", str(self.pgdata)]),
            capture_output=True,
        )
        if status.returncode != 0:
            return None
        lines = pidfile.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 else None

    def server_version(self) -> str:
        """The major version of the binaries in ``bindir`` (``15``), as a cluster's PG_VERSION holds it."""
        output = subprocess.run(
            [str(self.bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True
        ).stdout
        return output.split(")", 1)[1].split()[0].split(".")[0]  # "pg_ctl (PostgreSQL) 15.18 (Debian ...)"

    def _damaged(self, problem: str) -> ClusterError:
        """The error for a data folder we will not touch: what is wrong, that nothing was deleted, what to do."""
        aside = f"{self.data_dir}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        return ClusterError(
            f"the embedded PostgreSQL cluster in {self.pgdata} cannot be used: {problem}\n"
            "Nothing was deleted. Either repair the folder (e.g. finish copying it, or set PG_BINDIR to the "
            "binaries of its version), or move it aside and restore the latest backup into a new cluster:\n"
            f"  mv {self.data_dir} {aside}\n"
            "  flask --app dispatch restore BACKUP   # starts an empty cluster, then loads the backup"
        )

    def _needs_initdb(self) -> bool:
        """Whether ``pgdata`` is absent or empty (a new cluster); raises ``ClusterError`` when it
        holds something that is not a cluster these binaries can start."""
        if not self.pgdata.exists():
            return True
        if not self.pgdata.is_dir():
            raise self._damaged("it is not a folder")
        entries = sorted(p.name for p in self.pgdata.iterdir())
        if not entries:
            return True
        version_file = self.pgdata / "PG_VERSION"
        if not version_file.exists():
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise self._damaged(
                f"it holds {len(entries)} {'entry' if len(entries) == 1 else 'entries'} ({shown}) but no "
                "PG_VERSION, so it is not a complete cluster"
            )
        version, ours = version_file.read_text(errors="replace").strip(), self.server_version()
        if version != ours:
            raise self._damaged(
                f"it is a cluster of PostgreSQL {version} and the binaries are {ours} ({self.bindir}); "
                f"install PostgreSQL {version} and set PG_BINDIR, or upgrade it with pg_upgrade"
            )
        if not self.password_file.exists():
            raise self._damaged(f"its password file {self.password_file} is missing")
        return False

    def start(self) -> str:
        """Create the cluster if ``pgdata`` is absent or empty, start it unless it runs, return its URL.

        Raises ``ClusterError`` (the folder left as it was) when the folder holds a cluster that
        cannot be started."""
        with self._lock():
            if self._needs_initdb():
                self._initdb()
            previous, self.port = self.port, self._running_port()
            if self.port is None:
                # A restart keeps its port, so connected servers find it again.
                self.port = previous or _free_port()
                self.logfile.touch()
                self._chown(self.logfile)
                options = [
                    f"-c port={self.port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.socket_dir}",
                    f"-c fsync={'on' if self.fsync else 'off'}",
                    "-c max_connections=200",
                ]
                if not self.fsync:
                    options += ["-c synchronous_commit=off", "-c full_page_writes=off"]
                # A session of its own, so that Ctrl-C at a terminal reaches the
                # server process first and the database is stopped after it.
                try:
                    self._run(
                        [
                            str(self.bindir / "pg_ctl"),
                            "start",
                            "-D",
                            str(self.pgdata),
                            "-w",
                            "-t",
                            "60",
                            "-l",
                            str(self.logfile),
                            "-o",
                            " ".join(options),
                        ],
                        start_new_session=True,
                    )
                except EmbeddedPostgresError as exc:
                    raise self._damaged(f"PostgreSQL did not start (its log: {self.logfile}).\n{exc}") from None
                self.started_here = True
                log.info(
                    "started PostGIS on 127.0.0.1:%s%s (data %s)",
                    self.port,
                    f" and in {self.socket_dir}" if self.socket_usable else "",
                    self.pgdata,
                )
            self._ensure_database()
        return self.url()

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) if it runs."""
        if self._running_port() is None:
            return
        self._run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60"])
        self.started_here = False
        log.info("stopped PostGIS (data %s)", self.pgdata)

    def destroy(self) -> None:
        """Stop the cluster and delete its data folder (throwaway test clusters)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- connection ----------------------------------------------------------------

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, database: str | None = None, driver: str = "postgresql+psycopg") -> str:
        """The cluster's URL: through its unix socket when the socket's path fits the kernel's
        limit, else 127.0.0.1. A round trip through the socket costs both ends less than one
        through TCP (``SELECT 1`` on this machine, three alternated runs of 10,000: 142-153
        against 168-185 us, client CPU 80-84 against 94-108 us, the backend's 46-50 against
        59-65 us); a dispatch makes three or four."""
        credentials = f"{driver}://{SUPERUSER}:{quote(self.password(), safe='')}@"
        name = database or self.database
        if self.socket_usable:
            return f"{credentials}/{name}?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        return f"{credentials}127.0.0.1:{self.port}/{name}"

    @property
    def socket_usable(self) -> bool:
        """Whether the cluster's unix socket (``.s.PGSQL.<port>`` in ``socket_dir``) has a path
        the kernel takes (108 bytes with the NUL); PostgreSQL makes none for a longer one and
        listens on 127.0.0.1 alone."""
        if self.port is None:
            return False
        return len(os.fsencode(self.socket_dir / f".s.PGSQL.{self.port}")) < _SOCKET_PATH_MAX

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(self.url("postgres", "postgresql"), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        with psycopg.connect(self.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
