"""Benchmark of real time (issue 4): dispatch to tablets, frames to command screens, position ingest.

It starts a throwaway PostGIS cluster (fsync off) in ``var/bench-rt``, migrates it, loads the
Shengsi reference data and adds 1,000 synthetic comprehensive squads (one certified officer
each, stationed within ~100 m of a real Shengsi squad) with one tablet token each. Clients are
spread over a few load-generator processes (``bench/rt_clients.py``: gevent, one greenlet per
websocket, the Socket.IO v5 protocol spoken directly), and two phases run:

1. dispatch and broadcast, on three servers up side by side: the production server
   (``python -m dispatch.production --no-seed``, gevent, ``FRAME_INTERVAL_S=0.05``) and two minimal
   Node socket.io 4 servers (``bench/node``, from the npm registry; installed with ``npm ci`` into
   ``var/bench-node``, kept there as a cache) given the same clients and triggers, for the
   dispatch/Node ratios. "Node" emits at once and stores nothing (no database, no coalescing: a
   restart loses every message). "Node+PG" (node-postgres) first commits what the delivery
   protocol asks of any server that loses nothing: the task, the squad's next message number and
   the outbox row with the message, in one statement and one round trip to the same PostgreSQL
   (tables of its own, schema ``bench_node``), then emits the stored message; none of dispatch's
   rules (locks, competence, certificates, the record). Every client is connected to each, and
   the dispatches come in ``--blocks`` blocks that alternate between them (A B C, C B A, ...):
   this VM's speed drifts within minutes, and one server measured a minute after the other (as
   this benchmark did until session 9) could differ by that drift alone.
   - dispatch-to-tablet, with 1,000 tablets on ``/squad``: ``POST /api/v1/incidents/<id>/dispatch``
     to random squads, one after the other (incidents filed before through ``POST /incidents``,
     then VACUUM ANALYZE and CHECKPOINT so that none of that work is left for the timed part),
     after ``--warmup`` untimed ones leading into each server's first block and 3 into each later
     one (connections, prepared statements, Node's JIT; a process that idled while the other
     server had its turn); from just before the POST to the ``task`` ``dispatched`` event at the
     tablet (which acks it); the server part is the POST's response time;
   - broadcast, one server at a time with the other stopped (alternated, the idle dispatch
     server's pings of its 2,000 clients took CPU from Node's turns), 1,000 screens on
     ``/command`` added to the tablets: a fix
     ``POST /api/v1/squads/<id>/positions`` for one squad; from just before the POST to the
     arrival, at each screen, of the frame that carries it (p95 over screens x repetitions).
     Frames are coalesced: every 0.05 s here instead of the default 1 s, so up to 50 ms of it is
     the coalescing wait; the fan-out alone (frame ``at``, the server's clock when it emits ->
     arrival) is shown too.
2. ingest (the production server again, default ``FRAME_INTERVAL_S=1``): every tablet sends
   ``position`` events (``--batch`` fixes each, one in flight, paced to ``--rate`` fixes/s in all)
   for ``--seconds``; accepted fixes/s, and fix time -> the position update in a frame at
   ``--ingest-screens`` screens (p99). Then again at 80 % of the accepted rate (the latency at a
   load the server sustains: the latency target is judged there, provided that rate meets the
   rate target), then single-fix events for ``--single-seconds``.

Everything runs on this machine: the server, PostgreSQL, Node and the load generators share the
cores; the CPU seconds of each, and of every other process of the machine, are printed so the
limit is visible. It exits 0 when the
measurement ran, whatever the figures; non-zero on errors. The cluster, its data folder, the
servers and the load generators are removed at the end, also on Ctrl-C or SIGTERM.

    .venv/bin/python bench/realtime.py [--tablets N] [--screens N] [--dispatches N] [--seconds S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_SRC = Path(__file__).resolve().parent
for folder in (PROJECT_ROOT, BENCH_SRC):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import psycopg  # noqa: E402
import requests  # noqa: E402
from common import BenchError, free_port, percentile, run_to_the_end  # noqa: E402  (bench/common.py)
from sqlalchemy import create_engine, pool  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from dispatch import synthetic  # noqa: E402
from dispatch.seed import load_dataset_into  # noqa: E402
from dispatch.store import migrate  # noqa: E402
from dispatch.store.embedded_pg import EmbeddedPostgres  # noqa: E402
from gis.reference import load_dataset  # noqa: E402

# BENCH_RT_DIR: another working folder (the test suite runs a small bench beside a `make bench`)
BENCH_DIR = Path(os.environ.get("BENCH_RT_DIR") or PROJECT_ROOT / "var" / "bench-rt")
NODE_DIR = PROJECT_ROOT / "var" / "bench-node"
SHENGSI = PROJECT_ROOT / "gis" / "data" / "shengsi"
PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
CST = dt.timezone(dt.timedelta(hours=8))

TARGET_SERVER_P99_MS = 50.0
TARGET_BROADCAST_P95_MS = 150.0
TARGET_RATIO = 2.0
TARGET_FIXES_PER_S = 5000.0
# fix -> screen includes the wait for a frame (FRAME_INTERVAL_S=1 in the ingest phase): judged as the frame
# interval + 50 ms, the rule for every latency that contains a frame wait.
INGEST_FRAME_INTERVAL_MS = 1000.0
TARGET_INGEST_P99_MS = INGEST_FRAME_INTERVAL_MS + 50.0


# -- data ------------------------------------------------------------------------------------------


def build_squads(conn: psycopg.Connection, rng: random.Random, n: int) -> list[dict]:
    """``n`` comprehensive squads near real comprehensive squads' stations, an officer and a token each."""
    with conn.transaction(), conn.cursor() as cur:
        try:
            return synthetic.add_squads(cur, n, rng, prefix="rt-s", label="bench tablet")
        except LookupError as exc:
            raise BenchError(str(exc)) from None


def create_incidents(http: requests.Session, base: str, squads: list[dict], rng: random.Random, n: int) -> list[int]:
    """``n`` incidents (matter CM-001) at land points beside the synthetic squads, through the API."""
    on_land = [s for s in squads if s["island"] is not None] or squads
    ids: list[int] = []
    attempts = 0
    while len(ids) < n:
        attempts += 1
        if attempts > 3 * n + 20:
            raise BenchError("could not file the incidents (every place refused)")
        s = rng.choice(on_land)
        body = {
            "source": "hotline_12345",
            "external_id": f"bench-rt-{attempts:05d}",
            "matters": ["CM-001"],
            "location": {"type": "Point", "coordinates": [round(s["lon"], 6), round(s["lat"], 6)]},
            "description": f"基准事件 {attempts}: 群众反映占道经营",
            "reported_at": dt.datetime.now(CST).isoformat(),
        }
        response = http.post(f"{base}/api/v1/incidents", json=body, timeout=60)
        if response.status_code == 422:  # that point is outside every county after all
            continue
        if response.status_code != 201:
            raise BenchError(f"POST /incidents answered {response.status_code}: {response.text[:500]}")
        ids.append(response.json()["id"])
    return ids


# -- processes -------------------------------------------------------------------------------------


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (plus its reaped children, and live children when asked)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    if children:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                f = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(f[1]) == pid:
                total += int(f[11]) + int(f[12])
    return total / tick


class Proc:
    """A subprocess logging to a file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, args: list[str], log_path: Path, env: dict | None = None, **kwargs):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=kwargs.pop("stdout", self._log), stderr=self._log, **kwargs
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def wait_http(proc: Proc, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise BenchError(f"{proc.name} exited early ({proc.process.returncode}):\n{proc.log_tail()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise BenchError(f"{proc.name} was not ready after {timeout} s:\n{proc.log_tail()}")


def start_python_server(database_url: str, frame_interval: float) -> tuple[Proc, str]:
    port = free_port()
    data_dir = BENCH_DIR / "server"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DISPATCH_DATA_DIR": str(data_dir),
        "FRAME_INTERVAL_S": str(frame_interval),
        "INTAKE_RATE_PER_MINUTE": "1000000",  # the benchmark files hundreds of incidents with one token
    }
    env.pop("SOCKETIO_MESSAGE_QUEUE", None)
    proc = Proc(
        f"dispatch.production (FRAME_INTERVAL_S={frame_interval:g})",
        [str(PYTHON), "-m", "dispatch.production", "--port", str(port), "--no-seed"],
        BENCH_DIR / f"server-{port}.log",
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(proc, f"{base}/api/v1/health")
    return proc, base


def install_node() -> Path:
    """``npm ci`` of bench/node into var/bench-node (skipped when that lock file is installed already)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise BenchError("node and npm are needed for the comparison server (or run with --no-node)")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.js"):
        shutil.copyfile(BENCH_SRC / "node" / name, NODE_DIR / name)
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    stamp = NODE_DIR / "node_modules" / ".bench-lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise BenchError(f"npm ci failed:\n{result.stderr[-2000:]}")
        stamp.write_text(digest)
    return NODE_DIR / "server.js"


def start_node_server(script: Path, tokens_file: Path, database_url: str | None = None) -> tuple[Proc, str]:
    """The Node server; given ``database_url``, one that commits each dispatch's outbox row first."""
    port = free_port()
    args = ["node", str(script), str(port), str(tokens_file)] + ([database_url] if database_url else [])
    name = "node socket.io" + (" + PostgreSQL" if database_url else "")
    proc = Proc(name, args, BENCH_DIR / f"node-{port}.log")
    base = f"http://127.0.0.1:{port}"
    wait_http(proc, f"{base}/health")
    return proc, base


class Workers:
    """The load-generator processes (bench/rt_clients.py), one JSON command per line."""

    def __init__(self, count: int):
        self.procs = [
            Proc(
                f"load generator {i}",
                [str(PYTHON), str(BENCH_SRC / "rt_clients.py")],
                BENCH_DIR / f"clients-{i}.log",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(count)
        ]

    def __len__(self) -> int:
        return len(self.procs)

    def all(self, commands: list[dict]) -> list[dict]:
        """Send one command to each process at once, then collect every answer."""
        for proc, command in zip(self.procs, commands, strict=True):
            proc.process.stdin.write(json.dumps(command) + "\n")
            proc.process.stdin.flush()
        answers = []
        for proc in self.procs:
            line = proc.process.stdout.readline()
            if not line:
                raise BenchError(f"{proc.name} died:\n{proc.log_tail()}")
            answer = json.loads(line)
            if not answer.pop("ok"):
                raise BenchError(f"{proc.name}: {answer['error']}\n{answer.get('trace', '')}")
            answers.append(answer)
        return answers

    def same(self, **command) -> list[dict]:
        return self.all([dict(command) for _ in self.procs])

    def connect(self, url: str, tablets: list[dict], screens: int) -> float:
        k = len(self.procs)
        answers = self.all(
            [
                {
                    "cmd": "connect",
                    "url": url,
                    "tablets": [[s["id"], s["token"]] for s in tablets[i::k]],
                    "screens": screens // k + (1 if i < screens % k else 0),
                }
                for i in range(k)
            ]
        )
        failures = [f for a in answers for f in a["failures"]]
        if failures:
            raise BenchError(f"{len(failures)} clients could not connect, e.g. {failures[:3]}")
        return max(a["seconds"] for a in answers)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.process.poll() is None:
                try:
                    proc.process.stdin.write('{"cmd": "exit"}\n')
                    proc.process.stdin.flush()
                    proc.process.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            proc.stop()


# -- measurements ----------------------------------------------------------------------------------


@dataclass
class Target:
    """A server under test: its address and the processes whose CPU is its own."""

    name: str  # "dispatch", "Node" or "Node+PG"
    base: str
    node: bool
    pids: dict[str, tuple[int, bool]]


def _rounds(targets: list[Target], blocks: int):
    """Block ``b`` and the order the servers take their turns in it: A B C, C B A, A B C, ... so
    that a change of the machine's speed during the run (a shared VM: the same code measured 3.6
    to 6.8 ms p50 in runs minutes apart) falls on every server alike."""
    for b in range(blocks):
        yield b, (targets if b % 2 == 0 else targets[::-1])


def _add(total: dict | None, used: dict) -> dict:
    return dict(used) if total is None else {k: total.get(k, 0.0) + v for k, v in used.items()}


def _shares(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` (nearly) equal whole shares, the larger ones first."""
    size, extra = divmod(total, parts)
    return [size + (1 if i < extra else 0) for i in range(parts)]


def measure_dispatch(
    http: requests.Session,
    workers: Workers,
    targets: list[Target],
    plan: dict[str, list[tuple[int, int]]],
    blocks: int,
    warm: int,
    lead: int,
) -> dict[str, dict]:
    """Dispatches one after the other, in blocks that alternate between the servers (all up,
    every tablet connected to each); tablet arrival and HTTP response time of each, and the CPU
    that each server's processes used over its timed ones.

    ``plan[name]`` is that server's (squad, incident) pairs in order: ``warm`` untimed ones lead
    into its first block, ``lead`` untimed ones into each later one, the rest are timed. On this
    VM a process idle for a second or two answers its first requests slowly (a PostgreSQL
    backend 9-26 ms for ``SELECT 1``, any process ~2 ms for a socket round trip), and each
    server idles while the other takes its turn: a block that began with a timed dispatch
    would time that pause.
    """
    workers.same(cmd="reset")
    pending = {t.name: list(plan[t.name]) for t in targets}
    timed = {t.name: len(plan[t.name]) - warm - (blocks - 1) * lead for t in targets}
    if min(timed.values()) < blocks:
        raise BenchError("too few squads for the dispatches, the warm-up and the blocks")
    share = {name: _shares(n, blocks) for name, n in timed.items()}
    out = {t.name: {"tablet": [], "server": [], "sent": {}, "block": {}, "cpu": None} for t in targets}
    for b, order in _rounds(targets, blocks):
        for target in order:
            r, queue = out[target.name], pending[target.name]
            untimed = warm if b == 0 else lead
            for n in range(untimed + share[target.name][b]):
                if n == untimed:
                    meter = CpuMeter(target.pids)
                squad_id, incident_id = queue.pop(0)
                if target.node:
                    url, body = f"{target.base}/bench/dispatch", {"squad_id": squad_id, "incident_id": incident_id}
                else:
                    url, body = f"{target.base}/api/v1/incidents/{incident_id}/dispatch", {"squad_ids": [squad_id]}
                t0 = time.monotonic()
                response = http.post(url, json=body, timeout=60)
                elapsed = time.monotonic() - t0
                if response.status_code != 201:
                    raise BenchError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
                if n >= untimed:
                    r["server"].append(elapsed)
                    r["sent"][squad_id] = t0
                    r["block"][squad_id] = b
                time.sleep(0.01)
            r["cpu"] = _add(r["cpu"], meter.read())  # the block's timed dispatches and their acks
    time.sleep(1.0)
    for target in targets:
        r = out[target.name]
        arrivals: dict[int, float] = {}
        errors = 0
        for answer in workers.same(cmd="results", url=target.base):
            errors += answer["errors"]
            for squad_id, tasks in answer["tasks"].items():
                for _seq, action, arrived in tasks:
                    if action == "dispatched":
                        arrivals.setdefault(int(squad_id), arrived)
        sent, block = r.pop("sent"), r.pop("block")
        r["tablet"] = [arrivals[s] - t0 for s, t0 in sent.items() if s in arrivals]
        r["blocks"] = [
            [arrivals[s] - t0 for s, t0 in sent.items() if s in arrivals and block[s] == b] for b in range(blocks)
        ]
        r["lost"] = len(sent) - len(r["tablet"])
        r["errors"] = errors
    return out


def measure_broadcast(http: requests.Session, workers: Workers, target: Target, beacon: dict, reps: int) -> dict:
    """One position update at a time; its arrival at every screen (end to end, and fan-out
    only), and the CPU of the server's processes over the broadcasts."""
    workers.same(cmd="reset")
    sent: dict[int, float] = {}
    server: list[float] = []
    meter = CpuMeter(target.pids)
    for rep in range(reps):
        when = dt.datetime.now(dt.UTC)
        rev = int(when.timestamp() * 1000)
        if target.node:
            url, body, headers = f"{target.base}/bench/broadcast", {"squad_id": beacon["id"], "rev": rev}, {}
        else:
            fix = {
                "id": f"beacon-{rev}-{rep}",
                "lon": round(beacon["lon"] + random.uniform(-1e-5, 1e-5), 7),
                "lat": round(beacon["lat"] + random.uniform(-1e-5, 1e-5), 7),
                "crs": "wgs84",
                "time": when.isoformat(),
                "accuracy": 5.0,
            }
            url, body = f"{target.base}/api/v1/squads/{beacon['id']}/positions", {"fixes": [fix]}
            headers = {"Authorization": f"Bearer {beacon['token']}"}
        t0 = time.monotonic()
        response = http.post(url, json=body, headers=headers, timeout=60)
        server.append(time.monotonic() - t0)
        if response.status_code != 200 or (not target.node and not response.json().get("position_moved")):
            raise BenchError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
        sent[rev] = t0
        time.sleep(0.4 + random.uniform(0, 0.2))
    cpu = meter.read()
    time.sleep(1.5)
    latencies: list[float] = []
    fanout: list[float] = []
    expected = 0
    errors = 0
    for answer in workers.same(cmd="results", url=target.base):
        errors += answer["errors"]
        for screen in answer["positions"]:
            expected += len(sent)
            seen = set()
            for squad_id, rev, arrived, wall, at, _fixed in screen:
                if squad_id == beacon["id"] and rev in sent and rev not in seen:
                    seen.add(rev)
                    latencies.append(arrived - sent[rev])
                    fanout.append(wall - at)
    return {
        "latency": latencies,
        "fanout": fanout,
        "server": server,
        "lost": expected - len(latencies),
        "errors": errors,
        "cpu": cpu,
    }


def measure_ingest(workers: Workers, tablets: list[dict], seconds: float, rate: float, batch: int) -> dict:
    """Every tablet sends positions for ``seconds``; accepted fixes/s and fix -> frame latency."""
    workers.same(cmd="reset")
    k = len(workers)
    started_wall = time.time()
    answers = workers.all(
        [
            {
                "cmd": "ingest",
                "seconds": seconds,
                "rate": rate / len(tablets),
                "batch": batch,
                "places": {str(s["id"]): [s["lon"], s["lat"]] for s in tablets[i::k]},
            }
            for i in range(k)
        ]
    )
    time.sleep(2.5)  # the last frames
    stored_in_window = sum(a["stored_in_window"] for a in answers)
    replies = [r for a in answers for r in a["replies"]]
    latencies: list[float] = []
    to_frame: list[float] = []  # fix time -> the frame that carries it leaves the server (its "at")
    fanout: list[float] = []  # that frame's "at" -> arrival at the screen
    frames = 0
    frame_ats: set[float] = set()  # when each frame left (its "at"): the spacing
    for answer in workers.same(cmd="results"):
        frames += answer["frames"]
        for screen in answer["positions"]:
            for _sid, _rev, _arrived, wall, at, fixed in screen:
                frame_ats.add(at)
                if fixed >= started_wall:
                    latencies.append(wall - fixed)
                    to_frame.append(at - fixed)
                    fanout.append(wall - at)
    return {
        "seconds": seconds,
        "rate": rate,
        "batch": batch,
        "fixes_per_s": stored_in_window / seconds,
        "offered_per_s": sum(a["sent"] for a in answers) / seconds,
        "stored": sum(a["stored"] for a in answers),
        "refused": sum(a["refused"] for a in answers),
        "timeouts": sum(a["timeouts"] for a in answers),
        "reply": replies,
        "latency": latencies,
        "to_frame": to_frame,
        "fanout": fanout,
        "frames": frames,
        "frame_ats": sorted(frame_ats),
    }


# -- the run ---------------------------------------------------------------------------------------


def ms(values: list[float], q: float) -> float:
    return percentile(sorted(values), q) * 1000 if values else float("nan")


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by each process of a phase (children included for PostgreSQL), and by the
    rest of the machine (other people's jobs on a shared box show up there)."""

    def __init__(self, procs: dict[str, tuple[int, bool]]):
        self.procs = procs
        self.start = {name: _cpu_seconds(pid, kids) for name, (pid, kids) in procs.items()}
        self.machine = _machine_busy_seconds()
        self.t0 = time.monotonic()

    def read(self) -> dict:
        elapsed = time.monotonic() - self.t0
        used = {name: _cpu_seconds(pid, kids) - self.start[name] for name, (pid, kids) in self.procs.items()}
        others = _machine_busy_seconds() - self.machine - sum(used.values())
        return {"elapsed": elapsed, **used, "other processes": max(0.0, others)}


def _postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.pgdata / "postmaster.pid").read_text().splitlines()[0])


def _cleanup_stale() -> None:
    if BENCH_DIR.exists():
        print(f"removing a stale {BENCH_DIR} left by an earlier run", flush=True)
        EmbeddedPostgres(BENCH_DIR / "pg", fsync=False).destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        print(f"  {name}: {now - clock:.1f} s", flush=True)
        clock = now

    _cleanup_stale()
    started = time.perf_counter()
    BENCH_DIR.mkdir(parents=True)
    pg = EmbeddedPostgres(BENCH_DIR / "pg", fsync=False)
    running: list[Proc] = []
    workers: Workers | None = None
    results: dict = {"cpu": {}}
    try:
        print("setting up", flush=True)
        node_script = None if args.no_node else install_node()
        if node_script is not None:
            phase("npm ci of the Node comparison server (var/bench-node)")
        url = pg.start()
        pg_pid = _postmaster_pid(pg)
        phase("PostGIS cluster (fsync off)")
        migrate.upgrade(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with Session(engine) as session:
                load_dataset_into(session, load_dataset(SHENGSI))
                session.commit()
        finally:
            engine.dispose()
        phase("migrations and Shengsi reference data")
        with psycopg.connect(pg.url(driver="postgresql")) as conn:
            squads = build_squads(conn, rng, args.tablets)
            conn.autocommit = True
            conn.execute("ANALYZE")
        tokens_file = BENCH_DIR / "tokens.json"
        tokens_file.write_text(json.dumps({s["token"]: s["id"] for s in squads}))
        phase(f"{len(squads):,} squads, officers and tablet tokens")

        # The benchmark is a script: it signs in with a bearer token, and its screens with the same.
        api_token = "dpt_bench-" + os.urandom(12).hex()
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO api_token (name, role, token_hash) VALUES ('bench', 'admin', %s)",
                (hashlib.sha256(api_token.encode()).hexdigest(),),
            )
        os.environ["BENCH_API_TOKEN"] = api_token  # inherited by the client processes started below
        http = requests.Session()
        http.trust_env = False
        http.headers["Authorization"] = f"Bearer {api_token}"
        per_block_lead = 3 if args.blocks > 1 else 0
        needed = args.dispatches + args.warmup + (args.blocks - 1) * per_block_lead
        if needed > len(squads) - 1:
            raise BenchError(
                f"{needed} dispatches (warm-up and block lead-ins included) need more than {len(squads)} squads"
            )
        dispatched = rng.sample(squads, needed)  # one task per squad, on either server
        beacon = next(s for s in squads if s not in dispatched)
        workers = Workers(args.workers)
        worker_pids = [w.pid for w in workers.procs]
        load_pids = {f"load {i}": (pid, False) for i, pid in enumerate(worker_pids)}

        # 1. the production server, frames every 0.05 s, and the two Node servers beside it
        server, base = start_python_server(url, args.frame_interval)
        running.append(server)
        phase("production server (gevent)")
        incident_ids = create_incidents(http, base, squads, rng, len(dispatched))
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
            # what filing them left to do (autovacuum, dirty pages) is done before anything is timed
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        phase(f"{len(incident_ids)} incidents through POST /api/v1/incidents (then VACUUM ANALYZE, CHECKPOINT)")
        targets = [
            Target("dispatch", base, False, {"server": (server.pid, False), "postgres": (pg_pid, True)} | load_pids)
        ]
        squad_ids = [s["id"] for s in dispatched]
        plan = {"dispatch": list(zip(squad_ids, incident_ids, strict=True))}
        results["connect_python"] = workers.connect(base, squads, 0)
        phase(f"{len(squads):,} tablets connected to dispatch")
        nodes: list[Proc] = []
        if node_script is not None:
            # Node as it was (emit only, nothing stored) and Node committing the outbox row first
            # (the delivery protocol's durable minimum, in schema bench_node of the same cluster)
            for name, database_url in (("Node", None), ("Node+PG", pg.url(driver="postgresql"))):
                node, node_base = start_node_server(node_script, tokens_file, database_url)
                running.append(node)
                nodes.append(node)
                own = {"node": (node.pid, False)} | ({"postgres": (pg_pid, True)} if database_url else {})
                targets.append(Target(name, node_base, True, own | load_pids))
                plan[name] = list(zip(squad_ids, range(1, len(squad_ids) + 1), strict=True))
                results[f"connect_{name}"] = workers.connect(node_base, squads, 0)
                phase(f"{node.name} server; {len(squads):,} tablets connected to it too")
            # each server's CPU meter also shows what the others, idle, used meanwhile
            for target in targets:
                for other in targets:
                    if other is not target:
                        target.pids[f"idle {other.name}"] = other.pids["node" if other.node else "server"]
                if "postgres" not in target.pids:
                    target.pids["idle postgres"] = (pg_pid, True)
        dispatch_runs = measure_dispatch(
            http, workers, targets, plan, blocks=args.blocks, warm=args.warmup, lead=per_block_lead
        )
        results["python_dispatch"] = dispatch_runs["dispatch"]
        results["node_dispatch"] = dispatch_runs.get("Node")
        results["node_pg_dispatch"] = dispatch_runs.get("Node+PG")
        for name, run_ in dispatch_runs.items():
            results["cpu"][f"dispatch, {name}"] = run_["cpu"]
        phase(f"{len(dispatched) * len(targets)} dispatches, {args.blocks} blocks alternating between the servers")
        # Broadcasts: one server at a time, the other stopped (as before session 9). Alternated,
        # with every screen connected to both, the idle dispatch server used 0.2 s of CPU during
        # Node's 10 s of broadcasts (engine.io pings of its 2,000 clients, the resend sweep):
        # CPU taken from Node's turns, in the ratio's favour. In the dispatch blocks an idle
        # server uses 0.0-0.1 s (printed as "idle ..." in the CPU lines).
        for target, node in zip(targets[1:], nodes, strict=True):
            workers.same(cmd="close", url=target.base)
            node.stop()
            running.remove(node)
        results["connect_python"] += workers.connect(base, [], args.screens)
        time.sleep(1)
        phase(f"{args.screens:,} screens connected to dispatch (Node stopped)")
        targets[0].pids = {k: v for k, v in targets[0].pids.items() if not k.startswith("idle")}
        results["python_broadcast"] = measure_broadcast(http, workers, targets[0], beacon, args.broadcasts)
        results["cpu"]["broadcast, dispatch"] = results["python_broadcast"]["cpu"]
        phase(f"{args.broadcasts} broadcasts on dispatch")
        workers.same(cmd="close")
        server.stop()
        running.remove(server)
        results["node_broadcast"] = None
        if nodes:
            node, node_base = start_node_server(node_script, tokens_file)
            running.append(node)
            alone = Target("Node", node_base, True, {"node": (node.pid, False)} | load_pids)
            results["connect_Node"] += workers.connect(node_base, squads, args.screens)
            time.sleep(1)
            phase(f"Node restarted alone; {len(squads):,} tablets and {args.screens:,} screens connected")
            results["node_broadcast"] = measure_broadcast(http, workers, alone, beacon, args.broadcasts)
            results["cpu"]["broadcast, Node"] = results["node_broadcast"]["cpu"]
            phase(f"{args.broadcasts} broadcasts on Node")
            workers.same(cmd="close")
            node.stop()
            running.remove(node)

        # 2. ingest on the production server, default frames (1 s)
        if args.seconds > 0:
            server, base = start_python_server(url, 1.0)
            running.append(server)
            results["connect_ingest"] = workers.connect(base, squads, args.ingest_screens)
            phase(f"production server (FRAME_INTERVAL_S=1); tablets and {args.ingest_screens} screens connected")
            pids = {"server": (server.pid, False), "postgres": (pg_pid, True)}
            pids |= {f"load {i}": (p, False) for i, p in enumerate(worker_pids)}
            meter = CpuMeter(pids)
            main_run = measure_ingest(workers, squads, args.seconds, args.rate, args.batch)
            results["cpu"][f"ingest {args.batch} fixes/event"] = meter.read()
            results["ingest"] = [main_run]
            phase(f"ingest, {args.batch} fixes per event ({args.seconds:g} s)")
            # the latency at a load the server sustains: 80 % of what it accepted above
            sustained = 0.8 * min(main_run["fixes_per_s"], args.rate)
            if sustained > 0:
                results["ingest"].append(measure_ingest(workers, squads, args.seconds / 2, sustained, args.batch))
                phase(f"ingest at 80 % of that ({args.seconds / 2:g} s)")
            if args.single_seconds > 0:
                meter = CpuMeter(pids)
                results["ingest"].append(measure_ingest(workers, squads, args.single_seconds, args.rate, 1))
                results["cpu"]["ingest 1 fix/event"] = meter.read()
                phase(f"ingest, 1 fix per event ({args.single_seconds:g} s)")
            with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as conn:
                results["fixes_in_db"] = conn.execute("SELECT count(*) FROM position_fix").fetchone()[0]
            workers.same(cmd="close")
            server.stop()
            running.remove(server)
    finally:
        if workers is not None:
            workers.stop()
        for proc in running:
            proc.stop()
        pg.destroy()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)

    report(args, time.perf_counter() - started, results)
    return 0


def report(args, total_seconds: float, r: dict) -> None:
    width = 58
    line = "-" * (width + 44)
    py_d, py_b = r["python_dispatch"], r["python_broadcast"]
    node_d, node_b = r.get("node_dispatch"), r.get("node_broadcast")
    pg_d = r.get("node_pg_dispatch")
    print()
    print(line)
    print(
        f"dispatch real-time benchmark: {args.tablets:,} tablets, {args.screens:,} screens, "
        f"{args.dispatches} dispatches (after {args.warmup} untimed), {args.broadcasts} broadcasts, "
        f"{args.workers} load-generator processes; {args.blocks} blocks alternating between the servers"
    )
    print(
        f"whole run {total_seconds:.0f} s on {os.cpu_count()} cores (server, PostgreSQL, Node, load generators share them)"
    )
    print(
        f"dispatch and broadcast: python -m dispatch.production with FRAME_INTERVAL_S={args.frame_interval:g} "
        f"(broadcast end-to-end includes up to {args.frame_interval * 1000:g} ms of frame coalescing; "
        "fan-out = frame 'at' -> arrival)"
    )
    conns = f"connect all clients: dispatch {r['connect_python']:.1f} s"
    for name in ("Node", "Node+PG"):
        if f"connect_{name}" in r:
            conns += f", {name} {r[f'connect_{name}']:.1f} s"
    print(conns)
    print(
        "Node: emits at once, stores nothing (a restart loses every message); Node+PG: commits the task, "
        "the squad's message number\nand the outbox row in one statement first, then emits the stored message "
        "(the least the delivery protocol asks)"
    )
    print(line)
    print(f"{'ms':{width}}{'n':>8}{'dispatch':>10}{'Node':>9}{'ratio':>8}{'Node+PG':>9}{'ratio':>8}")

    def row(label: str, py: list[float], *others: list[float] | None, q: float) -> list[float | None]:
        a = ms(py, q)
        cells, ratios = "", []
        for other in others:
            b = ms(other, q) if other else float("nan")
            ratio = a / b if other and b > 0 else float("nan")
            cells += f"{b:9.1f}{ratio:8.1f}"
            ratios.append(ratio if other else None)
        print(f"{label:{width}}{len(py):>8}{a:10.1f}{cells}")
        return ratios

    def of(run: dict | None, key: str) -> list[float] | None:
        return run[key] if run else None

    row("dispatch -> tablet p50", py_d["tablet"], of(node_d, "tablet"), of(pg_d, "tablet"), q=0.50)
    ratio_d, ratio_pg = row("dispatch -> tablet p99", py_d["tablet"], of(node_d, "tablet"), of(pg_d, "tablet"), q=0.99)
    row("dispatch POST response (server part) p50", py_d["server"], of(node_d, "server"), of(pg_d, "server"), q=0.50)
    row("dispatch POST response (server part) p99", py_d["server"], of(node_d, "server"), of(pg_d, "server"), q=0.99)
    row("broadcast to every screen, end to end p50", py_b["latency"], of(node_b, "latency"), q=0.50)
    (ratio_b,) = row("broadcast to every screen, end to end p95", py_b["latency"], of(node_b, "latency"), q=0.95)
    row("broadcast fan-out only (frame at -> arrival) p95", py_b["fanout"], of(node_b, "fanout"), q=0.95)
    row("broadcast trigger POST response p50", py_b["server"], of(node_b, "server"), q=0.50)
    dispatch_runs = [("dispatch", py_d), ("Node", node_d), ("Node+PG", pg_d)]
    print(
        "dispatch -> tablet p50 by block (ms, in the order run): "
        + "; ".join(
            f"{name} " + " ".join(f"{ms(b, 0.5):.1f}" for b in run["blocks"]) for name, run in dispatch_runs if run
        )
    )
    lost = f"lost: dispatch {py_d['lost']} tasks, {py_b['lost']} frames"
    if node_d:
        lost += f"; Node {node_d['lost']} tasks, {node_b['lost']} frames"
    if pg_d:
        lost += f"; Node+PG {pg_d['lost']} tasks"
    errors = sum(run["errors"] for run in (py_d, py_b, node_d, node_b, pg_d) if run)
    print(f"{lost}; client errors {errors}")
    runs = r.get("ingest") or []
    if runs:
        print(line)
        print(
            f"ingest: {args.tablets:,} tablets send 'position' events, one in flight each, paced to {args.rate:,.0f} "
            f"fixes/s in all (sent/s is lower when replies lag); FRAME_INTERVAL_S=1; {args.ingest_screens} screens"
        )
        print(
            f"{'run':34}{'sent/s':>10}{'accepted/s':>11}{'reply p50':>10}{'p99':>8}"
            f"{'fix->frame p50':>15}{'p99':>8}{'n':>8}"
        )
        for run in runs:
            label = f"{run['batch']} fix{'es' if run['batch'] > 1 else ''}/event, {run['seconds']:g} s"
            if len(runs) > 1 and run is runs[1] and run["batch"] == args.batch:
                label += " (80 % of accepted)"
            print(
                f"{label:34}{run['offered_per_s']:10,.0f}{run['fixes_per_s']:11,.0f}{ms(run['reply'], 0.5):10.0f}"
                f"{ms(run['reply'], 0.99):8.0f}{ms(run['latency'], 0.5):15.0f}{ms(run['latency'], 0.99):8.0f}"
                f"{len(run['latency']):8,}"
            )
        for run in runs:
            ats = run["frame_ats"]
            gaps = [b - a for a, b in zip(ats, ats[1:], strict=False)]
            spacing = f"; a frame every {1000 * sum(gaps) / len(gaps):.1f} ms" if gaps else ""
            print(
                f"  {run['batch']} fix/event {run['seconds']:g} s: fix -> frame leaves the server p50 "
                f"{ms(run['to_frame'], 0.5):.0f} p99 {ms(run['to_frame'], 0.99):.0f}; frame -> screen p50 "
                f"{ms(run['fanout'], 0.5):.0f} p99 {ms(run['fanout'], 0.99):.0f}; {run['frames']:,} frames in all"
                f"{spacing}"
            )
        print(
            f"  (ms; refused events {sum(x['refused'] for x in runs)}, timeouts {sum(x['timeouts'] for x in runs)}; "
            f"{r.get('fixes_in_db', 0):,} rows in position_fix)"
        )
    print(line)
    print(f"CPU seconds used per phase ({os.cpu_count()} cores: at most {os.cpu_count()} CPU s per wall s):")
    for name, used in r["cpu"].items():
        print(
            f"  {name:32} {used['elapsed']:5.1f} s wall: "
            + ", ".join(f"{k} {v:.1f}" for k, v in used.items() if k != "elapsed")
        )
    cpu = r["cpu"]

    def per_dispatch(key: str | None, digits: int) -> str:
        """CPU per timed dispatch of each server whose meter has ``key`` (None: its own process)."""
        cells = []
        for name, run in dispatch_runs:
            used = cpu.get(f"dispatch, {name}", {})
            own = key or ("server" if name == "dispatch" else "node")
            if run and own in used:
                cells.append(f"{name} {used[own] / max(1, len(run['server'])) * 1000:.{digits}f} ms")
        return ", ".join(cells)

    if servers := per_dispatch(None, 1):
        print("  server CPU per dispatch (with its ack): " + servers)
    if postgres := per_dispatch("postgres", 2):
        print("  PostgreSQL CPU per dispatch: " + postgres)
    per_op = []
    if "broadcast, dispatch" in cpu:
        per_op.append(f"dispatch {cpu['broadcast, dispatch']['server'] / args.broadcasts * 1000:.0f} ms")
    if "broadcast, Node" in cpu:
        per_op.append(f"Node {cpu['broadcast, Node']['node'] / args.broadcasts * 1000:.0f} ms")
    if per_op:
        print(f"  server CPU per broadcast to {args.screens:,} screens: " + ", ".join(per_op))
    for key, run in (
        (f"ingest {args.batch} fixes/event", runs[0] if runs else None),
        ("ingest 1 fix/event", runs[-1] if len(runs) > 2 else None),
    ):
        if run and key in cpu and run["stored"]:
            c = cpu[key]
            print(
                f"  {key}: server {c['server'] / run['stored'] * 1e6:.0f} us + PostgreSQL "
                f"{c['postgres'] / run['stored'] * 1e6:.0f} us CPU per stored fix"
            )
    print(line)
    checks = [
        (
            f"dispatch server part p99 <= {TARGET_SERVER_P99_MS:g} ms",
            ms(py_d["server"], 0.99) <= TARGET_SERVER_P99_MS,
            f"{ms(py_d['server'], 0.99):.1f} ms",
        ),
        (
            f"broadcast to {args.screens:,} screens p95 <= {TARGET_BROADCAST_P95_MS:g} ms",
            ms(py_b["latency"], 0.95) <= TARGET_BROADCAST_P95_MS,
            f"{ms(py_b['latency'], 0.95):.1f} ms",
        ),
    ]
    if ratio_d is not None:
        checks.append(
            (
                f"dispatch -> tablet p99 ratio dispatch/Node <= {TARGET_RATIO:g} (reference)",
                ratio_d <= TARGET_RATIO,
                f"{ratio_d:.1f}x",
            )
        )
    if ratio_pg is not None:
        checks.append(
            (
                f"dispatch -> tablet p99 ratio dispatch/Node+PG <= {TARGET_RATIO:g}",
                ratio_pg <= TARGET_RATIO,
                f"{ratio_pg:.1f}x",
            )
        )
    if ratio_d is not None:
        checks.append(
            (f"broadcast p95 ratio dispatch/Node <= {TARGET_RATIO:g}", ratio_b <= TARGET_RATIO, f"{ratio_b:.1f}x")
        )
    ing = runs[0] if runs else None
    if ing:
        checks.append(
            (
                f"ingest >= {TARGET_FIXES_PER_S:,.0f} fixes/s",
                ing["fixes_per_s"] >= TARGET_FIXES_PER_S,
                f"{ing['fixes_per_s']:,.0f} fixes/s",
            )
        )
        # Latency is judged at a load the server sustains (the run at 80 % of what it accepted), and
        # only if that load itself meets the rate target: at saturation the queues grow without bound.
        held = runs[1] if len(runs) > 1 and runs[1]["batch"] == args.batch else ing
        checks.append(
            (
                f"ingest -> command centre p99 <= {TARGET_INGEST_P99_MS:g} ms, sustained at >= "
                f"{TARGET_FIXES_PER_S:,.0f}/s",
                ms(held["latency"], 0.99) <= TARGET_INGEST_P99_MS and held["fixes_per_s"] >= TARGET_FIXES_PER_S,
                f"{ms(held['latency'], 0.99):.0f} ms at {held['fixes_per_s']:,.0f} fixes/s",
            )
        )
    for label, ok, value in checks:
        print(f"target {label:52} {'met' if ok else 'MISSED':7} ({value})")
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tablets", type=int, default=1000, help="squads, each with one connected tablet")
    parser.add_argument("--screens", type=int, default=1000, help="command screens for the broadcast")
    parser.add_argument(
        "--dispatches", type=int, default=600, help="timed dispatches (one incident each; 600 for a steady p99)"
    )
    parser.add_argument("--warmup", type=int, default=30, help="untimed dispatches first, on either server")
    parser.add_argument("--blocks", type=int, default=6, help="blocks of dispatches, alternating between the servers")
    parser.add_argument("--broadcasts", type=int, default=20, help="timed broadcasts (one position update each)")
    parser.add_argument("--frame-interval", type=float, default=0.05, help="FRAME_INTERVAL_S of the dispatch phase")
    parser.add_argument("--seconds", type=float, default=20, help="ingest duration (0: no ingest phase)")
    parser.add_argument(
        "--rate", type=float, default=8000, help="fixes/s offered in all during ingest (above what is accepted)"
    )
    parser.add_argument("--batch", type=int, default=10, help="fixes per position event during ingest")
    parser.add_argument(
        "--single-seconds", type=float, default=10, help="then single-fix events for this long (0: skip)"
    )
    parser.add_argument("--ingest-screens", type=int, default=10, help="command screens during ingest")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes")
    parser.add_argument("--no-node", action="store_true", help="skip the Node comparison servers")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the synthetic data")
    args = parser.parse_args(argv)
    if min(args.tablets, args.screens, args.dispatches, args.broadcasts, args.workers, args.batch, args.blocks) < 1:
        parser.error(
            "--tablets, --screens, --dispatches, --broadcasts, --workers, --batch and --blocks must be positive"
        )
    if args.tablets < 2 or args.rate <= 0 or args.seconds < 0 or args.ingest_screens < 1:
        parser.error("--tablets must be >= 2, --rate > 0, --seconds >= 0, --ingest-screens >= 1")
    return run_to_the_end(lambda: run(args), "the servers, load generators and the cluster were")


if __name__ == "__main__":
    sys.exit(main())
