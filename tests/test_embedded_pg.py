"""The private PostGIS cluster: created, reused, stopped, and placed where postgres can reach it."""

import os
import subprocess

import psycopg
import pytest

from dispatch.config import PROJECT_ROOT
from dispatch.store.embedded_pg import EmbeddedPostgres, resolve_data_dir
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
