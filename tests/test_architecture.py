"""The layers hold: no circle among the project's imports, no import hidden in a function to dodge
one, Socket.IO only in dispatch.live, gis on its own, and import-linter's contracts (.importlinter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

from dispatch.config import PROJECT_ROOT

PACKAGES = ("dispatch", "gis")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(tree: ast.AST):
    """(node, imported module names) for every import of the tree; ``from pkg import sub`` names
    the submodule when it is one."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            yield node, subs if len(subs) == len(node.names) else [node.module, *subs]


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        for _node, targets in _imports(ast.parse(path.read_text())):
            graph.add_edges_from((name, t) for t in targets if t in MODULES and t != name)
    return graph


def test_no_circle_among_the_projects_imports():
    cycles = [c for c in nx.simple_cycles(_graph()) if len(c) > 1]
    assert cycles == [], f"import circles: {cycles[:5]}"


def test_a_circle_would_be_found():
    graph = _graph()
    graph.add_edge("dispatch.store.db", "dispatch.tasks")  # the store importing the domain
    assert any(len(c) > 1 for c in nx.simple_cycles(graph))


def test_no_project_import_hides_in_a_function_without_its_reason():
    """A lazy import is fine for start-up cost, with ``# lazy: <reason>`` on its line; never to dodge a circle."""
    hidden = []
    for name, path in MODULES.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        top = {id(node) for node in tree.body}
        for node, targets in _imports(tree):
            ours = [t for t in targets if t.split(".")[0] in PACKAGES]
            if ours and id(node) not in top and "# lazy:" not in lines[node.lineno - 1]:
                hidden.append(f"{name}:{node.lineno} imports {ours[0]}")
    assert hidden == []


def test_only_dispatch_live_imports_socketio_and_gis_never_imports_dispatch():
    socketio = ("flask_socketio", "socketio", "engineio")
    offenders = []
    for name, path in MODULES.items():
        for _node, targets in _imports(ast.parse(path.read_text())):
            for target in targets:
                root = target.split(".")[0]
                if root in socketio and not name.startswith("dispatch.live"):
                    offenders.append(f"{name} imports {target}")
                if name.startswith("gis") and root == "dispatch":
                    offenders.append(f"{name} imports {target}")
    assert offenders == []


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
