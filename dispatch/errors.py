"""Errors a client can act on, raised by domain code and routes alike; ``dispatch.http.errors``
turns them into JSON: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations


class ApiError(Exception):
    """An error a client can act on; raised by routes and domain code alike."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.details)
        return {"error": body}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


MAX_ID = 2**31 - 1  # ids (and outbox numbers) are PostgreSQL integers
