"""Data safety: `flask --app dispatch backup` and `restore` round trip (the database, its record and the
evidence store), what a restore refuses, and `make clean` leaving the data folder alone."""

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import psycopg
import pytest

from dispatch import create_app
from dispatch.config import EVIDENCE_DIR, PROJECT_ROOT
from dispatch.store import migrate
from dispatch.store.backup import DUMP, MANIFEST
from dispatch.store.db import db
from tests.factories import incident_body


def _raw(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _incident(client) -> int:
    response = client.post("/api/v1/incidents", json=incident_body())
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _backup(runner, folder: Path) -> Path:
    """`backup FOLDER` writes one new dispatch-DATE.tar into it."""
    folder.mkdir(exist_ok=True)
    result = runner.invoke(args=["backup", str(folder)])
    assert result.exit_code == 0, result.output
    [archive] = folder.iterdir()
    assert archive.name.startswith("dispatch-") and archive.suffix == ".tar"
    assert f"wrote {archive}" in result.output and "1 evidence file(s)" in result.output
    assert archive.stat().st_mode & 0o077 == 0, "a backup holds password hashes: the owner's alone"
    return archive


@pytest.fixture
def evidence(app) -> Path:
    """The evidence store of the test's app, holding one photo."""
    folder = Path(app.config["DATA_DIR"]) / EVIDENCE_DIR
    (folder / "2026" / "12").mkdir(parents=True)
    (folder / "2026" / "12" / "photo.jpg").write_bytes(b"\xff\xd8 a photo of the stall")
    return folder


def test_backup_then_more_and_damage_then_restore_gives_back_the_data_and_an_intact_record(
    client, runner, evidence, database_url, tmp_path
):
    kept = _incident(client)
    archive = _backup(runner, tmp_path / "backups")

    members = _members(archive)
    manifest = json.loads(members[MANIFEST])
    with psycopg.connect(_raw(database_url)) as conn:
        assert manifest["alembic_revision"] == conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert manifest["database"]["sha256"] == hashlib.sha256(members[DUMP]).hexdigest()
    assert members[DUMP].startswith(b"PGDMP"), "pg_dump's custom format"
    assert members["evidence/2026/12/photo.jpg"] == b"\xff\xd8 a photo of the stall"
    assert manifest["evidence"]["2026/12/photo.jpg"]["bytes"] == len(b"\xff\xd8 a photo of the stall")
    assert manifest["created_at"] and manifest["postgresql"].startswith("15")

    # After the backup: a new incident, a photo overwritten and one added, the record tampered with.
    lost = _incident(client)
    (evidence / "2026" / "12" / "photo.jpg").write_bytes(b"overwritten")
    (evidence / "later.jpg").write_bytes(b"taken after the backup")
    with psycopg.connect(_raw(database_url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # past the append-only trigger
        conn.execute("UPDATE event SET actor = 'someone else' WHERE chain_seq = 1")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1

    refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code == 1
    assert "the database holds data" in refused.output and "--force" in refused.output
    assert "evidence file(s) differ" in refused.output
    assert client.get(f"/api/v1/incidents/{lost}").status_code == 200, "a refused restore changes nothing"

    restored = runner.invoke(args=["restore", str(archive), "--force"])
    assert restored.exit_code == 0, restored.output
    assert f"restored {archive}" in restored.output and "1 evidence file(s)" in restored.output
    assert "left in place: 1 evidence file(s) not in the backup" in restored.output

    assert client.get(f"/api/v1/incidents/{kept}").status_code == 200
    assert client.get(f"/api/v1/incidents/{lost}").status_code == 404
    assert (evidence / "2026" / "12" / "photo.jpg").read_bytes() == b"\xff\xd8 a photo of the stall"
    assert (evidence / "later.jpg").read_bytes() == b"taken after the backup", "never deleted silently"
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "the record is intact" in verified.output
    assert migrate.is_current(database_url)
    # The restored database takes new work: its sequences and the chain go on.
    after = _incident(client)
    assert after > kept
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_backup_restores_into_a_new_empty_database_without_force(
    client, runner, evidence, empty_database_url, tmp_path
):
    """After a damaged cluster is moved aside, the next start has an empty database: the restore
    needs no --force there."""
    incident = _incident(client)
    archive = _backup(runner, tmp_path / "backups")
    db.session.remove()
    db.dispose()  # the test's app lets go of its database: the next app rebinds the one engine

    fresh = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "DATA_DIR": tmp_path / "new"})
    try:
        result = fresh.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "new" / EVIDENCE_DIR / "2026" / "12" / "photo.jpg").exists()
        verified = fresh.test_cli_runner().invoke(args=["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        assert (
            fresh.test_client()
            .get(f"/api/v1/incidents/{incident}", headers={"Authorization": "Bearer dpt_test-api-admin"})
            .status_code
            == 200
        )
    finally:
        db.session.remove()
        db.dispose()


def _rewritten(archive: Path, target: Path, **changes: bytes) -> Path:
    """A copy of the backup with some members' contents replaced."""
    with tarfile.open(archive) as source, tarfile.open(target, "w") as copy:
        for member in source.getmembers():
            data = changes.get(member.name, source.extractfile(member).read())
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    return target


def test_a_damaged_or_foreign_backup_is_refused_and_changes_nothing(client, runner, evidence, tmp_path):
    incident = _incident(client)
    archive = _backup(runner, tmp_path / "backups")
    later = _incident(client)
    dump = _members(archive)[DUMP]

    flipped = _rewritten(archive, tmp_path / "flipped.tar", **{DUMP: dump[:-1] + bytes([dump[-1] ^ 1])})
    result = runner.invoke(args=["restore", str(flipped), "--force"])
    assert result.exit_code == 1 and "does not match its sha256" in result.output

    # A dump that breaks off midway (its manifest agreeing): the restore's transaction is rolled back.
    manifest = json.loads(_members(archive)[MANIFEST])
    cut = dump[: len(dump) * 2 // 3]
    manifest["database"] |= {"bytes": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}
    broken = _rewritten(archive, tmp_path / "cut.tar", **{DUMP: cut, MANIFEST: json.dumps(manifest).encode()})
    result = runner.invoke(args=["restore", str(broken), "--force"])
    assert result.exit_code == 1 and "the database was left as it was: pg_restore failed" in result.output

    manifest = json.loads(_members(archive)[MANIFEST])
    manifest["alembic_revision"] = "9999"
    newer = _rewritten(archive, tmp_path / "newer.tar", **{MANIFEST: json.dumps(manifest).encode()})
    result = runner.invoke(args=["restore", str(newer), "--force"])
    assert result.exit_code == 1 and "revision 9999, unknown to this version" in result.output

    (tmp_path / "notes.txt").write_text("not a backup")
    result = runner.invoke(args=["restore", str(tmp_path / "notes.txt"), "--force"])
    assert result.exit_code == 1 and "is not a backup file" in result.output

    result = runner.invoke(args=["backup", str(archive)])
    assert result.exit_code == 1 and "never overwrites" in result.output

    for seen in (incident, later):
        assert client.get(f"/api/v1/incidents/{seen}").status_code == 200


def test_a_restore_waits_for_the_servers_to_stop(client, runner, evidence, database_url, tmp_path):
    archive = _backup(runner, tmp_path / "backups")
    with psycopg.connect(_raw(database_url), application_name="dispatch server") as conn:
        conn.execute("SELECT 1")
        result = runner.invoke(args=["restore", str(archive), "--force"])
    assert result.exit_code == 1
    assert "1 other session(s) use the database (dispatch server): stop the servers first" in result.output


# -- the data folder and make ---------------------------------------------------------------------


def _make(*args: str, stdin=subprocess.DEVNULL, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_clean_leaves_the_data_folder_alone():
    plan = _make("-n", "clean")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("rm -rf ") and "var" not in plan.stdout.split(), plan.stdout


def test_make_clean_data_asks_and_without_a_terminal_needs_confirm_yes(tmp_path):
    data = tmp_path / "data"
    (data / "pg").mkdir(parents=True)
    (data / "secret_key").write_text("key")
    refused = _make("clean-data", DISPATCH_DATA_DIR=str(data))
    assert refused.returncode != 0
    assert "CONFIRM=yes" in refused.stdout + refused.stderr
    assert (data / "secret_key").exists()

    removed = _make("clean-data", DISPATCH_DATA_DIR=str(data), CONFIRM="yes")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not data.exists()


def test_make_clean_data_refuses_a_folder_whose_cluster_runs(tmp_path):
    """A cluster running on the folder (its postmaster.pid names a live process) is not pulled away."""
    data = tmp_path / "data"
    (data / "pg" / "pgdata").mkdir(parents=True)
    (data / "pg" / "pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n{data}/pg/pgdata\n")
    result = _make("clean-data", DISPATCH_DATA_DIR=str(data), CONFIRM="yes")
    assert result.returncode != 0
    assert "runs" in result.stdout + result.stderr and "stop the server first" in result.stdout + result.stderr
    assert (data / "pg" / "pgdata" / "postmaster.pid").exists()
