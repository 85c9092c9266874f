"""The answer check of dispatch.http.contract: under CHECK_ANSWERS an answer off its declaration is a
server error naming it (so every test of the suite checks the answers it gets); in service the
answer goes out as the view made it."""

from __future__ import annotations

import pytest
from flask import Blueprint, jsonify

from dispatch import create_app
from dispatch.http import auth
from dispatch.http.contract import operation
from dispatch.http.contract.common import Answer


class Counted(Answer):
    count: int


def _app(database_url, tmp_path, check: bool):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATA_DIR": tmp_path, "CHECK_ANSWERS": check})
    probe = Blueprint("probe", __name__)

    @probe.get("/probe/<kind>")
    @operation(answers={200: Counted}, public=True)
    def probe_answer(kind: str):
        if kind == "csv":
            return "a,b\n1,2\n", 200, {"Content-Type": "text/csv"}
        return jsonify({"count": "many"} if kind == "wrong" else {"count": 3})

    app.register_blueprint(probe)
    return app


@pytest.mark.parametrize("check", [True, False])
def test_answers_are_checked_only_when_asked(database_url, tmp_path, monkeypatch, check):
    monkeypatch.setitem(auth.ENDPOINT_ACTIONS, "probe.probe_answer", "public")
    monkeypatch.setitem(auth.ENDPOINT_SCOPES, "probe.probe_answer", "anywhere")
    client = _app(database_url, tmp_path, check).test_client()
    assert client.get("/probe/right").get_json() == {"count": 3}
    assert client.get("/probe/csv").get_data(as_text=True) == "a,b\n1,2\n", "non-JSON answers pass as they are"
    if check:
        assert client.get("/probe/wrong").status_code == 500  # logged: "... breaks its declaration: ..."
    else:
        assert client.get("/probe/wrong").get_json() == {"count": "many"}


def test_every_model_of_the_contract_has_its_own_name():
    """The document names a schema by its class alone, and spectree lets a later model of the same name
    silently replace an earlier one: two models named alike would make one operation lie."""
    import importlib
    import inspect
    import pkgutil

    from pydantic import BaseModel

    import dispatch.http

    modules = [
        importlib.import_module(info.name) for info in pkgutil.walk_packages(dispatch.http.__path__, "dispatch.http.")
    ]
    by_name: dict[str, set[str]] = {}
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                by_name.setdefault(name, set()).add(module.__name__)
    assert len(by_name) > 50
    assert {name: where for name, where in by_name.items() if len(where) > 1} == {}
