"""`flask --app dispatch serve` as `make run` uses it: a real process over real HTTP."""

import os
import shutil
import signal

import pytest
import requests

from dispatch.config import PROJECT_ROOT
from tests.conftest import TOKENS, LiveServer, process_alive

pytestmark = pytest.mark.live


def test_live_server_answers_jurisdiction_over_http(live_server):
    response = requests.get(
        f"{live_server.url}/api/v1/jurisdiction",
        headers={"Authorization": f"Bearer {TOKENS['api'][1]}"},
        params={"lon": 122.77, "lat": 30.72},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["zone"]["hub"]["name"] == "嵊山镇"
    assert live_server.stop(signal.SIGTERM) == 0


def test_embedded_mode_starts_seeds_and_stops_its_own_cluster(tmp_path):
    """No DATABASE_URL: the server owns a private cluster and leaves no postgres behind."""
    data_dir = PROJECT_ROOT / "var" / f"test-serve-{os.getpid()}"
    env = {"DATABASE_URL": "", "DISPATCH_DATA_DIR": str(data_dir)}
    server = LiveServer(env, tmp_path, seed=True)
    try:
        server.wait_ready(timeout=120)
        assert "username dispatcher  password demo-dispatcher" in server.log(), "make run prints the demo accounts"
        body = (
            signed_in(server.url, "dispatcher", "demo-dispatcher")
            .get(f"{server.url}/api/v1/jurisdiction", params={"lon": 122.07, "lat": 30.62}, timeout=5)
            .json()
        )
        assert body["authority"]["name"] == "洋山镇人民政府"
        pgdata = data_dir / "pg" / "pgdata"
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0, server.log()
    assert "stopped the embedded PostGIS cluster" in server.log()
    assert not (pgdata / "postmaster.pid").exists()
    assert not process_alive(pid)
    shutil.rmtree(data_dir)


def signed_in(url: str, username: str, password: str) -> requests.Session:
    """A browser-like session signed in through the form (with its CSRF token)."""
    import re

    http = requests.Session()
    form = http.get(f"{url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = http.post(
        f"{url}/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return http
