"""The private PostGIS cluster: created, reused, stopped, and placed where postgres can reach it."""

import os
import subprocess

import psycopg
import pytest

from dispatch.config import PROJECT_ROOT
from dispatch.embedded_pg import EmbeddedPostgres, resolve_data_dir
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
