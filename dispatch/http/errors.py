"""Every error of the API is JSON: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

import json
import logging
import math
import re

import orjson
import psycopg
from flask import Flask, Request, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter

from dispatch.errors import MAX_ID, ApiError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, field: str | None = None):
    body = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return jsonify({"error": body}), status


# JSON bodies nest at most this deep: a zone's outline in a plan edit is 8 levels.
MAX_JSON_DEPTH = 32


class BodyError(ValueError):
    """A JSON body refused, and where in it (``field``: ``matters[0]``, ``location.coordinates[1]``)."""

    def __init__(self, message: str, field: str = "body"):
        super().__init__(message)
        self.field = field


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies as RFC 8259 has them: UTF-8 text without lone
    surrogates (no column or answer can hold one), without NaN or Infinity, no number beyond a
    double (1e400), nested at most ``MAX_JSON_DEPTH`` deep; anything else is a BodyError naming
    the field. orjson refuses all but the depth itself, and reads several times faster."""

    def loads(self, s: str | bytes, **kwargs):
        try:
            value = orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            raise _locate(s, exc) from None
        _check_depth(value)
        return value


def _check_depth(value) -> None:
    """Walked with a stack, not recursion: a body nested 1,000 deep must not exhaust the stack."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BodyError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _locate(text: str | bytes, refusal: orjson.JSONDecodeError) -> BodyError:
    """The field of what orjson refused, when Python's json module reads the text (it takes NaN,
    Infinity, 1e400 and lone surrogates); otherwise orjson's own words, with their line and column."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return BodyError(str(refusal))
    stack = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return BodyError("must be a finite number (NaN, Infinity and 1e400 are not JSON numbers)", path or "body")
        if isinstance(item, str) and _SURROGATE.search(item):
            return BodyError("holds a lone surrogate (\\ud800-\\udfff): not Unicode text", path or "body")
        if depth >= MAX_JSON_DEPTH:
            continue  # the depth check refuses the rest
        if isinstance(item, dict):
            for key, inner in reversed(item.items()):
                name = key.encode("utf-8", "backslashreplace").decode()  # a field name fit for the answer
                if _SURROGATE.search(key):
                    return BodyError(
                        "a field name holds a lone surrogate: not Unicode text", f"{path}.{name}".lstrip(".")
                    )
                stack.append((inner, f"{path}.{name}".lstrip("."), depth + 1))
        elif isinstance(item, list):
            stack.extend(
                (inner, f"{path or 'body'}[{index}]", depth + 1) for index, inner in reversed(list(enumerate(item)))
            )
    return BodyError(str(refusal))


_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictRequest(Request):
    """Flask's request; a JSON body the app's provider refuses is a 400 naming the field."""

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # not sent as JSON: the view says what it wants
            return super().on_json_loading_failed(e)
        field = e.field if isinstance(e, BodyError) else "body"
        raise ApiError(f"the body is not valid JSON: {e}", field=field, code="invalid_body")


def _check_input():
    """before_request: refuse at the door what no view could store or answer.

    A NUL character (PostgreSQL stores none), named where it was; a JSON body that is not
    strict JSON (``StrictJSONProvider``: lone surrogates, NaN, nesting 1,000 deep), decoded here
    once for every route, the view's ``get_json`` then reads it from the request's cache.
    Query strings, forms and paths need no such check: werkzeug decodes them with
    ``errors="replace"``, so invalid UTF-8 (a surrogate's bytes) arrives as U+FFFD.
    """
    for name, value in request.args.items(multi=True):
        if "\x00" in value or "\x00" in name:
            return error_response(400, "invalid_character", "NUL characters are not accepted", name)
    if request.is_json:
        raw = request.get_data(cache=True, as_text=True)
        if "\x00" in raw or "\\u0000" in raw:
            return error_response(400, "invalid_character", "NUL characters are not accepted", "body")
        if raw.strip():
            request.get_json()  # a refusal raises ApiError (400, field "body")
    return None


class DatabaseId(IntegerConverter):
    """``<int:...>`` in routes: 1 to ``MAX_ID`` (a PostgreSQL integer); anything else is a 404."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _matches_with(methods) -> bool:
    """Whether the request's path is a route's with one of ``methods`` (its ids in range too)."""
    adapter = current_app.create_url_adapter(request)
    for method in methods:
        try:
            adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        except HTTPException:  # a redirect: the path is a route's
            return True
        return True
    return False


def register_error_handlers(app: Flask) -> None:
    strict = StrictJSONProvider(app)
    strict.ensure_ascii, strict.sort_keys = app.json.ensure_ascii, app.json.sort_keys  # as create_app set them
    app.json = strict
    app.request_class = StrictRequest
    app.before_request(_check_input)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 405 and exc.valid_methods and not _matches_with(exc.valid_methods):
            exc = NotFound()  # werkzeug checks methods before ids: PUT /plans/0 beside GET /plans/<id> was a 405
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
