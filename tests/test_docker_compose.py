"""docker-compose.yml runs PostGIS, Redis and two app processes (checked without an engine)."""

import os
import shutil
import subprocess

import yaml

from dispatch.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _compose_command():
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_is_accepted_and_wires_the_services():
    command = _compose_command()
    if command is not None:
        result = subprocess.run(
            [*command, "-f", str(COMPOSE), "config"],
            capture_output=True,
            text=True,
            env={**os.environ, "SECRET_KEY": "test-secret"},
        )
        assert result.returncode == 0, result.stderr
        config = yaml.safe_load(result.stdout)
    else:  # no compose client on this machine: check the structure ourselves
        config = yaml.safe_load(COMPOSE.read_text())
    services = config["services"]
    assert services["db"]["image"].startswith("postgis/postgis")
    assert services["redis"]["image"].startswith("redis")
    for name in ("app1", "app2"):
        env = services[name]["environment"]
        assert "@db:5432/" in env["DATABASE_URL"]
        assert env["SOCKETIO_MESSAGE_QUEUE"].startswith("redis://redis:")
    assert "--no-seed" in services["app2"]["command"], "only one process loads the demo data"
    assert services["app1"]["command"][:3] == ["python", "-m", "dispatch.production"], "gevent in production"
