"""Evidence from the scene (issue 28): one piece, resumable chunks, the checks, who may see it,
the record, `audit verify --evidence`, and Open311's media_url."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import os
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.config import EVIDENCE_DIR
from dispatch.http.standards.open311 import hash_key
from dispatch.store.models import Event, Evidence
from dispatch.tablets import issue_token
from tests.factories import incident_body

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
OPEN311_KEY = "test-key-evidence"


def _squads(client) -> dict[str, int]:
    return {f["properties"]["code"]: f["properties"]["id"] for f in client.get("/api/v1/squads").get_json()["features"]}


@pytest.fixture
def scene(client, session):
    """A task of the Shengshan squad, its tablet's token and another squad's."""
    squads = _squads(client)
    incident = client.post("/api/v1/incidents", json=incident_body()).get_json()
    task = client.post(
        f"/api/v1/incidents/{incident['id']}/dispatch", json={"squad_ids": [squads["cb-shengshan"]]}
    ).get_json()["tasks"][0]
    own = issue_token(session, squads["cb-shengshan"])[1]
    other = issue_token(session, squads["cb-caiyuan"])[1]
    session.commit()
    return {
        "task": task["id"],
        "incident": incident["id"],
        "own": {"Authorization": f"Bearer {own}"},
        "other": {"Authorization": f"Bearer {other}"},
        "squad": squads["cb-shengshan"],
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _piece(client, task_id, data=PNG, media_type="image/png", headers=None, media_type_field=None, **form):
    fields = {"file": (io.BytesIO(data), "IMG_0001.png", media_type), **form}
    if media_type_field:
        fields["media_type"] = media_type_field
    return client.post(f"/api/v1/tasks/{task_id}/evidence", data=fields, headers=headers or {},
                       content_type="multipart/form-data")  # fmt: skip


def _stored_path(app, sha256: str) -> Path:
    return Path(app.config["DATA_DIR"]) / EVIDENCE_DIR / sha256[:2] / sha256[2:4] / sha256


def test_one_piece_is_stored_once_on_the_record_and_served_inert(app, anonymous, scene, session):
    tablet = scene["own"]
    action = str(uuid.uuid4())
    taken = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7)).replace(microsecond=0)
    answer = _piece(anonymous, scene["task"], headers=tablet, occurred_at=taken.isoformat(), action_id=action)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    sha256 = hashlib.sha256(PNG).hexdigest()
    assert body == {"id": body["id"], "sha256": sha256, "size": len(PNG), "media_type": "image/png"}
    assert _stored_path(app, sha256).read_bytes() == PNG

    again = _piece(anonymous, scene["task"], headers=tablet, occurred_at=taken.isoformat(), action_id=action)
    assert again.status_code == 200 and again.get_json() == body  # the retry of a lost answer

    events = session.scalars(select(Event).where(Event.action == "evidence.added")).all()
    assert len(events) == 1
    data = events[0].data
    assert (data["sha256"], data["size"], data["media_type"]) == (sha256, len(PNG), "image/png")
    assert dt.datetime.fromisoformat(data["occurred_at"]) == taken
    assert data["who"] == f"squad-{scene['squad']}"  # the tablet's squad
    assert events[0].incident_id == scene["incident"]
    row = session.get(Evidence, body["id"])
    assert row.occurred_at == taken and row.recorded_at > taken and row.uploaded_by == data["who"]

    served = anonymous.get(f"/api/v1/evidence/{sha256}", headers=tablet)
    assert served.status_code == 200
    assert served.data == PNG
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_chunks_resume_after_a_drop_and_a_repeated_chunk_is_taken_once(app, anonymous, scene, session):
    tablet = scene["own"]
    data = os.urandom(2_500_000)  # a 2.5 MB photo, sent in chunks under the 1 MB request limit
    sha256 = hashlib.sha256(data).hexdigest()
    announce = {"size": len(data), "sha256": sha256, "media_type": "image/jpeg", "occurred_at": _now(),
                "file_name": "IMG_0002.jpg", "action_id": str(uuid.uuid4())}  # fmt: skip
    created = anonymous.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads", json=announce, headers=tablet)
    assert created.status_code == 201, created.get_json()
    upload = created.get_json()
    assert (upload["offset"], upload["state"], upload["evidence"]) == (0, "uploading", None)
    url = f"/api/v1/tasks/{scene['task']}/evidence/uploads/{upload['id']}"

    def chunk(offset, size=600_000):
        return anonymous.patch(url, data=data[offset : offset + size], query_string={"offset": offset}, headers=tablet,
                               content_type="application/offset+octet-stream")  # fmt: skip

    assert chunk(0).get_json()["offset"] == 600_000
    repeated = chunk(0)  # its answer was lost: sent again
    assert repeated.status_code == 200 and repeated.get_json()["offset"] == 600_000
    assert chunk(600_000).get_json()["offset"] == 1_200_000
    # The link drops; the tablet recreates the upload by its action_id and asks where to resume.
    again = anonymous.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads", json=announce, headers=tablet)
    assert again.status_code == 200 and again.get_json()["id"] == upload["id"]
    head = anonymous.head(url, headers=tablet)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "1200000"
    ahead = chunk(1_800_000)  # past the server's offset
    assert ahead.status_code == 409
    assert ahead.get_json()["error"]["offset"] == 1_200_000
    assert ahead.get_json()["error"]["field"] == "offset"
    overlap = chunk(1_000_000, 700_000)  # overlaps what the server has: only the new bytes are added
    assert overlap.get_json()["offset"] == 1_700_000
    assert chunk(1_700_000).get_json()["offset"] == 2_300_000
    last = chunk(2_300_000)
    assert last.status_code == 201, last.get_json()
    done = last.get_json()
    assert done["state"] == "stored"
    assert done["evidence"] == {"id": done["evidence"]["id"], "sha256": sha256, "size": len(data),
                                "media_type": "image/jpeg"}  # fmt: skip
    assert _stored_path(app, sha256).read_bytes() == data
    assert chunk(2_300_000).status_code == 200  # the last chunk again: nothing changes
    assert anonymous.get(url, headers=tablet).get_json()["state"] == "stored"
    events = session.scalars(select(Event).where(Event.action == "evidence.added")).all()
    assert [e.data["sha256"] for e in events] == [sha256]
    assert not list((Path(app.config["DATA_DIR"]) / "evidence-incoming" / "uploads").iterdir())
    served = anonymous.get(f"/api/v1/evidence/{sha256}", headers=tablet)
    assert served.data == data and served.mimetype == "image/jpeg"


def test_a_wrong_sha256_is_refused_and_nothing_is_stored(app, client, scene, session):
    data = b"\xff\xd8\xff" + os.urandom(5000)
    announce = {"size": len(data), "sha256": hashlib.sha256(b"other").hexdigest(), "media_type": "image/jpeg"}
    upload = client.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads", json=announce).get_json()
    url = f"/api/v1/tasks/{scene['task']}/evidence/uploads/{upload['id']}"
    answer = client.patch(url, data=data, query_string={"offset": 0}, content_type="application/offset+octet-stream")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["field"] == "sha256"
    assert answer.get_json()["error"]["code"] == "sha256_mismatch"
    assert client.get(url).get_json()["state"] == "failed"
    assert not (Path(app.config["DATA_DIR"]) / EVIDENCE_DIR).exists() or not any(
        (Path(app.config["DATA_DIR"]) / EVIDENCE_DIR).rglob("*")
    )
    assert session.scalar(select(Event.id).where(Event.action == "evidence.added")) is None


@pytest.mark.parametrize(
    ("send", "status", "code", "field"),
    [
        ("announce_too_big", 400, "invalid_field", "size"),  # the document says the maximum
        ("piece_too_big", 413, "too_large", "file"),
        ("piece_html", 415, "unsupported_media_type", "file"),
        ("announce_svg", 400, "invalid_field", "media_type"),  # the document lists the types
        ("piece_svg", 415, "unsupported_media_type", "media_type"),
        ("announce_over_config", 413, "too_large", "size"),
        ("piece_future", 422, "time_in_future", "occurred_at"),
        ("announce_bad_sha", 400, "invalid_field", "sha256"),
        ("piece_no_file", 400, "missing_field", "file"),
        ("piece_empty_action_id", 400, "invalid_field", "action_id"),
        ("piece_unknown_part", 400, "unknown_field", "note"),
    ],
)
def test_refusals_name_the_field(app, client, scene, send, status, code, field):
    task = scene["task"]
    uploads = f"/api/v1/tasks/{task}/evidence/uploads"
    sha = hashlib.sha256(b"x").hexdigest()
    if send == "announce_too_big":
        answer = client.post(uploads, json={"size": 50 * 1024 * 1024 + 1, "sha256": sha, "media_type": "video/mp4"})
    elif send == "piece_too_big":
        app.config["MAX_CONTENT_LENGTH"] = 4000  # (a small body stays in the test client's memory)
        answer = _piece(client, task, data=b"\0" * 4001, media_type="image/jpeg")
    elif send == "piece_html":
        answer = _piece(client, task, data=b"<script>alert(1)</script>", media_type="text/html")
    elif send == "piece_svg":
        answer = _piece(client, task, data=b"<svg/>", media_type="image/png", media_type_field="image/svg+xml")
    elif send == "announce_over_config":
        app.config["EVIDENCE_MAX_BYTES"] = 1000
        answer = client.post(uploads, json={"size": 1001, "sha256": sha, "media_type": "image/png"})
    elif send == "announce_svg":
        answer = client.post(uploads, json={"size": 10, "sha256": sha, "media_type": "image/svg+xml"})
    elif send == "piece_future":
        answer = _piece(client, task, occurred_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat())
    elif send == "announce_bad_sha":
        answer = client.post(uploads, json={"size": 10, "sha256": "abc", "media_type": "image/png"})
    elif send == "piece_unknown_part":
        answer = _piece(client, task, note="hello")
    elif send == "piece_empty_action_id":
        answer = _piece(client, task, action_id="")
    else:
        answer = client.post(f"/api/v1/tasks/{task}/evidence", data={"occurred_at": _now()},
                             content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()["error"]
    assert (error["code"], error["field"]) == (code, field), error
    assert error["message"]


def test_another_squads_tablet_is_refused(anonymous, client, scene):
    stored = _piece(client, scene["task"]).get_json()
    refused = _piece(anonymous, scene["task"], headers=scene["other"])
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    announce = {"size": 10, "sha256": stored["sha256"], "media_type": "image/png"}
    assert anonymous.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads", json=announce,
                          headers=scene["other"]).status_code == 403  # fmt: skip
    hidden = anonymous.get(f"/api/v1/evidence/{stored['sha256']}", headers=scene["other"])
    assert hidden.status_code == 404  # not even whether it exists
    assert anonymous.get(f"/api/v1/evidence/{stored['sha256']}").status_code == 401
    seen = anonymous.get(
        f"/api/v1/evidence/{stored['sha256']}", headers={"Authorization": "Bearer dpt_test-supervisor"}
    )
    assert seen.status_code == 200 and seen.data == PNG


def test_a_type_that_is_not_inert_is_served_as_an_attachment(client, scene):
    video = b"\x00\x00\x00\x14ftypqt  " + os.urandom(2000)
    stored = _piece(client, scene["task"], data=video, media_type="video/quicktime").get_json()
    assert stored["media_type"] == "video/quicktime"
    served = client.get(f"/api/v1/evidence/{stored['sha256']}")
    assert served.status_code == 200 and served.data == video
    assert served.mimetype == "application/octet-stream"
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_changed_on_disk_fails_audit_verify_evidence(app, client, runner, scene):
    first = _piece(client, scene["task"]).get_json()
    second = _piece(client, scene["task"], data=b"%PDF-1.4\n" + os.urandom(3000), media_type="application/pdf")
    second = second.get_json()
    result = runner.invoke(args=["audit", "verify", "--evidence"])
    assert result.exit_code == 0, result.output
    assert "verified 2 evidence files" in result.output
    path = _stored_path(app, second["sha256"])
    path.chmod(0o640)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    result = runner.invoke(args=["audit", "verify", "--evidence"])
    assert result.exit_code == 1
    assert f"evidence file {second['sha256']} fails verification" in result.output
    assert "no longer matches" in result.output
    assert first["sha256"] not in result.output
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # without --evidence: the record alone


class _Media(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


def test_open311_media_url_is_a_link_unless_its_host_is_allowed(app, session):
    app.config["OPEN311_API_KEYS"] = {hash_key(OPEN311_KEY): "bridge-12345"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Media)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/photo.png"
        public = app.test_client()
        form = {"api_key": OPEN311_KEY, "service_code": "CM-001", "lat": 30.73, "long": 122.45, "media_url": url}
        first = public.post("/open311/v2/requests.json", data={**form, "description": "占道经营 1"})
        assert first.status_code == 201, first.get_json()
        app.config["OPEN311_MEDIA_HOSTS"] = ["127.0.0.1"]
        second = public.post("/open311/v2/requests.json", data={**form, "description": "占道经营 2"})
        assert second.status_code == 201
        bad = public.post("/open311/v2/requests.json", data={**form, "media_url": "javascript:alert(1)"})
        assert bad.status_code == 400
    finally:
        server.shutdown()
        server.server_close()
    linked = session.scalars(select(Event).where(Event.action == "incident.media_linked").order_by(Event.id)).all()
    assert [(e.data["media_url"], e.data["fetched"]) for e in linked] == [(url, False), (url, True)]
    row = session.get(Evidence, linked[1].data["evidence_id"])
    assert (row.sha256, row.source_url, row.incident_id) == (
        hashlib.sha256(PNG).hexdigest(),
        url,
        linked[1].incident_id,
    )
    assert _stored_path(app, row.sha256).read_bytes() == PNG
    # GeoReport shows the media_url each request was filed with (the list and the one request)
    public = app.test_client()
    listed = public.get("/open311/v2/requests.json", query_string={"api_key": OPEN311_KEY}).get_json()
    assert {r["service_request_id"]: r["media_url"] for r in listed} == {
        str(linked[0].incident_id): url,
        str(linked[1].incident_id): url,
    }
    one = public.get(f"/open311/v2/requests/{linked[0].incident_id}.json", query_string={"api_key": OPEN311_KEY})
    assert one.get_json()[0]["media_url"] == url


def test_head_of_a_file_answers_its_headers_and_leaves_nothing_open(client, scene):
    stored = _piece(client, scene["task"]).get_json()
    head = client.head(f"/api/v1/evidence/{stored['sha256']}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(PNG)) and head.data == b""
    head.close()
    item = client.get(f"/api/v1/evidence/{stored['sha256']}", headers={"Accept": "application/json"}).get_json()
    assert item["sha256"] == stored["sha256"] and item["task_id"] == scene["task"] and item["uploaded_by"] == "api"


def test_the_backup_takes_the_stored_files_and_no_partial_upload(app, client, runner, scene, tmp_path):
    stored = _piece(client, scene["task"]).get_json()
    partial = client.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads",
                          json={"size": 100, "sha256": "0" * 64, "media_type": "image/png"}).get_json()  # fmt: skip
    url = f"/api/v1/tasks/{scene['task']}/evidence/uploads/{partial['id']}"
    client.patch(url, data=b"x" * 40, query_string={"offset": 0}, content_type="application/offset+octet-stream")
    target = tmp_path / "backup.tar"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    with tarfile.open(target) as tar:
        names = [n for n in tar.getnames() if n.startswith("evidence/")]
        sha = stored["sha256"]
        assert names == [f"evidence/{sha[:2]}/{sha[2:4]}/{sha}"]
        assert tar.extractfile(names[0]).read() == PNG


def test_an_upload_left_for_days_is_abandoned_on_the_record_and_the_tablet_starts_again(app, client, scene, session):
    from dispatch import evidence

    def announce(action_id: str) -> dict:
        return client.post(f"/api/v1/tasks/{scene['task']}/evidence/uploads",
                           json={"size": len(PNG), "sha256": hashlib.sha256(PNG).hexdigest(),
                                 "media_type": "image/png", "action_id": action_id}).get_json()  # fmt: skip

    action = str(uuid.uuid4())
    left = announce(action)
    url = f"/api/v1/tasks/{scene['task']}/evidence/uploads/{left['id']}"
    client.patch(url, data=PNG[:100], query_string={"offset": 0}, content_type="application/offset+octet-stream")
    busy = announce(str(uuid.uuid4()))  # announced as long ago, but a chunk arrived just now
    busy_url = f"/api/v1/tasks/{scene['task']}/evidence/uploads/{busy['id']}"
    client.patch(busy_url, data=PNG[:50], query_string={"offset": 0}, content_type="application/offset+octet-stream")
    part = Path(app.config["DATA_DIR"]) / "evidence-incoming" / "uploads" / left["id"]
    assert part.stat().st_size == 100
    four_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    os.utime(part, (four_days_ago.timestamp(),) * 2)
    session.execute(
        Evidence.__table__.update()
        .where(Evidence.upload_id.in_([left["id"], busy["id"]]))
        .values(recorded_at=four_days_ago)
    )
    session.commit()
    left_id = session.scalar(select(Evidence.id).where(Evidence.upload_id == left["id"]))
    abandoned = evidence.abandon_stale_uploads(session, app.config, actor="scheduler")
    assert abandoned == [left_id], "the upload no chunk reached for four days, not the one a chunk just reached"
    session.commit()
    assert not part.exists()
    row = session.scalar(select(Evidence).where(Evidence.upload_id == left["id"]))
    assert row.state == "failed"
    event = session.scalar(select(Event).where(Event.action == "evidence.upload_abandoned"))
    assert (event.entity_id, event.actor, event.data["received"]) == (row.id, "scheduler", 100)
    # the tablet comes back: the same action_id shows the upload failed; a chunk says so; a new upload works
    assert announce(action)["state"] == "failed"
    late = client.patch(
        url, data=PNG[100:], query_string={"offset": 100}, content_type="application/offset+octet-stream"
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "upload_failed"
    again = announce(str(uuid.uuid4()))
    done = client.patch(f"/api/v1/tasks/{scene['task']}/evidence/uploads/{again['id']}", data=PNG,
                        query_string={"offset": 0}, content_type="application/offset+octet-stream")  # fmt: skip
    assert done.status_code == 201 and done.get_json()["state"] == "stored"
