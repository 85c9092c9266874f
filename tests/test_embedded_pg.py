"""The private PostGIS cluster: created, reused, stopped, and placed where postgres can reach it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from dispatch.config import PROJECT_ROOT
from dispatch.store.embedded_pg import ClusterError, EmbeddedPostgres, resolve_data_dir
from tests.conftest import process_alive


def _postmaster_running(cluster: EmbeddedPostgres) -> bool:
    pidfile = cluster.pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    return process_alive(int(pidfile.read_text().splitlines()[0]))


def test_start_reuse_and_stop(tmp_path_factory):
    folder = PROJECT_ROOT / "var" / f"test-embedded-{os.getpid()}"
    first = EmbeddedPostgres(folder, fsync=False)
    try:
        url = first.start()
        assert first.started_here
        with psycopg.connect(first.url(driver="postgresql")) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
            # Only the loopback address is listened on.
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
            # The URL goes through the cluster's unix socket (no client address), TCP alike.
            assert conn.execute("SELECT inet_client_addr()").fetchone()[0] is None
            assert conn.info.host == str(first.socket_dir)
        tcp = f"postgresql://postgres:{first.password()}@127.0.0.1:{first.port}/{first.database}"
        with psycopg.connect(tcp) as conn:
            assert conn.execute("SELECT inet_client_addr()").fetchone()[0] is not None
        second = EmbeddedPostgres(folder, fsync=False)
        assert second.start() == url and not second.started_here, "a running cluster is joined"
        assert (first.data_dir / "password").stat().st_mode & 0o077 == 0
        first.stop()
        assert not _postmaster_running(first)
    finally:
        first.destroy()
    assert not folder.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback only applies when running as root")
def test_unreachable_folder_falls_back_to_var_tmp(tmp_path):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o700)
    resolved = resolve_data_dir(hidden / "pg")
    assert str(resolved).startswith("/var/tmp/dispatch-pg-")
    reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", "/var/tmp"])
    assert reachable.returncode == 0


def test_a_socket_path_too_long_for_the_kernel_means_tcp(tmp_path):
    """PostgreSQL makes no socket whose path passes 107 bytes; the URL names 127.0.0.1 then."""
    cluster = EmbeddedPostgres(tmp_path / "pg", fsync=False)  # not started: its URL only
    cluster.port = 54321
    cluster.password_file = tmp_path / "password"
    cluster.password_file.write_text("secret")
    cluster.socket_dir = tmp_path / "run"
    assert cluster.socket_usable
    assert cluster.url() == f"postgresql+psycopg://postgres:secret@/dispatch?host={tmp_path}/run&port=54321"
    cluster.socket_dir = tmp_path / ("d" * 120)
    assert not cluster.socket_usable
    assert cluster.url() == "postgresql+psycopg://postgres:secret@127.0.0.1:54321/dispatch"


# -- a damaged data folder: start-up stops with what to do and deletes nothing -------------------


def _damaged(data_dir: Path) -> EmbeddedPostgres:
    """A cluster whose pgdata holds files but no PG_VERSION (a half-copied or damaged folder)."""
    cluster = EmbeddedPostgres(data_dir, fsync=False)
    (cluster.pgdata / "base" / "1").mkdir(parents=True)
    (cluster.pgdata / "base" / "1" / "16384").write_bytes(b"a table's rows")
    (cluster.pgdata / "global").mkdir()
    (cluster.pgdata / "global" / "pg_control").write_bytes(b"control")
    cluster.password_file.write_text("secret")
    return cluster


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def damaged():
    """A damaged cluster of this test's own, removed after it (the test checks nothing else did)."""
    cluster = _damaged(PROJECT_ROOT / "var" / f"test-damaged-{os.getpid()}")
    yield cluster
    cluster.stop()  # none runs, unless start-up made one (as it did before it refused)
    shutil.rmtree(cluster.data_dir)


def test_a_folder_without_pg_version_is_kept_and_the_error_says_what_to_do(damaged):
    before = _contents(damaged.pgdata)
    with pytest.raises(ClusterError) as raised:
        damaged.start()
    message = str(raised.value)
    assert "no PG_VERSION" in message and str(damaged.pgdata) in message
    assert "flask --app dispatch restore" in message and f"mv {damaged.data_dir} " in message
    assert _contents(damaged.pgdata) == before, "nothing deleted, nothing created"


def test_a_cluster_of_another_postgresql_version_is_refused_not_replaced(damaged):
    (damaged.pgdata / "PG_VERSION").write_text("13\n")
    before = _contents(damaged.pgdata)
    with pytest.raises(ClusterError, match="PostgreSQL 13") as raised:
        damaged.start()
    assert f"binaries are {damaged.server_version()}" in str(raised.value)
    assert _contents(damaged.pgdata) == before


def test_a_cluster_that_does_not_start_is_kept_and_named(damaged):
    (damaged.pgdata / "PG_VERSION").write_text(f"{damaged.server_version()}\n")
    for path in (damaged.pgdata, *damaged.pgdata.rglob("*")):  # as initdb leaves it: postgres's, 0700
        damaged._chown(path)
    os.chmod(damaged.pgdata, 0o700)
    before = _contents(damaged.pgdata)
    with pytest.raises(ClusterError, match="did not start") as raised:
        damaged.start()
    assert "flask --app dispatch restore" in str(raised.value)
    assert _contents(damaged.pgdata) == before


def test_serve_on_a_damaged_folder_prints_what_to_do_and_exits_1(damaged):
    """`make run` on a damaged folder: the message and exit 1, no traceback, the folder as it was."""
    data_dir = damaged.data_dir.with_name(f"test-serve-damaged-{os.getpid()}")
    try:
        (data_dir / "pg").mkdir(parents=True)
        shutil.copytree(damaged.pgdata, data_dir / "pg" / "pgdata")
        before = _contents(data_dir / "pg" / "pgdata")
        result = subprocess.run(
            [str(Path(sys.executable).with_name("flask")), "--app", "dispatch", "serve", "--no-seed"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": "", "DISPATCH_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        assert "no PG_VERSION" in result.stderr and "flask --app dispatch restore" in result.stderr
        assert _contents(data_dir / "pg" / "pgdata") == before
    finally:
        shutil.rmtree(data_dir)
