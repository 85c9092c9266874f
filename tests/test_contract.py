"""The OpenAPI document is the contract (issue 26): what an integrator builds against is what the
server does.

- The document is valid OpenAPI 3.1 (openapi-spec-validator).
- It is complete: every /api/v1 route and method is an operation and nothing else is; each has an
  operationId, a summary, a 2xx answer and the 400 error with their schemas, and declares every
  parameter and body it reads.
- schemathesis, run as an integrator runs it (the CLI, every check, the stateful phase following the
  document's links) against a real server that checks its own answers (CHECK_ANSWERS=1), finds
  nothing. SCHEMATHESIS_CLI_EXAMPLES cases per operation (5 in ``make test``, 100 in ``make fuzz``).
- A client generated from the live document (openapi-python-client) runs the dispatcher's journey:
  intake, recommendations, dispatch, the task's lifecycle, each answer parsed into its models.
- Every operation carries a real Shengsi example (its body and an answer), valid by its own schema.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from sqlalchemy import select

from dispatch import create_app
from dispatch.config import PROJECT_ROOT
from dispatch.http.contract import document
from dispatch.states import TRANSITIONS
from dispatch.store.models import Squad
from dispatch.tablets import issue_token
from tests.conftest import TOKENS, org_token

DOC = "/api/v1/openapi.json"
NOT_OPERATIONS = {("/api/v1/docs", "get")}  # the HTML page that renders the document
METHODS = ("get", "put", "post", "delete", "patch")
CST = dt.timezone(dt.timedelta(hours=8))
ADMIN = TOKENS["api"][1]
CLI_EXAMPLES = int(os.environ.get("SCHEMATHESIS_CLI_EXAMPLES", "5"))
# One worker: schemathesis's worker threads trip CPython 3.11's ast module in hypothesis's lambda
# descriptions (a spurious "AST constructor recursion depth mismatch" SystemError, or a KeyError in
# its cache), reported as runtime errors; seen at 4 workers with 5 examples and with 100.
WORKERS = os.environ.get("SCHEMATHESIS_CLI_WORKERS", "1")
BIN = Path(sys.executable).parent


def api_operations(app) -> set[tuple[str, str]]:
    """The (path, method) of every /api/v1 route, paths written as OpenAPI writes them."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            out |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out - NOT_OPERATIONS


def _listed(pairs) -> list[str]:
    return [f"{method.upper()} {path}" for path, method in sorted(pairs)]


def operations(doc: dict):
    """(path, method, operation) of the document."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def _deref(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _json_schema(media: dict) -> dict | None:
    return (media.get("content", {}).get("application/json") or {}).get("schema")


# -- the document is valid and complete ----------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(client):
    response = client.get(DOC)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)  # raises on an invalid OpenAPI 3.1 document


def test_every_app_writes_the_whole_document(app, database_url, tmp_path):
    """The declarations are shared by every app of a process (the tests make many): the second
    app's document is the first's, nested models and all (spectree lifts them out as it writes)."""
    first = document(app)
    second = document(create_app({"TESTING": True, "DATABASE_URL": database_url, "DATA_DIR": tmp_path}))
    assert second is not first
    assert second == first
    validate(second, cls=OpenAPIV31SpecValidator)


def test_every_route_is_an_operation_and_nothing_else_is(client, app):
    doc = client.get(DOC).get_json()
    documented = {(path, method) for path, method, _ in operations(doc)}
    routes = api_operations(app)
    missing, extra = _listed(routes - documented), _listed(documented - routes)
    assert not missing, f"{len(missing)} routes the document does not declare:\n" + "\n".join(missing)
    assert not extra, f"{len(extra)} operations of no route:\n" + "\n".join(extra)
    ids = [op.get("operationId") for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), "operationIds are unique"


def _operation_findings(doc: dict, path: str, method: str, op: dict) -> list[str]:
    """What the operation fails to declare (an empty list when it declares all of it)."""
    found = []
    if not op.get("operationId"):
        found.append("no operationId")
    if not (op.get("summary") or op.get("description")):
        found.append("no summary or description")
    answers = op.get("responses", {})
    if not any(status.startswith("2") and _json_schema(_deref(doc, a)) for status, a in answers.items()):
        found.append("no 2xx answer with a schema")
    error = _json_schema(_deref(doc, answers.get("400", {}))) or {}
    if error.get("$ref") != "#/components/schemas/ErrorBody":
        found.append(f"400 answer is {error or 'missing'}, not the ErrorBody schema")
    for param in op.get("parameters", []):
        param = _deref(doc, param)
        if "schema" not in param and "content" not in param:
            found.append(f"parameter {param.get('name')} has no schema")
    in_path = set(re.findall(r"\{(\w+)\}", path))
    declared = {_deref(doc, p)["name"] for p in op.get("parameters", []) if _deref(doc, p)["in"] == "path"}
    if in_path != declared:
        found.append(f"path parameters {sorted(in_path)} declared as {sorted(declared)}")
    if "requestBody" in op:
        body = _deref(doc, op["requestBody"])
        if not body.get("content") or not all("schema" in media for media in body["content"].values()):
            found.append("a body without a schema")
        if method == "get":
            found.append("a GET with a body")
    return found


def test_every_operation_declares_its_parts(client):
    doc = client.get(DOC).get_json()
    findings = [
        f"{method.upper()} {path}: {finding}"
        for path, method, op in operations(doc)
        for finding in _operation_findings(doc, path, method, op)
    ]
    assert findings == [], "\n".join(findings)


# Ways a view reads a body: the declared one (request.context.json), json_body() and Flask's own.
_READS_BODY = re.compile(
    r"request\.context\.json|json_body\(|request\.(get_json|json|data|form|files|get_data|stream)\b"
)


def test_no_operation_takes_an_undeclared_body(client, app):
    """A view that reads a body declares it: its operation has a requestBody."""
    doc = client.get(DOC).get_json()
    declared = {(path, method) for path, method, op in operations(doc) if "requestBody" in op}
    endpoints = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            endpoints[(path, method.lower())] = rule.endpoint
    undeclared = []
    for key in sorted(api_operations(app) - declared):
        view = inspect.unwrap(app.view_functions[endpoints[key]])
        if _READS_BODY.search(inspect.getsource(view)):
            undeclared.append(f"{key[1].upper()} {key[0]} ({view.__module__}.{view.__name__})")
    assert undeclared == [], "views reading a body their operation does not declare:\n" + "\n".join(undeclared)


# -- schemathesis, as an integrator runs it ------------------------------------------------------


# Who runs it: the admin over every operation; and, for the acts only an organisation may do (an
# admin token of no organisation gets 403 there), the county bureau and the justice bureau.
_RUNNERS = {
    "admin": (ADMIN, None),
    "county-bureau": (
        org_token("county-bureau"),
        r"^/api/v1/(officers|supervision-visits|cases|legal-reviews|criminal-referrals|assistance-requests|referrals|disputes|sharing)",
    ),
    "shengsi-justice": (org_token("shengsi-justice"), r"^/api/v1/(supervision-notices|supervision-visits)"),
    "tablet": (None, r"^/api/v1/squads/"),  # a squad's own tablet token, posting to its own squad
}


@pytest.mark.parametrize("runner", list(_RUNNERS))
def test_schemathesis_finds_nothing(start_server, store, tmp_path, runner):
    """The CLI with every check and every phase (stateful: the document's links) against a server
    process checking its own answers; ``make fuzz`` runs this at 100 examples per operation."""
    token, paths = _RUNNERS[runner]
    config = PROJECT_ROOT / "schemathesis.toml"
    if token is None:  # the tablet: its squad's id in every path, the repository's settings besides
        squad_id = store.scalar(select(Squad.id).where(Squad.code == "cb-caiyuan"))
        token = issue_token(store, squad_id, label="schemathesis")[1]
        store.commit()
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            f'parameters = {{ "path.squad_id" = {squad_id} }}\n\n' + (PROJECT_ROOT / "schemathesis.toml").read_text()
        )
    server = start_server(CHECK_ANSWERS="1")
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{server.url}{DOC}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing" if runner == "tablet" else "examples,coverage,fuzzing,stateful",  # no links there
        "--max-examples",
        str(CLI_EXAMPLES),
        "--header",
        f"Authorization: Bearer {token}",
        *(["--include-path-regex", paths] if paths else []),
        "--seed",
        "26",
        "--workers",
        WORKERS,
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    run = subprocess.run(  # cwd: the repository, whose schemathesis.toml the CLI reads
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=max(900, 60 * CLI_EXAMPLES),
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    lines = output.splitlines()  # the findings and errors in full, then the summary
    start = next((i for i, line in enumerate(lines) if re.match(r"=+ (ERRORS|FAILURES) =+$", line)), len(lines) - 150)
    shown = lines[max(0, start) : start + 400] + (["[...]", *lines[-30:]] if len(lines) > start + 400 else [])
    tail = "\n".join(shown)
    assert run.returncode == 0, (
        f"schemathesis exited {run.returncode} (all of it: {tmp_path / 'schemathesis.txt'}):\n{tail}\n"
        f"--- server log ---\n{server.log()[-3000:]}"
    )


# -- a generated client runs the dispatcher's journey -------------------------------------------

PACKAGE = "dispatch_api_client"


@pytest.fixture
def generated_client(live_server, tmp_path, monkeypatch):
    """openapi-python-client's package for the live document, importable for the test."""
    document = tmp_path / "openapi.json"
    response = requests.get(f"{live_server.url}{DOC}", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert response.status_code == 200
    document.write_text(response.text)
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run over the generated code
    out = tmp_path / "generated"
    run = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"openapi-python-client refused the document:\n{run.stdout}\n{run.stderr}"
    monkeypatch.syspath_prepend(str(out))
    try:
        yield live_server, importlib.import_module(PACKAGE)
    finally:
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_a_generated_client_runs_the_dispatchers_journey(generated_client):
    server, package = generated_client
    models = importlib.import_module(f"{PACKAGE}.models")
    ops = {
        name: importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")
        for tag, name in [
            ("incidents", "create_incident"),
            ("incidents", "incident_recommendations"),
            ("incidents", "dispatch_incident"),
            ("incidents", "show_incident"),
            ("tasks", "transition_task"),
            ("tasks", "show_task"),
        ]
    }
    client = package.AuthenticatedClient(base_url=server.url, token=TOKENS["dispatcher"][1])
    client.raise_on_unexpected_status = True  # a status the document does not declare fails

    # intake: a hotline ticket on Gouqi island
    reported = dt.datetime.now(CST).replace(microsecond=0) - dt.timedelta(minutes=3)
    intake = models.IncidentIntake(
        source=models.IncidentIntakeSource("hotline_12345"),
        matters=["CM-001"],
        location=models.PointIn(type_="Point", coordinates=[122.77, 30.72]),
        description="群众反映占道经营",
        reported_at=reported,
        external_id="12345-contract-0001",
    )
    created = ops["create_incident"].sync_detailed(client=client, body=intake)
    assert created.status_code == 201, created.content
    incident = created.parsed
    assert isinstance(incident, models.IncidentCreated)
    assert incident.status.value == "open"
    assert incident.source == "hotline_12345" and incident.external_id == "12345-contract-0001"
    assert [m.code for m in incident.matters] == ["CM-001"]
    assert incident.location.coordinates == pytest.approx([122.77, 30.72])
    assert incident.reported_at == reported
    assert incident.sla_deadline > incident.reported_at
    assert 1 <= incident.priority <= 3
    assert incident.created_by == "dispatcher"  # the token's name
    assert incident.tasks == []
    assert isinstance(incident.jurisdiction, models.Jurisdiction)
    assert incident.jurisdiction.authority.name and incident.authority.name == incident.jurisdiction.authority.name
    assert incident.possible_duplicates_total == 0

    # the squads to send
    answer = ops["incident_recommendations"].sync_detailed(client=client, incident_id=incident.id)
    assert answer.status_code == 200, answer.content
    ranked = answer.parsed
    assert isinstance(ranked, models.Recommendations)
    assert ranked.incident_id == incident.id
    assert ranked.recommendations, "Gouqi has a squad to send"
    first = ranked.recommendations[0]
    assert isinstance(first.squad, models.SquadSummary)
    assert first.eta_seconds > 0 and first.distance_m >= 0
    assert first.squad.status == "available"

    # dispatch the first of them
    sent = ops["dispatch_incident"].sync_detailed(
        client=client, incident_id=incident.id, body=models.DispatchBody(squad_ids=[first.squad.id])
    )
    assert sent.status_code == 201, sent.content
    assert isinstance(sent.parsed, models.TaskList)
    (task,) = sent.parsed.tasks
    assert task.incident_id == incident.id and task.squad.id == first.squad.id
    assert task.state.value == "dispatched"
    assert [s.value for s in task.allowed] == list(TRANSITIONS["dispatched"])

    # the task's lifecycle, to completion
    for state in ("acknowledged", "en_route", "on_scene", "completed"):
        moved = ops["transition_task"].sync_detailed(
            client=client, task_id=task.id, body=models.TransitionBody(to=models.TransitionBodyTo(state))
        )
        assert moved.status_code == 200, moved.content
        task = moved.parsed
        assert isinstance(task, models.Task)
        assert task.state.value == state
        assert [s.value for s in task.allowed] == list(TRANSITIONS[state])
    assert task.acknowledged_at <= task.en_route_at <= task.on_scene_at <= task.completed_at
    read = ops["show_task"].sync_detailed(client=client, task_id=task.id).parsed
    assert isinstance(read, models.Task) and read.state.value == "completed"

    # a move the state forbids: the declared 409, parsed as the error
    refused = ops["transition_task"].sync_detailed(
        client=client, task_id=task.id, body=models.TransitionBody(to=models.TransitionBodyTo("cancelled"))
    )
    assert refused.status_code == 409
    assert isinstance(refused.parsed, models.ErrorBody)
    assert refused.parsed.error.code == "illegal_transition"

    # the incident is resolved
    final = ops["show_incident"].sync_detailed(client=client, incident_id=incident.id)
    assert final.status_code == 200, final.content
    assert isinstance(final.parsed, models.Incident)
    assert final.parsed.status.value == "resolved"
    assert final.parsed.resolved_at is not None
    assert [(t.id, t.state.value) for t in final.parsed.tasks] == [(task.id, "completed")]


# -- examples ------------------------------------------------------------------------------------


def _example_findings(doc: dict, op: dict) -> list[str]:
    found = []

    def check(what: str, schema: dict, example) -> None:
        validator = Draft202012Validator(
            {**schema, "components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(example), key=lambda e: list(e.absolute_path))
        for error in errors[:3]:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            found.append(f"{what} example at {where}: {error.message[:200]}")

    if "requestBody" in op:
        media = _deref(doc, op["requestBody"]).get("content", {}).get("application/json")
        if media is not None:
            if "example" not in media and not media.get("examples"):
                found.append("no example request body")
            elif "example" in media:
                check("request", media["schema"], media["example"])
    answered = False
    for status, answer in op.get("responses", {}).items():
        media = _deref(doc, answer).get("content", {}).get("application/json")
        if media and "example" in media:
            answered = answered or status.startswith("2")
            check(f"{status} answer", media["schema"], media["example"])
    if not answered:
        found.append("no example answer (2xx)")
    for param in op.get("parameters", []):
        param = _deref(doc, param)
        if "example" in param:
            check(f"parameter {param['name']}", param["schema"], param["example"])
    return found


def test_every_operation_has_examples_valid_by_its_schemas(client):
    doc = client.get(DOC).get_json()
    findings = [
        f"{method.upper()} {path}: {finding}"
        for path, method, op in operations(doc)
        for finding in _example_findings(doc, op)
    ]
    assert findings == [], f"{len(findings)} findings:\n" + "\n".join(findings)
