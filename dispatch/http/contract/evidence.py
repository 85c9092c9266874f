"""Evidence from the scene: one piece (multipart) or a resumable chunked upload; the stored file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from dispatch.evidence import ACCEPTED_TYPES, DEFAULT_MAX_BYTES
from dispatch.http.contract.common import Answer, AnswerTime, Body, Int, Query, Text, Time

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), Field(description="SHA-256, lower-case hex")]
MediaType = Literal[tuple(sorted(ACCEPTED_TYPES))]  # type: ignore[valid-type]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ActionId = Annotated[
    str,
    StringConstraints(pattern=UUID_PATTERN),
    Field(description="a UUID chosen by the device: the same request sent again answers as the first time"),
]


class EvidenceStored(Answer):
    id: int = Field(description="the evidence item's id")
    sha256: str = Field(description="SHA-256 of the bytes: GET /api/v1/evidence/{sha256}")
    size: int = Field(description="bytes")
    media_type: str


class EvidenceItem(EvidenceStored):
    """GET /api/v1/evidence/{sha256} with Accept: application/json: what the record holds of it."""

    file_name: str | None
    task_id: int | None
    case_id: int | None
    incident_id: int | None
    occurred_at: AnswerTime | None = Field(description="when it was taken, by the device's clock")
    recorded_at: AnswerTime = Field(description="when the server stored it")
    uploaded_by: str


class EvidencePieceForm(Body):
    """multipart/form-data: one piece of evidence."""

    file: bytes = Field(description="the file (at most MAX_CONTENT_LENGTH with the other parts: 1 MB by default)")
    media_type: MediaType = Field(description="the file's media type (default: the part's Content-Type)")
    occurred_at: Time | None = Field(None, description="when it was taken, by the device's clock")
    action_id: ActionId | None = None


class EvidenceUploadBody(Body):
    size: Int = Field(ge=1, le=DEFAULT_MAX_BYTES, description="the whole file's bytes (at most EVIDENCE_MAX_BYTES)")
    sha256: Sha256
    media_type: MediaType
    occurred_at: Time | None = Field(None, description="when it was taken or queued, by the device's clock")
    file_name: Text(200) | None = None
    action_id: ActionId | None = None


class ChunkQuery(Query):
    offset: int = Field(ge=0, le=10**15 - 1, description="where this chunk starts in the file (bytes)")


def form_schema(model: type) -> dict:
    """A form's JSON schema as multipart carries it: an optional part is left out, never sent as null."""
    schema = model.model_json_schema()
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
    return schema


class EvidenceUpload(Answer):
    id: str = Field(description="the upload's id (PATCH .../uploads/{upload_id} with Upload-Offset)")
    offset: int = Field(description="bytes received so far: send the next chunk from here")
    size: int
    sha256: str
    media_type: str
    state: str = Field(description="uploading, stored (complete and checked) or failed (start again)")
    evidence: EvidenceStored | None = Field(None, description="the stored item, once complete")
