"""bench/realtime.py at toy size: the three servers, the alternating blocks, the broadcasts and
the ingest run end to end, nothing is lost, and the report has every figure and target line.

No figure is judged here (timings belong to `make bench`); this keeps the benchmark from
rotting, and runs the Node+PG server's statement against a real PostGIS cluster. Skipped when
the machine has no Node.js and npm (they come with this project's machines).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from dispatch.config import PROJECT_ROOT

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="no Node.js/npm"),
]


def test_the_realtime_bench_runs_and_reports_every_server():
    work = PROJECT_ROOT / "var" / f"test-bench-rt-{os.getpid()}"  # the postgres user must reach it
    args = [
        sys.executable, "bench/realtime.py", "--tablets", "24", "--screens", "6", "--dispatches", "12",
        "--warmup", "3", "--blocks", "2", "--broadcasts", "2", "--seconds", "2", "--single-seconds", "1",
        "--rate", "200", "--ingest-screens", "2",
    ]  # fmt: skip
    result = subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        env={**os.environ, "BENCH_RT_DIR": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert not work.exists()  # the cluster and its folder are gone

    header = next(line for line in out.splitlines() if line.startswith("ms "))
    assert header.split() == ["ms", "n", "dispatch", "Node", "ratio", "Node+PG", "ratio"]
    p99 = next(line for line in out.splitlines() if line.startswith("dispatch -> tablet p99"))
    n, *cells = p99.removeprefix("dispatch -> tablet p99").split()
    assert n == "12" and len(cells) == 5 and all(float(c) > 0 for c in cells)  # every server measured

    # every task reached its tablet on each server, every frame its screen, no client error
    assert "lost: dispatch 0 tasks, 0 frames; Node 0 tasks, 0 frames; Node+PG 0 tasks; client errors 0" in out
    assert re.search(r"PostgreSQL CPU per dispatch: dispatch [\d.]+ ms, Node\+PG [\d.]+ ms", out)
    assert "refused events 0, timeouts 0" in out
    for target in (
        "dispatch server part p99",
        "broadcast to 6 screens p95",
        "dispatch -> tablet p99 ratio dispatch/Node ",
        "dispatch -> tablet p99 ratio dispatch/Node+PG",
        "broadcast p95 ratio dispatch/Node",
        "ingest >= 5,000 fixes/s",
        "ingest -> command centre p99",
    ):
        assert re.search(rf"^target {re.escape(target)}.*\b(met|MISSED)\b", out, re.M), target
