"""The evidence store in an S3-compatible bucket (boto3), against moto's standalone server.

No S3-compatible server installs from the registries here; moto's ``moto_server`` (a dev
dependency) speaks the S3 API over HTTP on a free port, so boto3 is exercised for real: the
upload, the chunked upload's completion, serving, and ``audit verify --evidence``."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dispatch import evidence
from dispatch.tablets import issue_token
from tests.conftest import free_port
from tests.factories import incident_body

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server", reason="moto is not installed (pip install 'moto[s3,server]')")

BUCKET = "dispatch-evidence"


@pytest.fixture(scope="module")
def moto_endpoint():
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    assert command, "moto_server is not on the PATH"
    port = free_port()
    process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_app(app, moto_endpoint, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    prefix = f"t{os.getpid()}-{time.monotonic_ns()}/"
    if BUCKET not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
        client.create_bucket(Bucket=BUCKET)
    app.config.update(EVIDENCE_S3_BUCKET=BUCKET, EVIDENCE_S3_ENDPOINT=moto_endpoint, EVIDENCE_S3_PREFIX=prefix)
    evidence._STORES.clear()
    yield app, client, prefix
    evidence._STORES.clear()


def test_the_store_interface_on_s3(s3_app):
    app, client, prefix = s3_app
    store = evidence.store_for(app.config)
    assert isinstance(store, evidence.S3Store)
    data = os.urandom(10_000)
    sha256 = store.put(io.BytesIO(data))
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert store.put(data) == sha256  # the same bytes: one object
    assert store.exists(sha256) and store.size(sha256) == len(data) and store.get(sha256) == data
    assert list(store.names()) == [sha256]
    key = f"{prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert not store.exists("0" * 64)
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)


def test_uploads_land_in_the_bucket_are_served_and_verified(s3_app, client, session, runner):
    app, s3, prefix = s3_app
    squads = {
        f["properties"]["code"]: f["properties"]["id"] for f in client.get("/api/v1/squads").get_json()["features"]
    }
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
    task = client.post(f"/api/v1/incidents/{incident['id']}/dispatch",
                       json={"squad_ids": [squads["cb-shengshan"]]}).get_json()["tasks"][0]  # fmt: skip
    tablet = {"Authorization": f"Bearer {issue_token(session, squads['cb-shengshan'])[1]}"}
    session.commit()
    web = app.test_client()

    photo = b"\xff\xd8\xff\xe0" + os.urandom(20_000)
    piece = web.post(f"/api/v1/tasks/{task['id']}/evidence", headers=tablet, content_type="multipart/form-data",
                     data={"file": (io.BytesIO(photo), "a.jpg", "image/jpeg")})  # fmt: skip
    assert piece.status_code == 201, piece.get_json()

    video = os.urandom(1_500_000)
    sha256 = hashlib.sha256(video).hexdigest()
    upload = web.post(f"/api/v1/tasks/{task['id']}/evidence/uploads", headers=tablet,
                      json={"size": len(video), "sha256": sha256, "media_type": "video/mp4"}).get_json()  # fmt: skip
    url = f"/api/v1/tasks/{task['id']}/evidence/uploads/{upload['id']}"
    for offset in (0, 0, 800_000):  # the first chunk twice
        answer = web.patch(url, data=video[offset : offset + 800_000], query_string={"offset": offset}, headers=tablet,
                           content_type="application/offset+octet-stream")  # fmt: skip
    assert answer.status_code == 201 and answer.get_json()["evidence"]["sha256"] == sha256
    assert not (Path(app.config["DATA_DIR"]) / "evidence").exists()  # nothing in the data folder

    served = web.get(f"/api/v1/evidence/{sha256}", headers=tablet)
    assert served.status_code == 200 and served.data == video and served.mimetype == "video/mp4"
    assert served.headers["X-Content-Type-Options"] == "nosniff"

    result = runner.invoke(args=["audit", "verify", "--evidence"])
    assert result.exit_code == 0, result.output
    assert "verified 2 evidence files" in result.output
    key = f"{prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=video[:-1] + b"\x00")  # changed behind the server's back
    result = runner.invoke(args=["audit", "verify", "--evidence"])
    assert result.exit_code == 1
    assert f"evidence file {sha256} fails verification" in result.output
