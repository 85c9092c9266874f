"""The API contract: one pydantic declaration per request and response, from which both the
request's validation and the OpenAPI document come.

A view says what it takes and what it answers with ``operation``::

    @bp.post("/incidents/<int:incident_id>/dispatch")
    @operation(body=DispatchBody, answers={201: TaskList}, errors=(404, 409), tags=["incidents"])
    def dispatch_incident(incident_id): ...
        body = request.context.json   # a DispatchBody, already checked

spectree binds the models to the Flask view (the blueprints and routes stay as they are) and walks
the decorated views into the document; ``document()`` adds what spectree does not know: the ids of
paths (1 to MAX_ID), the error answers every operation may give, links from the operations that
create to those that read, and the recorded Shengsi examples (``examples.json``).

Why spectree (issue 26): it decorates existing Flask views, where flask-openapi3 and APIFlask want
their own app and blueprint classes and view signatures; and its hooks let us keep the API's one
error shape (``{"error": {"code", "message", "field"}}``, ``field`` naming the path: ``matters[1]``,
``location.coordinates``) and our strict JSON reading (lone surrogates, NaN, depth), which we
plug in by subclassing its Flask plugin (``_Plugin``). Answers are checked against their
declaration when ``CHECK_ANSWERS`` is on (the test suite); in service the check is skipped, so
the hot paths pay for request validation only.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app, make_response, request
from pydantic import ValidationError
from spectree import Response, SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin

from dispatch.errors import MAX_ID, ApiError
from dispatch.http.contract.common import ErrorBody

__all__ = ["operation", "document", "spec", "Link", "request_json"]

EXAMPLES_FILE = Path(__file__).with_name("examples.json")
# Every operation may answer these besides its own (the error shape of each): a refused request,
# no or a bad credential, a role or scope that may not, and the database away.
COMMON_ERRORS = (400, 401, 403, 503)
_ERROR_TEXT = {
    400: "the request is refused; error.field names where",
    401: "no credential, or an expired or revoked one",
    403: "the role or the scope may not do this",
    404: "no such thing (or not in your scope)",
    409: "refused by the rules in force (error.code says which)",
    413: "the request is too large",
    422: "well-formed, but refused by a rule the document cannot say (error.code says which, error.field where)",
    423: "the account is locked",
    429: "too many requests",
    503: "the database is unavailable; retry shortly",
}


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, reading requests our way.

    The JSON body is read by the app's strict provider (dispatch.http.errors): a body that is not
    strict JSON is a 400 naming where, not silently ``{}``. Headers and cookies are not copied
    (no model reads them). Answers are checked only under ``CHECK_ANSWERS``.
    """

    def request_validation(self, req, query, json, form, headers, cookies):
        query_value = body_value = None
        if query is not None:
            try:
                query_value = query.model_validate(req.args.to_dict())
            except ValidationError as err:
                raise refusal(err, where="query") from None
        if json is not None and getattr(json, "checked_by_hand", False):
            # a hot path's body: the view checks it as its model says (a test holds the two equal)
            body_value = request_json()
        elif json is not None:
            try:
                body_value = json.model_validate(request_json())
            except ValidationError as err:
                raise refusal(err, where="body") from None
        req.context = Context(query_value, body_value, None, None, None)

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        answer = make_response(resp)
        if skip_validation or not current_app.config.get("CHECK_ANSWERS", False) or not answer.is_json:
            return answer, None  # as the view made it: no copy of the body (the hot paths), CSV and HTML as they are
        return super().validate_response(answer, resp_model, skip_validation, force_resp_serialize)


def request_json() -> Any:
    """The request's JSON, read by the app's strict provider; a 400 naming what is wrong otherwise."""
    if not request.is_json:
        raise ApiError("the body must be JSON (Content-Type: application/json)", code="invalid_body")
    body = request.get_json(silent=False)  # the strict provider: refusals raise ApiError naming the field
    if body is None:
        raise ApiError("the body is not valid JSON", code="invalid_body")
    return body


def field_path(loc: Iterable[str | int]) -> str:
    """pydantic's location as the API names it: ``matters[1]``, ``location.coordinates``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "json-or-python", "tagged-union")):  # pydantic's own steps
            continue
        else:
            path += f".{part}" if path else part
    return path or "body"


def refusal(err: ValidationError, *, where: str) -> ApiError:
    """The first of pydantic's findings as the API's error: code, message, field."""
    first = err.errors(include_url=False, include_context=False)[0]
    field = field_path(first["loc"])
    kind = first["type"]
    message = first["msg"]
    if kind.startswith("value_error") and message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if where == "query":
        code = "missing_parameter" if kind == "missing" else "invalid_parameter"
    else:
        code = {"missing": "missing_field", "extra_forbidden": "unknown_field"}.get(kind, "invalid_field")
        if kind == "model_type" and field == "body":
            message, code = "the body must be a JSON object", "invalid_body"
    return ApiError(message, field=field, code=code)


def _check_answer(req, resp, resp_validation_error, instance, model_adapter=None):
    """spectree's ``after`` hook: an answer off its declaration (only checked in tests) is a server error."""
    if resp_validation_error is not None:
        raise RuntimeError(f"the answer of {req.method} {req.path} breaks its declaration: {resp_validation_error}")


class _SpecTree(SpecTree):
    """spectree, writing the models' schemas when the document is asked for rather than at import.

    spectree writes a model's JSON schema each time an operation uses it (some 500 times, ErrorBody
    alone 400), half a second of every process's start, for a document most processes never serve.
    Here ``_add_model`` notes the use, and ``write_models`` writes each schema once, in the order
    used (a later use of a name wins, as in spectree).
    """

    def _add_model(self, model, mode="validation"):
        self.__dict__.setdefault("uses", []).append((model, mode))
        return self.naming_strategy(model)

    def write_models(self) -> None:
        written: dict[tuple[type, str], dict] = {}
        for model, mode in self.__dict__.get("uses", []):
            if (model, mode) in written:
                self.models[self.naming_strategy(model)] = written[(model, mode)]
            else:
                name = super()._add_model(model, mode)
                written[(model, mode)] = self.models[name]


spec = _SpecTree(
    backend=_Plugin,
    mode="strict",  # only the operations declared here; a test finds any /api/v1 route that is not
    annotations=False,
    validation_error_status=400,
    validation_error_model=ErrorBody,
    after=_check_answer,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    title="dispatch API",
    version="1",
    openapi_version="3.1.0",
)


class Link(dict):
    """An OpenAPI link from an answer to another operation: ``Link("show_incident", incident_id="$response.body#/id")``."""

    def __init__(self, operation_id: str, description: str = "", **parameters: str):
        super().__init__(operationId=operation_id, parameters=parameters)
        if description:
            self["description"] = description


# operationId -> (links by status, declared error statuses) for document()
_EXTRAS: dict[str, dict] = {}


def operation(
    *,
    query: type | None = None,
    body: type | None = None,
    answers: dict[int, Any],
    errors: Sequence[int] = (),
    tags: Sequence[str] = (),
    links: dict[int, dict[str, Link]] | None = None,
    public: bool = False,
    media: dict[int, dict[str, dict]] | None = None,
) -> Callable:
    """Declare a view's query, body and answers (``{status: model}``; ``None`` for no body).

    ``errors`` are the statuses besides COMMON_ERRORS it may answer with (404, 409, ...), each in
    the error shape; ``links`` lead from an answer to the operations that take its ids; a
    ``public`` operation needs no credential; ``media`` adds other media types of an answer
    (``{200: {"text/csv": {"type": "string"}}}``: media type -> schema).
    """
    codes = {f"HTTP_{status}": model for status, model in answers.items()}
    for status in {*COMMON_ERRORS, *errors}:
        codes[f"HTTP_{status}"] = (ErrorBody, _ERROR_TEXT.get(status, "an error"))

    def decorate(view: Callable) -> Callable:
        _EXTRAS[view.__name__] = {"links": links or {}, "public": public, "media": media or {}}
        return spec.validate(
            query=query,
            json=body,
            resp=Response(**codes),
            tags=list(tags),
            operation_id=view.__name__,
            security={} if public else None,
        )(view)

    return decorate


_PATH_ID = re.compile(r"\{(\w+_id)\}")


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of /api/v1, built once per app from the declarations."""
    cached = app.extensions.get("dispatch.openapi")
    if cached is not None:
        return cached
    with app.app_context():
        spec.app = app
        spec.models = {}
        spec.write_models()  # afresh: spectree lifts (deletes) the models' $defs as it writes the document
        doc = copy.deepcopy(spec._generate_spec())
    examples = json.loads(EXAMPLES_FILE.read_text()) if EXAMPLES_FILE.exists() else {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            _finish(op, path, method, examples.get(f"{method.upper()} {path}"))
    doc["info"]["description"] = (
        "Command and dispatch for comprehensive administrative law enforcement. Geometry is GeoJSON "
        "(RFC 7946), WGS84 lon/lat; ?crs=gcj02|bd09 for input, ?out_crs=gcj02|bd09 for output where an "
        'operation declares them. Every error is {"error": {"code", "message", "field"?}}; field names '
        "the parameter or the body path (matters[1], location.coordinates)."
    )
    doc["servers"] = [{"url": "/"}]
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token (flask api-token) or a tablet token",
        },
        "session": {"type": "apiKey", "in": "cookie", "name": "session", "description": "the browser's sign-in"},
    }
    doc["security"] = [{"bearer": []}, {"session": []}]
    doc.pop("tags", None)
    app.extensions["dispatch.openapi"] = doc
    return doc


def _finish(op: dict, path: str, method: str, example: dict | None) -> None:
    extras = _EXTRAS.get(op["operationId"], {})
    for param in op["parameters"]:
        if param["in"] == "path":
            schema = param["schema"]
            if schema.get("type") == "integer":
                schema.update(minimum=1, maximum=MAX_ID)
                schema.pop("format", None)
            param.pop("description", None) if not param.get("description") else None
    for status, by_name in extras.get("links", {}).items():
        op["responses"][str(status)]["links"] = dict(by_name)
    for status, types in extras.get("media", {}).items():
        content = op["responses"][str(status)].setdefault("content", {})
        content.update({media_type: {"schema": schema} for media_type, schema in types.items()})
    if extras.get("public"):
        op["security"] = []
        for status in ("401", "403"):
            op["responses"].pop(status, None)
    if example:
        if "request" in example and "requestBody" in op:
            op["requestBody"]["content"]["application/json"]["example"] = example["request"]
        answer = op["responses"].get(str(example.get("status", "")))
        if answer and "content" in answer and "answer" in example:
            answer["content"]["application/json"]["example"] = example["answer"]
        if "query" in example:
            for param in op["parameters"]:
                if param["in"] == "query" and param["name"] in example["query"]:
                    param["example"] = example["query"][param["name"]]
        if "path" in example:
            for param in op["parameters"]:
                if param["in"] == "path" and param["name"] in example["path"]:
                    param["example"] = example["path"][param["name"]]
