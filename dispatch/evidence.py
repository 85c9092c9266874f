"""Evidence from the scene: photos, short videos and documents attached to a task or a case.

Files are stored content-addressed: a file's name is the SHA-256 of its bytes, so a retried upload
stores nothing twice and ``flask --app dispatch audit verify --evidence`` proves every file
unchanged by hashing it again. The store is one small interface (``put``, ``open``/``get``,
``exists``, ``size``, ``names``) with two implementations:

- ``FileStore`` (the default): ``DATA_DIR/evidence/ab/cd/<sha256>``, written to a temporary file
  beside the folder (``DATA_DIR/evidence-incoming``), synced and renamed into place, so a reader
  never sees half a file. ``flask --app dispatch backup`` takes the folder as it is.
- ``S3Store``: any S3-compatible object store through boto3, when ``EVIDENCE_S3_BUCKET`` is set
  (``EVIDENCE_S3_ENDPOINT`` for a store other than AWS; credentials from the usual AWS_* variables),
  keys ``<EVIDENCE_S3_PREFIX>ab/cd/<sha256>``. Not part of the backup: the object store keeps its own.

Each stored item is a row of ``evidence`` (who, when on the device and on the server, its type and
size, its task, case or incident) and an ``evidence.added`` event on the record, whose hash chain
keeps the SHA-256 as it was when the file arrived.

Chunked uploads (the HTTP protocol is described in ``dispatch.http.api.evidence``) gather their
bytes in ``DATA_DIR/evidence-incoming/uploads/<upload id>`` and are put into the store once the
whole file is there and its SHA-256 and size match those announced. An upload no chunk has reached
for EVIDENCE_UPLOAD_TTL_H hours is abandoned by the server's scheduler (its bytes deleted, on the
record); a tablet that comes back starts a new one.

Only inert types are ever served as themselves (``INERT_TYPES``); other accepted types are served
as an attachment of type application/octet-stream, and types a browser would run (HTML, SVG, XML,
scripts) are refused at upload.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import ipaddress
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import EVIDENCE_DIR
from dispatch.errors import ApiError
from dispatch.oversight.models import EnforcementCase
from dispatch.record import record
from dispatch.store.models import Evidence, Incident, Task

INCOMING_DIR = "evidence-incoming"  # beside EVIDENCE_DIR under DATA_DIR: temporary files, partial uploads
CHUNK = 1 << 20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# Served as themselves (with nosniff): a browser shows them and runs nothing in them.
INERT_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm", "application/pdf"})
SERVED_TYPES = INERT_TYPES | {"application/octet-stream"}  # the types a file is served with
# Accepted at upload; those not inert are served as an attachment (application/octet-stream).
ACCEPTED_TYPES = INERT_TYPES | frozenset(
    {"image/heic", "image/heif", "video/quicktime", "audio/mp4", "audio/mpeg", "audio/aac", "audio/webm"}
)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


# -- the store -----------------------------------------------------------------------------------


class Store(Protocol):
    def put(self, data: bytes | IO[bytes]) -> str:
        """Store the bytes (or a readable binary stream); the SHA-256 they are stored under."""

    def open(self, sha256: str) -> IO[bytes]:
        """A readable binary stream of the stored file (FileNotFoundError when absent)."""

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int: ...

    def names(self) -> Iterator[str]:
        """The SHA-256 names of the stored files."""


def _check_name(sha256: str) -> str:
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise ValueError(f"not a SHA-256 in lower-case hex: {str(sha256)[:80]!r}")
    return sha256


def _shard(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _chunks(data: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    while chunk := data.read(CHUNK):
        yield chunk


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """The SHA-256 and size of what ``stream`` reads to its end."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class FileStore:
    """``root/ab/cd/<sha256>``: temporary file in ``incoming``, fsync, rename (atomic)."""

    def __init__(self, root: Path, incoming: Path):
        self.root, self.incoming = Path(root), Path(incoming)

    def path(self, sha256: str) -> Path:
        return self.root / _shard(_check_name(sha256))

    def put(self, data: bytes | IO[bytes]) -> str:
        self.incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        handle = tempfile.NamedTemporaryFile(dir=self.incoming, prefix="put-", delete=False)  # noqa: SIM115
        temp = Path(handle.name)
        try:
            with handle:
                for chunk in _chunks(data):
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            sha256 = digest.hexdigest()
            target = self.path(sha256)
            if target.exists():  # the same bytes are there already
                return sha256
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temp, 0o640)
            try:
                os.replace(temp, target)
            except OSError as exc:  # the evidence folder on another file system: copy beside it, rename
                if exc.errno != errno.EXDEV:
                    raise
                beside = target.with_name(f".{sha256}.{uuid.uuid4().hex}.part")
                shutil.copyfile(temp, beside)
                os.replace(beside, target)
            _fsync_dir(target.parent)
            return sha256
        finally:
            temp.unlink(missing_ok=True)

    def open(self, sha256: str) -> IO[bytes]:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - the caller closes it

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/??/*")):
            if path.is_file() and SHA256_RE.match(path.name):
                yield path.name


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3Store:
    """An S3-compatible bucket (boto3): ``<prefix>ab/cd/<sha256>``; the bytes are hashed in a
    temporary file first, so the key is known before anything is sent."""

    def __init__(self, bucket: str, *, endpoint: str | None = None, prefix: str = "", incoming: Path, client=None):
        import boto3  # lazy: only when configured (start-up cost)

        self.bucket, self.prefix, self.incoming = bucket, prefix, Path(incoming)
        self.client = client or boto3.client("s3", endpoint_url=endpoint or None)

    def key(self, sha256: str) -> str:
        return self.prefix + _shard(_check_name(sha256))

    def put(self, data: bytes | IO[bytes]) -> str:
        self.incoming.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.incoming) as spool:
            digest = hashlib.sha256()
            for chunk in _chunks(data):
                digest.update(chunk)
                spool.write(chunk)
            sha256 = digest.hexdigest()
            if not self.exists(sha256):
                spool.seek(0)
                self.client.upload_fileobj(spool, self.bucket, self.key(sha256))
        return sha256

    def _head(self, sha256: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def open(self, sha256: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(sha256) from None
            raise

    def get(self, sha256: str) -> bytes:
        with self.open(sha256) as body:
            return body.read()

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int:
        head = self._head(sha256)
        if head is None:
            raise FileNotFoundError(sha256)
        return int(head["ContentLength"])

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if SHA256_RE.match(name):
                    yield name


_STORES: dict[tuple, Store] = {}


def store_for(config: Any) -> Store:
    """The configured store: S3 when ``EVIDENCE_S3_BUCKET`` is set, else ``DATA_DIR/evidence``."""
    data_dir = Path(config["DATA_DIR"])
    incoming = data_dir / INCOMING_DIR
    bucket = config.get("EVIDENCE_S3_BUCKET")
    if bucket:
        key = ("s3", bucket, config.get("EVIDENCE_S3_ENDPOINT"), config.get("EVIDENCE_S3_PREFIX", ""), str(incoming))
        if key not in _STORES:
            _STORES[key] = S3Store(bucket, endpoint=key[2], prefix=key[3] or "", incoming=incoming)
        return _STORES[key]
    return FileStore(data_dir / EVIDENCE_DIR, incoming)


def uploads_dir(config: Any) -> Path:
    return Path(config["DATA_DIR"]) / INCOMING_DIR / "uploads"


# -- rules ---------------------------------------------------------------------------------------


def max_bytes(config: Any) -> int:
    return int(config.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def check_media_type(value: str | None, field: str = "media_type") -> str:
    """The media type without parameters, lower case; 415 naming ``field`` unless accepted."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if not media_type:
        raise ApiError("the file's media type is required", field=field, status=415, code="unsupported_media_type")
    if media_type not in ACCEPTED_TYPES:
        raise ApiError(
            f"{media_type[:100]!r} is not accepted as evidence; accepted: {', '.join(sorted(ACCEPTED_TYPES))}",
            field=field,
            status=415,
            code="unsupported_media_type",
        )
    return media_type


def check_size(size: int, config: Any, field: str = "size") -> int:
    limit = max_bytes(config)
    if size > limit:
        raise ApiError(
            f"{size} bytes is more than the {limit} bytes allowed for one piece of evidence",
            field=field,
            status=413,
            code="too_large",
        )
    if size <= 0:
        raise ApiError("the file is empty", field=field, status=422, code="empty_file")
    return size


def check_occurred_at(value: dt.datetime | None, config: Any, field: str = "occurred_at") -> dt.datetime | None:
    """The device's time of the item: with an offset, not ahead of the server by more than FIX_MAX_AHEAD_S."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ApiError("occurred_at needs an offset (2026-11-23T09:30:00+08:00)", field=field, code="invalid_field")
    ahead = (value - dt.datetime.now(dt.UTC)).total_seconds()
    if ahead > float(config.get("FIX_MAX_AHEAD_S", 300.0)):
        raise ApiError(
            f"lies {ahead:.0f} seconds in the future: is the device's clock right?",
            field=field,
            status=422,
            code="time_in_future",
        )
    return value


def check_action_id(value: str | None, field: str = "action_id") -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ApiError("action_id must be a UUID", field=field, code="invalid_field") from None


def _file_name(value: str | None) -> str | None:
    if not value:
        return None
    name = Path(value.replace("\\", "/")).name.replace("\x00", "")
    return name[:200] or None


# -- the rows and the record ---------------------------------------------------------------------


def evidence_json(row: Evidence) -> dict:
    return {"id": row.id, "sha256": row.sha256, "size": row.size, "media_type": row.media_type}


def item_json(row: Evidence) -> dict:
    return {
        **evidence_json(row),
        "file_name": row.file_name,
        "task_id": row.task_id,
        "case_id": row.case_id,
        "incident_id": row.incident_id,
        "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
        "recorded_at": row.recorded_at.isoformat(),
        "uploaded_by": row.uploaded_by,
    }


def _kept(session: Session, row: Evidence, actor: str, task: Task | None) -> None:
    """A stored item's row written (its ``recorded_at`` read back) and put on the record."""
    session.add(row)  # a row of the session already (a chunked upload's): nothing to add
    session.flush()
    session.refresh(row, ["recorded_at"])
    _on_record(session, row, actor, task)


def _on_record(session: Session, row: Evidence, actor: str, task: Task | None) -> None:
    record(
        session,
        actor=actor,
        action="evidence.added",
        entity_type="evidence",
        entity_id=row.id,
        incident_id=task.incident_id if task is not None else row.incident_id,
        joint_inspection_id=task.joint_inspection_id if task is not None else None,
        squad_id=task.squad_id if task is not None else None,
        data={
            "sha256": row.sha256,
            "size": row.size,
            "media_type": row.media_type,
            "file_name": row.file_name,
            "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
            "recorded_at": row.recorded_at.isoformat() if row.recorded_at else None,
            "who": str(actor),
            "task_id": row.task_id,
            "case_id": row.case_id,
            "source_url": row.source_url,
        },
    )


def _by_action(
    session: Session, action_id: str | None, task: Task | None, case: EnforcementCase | None = None
) -> Evidence | None:
    if action_id is None:
        return None
    row = session.scalar(select(Evidence).where(Evidence.action_id == action_id))
    if row is not None and (row.task_id, row.case_id) != (task.id if task else None, case.id if case else None):
        what = "task" if task is not None else "case"
        raise ApiError(f"this action_id was used for another {what}", field="action_id", status=409,
                       code="action_reused")  # fmt: skip
    return row


def add_piece(
    session: Session,
    store: Store,
    *,
    task: Task | None = None,
    case: EnforcementCase | None = None,
    stream: IO[bytes],
    media_type: str,
    file_name: str | None,
    occurred_at: dt.datetime | None,
    action_id: str | None,
    actor: str,
    config: Any,
) -> tuple[Evidence, bool]:
    """One piece in one request, of a task or of a case: stored, on the record. (row, created); a
    repeated action_id gives the first row and False."""
    first = _by_action(session, action_id, task, case)
    if first is not None:
        if first.state != "stored":
            raise ApiError("this action_id names a chunked upload", field="action_id", status=409, code="action_reused")
        return first, False
    media_type = check_media_type(media_type)
    occurred_at = check_occurred_at(occurred_at, config)
    limit = max_bytes(config)
    incoming = Path(config["DATA_DIR"]) / INCOMING_DIR
    incoming.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=incoming) as spool:
        size = 0
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                check_size(size, config, field="file")
            spool.write(chunk)
        check_size(size, config, field="file")
        spool.seek(0)
        sha256 = store.put(spool)
    row = Evidence(
        sha256=sha256,
        size=size,
        received=size,
        media_type=media_type,
        file_name=_file_name(file_name),
        task_id=task.id if task is not None else None,
        case_id=case.id if case is not None else None,
        incident_id=task.incident_id if task is not None else case.incident_id,
        occurred_at=occurred_at,
        uploaded_by=str(actor)[:100],
        state="stored",
        action_id=action_id,
    )
    _kept(session, row, actor, task)
    return row, True


def files_of(session: Session, *, case_id: int) -> list[dict]:
    """The evidence files stored for a case, oldest first (``item_json``)."""
    rows = session.scalars(
        select(Evidence).where(Evidence.case_id == case_id, Evidence.state == "stored").order_by(Evidence.id)
    )
    return [item_json(row) for row in rows]


# -- chunked uploads -----------------------------------------------------------------------------


def create_upload(
    session: Session,
    *,
    task: Task,
    size: int,
    sha256: str,
    media_type: str,
    file_name: str | None,
    occurred_at: dt.datetime | None,
    action_id: str | None,
    actor: str,
    config: Any,
) -> tuple[Evidence, bool]:
    """An upload announced: (row, created); a repeated action_id gives the first upload."""
    first = _by_action(session, action_id, task)
    if first is not None:
        return first, False
    check_size(size, config)
    media_type = check_media_type(media_type)
    occurred_at = check_occurred_at(occurred_at, config)
    row = Evidence(
        sha256=sha256.lower(),
        size=size,
        received=0,
        media_type=media_type,
        file_name=_file_name(file_name),
        task_id=task.id,
        incident_id=task.incident_id,
        occurred_at=occurred_at,
        uploaded_by=str(actor)[:100],
        state="uploading",
        upload_id=str(uuid.uuid4()),
        action_id=action_id,
    )
    session.add(row)
    session.flush()
    return row, True


def find_upload(session: Session, task_id: int, upload_id: str, *, lock: bool = False) -> Evidence:
    try:
        key = str(uuid.UUID(upload_id))
    except ValueError:
        key = None
    query = select(Evidence).where(Evidence.upload_id == key, Evidence.task_id == task_id)
    row = session.scalar(query.with_for_update() if lock else query) if key else None
    if row is None:
        raise ApiError(f"no upload {upload_id[:40]!r} for task {task_id}", status=404, code="not_found")
    return row


def _part(config: Any, row: Evidence) -> Path:
    return uploads_dir(config) / row.upload_id


def write_chunk(
    session: Session, store: Store, row: Evidence, *, offset: int, data: bytes, actor: str, config: Any
) -> bool:
    """Write ``data`` at ``offset`` of the upload ``row`` (locked by the caller). A chunk already
    received (the same offset again, a retry after a lost answer) is accepted and changes
    nothing; a chunk that overlaps the end adds only its new bytes; one past the end is 409 with
    the offset to send from. True when this chunk completed the upload (stored, on the record)."""
    if row.state == "stored":
        return False
    if row.state == "failed":
        raise ApiError("this upload failed its check; start a new one", status=409, code="upload_failed")
    if offset < 0:
        raise ApiError("offset must be 0 or more", field="offset", code="invalid_parameter")
    if offset > row.received:
        raise ApiError(
            f"the server has {row.received} bytes of this upload; send from there",
            field="offset",
            status=409,
            code="offset_mismatch",
            details={"offset": row.received},
        )
    end = offset + len(data)
    if end > row.size:
        raise ApiError(
            f"the chunk ends at {end}, past the announced size {row.size}",
            field="offset",
            status=413,
            code="too_large",
        )
    if end > row.received:
        part = _part(config, row)
        part.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "r+b" if part.exists() else "w+b") as handle:
            handle.truncate(row.received)  # bytes written by a request whose transaction was lost
            handle.seek(row.received)
            handle.write(data[row.received - offset :])
            handle.flush()
            os.fsync(handle.fileno())
        row.received = end
    if row.received < row.size:
        return False
    return _complete(session, store, row, actor=actor, config=config)


def _complete(session: Session, store: Store, row: Evidence, *, actor: str, config: Any) -> bool:
    part = _part(config, row)
    with open(part, "rb") as handle:
        sha256, size = sha256_of(handle)
    if size != row.size or sha256 != row.sha256:
        row.state = "failed"
        part.unlink(missing_ok=True)
        what = f"size {size} instead of {row.size}" if size != row.size else f"SHA-256 {sha256}"
        raise ApiError(
            f"the bytes received do not match the announced sha256 ({what}); start a new upload",
            field="sha256",
            status=422,
            code="sha256_mismatch",
        )
    with open(part, "rb") as handle:
        stored = store.put(handle)
    assert stored == row.sha256
    row.state = "stored"
    _kept(session, row, actor, row.task)
    part.unlink(missing_ok=True)
    return True


def forget_failed(config: Any, row: Evidence) -> None:
    _part(config, row).unlink(missing_ok=True)


def abandon_stale_uploads(session: Session, config: Any, *, actor: str, now: dt.datetime | None = None) -> list[int]:
    """Uploads no chunk has reached for EVIDENCE_UPLOAD_TTL_H hours (the last write of their partial
    file, else their announcement): their bytes deleted, the row ``failed``, an
    ``evidence.upload_abandoned`` event. A tablet that comes back later is told ``upload_failed``
    and starts a new upload of the file it still holds. The ids abandoned."""
    now = now or dt.datetime.now(dt.UTC)
    limit = now - dt.timedelta(hours=float(config.get("EVIDENCE_UPLOAD_TTL_H", 72.0)))
    abandoned = []
    for row in session.scalars(
        select(Evidence)
        .where(Evidence.state == "uploading", Evidence.recorded_at < limit)
        .with_for_update(skip_locked=True)
    ):
        part = _part(config, row)
        try:
            touched = dt.datetime.fromtimestamp(part.stat().st_mtime, dt.UTC)
        except FileNotFoundError:
            touched = row.recorded_at
        if touched >= limit:
            continue
        received = row.received
        row.state = "failed"
        part.unlink(missing_ok=True)
        record(
            session,
            actor=actor,
            action="evidence.upload_abandoned",
            entity_type="evidence",
            entity_id=row.id,
            incident_id=row.incident_id,
            data={
                "upload_id": row.upload_id,
                "received": received,
                "size": row.size,
                "last_chunk_at": touched.isoformat(),
            },
        )
        abandoned.append(row.id)
    return abandoned


# -- who may see it ------------------------------------------------------------------------------


def visible_item(session: Session, sha256: str, *, squad_id: int | None, regions: frozenset[int] | None) -> Evidence:
    """A stored item of this SHA-256 that the principal may see: of a task of its squad (a
    tablet), else of a task, case or incident in its regions (``None``: everywhere). 404 otherwise
    (never telling whether the file exists elsewhere)."""
    rows = session.scalars(
        select(Evidence).where(Evidence.sha256 == sha256, Evidence.state == "stored").order_by(Evidence.id)
    ).all()
    for row in rows:
        task = row.task
        if squad_id is not None:
            if task is not None and task.squad_id == squad_id:
                return row
            continue
        if regions is None:
            return row
        incident_id = row.incident_id or (task.incident_id if task is not None else None)
        if incident_id is None and row.case_id is not None:
            incident_id = session.scalar(select(EnforcementCase.incident_id).where(EnforcementCase.id == row.case_id))
        if incident_id is not None:
            region = session.scalar(select(Incident.region_id).where(Incident.id == incident_id))
            if region in regions:
                return row
    raise ApiError(f"no evidence {sha256}", status=404, code="not_found")


# -- audit ---------------------------------------------------------------------------------------


@dataclass
class FilesVerdict:
    verified: int
    first_bad: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify_files(session: Session, store: Store) -> FilesVerdict:
    """Hash every stored evidence file again (in the order they arrived); stop at the first whose
    content no longer matches its SHA-256 (the name on the record), or that is missing."""
    seen: set[str] = set()
    count = 0
    rows = session.execute(
        select(Evidence.id, Evidence.sha256, Evidence.size).where(Evidence.state == "stored").order_by(Evidence.id)
    )
    for evidence_id, sha256, size in rows:
        if sha256 in seen:
            continue
        seen.add(sha256)
        try:
            with store.open(sha256) as handle:
                actual, actual_size = sha256_of(handle)
        except FileNotFoundError:
            return FilesVerdict(count, sha256, f"evidence {evidence_id}: the file is missing from the store")
        if actual != sha256:
            return FilesVerdict(
                count, sha256, f"evidence {evidence_id}: its content no longer matches its SHA-256 (now {actual})"
            )
        if actual_size != size:
            return FilesVerdict(count, sha256, f"evidence {evidence_id}: {actual_size} bytes, {size} on the record")
        count += 1
    return FilesVerdict(count)


# -- Open311 media_url ---------------------------------------------------------------------------


def media_hosts(config: Any) -> frozenset[str]:
    hosts = config.get("OPEN311_MEDIA_HOSTS") or ()
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    return frozenset(h.strip().lower() for h in hosts if h and h.strip())


def check_media_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValueError("media_url must be an http(s) URL without credentials")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - a redirect is not followed
        return None


def fetch_media(url: str, config: Any) -> tuple[bytes, str] | None:
    """The bytes and type at ``url`` when its host is in OPEN311_MEDIA_HOSTS, within
    EVIDENCE_MAX_BYTES and OPEN311_MEDIA_TIMEOUT_S, of an accepted type; else None (kept as a
    link only). No redirect is followed; a host that names an address literal of a private network
    is not asked, even if listed."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host not in media_hosts(config):
        return None
    try:
        if ipaddress.ip_address(host).is_private and not config.get("TESTING"):
            return None
    except ValueError:
        pass
    timeout = float(config.get("OPEN311_MEDIA_TIMEOUT_S") or 5.0)
    limit = max_bytes(config)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "dispatch"}), timeout=timeout) as answer:
            if answer.status != 200:
                return None
            media_type = (answer.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if media_type not in ACCEPTED_TYPES:
                return None
            data = answer.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if not data or len(data) > limit:
        return None
    return data, media_type


def attach_media_url(session: Session, store: Store | None, *, incident: Incident, url: str, actor: str,
                     config: Any) -> dict:  # fmt: skip
    """Open311's ``media_url``: kept on the incident's record as a link (event
    ``incident.media_linked``); fetched into the store only from OPEN311_MEDIA_HOSTS."""
    fetched = fetch_media(url, config) if store is not None else None
    data: dict[str, Any] = {"media_url": url, "fetched": fetched is not None}
    if fetched is not None:
        content, media_type = fetched
        sha256 = store.put(content)
        row = Evidence(
            sha256=sha256,
            size=len(content),
            received=len(content),
            media_type=media_type,
            incident_id=incident.id,
            uploaded_by=str(actor)[:100],
            state="stored",
            source_url=url,
        )
        _kept(session, row, actor, None)
        data.update(sha256=sha256, evidence_id=row.id)
    record(
        session,
        actor=actor,
        action="incident.media_linked",
        entity_type="incident",
        entity_id=incident.id,
        incident_id=incident.id,
        data=data,
    )
    return data
