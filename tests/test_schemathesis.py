"""Hostile input, generated: schemathesis walks the OpenAPI document and finds no server error.

schemathesis's own cases (within the schema and beyond it, with every check) run from its CLI
against a live server in tests/test_contract.py. Here, in-process, its cases are made hostile
(issue 25): one value of the body or one query parameter becomes a lone surrogate, a
10,000-character string, NaN / Infinity / 1e400 or 10**400, a time in 2099 or a list nested 1,000
deep, sent as raw JSON (json.dumps writes neither a bare surrogate nor 1e400). A bounded number
of examples per operation (SCHEMATHESIS_EXAMPLES, default 6) keeps it inside `make test`; set it
higher for a longer hunt."""

import os
from urllib.parse import quote

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.http.contract import document
from tests.conftest import TOKENS
from tests.test_hostile_input import (
    DEEP,
    FUTURE,
    OVERSIZE,
    RAW_NUMBERS,
    SURROGATES,
    WIRE_VALUES,
    Raw,
    error_shape_ok,
    hostile_json,
    leaves,
    replaced,
)

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
AUTH = {"Authorization": f"Bearer {TOKENS['api'][1]}"}
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
HOSTILE_VALUES = [*SURROGATES, OVERSIZE, FUTURE, [OVERSIZE], Raw(DEEP), *map(Raw, RAW_NUMBERS), Raw("1" + "0" * 400)]


def _operations(app):
    schema = schemathesis.openapi.from_dict(document(app))
    schema.app = app
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in ("/api/v1/openapi.json", "/api/v1/docs"):  # the document itself
            yield operation


def _run_each(app, test) -> list[str]:
    """``test(operation)`` (a hypothesis test) for every operation; the failures, reported together."""
    failures = []
    operations = 0
    for operation in _operations(app):
        operations += 1
        try:
            test(operation)()
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:500]}")
    assert operations > 40
    return failures


@st.composite
def _in_body(draw, operation, value):
    """A case of ``operation`` with ``value`` in one field of its body, or a new one (a body the
    schema leaves open gets one); None when the operation takes no body."""
    case = draw(operation.as_strategy())
    body = case.body if isinstance(case.body, dict | list) else {} if case.method.upper() in ("POST", "PUT") else None
    if body is None:
        return case, None, _wire(case.query)
    spot = draw(st.sampled_from([path for path, _ in leaves(body) if path] or [None]))
    if spot is not None:
        body = replaced(body, spot, value)
    else:
        body = [value] if isinstance(body, list) else {**body, draw(st.sampled_from(["x", "name", "location"])): value}
    return case, body, _wire(case.query)


@st.composite
def _in_query(draw, operation, wire):
    """A case of ``operation`` with ``wire`` (percent-encoded as sent) as one of its query parameters."""
    case = draw(operation.as_strategy())
    query = dict(case.query or {})
    name = draw(st.sampled_from(sorted({*query, "crs", "out_crs"})))
    query.pop(name, None)
    body = case.body if isinstance(case.body, dict | list) else None
    return case, body, "&".join(filter(None, [_wire(query), f"{quote(name)}={wire}"]))


def _wire(query) -> str:
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in (query or {}).items())


def test_no_hostile_input_makes_a_server_error(app):
    client = app.test_client()

    def test(operation):
        def each_family():
            # every family on every operation, the case around it generated
            strategies = [_in_body(operation, v) for v in HOSTILE_VALUES] + [
                _in_query(operation, w) for w in WIRE_VALUES
            ]
            for strategy in strategies:

                @given(hostile=strategy)
                @settings(SETTINGS, max_examples=max(1, EXAMPLES // 3))
                def run(hostile):
                    _send(client, *hostile)

                run()

        return each_family

    failures = _run_each(app, test)
    assert failures == [], "\n\n".join(failures)


def _send(client, case, body, query: str) -> None:
    data = None if body is None else hostile_json(body).encode("utf-8", "surrogatepass")
    response = client.open(
        case.formatted_path,
        method=case.method,
        query_string=query,
        data=data,
        headers={**AUTH, **({"Content-Type": "application/json"} if data is not None else {})},
    )
    shown = f"{case.method} {case.formatted_path}?{query[:80]} {(data or b'')[:120]!r}"
    assert response.status_code < 500, f"{shown}: {response.status_code}"
    assert error_shape_ok(case.formatted_path, response), f"{shown}: {response.get_data(as_text=True)[:200]}"
