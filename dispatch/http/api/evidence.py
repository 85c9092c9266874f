"""Evidence from the scene: photos, short videos and documents of a task (dispatch.evidence).

One piece, in one request (the file must fit under the app's MAX_CONTENT_LENGTH, 1 MB by default)::

    POST /api/v1/tasks/{task_id}/evidence      multipart/form-data
        file         the file; its part's Content-Type is its media type
        occurred_at  optional: when it was taken, by the device's clock (RFC 3339 with offset)
        action_id    optional: a UUID; the same request sent again answers 200 with the first answer
    -> 201 {"id", "sha256", "size", "media_type"}

A resumable upload in chunks (a small tus-like protocol), for anything larger or on a link that drops:

1. ``POST /api/v1/tasks/{task_id}/evidence/uploads`` JSON ``{"size", "sha256", "media_type",
   "occurred_at"?, "file_name"?, "action_id"?}`` -> 201 ``{"id": upload id, "offset": 0, "size",
   "sha256", "media_type", "state": "uploading", "evidence": null}`` (a repeated ``action_id``:
   200 with the same upload, its offset as it is now: resume from there).
2. ``PATCH /api/v1/tasks/{task_id}/evidence/uploads/{upload_id}?offset=N`` with the chunk as
   the body (``application/octet-stream`` or ``application/offset+octet-stream``; each chunk
   under MAX_CONTENT_LENGTH) -> 200 the upload, its new
   ``offset``. A chunk the server has already (the same offset again: a retry after a lost
   answer) is accepted and written once; a chunk overlapping the end adds only its new bytes; a
   chunk beyond the end is 409 ``offset_mismatch`` with ``error.offset``, the offset to send from.
   The chunk that completes the file has it checked: its SHA-256 and size must be those announced
   (else 422 ``sha256_mismatch``, field ``sha256``, state ``failed``: start a new upload); then it
   is stored and on the record, and the answer is 201 with ``state: "stored"`` and ``evidence``.
3. ``HEAD`` or ``GET`` of the same URL: the upload, with headers ``Upload-Offset`` and
   ``Upload-Length``: after a drop, ask where to resume.

Who may: the task's own squad (its tablet's token), dispatchers and admins (act_on_task); a
squad's tablet is refused another squad's task (403).

``GET /api/v1/evidence/{sha256}``: the bytes, for the squad of a task it belongs to, and for
dispatchers, supervisors and admins whose scope covers its incident. Served with its own type only
if that is inert (image/jpeg, image/png, image/webp, video/mp4, video/webm, application/pdf);
anything else as ``application/octet-stream`` with ``Content-Disposition: attachment``; always
``X-Content-Type-Options: nosniff`` and a sandboxing Content-Security-Policy.

Refusals: 413 ``too_large`` (field ``size``, ``file`` or ``offset``), 415
``unsupported_media_type`` (field ``media_type`` or ``file``), 400 naming the field otherwise.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from dispatch import evidence
from dispatch.errors import ApiError
from dispatch.http.api.blueprint import bp
from dispatch.http.api.params import actor, scope_regions
from dispatch.http.auth import current_principal
from dispatch.http.contract import Link, operation, spec
from dispatch.http.contract.common import Plain, _time
from dispatch.http.contract.evidence import (
    UUID_PATTERN,
    ChunkQuery,
    EvidenceItem,
    EvidencePieceForm,
    EvidenceStored,
    EvidenceUpload,
    EvidenceUploadBody,
    form_schema,
)
from dispatch.oversight import cases
from dispatch.scope import require_organisation
from dispatch.store.db import db
from dispatch.store.models import Task

PIECE_FIELDS = frozenset(EvidencePieceForm.model_fields)
CHUNK_TYPES = ("application/offset+octet-stream", "application/octet-stream")
_SHA256_SCHEMA = {"type": "string", "pattern": r"^[0-9a-f]{64}$", "description": "SHA-256, lower-case hex"}
_UPLOAD_ID_SCHEMA = {"type": "string", "pattern": UUID_PATTERN, "description": "the upload's id"}


_STORED_LINKS = {"read": Link("get_evidence", "the stored file", sha256="$response.body#/sha256")}
_UPLOAD_LINKS = {
    "show": Link("show_evidence_upload", "where it stands", task_id="$request.path.task_id",
                 upload_id="$response.body#/id"),
    "send": Link("patch_evidence_upload", "the next chunk", task_id="$request.path.task_id",
                 upload_id="$response.body#/id"),
}  # fmt: skip


def _declare(*, body: dict | None = None, headers: tuple[dict, ...] = (), path: dict[str, dict] | None = None):
    """What ``operation`` has no words for yet, added to the view's entry in the document: a body
    that is not JSON (multipart, octet-stream), a header parameter, the schema of a text path
    parameter. (spectree's per-view metadata; ``operation(request_media=..., headers=...)`` would
    say it better: see the report of issue 28.)"""

    def decorate(view):
        metadata = spec.get_function_metadata(view)
        if body is not None:
            metadata.parse_request = lambda: {"content": body, "required": True}
        parse_params = metadata.parse_params

        def params(found, models):
            listed = [dict(p) for p in parse_params(found, models)]
            for param in listed:
                if param.get("in") == "path" and param.get("name") in (path or {}):
                    param["schema"] = dict(path[param["name"]])
                    param["description"] = param["schema"].get("description", "")
            return listed + [dict(h) for h in headers]

        metadata.parse_params = params
        return view

    return decorate


def _task(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        raise ApiError(f"no task {task_id}", status=404, code="not_found")
    principal = current_principal()
    if principal is not None and principal.role == "squad" and task.squad_id != principal.squad_id:
        raise ApiError("a squad adds evidence to its own tasks only", field="Authorization", status=403,
                       code="forbidden")  # fmt: skip
    return task


def _within_request_limit(field: str) -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        raise ApiError(
            f"a request may carry at most {limit} bytes: send larger files in chunks under that "
            "(POST .../evidence/uploads, then PATCH each chunk)",
            field=field,
            status=413,
            code="too_large",
        )


def _upload_json(row) -> dict:
    return {
        "id": row.upload_id,
        "offset": row.received,
        "size": row.size,
        "sha256": row.sha256,
        "media_type": row.media_type,
        "state": row.state,
        "evidence": evidence.evidence_json(row) if row.state == "stored" else None,
    }


def _upload_answer(row, status: int = 200) -> Response:
    response = jsonify(_upload_json(row))
    response.status_code = status
    response.headers["Upload-Offset"] = str(row.received)
    response.headers["Upload-Length"] = str(row.size)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tasks/<int:task_id>/evidence")
@_declare(body={"multipart/form-data": {"schema": form_schema(EvidencePieceForm)}})
@operation(query=Plain, answers={201: EvidenceStored, 200: EvidenceStored}, errors=(404, 409, 413, 415),
           tags=["evidence"], links={201: _STORED_LINKS, 200: _STORED_LINKS})  # fmt: skip
def add_task_evidence(task_id: int):
    """One piece of evidence in one multipart request (``file``, ``occurred_at``, ``action_id``):
    201 ``{"id", "sha256", "size", "media_type"}``; a repeated ``action_id``: 200, the first answer.
    Larger files: the chunked upload (POST .../evidence/uploads)."""
    return _piece(task=_task(task_id))


@bp.post("/cases/<int:case_id>/evidence")
@_declare(body={"multipart/form-data": {"schema": form_schema(EvidencePieceForm)}})
@operation(query=Plain, answers={201: EvidenceStored, 200: EvidenceStored}, errors=(403, 404, 409, 413, 415),
           tags=["evidence"], links={201: _STORED_LINKS, 200: _STORED_LINKS})  # fmt: skip
def add_case_evidence(case_id: int):
    """One piece of evidence of an enforcement case (the inspection record's photos, a scanned
    notice), as for a task: multipart ``file``, ``occurred_at``, ``action_id``. By the case's
    authority; listed as ``files`` in GET /cases/{case_id}."""
    case = cases.get_case(db.session, case_id)
    require_organisation(actor(), case.authority, what="add evidence to its case")
    return _piece(case=case)


def _piece(**owner):
    """The multipart request of one piece, stored for ``owner`` (task= or case=)."""
    _within_request_limit("file")
    if request.mimetype != "multipart/form-data":
        raise ApiError("send multipart/form-data with a part named file", field="file", code="invalid_body")
    for name in [*request.form, *request.files]:
        if name not in PIECE_FIELDS:
            raise ApiError(f"unknown part {name[:40]!r}: send {', '.join(sorted(PIECE_FIELDS))}", field=name[:100],
                           code="unknown_field")  # fmt: skip
    upload = request.files.get("file")
    if upload is None or not upload.filename and not upload.mimetype:
        raise ApiError("the part named file is required", field="file", code="missing_field")
    occurred_at = None
    if "occurred_at" in request.form:  # sent: a date-time (empty is refused, not taken for absent)
        try:
            occurred_at = _time(request.form["occurred_at"])
        except ValueError as exc:
            raise ApiError(str(exc), field="occurred_at", code="invalid_field") from None
    action_id = evidence.check_action_id(request.form.get("action_id"))
    media_type = request.form.get("media_type", upload.mimetype)
    try:
        evidence.check_media_type(media_type, field="file")
    except ApiError:
        if "media_type" in request.form:
            raise ApiError(f"{media_type[:100]!r} is not accepted as evidence", field="media_type", status=415,
                           code="unsupported_media_type") from None  # fmt: skip
        raise
    row, created = evidence.add_piece(
        db.session,
        evidence.store_for(current_app.config),
        **owner,
        stream=upload.stream,
        media_type=media_type,
        file_name=upload.filename,
        occurred_at=occurred_at,
        action_id=action_id,
        actor=actor(),
        config=current_app.config,
    )
    db.session.commit()
    return jsonify(evidence.evidence_json(row)), 201 if created else 200


@bp.post("/tasks/<int:task_id>/evidence/uploads")
@operation(body=EvidenceUploadBody, answers={201: EvidenceUpload, 200: EvidenceUpload}, errors=(404, 409, 413, 415),
           tags=["evidence"], links={201: _UPLOAD_LINKS, 200: _UPLOAD_LINKS})  # fmt: skip
def create_evidence_upload(task_id: int):
    """Announce a chunked upload (size, sha256, media_type, occurred_at): 201 with its id and
    offset 0; the same ``action_id`` again: 200 with the upload as it is (resume from its offset)."""
    task = _task(task_id)
    body: EvidenceUploadBody = request.context.json
    row, created = evidence.create_upload(
        db.session,
        task=task,
        size=body.size,
        sha256=body.sha256,
        media_type=body.media_type,
        file_name=body.file_name,
        occurred_at=body.occurred_at,
        action_id=evidence.check_action_id(body.action_id),
        actor=actor(),
        config=current_app.config,
    )
    db.session.commit()
    return _upload_answer(row, 201 if created else 200)


@bp.patch("/tasks/<int:task_id>/evidence/uploads/<upload_id>")
@_declare(
    body={"application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}},
    path={"upload_id": _UPLOAD_ID_SCHEMA},
)
@operation(query=ChunkQuery, answers={200: EvidenceUpload, 201: EvidenceUpload}, errors=(404, 409, 413, 415, 422),
           tags=["evidence"])  # fmt: skip
def patch_evidence_upload(task_id: int, upload_id: str):
    """A chunk at ``?offset=``, the bytes as the body: 200 with the new offset; 201
    when it completed the file (checked, stored, on the record). A chunk already received is
    accepted once; a chunk past the server's offset is 409 with ``error.offset``."""
    _task(task_id)
    session = db.session
    row = evidence.find_upload(session, task_id, upload_id, lock=True)
    if request.mimetype not in CHUNK_TYPES:
        raise ApiError("send the chunk as application/octet-stream", field="Content-Type", status=415,
                       code="unsupported_media_type")  # fmt: skip
    _within_request_limit("body")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError("the chunk is empty", field="body", status=422, code="empty_chunk")
    was_stored = row.state == "stored"
    config = current_app.config
    try:
        completed = evidence.write_chunk(session, evidence.store_for(config), row, offset=request.context.query.offset, data=data,
                                         actor=actor(), config=config)  # fmt: skip
    except ApiError as exc:
        if row.state == "failed":
            session.commit()  # the failure is kept: the client starts a new upload
        else:
            session.rollback()
        raise exc from None
    session.commit()
    return _upload_answer(row, 201 if completed and not was_stored else 200)


@bp.get("/tasks/<int:task_id>/evidence/uploads/<upload_id>")
@_declare(path={"upload_id": _UPLOAD_ID_SCHEMA})
@operation(query=Plain, answers={200: EvidenceUpload}, errors=(404,), tags=["evidence"])
def show_evidence_upload(task_id: int, upload_id: str):
    """Where an upload stands (also HEAD): ``offset`` (and the header ``Upload-Offset``) is where
    to resume after a drop."""
    _task(task_id)
    return _upload_answer(evidence.find_upload(db.session, task_id, upload_id))


@bp.get("/evidence/<sha256>")
@_declare(path={"sha256": _SHA256_SCHEMA})
@operation(
    query=Plain,
    answers={200: EvidenceItem},
    errors=(404,),
    tags=["evidence"],
    media={200: {t: {"type": "string", "contentMediaType": t} for t in sorted(evidence.SERVED_TYPES)}},
)
def get_evidence(sha256: str):
    """The stored file, for those allowed to see a task (or case, or incident) it belongs to.
    Inert types are served as themselves, anything else as an attachment; always nosniff. With
    ``Accept: application/json``: what the record holds of it (type, size, times, who, task)."""
    if not evidence.SHA256_RE.match(sha256):
        raise ApiError("not a SHA-256 (64 lower-case hex digits)", field="sha256", code="invalid_parameter")
    principal = current_principal()
    squad_id = principal.squad_id if principal is not None and principal.role == "squad" else None
    row = evidence.visible_item(db.session, sha256, squad_id=squad_id, regions=scope_regions())
    if request.accept_mimetypes.best == "application/json":
        return jsonify(evidence.item_json(row))
    store = evidence.store_for(current_app.config)
    try:
        handle = store.open(sha256)
    except FileNotFoundError:
        raise ApiError(f"evidence {sha256} is on the record but missing from the store", status=404,
                       code="missing_file") from None  # fmt: skip
    db.session.commit()  # the request's transaction ends before the bytes stream

    def stream():
        with handle:
            while chunk := handle.read(evidence.CHUNK):
                yield chunk

    inert = row.media_type in evidence.INERT_TYPES
    response = Response(stream(), mimetype=row.media_type if inert else "application/octet-stream")
    response.call_on_close(handle.close)  # also when the body is never read (HEAD, a client gone)
    response.headers["Content-Length"] = str(row.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["ETag"] = f'"{sha256}"'
    name = f"{sha256[:16]}{_extension(row.media_type)}"
    response.headers["Content-Disposition"] = f'{"inline" if inert else "attachment"}; filename="{name}"'
    return response


def _extension(media_type: str) -> str:
    return {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/webp": ".webp",
        "video/mp4": ".mp4",
        "video/webm": ".webm",
        "application/pdf": ".pdf",
    }.get(media_type, ".bin")
