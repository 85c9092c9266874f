"""Hostile input, generated: schemathesis walks the OpenAPI document and finds no server error.

A bounded number of examples per operation (SCHEMATHESIS_EXAMPLES, default 6) keeps it inside
`make test`; set it higher for a longer hunt.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from dispatch.http.api.openapi import document
from tests.conftest import TOKENS

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
AUTH = {"Authorization": f"Bearer {TOKENS['api'][1]}"}


def test_no_generated_input_makes_a_server_error(app):
    schema = schemathesis.openapi.from_dict(document(app))
    schema.app = app
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/api/v1/openapi.json", "/api/v1/docs"):
            continue  # the document itself
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:500]}")
    assert operations > 40
    assert failures == [], "\n\n".join(failures)
