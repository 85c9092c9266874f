"""The server schedules its own periodic work, once across processes (an advisory lock), no cron."""

from __future__ import annotations

import time

from sqlalchemy import text

SETTINGS = {"SCHEDULE_ALERTS_S": "1", "SCHEDULE_COVERAGE_S": "3", "SCHEDULE_ESCALATION_S": "2"}


def _runs(store) -> dict[str, tuple[str, int]]:
    store.rollback()
    return {r.job: (r.host, r.runs) for r in store.execute(text("SELECT job, host, runs FROM scheduled_run"))}


def _wait(predicate, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met")


def test_two_processes_run_each_job_once_per_period_and_the_other_takes_over(start_server, store):
    first = start_server(**SETTINGS)
    second = start_server(**SETTINGS)
    _wait(lambda: {"alerts", "coverage", "escalation"} <= set(_runs(store)))
    time.sleep(4)
    runs = _runs(store)
    hosts = {host for host, _ in runs.values()}
    assert len(hosts) == 1, runs  # one leader runs every job
    leader_pid = int(next(iter(hosts)).rsplit(":", 1)[1])
    leader, other = (first, second) if first.process.pid == leader_pid else (second, first)
    before = runs["alerts"][1]
    time.sleep(3)
    after = _runs(store)["alerts"][1]
    assert 2 <= after - before <= 4, (before, after)  # about one a second, not one per process
    coverage_rows = store.execute(text("SELECT count(*) FROM township_coverage")).scalar()
    assert coverage_rows == 7  # the coverage job computed every township
    leader.stop()
    taken = _wait(lambda: _runs(store)["alerts"][0].endswith(f":{other.process.pid}") and _runs(store))
    assert taken["alerts"][1] > after
