"""Every error of the API is JSON: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

import logging

import psycopg
from flask import Flask, jsonify, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from dispatch.errors import MAX_ID, ApiError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, field: str | None = None):
    body = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return jsonify({"error": body}), status


def _refuse_nul_characters():
    """PostgreSQL stores no NUL character: refuse it at the door, naming where it was."""
    for name, value in request.args.items(multi=True):
        if "\x00" in value or "\x00" in name:
            return error_response(400, "invalid_character", "NUL characters are not accepted", name)
    if request.mimetype == "application/json":
        raw = request.get_data(cache=True, as_text=True)
        if "\x00" in raw or "\\u0000" in raw:
            return error_response(400, "invalid_character", "NUL characters are not accepted", "body")
    return None


class DatabaseId(IntegerConverter):
    """``<int:...>`` in routes: 1 to ``MAX_ID`` (a PostgreSQL integer); anything else is a 404."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_error_handlers(app: Flask) -> None:
    app.before_request(_refuse_nul_characters)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response[0].headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(psycopg.OperationalError)  # the hot paths that talk to psycopg directly
    def _database_unavailable(exc: Exception):
        log.warning(
            "database unavailable during %s %s: %s", request.method, request.path, getattr(exc, "orig", exc) or exc
        )
        response = error_response(503, "database_unavailable", "the database is unavailable; retry shortly")
        response[0].headers["Retry-After"] = "2"
        return response

    @app.errorhandler(DataError)
    @app.errorhandler(psycopg.DataError)  # the hot paths that talk to psycopg directly
    def _value_refused_by_the_database(exc: Exception):
        # A value the validators let through but PostgreSQL cannot hold (out of range, bad
        # encoding): the client's input, so a 400 rather than a 500. Logged: a validator is missing.
        log.warning(
            "value refused by the database on %s %s: %s", request.method, request.path, getattr(exc, "orig", exc)
        )
        return error_response(400, "invalid_value", "a value is out of range or malformed")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
