"""Issue 8: 1,000 tablets reconnecting at once get all their pending messages, and no task twice.

The real cause of a storm is a server restart. On the production server (gevent), 1,000
squads' tablets are online and have acknowledged what they had (a scheduled inspection each);
the server is killed with SIGKILL under them; while they are away the restarted server takes
work through the HTTP API (a response task for every squad, and for some squads a
cancellation, or a cancellation and a new task); then all 1,000 tablets reconnect at once with
their ``last_seq``. Each must receive exactly its own pending messages, in seq order, each seq
once, then its welcome; the database must hold no task twice, and nothing unacknowledged once
they have acknowledged.

The tablets are real python-socketio clients, the very client tests/realtime_clients.py uses,
run in a few subprocesses (tests/storm_tablets.py) where gevent turns each client's threads into
greenlets: 1,000 clients with two threads each would not fit in the test process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from dispatch import synthetic
from dispatch.config import PROJECT_ROOT
from tests.conftest import Api
from tests.factories import incident_body

pytestmark = pytest.mark.live

TABLETS = 1000
WORKERS = 2  # client processes (the machine has two cores; the server and PostgreSQL share them)
GROUP = 20  # the most squads one dispatch or joint inspection takes
CST = dt.timezone(dt.timedelta(hours=8))
WORKER_SCRIPT = Path(__file__).with_name("storm_tablets.py")


# -- data ----------------------------------------------------------------------------------------


def _build_squads(store, n: int) -> list[dict]:
    """``n`` comprehensive squads within ~100 m of real Shengsi comprehensive squads' stations,
    one certified officer on duty and one tablet token each (dispatch.synthetic, as the bench)."""
    raw = store.connection().connection.driver_connection  # the psycopg connection of the session
    with raw.cursor() as cur:
        squads = synthetic.add_squads(cur, n, random.Random(8), prefix="storm-", label="storm tablet")
        cur.execute("ANALYZE squad, officer, tablet_token")
    store.commit()
    assert len(squads) == n
    return squads


def _groups(squads: list[dict]) -> list[list[dict]]:
    return [squads[i : i + GROUP] for i in range(0, len(squads), GROUP)]


def _schedule(api: Api, group: list[dict], n: int) -> None:
    """A joint inspection by hand: a scheduled task (one message) for each squad of the group."""
    start = dt.datetime.now(CST) + dt.timedelta(days=1, minutes=n)
    lon, lat = group[0]["source"]
    body = {
        "target": {"name": f"风暴检查点{n}", "location": {"type": "Point", "coordinates": [lon, lat]}},
        "slot": {"start": start.isoformat(), "end": (start + dt.timedelta(hours=2)).isoformat()},
        "squad_ids": [s["id"] for s in group],
    }
    response = api.post("/joint-inspections", body)
    assert response.status_code == 201, response.text


def _dispatch(api: Api, group: list[dict], n: int) -> dict[int, int]:
    """An incident (matter CM-001, at a real squad's station) and one dispatch of the group to it."""
    lon, lat = group[0]["source"]
    incident = api.post("/incidents", incident_body(at=(lon, lat), external_id=f"storm-{n}"))
    assert incident.status_code == 201, incident.text
    response = api.post(f"/incidents/{incident.json()['id']}/dispatch", {"squad_ids": [s["id"] for s in group]})
    assert response.status_code == 201, response.text
    return {t["squad"]["id"]: t["id"] for t in response.json()["tasks"]}


def _cancel(api: Api, task_id: int) -> None:
    response = api.post(f"/tasks/{task_id}/transition", {"to": "cancelled", "reason": "风暴测试: 调度员撤销"})
    assert response.status_code == 200, response.text


# -- the tablets' processes ----------------------------------------------------------------------


class TabletFleet:
    """tests/storm_tablets.py processes, the squads dealt out between them; one JSON line per command."""

    def __init__(self, count: int, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.lines: list[queue.Queue] = []
        self.pumps: list[threading.Thread] = []
        self.logs = [tmp_path / f"tablets-{i}.log" for i in range(count)]
        for log in self.logs:
            with open(log, "w") as err:
                proc = subprocess.Popen(
                    [sys.executable, str(WORKER_SCRIPT)],
                    cwd=PROJECT_ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            lines: queue.Queue = queue.Queue()
            pump = threading.Thread(target=self._pump, args=(proc, lines), daemon=True)
            pump.start()
            self.procs.append(proc)
            self.lines.append(lines)
            self.pumps.append(pump)

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    def _log_tail(self, i: int) -> str:
        return "\n".join(self.logs[i].read_text(errors="replace").splitlines()[-30:])

    def all(self, commands: list[dict], timeout: float) -> list[dict]:
        """One command to each process at once, then every answer (within ``timeout`` seconds)."""
        for proc, command in zip(self.procs, commands, strict=True):
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
        deadline = time.monotonic() + timeout
        answers = []
        for i, lines in enumerate(self.lines):
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"tablet process {i} did not answer {commands[i]['cmd']!r} in {timeout} s"
                ) from None
            if not line:
                raise AssertionError(f"tablet process {i} died:\n{self._log_tail(i)}")
            answer = json.loads(line)
            assert answer.pop("ok"), f"tablet process {i}: {answer['error']}\n{answer.get('trace', '')}"
            answers.append(answer)
        return answers

    def connect(self, url: str, tablets: list[tuple[int, str, int]]) -> list[dict]:
        k = len(self.procs)
        commands = [{"cmd": "connect", "url": url, "tablets": tablets[i::k], "auto_ack": True} for i in range(k)]
        return self.all(commands, timeout=120)

    def wait(self, want: dict[int, int], timeout: float) -> list[dict]:
        command = {"cmd": "wait", "want": {str(s): n for s, n in want.items()}, "timeout": timeout}
        return self.all([command] * len(self.procs), timeout=timeout + 30)  # each process waits for its own

    def wait_disconnected(self, timeout: float) -> int:
        return sum(
            a["still_connected"]
            for a in self.all([{"cmd": "wait_disconnected", "timeout": timeout}] * len(self.procs), timeout + 30)
        )

    def report(self, name: str) -> dict[int, dict]:
        paths = [str(self.tmp_path / f"{name}-{i}.json") for i in range(len(self.procs))]
        self.all([{"cmd": "report", "path": p} for p in paths], timeout=60)
        records = [r for p in paths for r in json.loads(Path(p).read_text())]
        return {r["squad_id"]: r for r in records}

    def close(self) -> None:
        self.all([{"cmd": "close"}] * len(self.procs), timeout=60)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.stdin.write('{"cmd": "exit"}\n')
                    proc.stdin.flush()
                    proc.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()
        for proc, pump in zip(self.procs, self.pumps, strict=True):
            pump.join(10)  # EOF once the process is gone
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.stdout.close()

    def errors(self) -> str:
        """What the tablet processes wrote to stderr (python-socketio's warnings, any traceback)."""
        return "".join(log.read_text(errors="replace") for log in self.logs)


def _metric(api: Api, name: str) -> float:
    """One figure of the server's /metrics (Prometheus text format)."""
    response = api.http.get(f"{api.base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    (value,) = [float(line.split()[-1]) for line in response.text.splitlines() if line.split(" ")[0] == name]
    return value


# -- the storm -----------------------------------------------------------------------------------


def _unacknowledged(store) -> int:
    store.rollback()  # a fresh snapshot
    return store.scalar(text("SELECT count(*) FROM squad_message WHERE acked_at IS NULL AND superseded_by IS NULL"))


def test_1000_tablets_reconnecting_at_once_after_a_restart_get_exactly_their_pending_messages(
    start_server, store, tmp_path
):
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    squads = _build_squads(store, TABLETS)
    ids = [s["id"] for s in squads]
    token_of = {s["id"]: s["token"] for s in squads}
    lap("squads")
    first = start_server(production=True)
    fleet = TabletFleet(WORKERS, tmp_path)
    try:
        # 1. Every tablet online; a scheduled inspection each (seq 1), delivered live and acknowledged.
        answers = fleet.connect(first.url, [(s, token_of[s], 0) for s in ids])
        assert sum(a["connected"] for a in answers) == TABLETS, answers
        lap("1,000 tablets connected")
        api = Api(first.url)
        for n, group in enumerate(_groups(squads)):
            _schedule(api, group, n)
        api.close()
        short = fleet.wait({s: 1 for s in ids}, timeout=60)
        assert sum(a["short_count"] for a in short) == 0, f"tablets short of messages: {short}"
        online = fleet.report("online")
        inspection_task: dict[int, int] = {}
        for squad_id in ids:
            record = online[squad_id]
            assert record["errors"] == [], record
            kinds = [kind for kind, _ in record["events"]]
            assert kinds == ["welcome", "task"], record  # nothing was pending at connect
            assert record["events"][0][1] == {"squad_id": squad_id, "resent": 0}
            message = record["events"][1][1]
            assert (message["seq"], message["action"]) == (1, "scheduled"), record
            assert message["task"]["squad"]["id"] == squad_id and message["task"]["kind"] == "inspection"
            assert record["acks"] == {"1": {"ok": True, "acknowledged": True}}, record
            inspection_task[squad_id] = message["task"]["id"]
        assert _unacknowledged(store) == 0
        lap("1,000 scheduled messages delivered and acknowledged")

        # 2. The server dies under them.
        first.stop(signal.SIGKILL)
        assert fleet.wait_disconnected(timeout=30) == 0
        lap("killed")

        # 3. The restarted server takes work while the tablets are away. Its ACK_TIMEOUT_S is long,
        # so no resend-after-timeout (a legitimate duplicate) can blur "each seq once" below.
        second = start_server(production=True, ACK_TIMEOUT_S=600)
        lap("restarted")
        api = Api(second.url)
        expected: dict[int, list[tuple[int, str, int]]] = {}  # squad -> [(seq, action, task id)]
        n = 0
        for group in _groups(squads):  # a response task for every squad: seq 2
            n += 1
            for squad_id, task_id in _dispatch(api, group, n).items():
                expected[squad_id] = [(2, "dispatched", task_id)]
        assert sorted(expected) == ids
        cancel_inspection = ids[0::10]  # their inspection is called off too: seq 3
        for squad_id in cancel_inspection:
            _cancel(api, inspection_task[squad_id])
            expected[squad_id].append((3, "cancelled", inspection_task[squad_id]))
        redispatched = ids[5::10]  # their response task is cancelled (seq 3 supersedes 2), then a new one: seq 4
        for squad_id in redispatched:
            (dispatched,) = expected[squad_id]
            _cancel(api, dispatched[2])
            expected[squad_id] = [(3, "cancelled", dispatched[2])]
        for group in _groups([s for s in squads if s["id"] in set(redispatched)]):
            n += 1
            for squad_id, task_id in _dispatch(api, group, n).items():
                expected[squad_id].append((4, "dispatched", task_id))
        api.close()
        lap(f"{n} incidents, {n} dispatches, {len(cancel_inspection) + len(redispatched)} cancellations over HTTP")

        # 4. The storm: all 1,000 reconnect at once. A tablet resends the last seq it processed;
        # some (reinstalled, say) come back with 0: what they acknowledged must not come again.
        forgetful = set(ids[7::10])
        last_seq = {s: 0 if s in forgetful else 1 for s in ids}
        storm_started = time.monotonic()
        answers = fleet.connect(second.url, [(s, token_of[s], last_seq[s]) for s in ids])
        assert sum(a["connected"] for a in answers) == TABLETS, answers
        short = fleet.wait({s: len(expected[s]) for s in ids}, timeout=60)
        assert sum(a["short_count"] for a in short) == 0, f"tablets short of messages: {short}"
        storm_seconds = time.monotonic() - storm_started
        time.sleep(1.0)  # anything extra (a duplicate, another squad's message) would arrive by now
        back = fleet.report("back")
        lap("storm delivered and acknowledged")

        failures = []
        for squad_id in ids:
            record = back[squad_id]
            got = [
                (data["seq"], data["action"], data["task"]["id"], data["task"]["squad"]["id"])
                for kind, data in record["events"]
                if kind == "task"
            ]
            want = [(seq, action, task_id, squad_id) for seq, action, task_id in expected[squad_id]]
            welcome = [data for kind, data in record["events"] if kind == "welcome"]
            problems = []
            if got != want:  # exactly the pending messages, in seq order, each once, none of another squad
                problems.append(f"messages {got} instead of {want}")
            if welcome != [{"squad_id": squad_id, "resent": len(want)}]:
                problems.append(f"welcome {welcome}")
            elif record["events"][-1][0] != "welcome":
                problems.append("welcome before the resent messages")
            if record["acks"] != {str(seq): {"ok": True, "acknowledged": True} for seq, _, _ in expected[squad_id]}:
                problems.append(f"ack replies {record['acks']}")
            if record["errors"] or record["disconnected"]:
                problems.append(f"errors {record['errors']}, disconnected {record['disconnected']}")
            if problems:
                failures.append((squad_id, last_seq[squad_id], problems))
        assert failures == [], f"{len(failures)} tablets wrong, e.g. {failures[:5]}"

        # The database: every task once, every message once, nothing left to deliver.
        store.rollback()
        doubled = store.execute(
            text(
                "SELECT squad_id, coalesce(incident_id, -1), coalesce(joint_inspection_id, -1), count(*) FROM task "
                "GROUP BY 1, 2, 3 HAVING count(*) > 1"
            )
        ).all()
        assert doubled == [], "a squad holds a task twice"
        counts = dict(
            store.execute(
                text(
                    "SELECT t.kind, count(*) FROM task t JOIN squad s ON s.id = t.squad_id "
                    "WHERE s.code LIKE 'storm-%' GROUP BY t.kind"
                )
            ).all()
        )
        assert counts == {"inspection": TABLETS, "response": TABLETS + len(redispatched)}
        seqs = dict(store.execute(text("SELECT id, message_seq FROM squad WHERE code LIKE 'storm-%'")).all())
        assert seqs == {s: expected[s][-1][0] for s in ids}
        assert _unacknowledged(store) == 0
        api = Api(second.url)
        assert _metric(api, "dispatch_tablets_connected") == TABLETS
        assert _metric(api, "dispatch_outbox_backlog") == 0
        lap("checked")

        api.close()

        # They go, and the server is stopped while it is still letting them go. The SIGTERM must
        # stop it: under gevent a KeyboardInterrupt raised from the signal handler used to land in
        # a disconnect handler, which swallowed it, and the server lived on until SIGKILL.
        fleet.close()
        asked = time.monotonic()
        assert second.stop(signal.SIGTERM, timeout=20) == 0, second.log_path.read_text()[-3000:]
        assert time.monotonic() - asked < 10, "SIGTERM stops a busy gevent server within seconds"
        lap("stopped")
        times = {k: [round(a[k], 1) for a in answers] for k in ("connect_p50", "connect_max")}
        print(
            f"\nreconnect storm of {TABLETS} tablets: {storm_seconds:.1f} s to deliver and acknowledge all; "
            f"connect per process {times}; at {timings}"
        )
        for text_ in (first.log(), second.log()):  # the second one's includes its stop
            assert "Traceback" not in text_, text_[-5000:]
        assert "Traceback" not in fleet.errors(), fleet.errors()[-5000:]
    finally:
        fleet.stop()
