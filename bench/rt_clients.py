"""Load generator of bench/realtime.py: many Socket.IO clients in one gevent process.

Not run by hand: bench/realtime.py starts a few of these and drives them with one JSON
command per line on stdin; each answer is one JSON line on stdout.

The clients speak the Socket.IO v5 / Engine.IO v4 protocol over a websocket directly
(websocket-client, one greenlet per connection), the way python-socketio and socket.io
clients do, without a thread or two per client: a process holds a thousand of them.
Both servers of the benchmark (dispatch and the Node comparison) get the very same code.

- tablets on ``/squad`` (auth ``{"token", "last_seq": 0}``) record the arrival of every
  ``task`` message (time.monotonic, the same clock in every process of the machine) and
  answer ``ack {"seq"}`` at once; in the ingest phase they send ``position`` events.
- screens on ``/command`` record every ``position`` update of every ``frame``: squad id,
  rev, arrival (monotonic and wall clock) and the frame's ``at`` (the server's wall clock
  when it emitted the frame).
"""

from gevent import monkey

monkey.patch_all()

import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402
import websocket  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

UTC = dt.UTC


class Refused(Exception):
    pass


class Client:
    """One Socket.IO connection to one namespace."""

    def __init__(self, url: str, namespace: str, auth: dict | None = None):
        self.url = url
        self.ns = namespace
        self.auth = auth
        self.ws: websocket.WebSocket | None = None
        self.closed = False
        self.errors = 0
        self._acks: dict[int, gevent.event.AsyncResult] = {}
        self._next_ack = 0
        self._prefix_event = f"42{namespace},"
        self._prefix_ack = f"43{namespace},"

    def connect(self, timeout: float = 30) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        # No UTF-8 check of what arrives: websocket-client does it in pure Python (about 23 ms for
        # a 190 kB frame of 1,000 positions), which a browser does natively; with several screens
        # per process it was the load generator, not the server, that delayed the frames.
        self.ws = websocket.create_connection(
            ws_url, timeout=timeout, enable_multithread=True, skip_utf8_validation=True
        )
        opening = self.ws.recv()
        if not opening.startswith("0"):
            raise RuntimeError(f"unexpected engine.io opening {opening[:80]!r}")
        self.ws.send(f"40{self.ns}," + json.dumps(self.auth) if self.auth is not None else f"40{self.ns},")
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
            elif packet.startswith(f"40{self.ns},"):
                break
            elif packet.startswith(f"44{self.ns},"):
                raise Refused(packet)
            else:
                self.on_packet(packet, time.monotonic(), time.time())
        self.ws.settimeout(None)
        gevent.spawn(self._read)

    def _read(self) -> None:
        ws = self.ws
        while not self.closed:
            try:
                packet = ws.recv()
            except Exception:  # noqa: BLE001 - closed by us or by the server
                if not self.closed:
                    self.errors += 1
                return
            now, wall = time.monotonic(), time.time()
            if not packet:
                if not self.closed:
                    self.errors += 1
                return
            if packet == "2":
                self.send("3")
                continue
            try:
                self.on_packet(packet, now, wall)
            except Exception:  # noqa: BLE001
                self.errors += 1
                traceback.print_exc(file=sys.stderr)

    def on_packet(self, packet: str, now: float, wall: float) -> None:
        if packet.startswith(self._prefix_event):
            body = packet[len(self._prefix_event) :]
            start = 0
            while start < len(body) and body[start].isdigit():
                start += 1
            name, *args = json.loads(body[start:])
            self.on_event(name, args[0] if args else None, now, wall)
        elif packet.startswith(self._prefix_ack):
            body = packet[len(self._prefix_ack) :]
            start = 0
            while start < len(body) and body[start].isdigit():
                start += 1
            waiter = self._acks.pop(int(body[:start]), None)
            if waiter is not None:
                waiter.set((now, json.loads(body[start:])))

    def on_event(self, name: str, data, now: float, wall: float) -> None:
        pass

    def send(self, packet: str) -> None:
        try:
            self.ws.send(packet)
        except Exception:  # noqa: BLE001
            if not self.closed:
                self.errors += 1

    def emit(self, name: str, data) -> None:
        self.send(self._prefix_event + json.dumps([name, data], separators=(",", ":")))

    def call(self, name: str, data, timeout: float = 30):
        """Emit with an ack id; (arrival, reply) or None on timeout."""
        self._next_ack += 1
        ack_id = self._next_ack
        waiter = gevent.event.AsyncResult()
        self._acks[ack_id] = waiter
        self.send(f"{self._prefix_event}{ack_id}" + json.dumps([name, data], separators=(",", ":")))
        try:
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            self._acks.pop(ack_id, None)
            return None

    def close(self) -> None:
        self.closed = True
        try:
            self.ws.send(f"41{self.ns},")
            self.ws.close(timeout=0.2)
        except Exception:  # noqa: BLE001
            pass


class Tablet(Client):
    def __init__(self, url: str, squad_id: int, token: str):
        super().__init__(url, "/squad", {"token": token, "last_seq": 0})
        self.squad_id = squad_id
        self.tasks: list[tuple[int, str, float]] = []  # (seq, action, arrival)

    def on_event(self, name, data, now, wall):
        if name == "task":
            self.tasks.append((data["seq"], data["action"], now))
            self.emit("ack", {"seq": data["seq"]})


class Screen(Client):
    """A command screen. Frames are kept as they arrive and parsed when the results are asked
    for: a browser parses on its own core, while here one process holds several screens, and
    parsing one screen's 190 kB frame at once would delay the arrival of the next screen's."""

    def __init__(self, url: str):
        super().__init__(url, "/command", {"token": os.environ.get("BENCH_API_TOKEN", "")})
        self._frame_prefix = f'{self._prefix_event}["frame",'
        self.raw_frames: list[tuple[str, float, float]] = []  # (packet, arrival, wall)
        self.frames = 0

    def on_packet(self, packet, now, wall):
        if packet.startswith(self._frame_prefix):
            self.frames += 1
            self.raw_frames.append((packet, now, wall))
        else:
            super().on_packet(packet, now, wall)

    @property
    def positions(self) -> list[tuple[int, int, float, float, float, float]]:
        """(squad, rev, arrival, wall, frame at, fix time) of every position update of every
        frame. The fix time is the update's own (microseconds); its rev is that time cut to
        whole milliseconds, which would add 0.5 ms on average to a latency taken from it."""
        out = []
        for packet, now, wall in self.raw_frames:
            _name, data = json.loads(packet[len(self._prefix_event) :])
            at = data.get("at") or 0.0
            for update in data["updates"]:
                if update["type"] == "position":
                    fixed = dt.datetime.fromisoformat(update["data"]["time"]).timestamp()
                    out.append((update["id"], update["rev"], now, wall, at, fixed))
        return out


class Worker:
    def __init__(self):
        self.tablets: list[Tablet] = []
        self.screens: list[Screen] = []

    def connect(self, url: str, tablets: list, screens: int, concurrency: int = 20) -> dict:
        """Connect more clients (added to those already connected)."""
        started = time.monotonic()
        new_tablets = [Tablet(url, squad_id, token) for squad_id, token in tablets]
        new_screens = [Screen(url) for _ in range(screens)]
        self.tablets += new_tablets
        self.screens += new_screens
        failures: list[str] = []

        def one(client: Client) -> None:
            try:
                client.connect()
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{client.ns}: {type(exc).__name__}: {str(exc)[:200]}")

        pool = gevent.pool.Pool(concurrency)
        for client in [*new_tablets, *new_screens]:
            pool.spawn(one, client)
        pool.join()
        return {"seconds": time.monotonic() - started, "failures": failures}

    def reset(self) -> dict:
        for t in self.tablets:
            t.tasks.clear()
        for s in self.screens:
            s.raw_frames.clear()
            s.frames = 0
        return {}

    def _of(self, url: str | None) -> tuple[list, list]:
        """The tablets and screens of the server ``url`` (every one, given None): the benchmark
        keeps clients connected to two servers at once."""
        return (
            [t for t in self.tablets if url is None or t.url == url],
            [s for s in self.screens if url is None or s.url == url],
        )

    def results(self, url: str | None = None) -> dict:
        """What the clients (of the server ``url``, when given) recorded since the last reset."""
        tablets, screens = self._of(url)
        return {
            "tasks": {t.squad_id: t.tasks for t in tablets if t.tasks},
            "positions": [s.positions for s in screens],
            "frames": sum(s.frames for s in screens),
            "errors": sum(c.errors for c in [*tablets, *screens]),
        }

    def ingest(self, seconds: float, rate: float, batch: int, places: dict) -> dict:
        """Every tablet sends ``batch`` fixes per ``position`` event, ``rate`` fixes/s each, one in flight."""
        interval = batch / rate
        run_id = f"{random.getrandbits(32):08x}"  # fix ids are idempotent: a fresh prefix per run
        start = time.monotonic() + 0.5
        deadline = start + seconds
        stats = {"sent": 0, "stored": 0, "stored_in_window": 0, "refused": 0, "timeouts": 0, "replies": []}

        def run(tablet: Tablet) -> None:
            lon0, lat0 = places[str(tablet.squad_id)]
            rng = random.Random(tablet.squad_id)
            counter = 0
            next_send = start + rng.uniform(0, interval)
            while True:
                gevent.sleep(max(0.0, next_send - time.monotonic()))
                if time.monotonic() >= deadline:
                    return
                now = dt.datetime.now(UTC)
                fixes = []
                for k in range(batch):
                    counter += 1
                    fixes.append(
                        {
                            "id": f"{run_id}-{tablet.squad_id}-{counter}",
                            "lon": round(lon0 + rng.uniform(-1e-5, 1e-5), 7),
                            "lat": round(lat0 + rng.uniform(-1e-5, 1e-5), 7),
                            "crs": "wgs84",
                            "time": (now - dt.timedelta(milliseconds=batch - 1 - k)).isoformat(),
                            "accuracy": 8.0,
                        }
                    )
                sent_at = time.monotonic()
                stats["sent"] += batch
                answer = tablet.call("position", {"fixes": fixes} if batch > 1 else fixes[0], timeout=30)
                if answer is None:
                    stats["timeouts"] += 1
                else:
                    arrived, (reply,) = answer
                    stats["replies"].append(arrived - sent_at)
                    if reply.get("ok"):
                        stats["stored"] += reply.get("stored", 0)
                        if arrived <= deadline:
                            stats["stored_in_window"] += reply.get("stored", 0)
                    else:
                        stats["refused"] += 1
                next_send = max(next_send + interval, time.monotonic())

        gevent.joinall([gevent.spawn(run, t) for t in self.tablets])
        return stats

    def close(self, url: str | None = None) -> dict:
        """Close the clients (of the server ``url`` only, when given)."""
        tablets, screens = self._of(url)
        closed = {id(client) for client in [*tablets, *screens]}
        for client in [*tablets, *screens]:
            client.close()
        self.tablets = [t for t in self.tablets if id(t) not in closed]
        self.screens = [s for s in self.screens if id(s) not in closed]
        return {}


def main() -> None:
    stdin = FileObjectPosix(sys.stdin.fileno(), "rb")
    worker = Worker()
    while True:
        line = stdin.readline()
        if not line:
            break
        command = json.loads(line)
        name = command.pop("cmd")
        try:
            if name == "exit":
                worker.close()
                break
            answer = {"ok": True, **getattr(worker, name)(**command)}
        except Exception as exc:  # noqa: BLE001
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
