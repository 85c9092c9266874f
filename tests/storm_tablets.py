"""Tablets for tests/test_reconnect_storm.py: hundreds of real python-socketio clients in one process.

Not a test module and not imported by one: the test starts this file as a subprocess
(``python tests/storm_tablets.py``) and drives it with one JSON command per line on stdin;
each answer is one JSON line on stdout. gevent patches the standard library first, so every
``socketio.Client`` (python-socketio over websocket-client, exactly as tests/realtime_clients.py
uses it) runs its read and write loops in greenlets instead of threads: one process holds
hundreds of them.

Each tablet records, per connection and in arrival order, every ``task`` message and the
``welcome``; with ``auto_ack`` it answers each message with ``ack {"seq"}`` and keeps the
server's reply. Commands:

- ``connect {url, tablets: [[squad_id, token, last_seq], ...], auto_ack}``: new connections, all
  started at once; answers how many connected, the failures and the connect times.
- ``wait {want: {squad_id: n}, timeout}``: until each of its tablets holds n messages and its
  welcome (and, with auto_ack, the server's reply to each ack); answers those still short.
- ``wait_disconnected {timeout}``: until the server has dropped every connection.
- ``report {path}``: writes every tablet's record to ``path`` as JSON.
- ``close``, ``exit``.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import gevent  # noqa: E402
import socketio  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

NS = "/squad"


class StormTablet:
    """One squad tablet on /squad: one real python-socketio client, one connection."""

    def __init__(self, squad_id: int, token: str, last_seq: int, auto_ack: bool):
        self.squad_id = squad_id
        self.token = token
        self.last_seq = last_seq
        self.auto_ack = auto_ack
        self.events: list[list] = []  # ["task", message] | ["welcome", data], in arrival order
        self.acks: dict[int, object] = {}  # seq -> the server's reply to our ack
        self.errors: list[str] = []
        self.connected = False
        self.disconnected = False
        self.connect_seconds: float | None = None
        self._deferred: list[int] = []
        self.client = socketio.Client(reconnection=False, request_timeout=60)
        self.client.on("task", self._on_task, namespace=NS)
        self.client.on("welcome", self._on_welcome, namespace=NS)
        self.client.on("disconnect", self._on_disconnect, namespace=NS)

    def connect(self, url: str) -> None:
        started = time.monotonic()
        try:
            self.client.connect(
                url,
                namespaces=[NS],
                auth={"token": self.token, "last_seq": self.last_seq},
                transports=["websocket"],
                wait_timeout=60,
            )
        except Exception as exc:  # noqa: BLE001 - reported to the test
            self.errors.append(f"connect: {type(exc).__name__}: {exc}")
            return
        self.connected = True
        self.connect_seconds = time.monotonic() - started
        deferred, self._deferred = self._deferred, []
        for seq in deferred:
            self._ack(seq)

    def _on_task(self, message):
        self.events.append(["task", message])
        if self.auto_ack and isinstance(message, dict) and isinstance(message.get("seq"), int):
            self._ack(message["seq"])

    def _ack(self, seq: int) -> None:
        # The server sends what it resends, and the welcome, from its connect handler: before the
        # namespace's CONNECT packet. python-socketio refuses to emit on a namespace not connected
        # yet, so those acks leave once connect() has returned.
        if NS not in self.client.namespaces:
            self._deferred.append(seq)
            return
        self.client.emit("ack", {"seq": seq}, namespace=NS, callback=lambda reply=None: self._acked(seq, reply))

    def _acked(self, seq: int, reply) -> None:
        if seq in self.acks:
            self.errors.append(f"a second ack reply for seq {seq}: {reply}")
        self.acks[seq] = reply

    def _on_welcome(self, data):
        self.events.append(["welcome", data])

    def _on_disconnect(self, *reason):
        self.disconnected = True

    def tasks(self) -> list[dict]:
        return [data for kind, data in self.events if kind == "task"]

    def done(self, count: int) -> bool:
        tasks = self.tasks()
        if len(tasks) < count or not any(kind == "welcome" for kind, _ in self.events):
            return False
        return not self.auto_ack or all(m["seq"] in self.acks for m in tasks)

    def record(self) -> dict:
        return {
            "squad_id": self.squad_id,
            "last_seq": self.last_seq,
            "connected": self.connected,
            "disconnected": self.disconnected,
            "connect_seconds": self.connect_seconds,
            "events": self.events,
            "acks": {str(seq): reply for seq, reply in self.acks.items()},
            "errors": self.errors,
        }

    def close(self) -> None:
        ws = getattr(self.client.eio, "ws", None)
        if ws is not None:  # no 3 s wait for the server's close frame (see tests/realtime_clients.py)
            original = ws.close
            ws.close = lambda *args, **kwargs: original(timeout=0.1)
        try:
            self.client.disconnect()
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"disconnect: {type(exc).__name__}: {exc}")


class Worker:
    def __init__(self):
        self.tablets: list[StormTablet] = []

    def connect(self, url: str, tablets: list, auto_ack: bool = True) -> dict:
        new = [StormTablet(squad_id, token, last_seq, auto_ack) for squad_id, token, last_seq in tablets]
        self.tablets = new
        started = time.monotonic()
        greenlets = [gevent.spawn(t.connect, url) for t in new]  # all at once: the storm
        gevent.joinall(greenlets, timeout=90)
        times = sorted(t.connect_seconds for t in new if t.connect_seconds is not None)
        return {
            "connected": sum(t.connected for t in new),
            "failures": [f"squad {t.squad_id}: {t.errors}" for t in new if not t.connected][:20],
            "seconds": time.monotonic() - started,
            "connect_p50": times[len(times) // 2] if times else None,
            "connect_max": times[-1] if times else None,
        }

    def wait(self, want: dict, timeout: float) -> dict:
        by_squad = {t.squad_id: t for t in self.tablets}
        counts = {int(squad_id): n for squad_id, n in want.items() if int(squad_id) in by_squad}
        deadline = time.monotonic() + timeout
        while True:
            short = [s for s, n in counts.items() if not by_squad[s].done(n)]
            if not short or time.monotonic() > deadline:
                examples = [
                    {
                        "squad_id": s,
                        "want": counts[s],
                        "got": [
                            [kind, data.get("seq") if kind == "task" else data] for kind, data in by_squad[s].events
                        ],
                        "acks": sorted(by_squad[s].acks),
                        "errors": by_squad[s].errors,
                    }
                    for s in short[:5]
                ]
                return {"short_count": len(short), "short": short[:50], "examples": examples}
            gevent.sleep(0.05)

    def wait_disconnected(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(t.disconnected or not t.connected for t in self.tablets):
                break
            gevent.sleep(0.05)
        return {"still_connected": sum(t.connected and not t.disconnected for t in self.tablets)}

    def report(self, path: str) -> dict:
        with open(path, "w") as out:
            json.dump([t.record() for t in self.tablets], out)
        return {}

    def close(self) -> dict:
        gevent.joinall([gevent.spawn(t.close) for t in self.tablets if t.connected and not t.disconnected], timeout=30)
        return {}


def main() -> None:
    stdin = FileObjectPosix(sys.stdin.fileno(), "rb")  # reading stdin must not block the other greenlets
    worker = Worker()
    while True:
        line = stdin.readline()
        if not line:
            break
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "exit":
            worker.close()
            break
        try:
            answer = {"ok": True, **getattr(worker, name)(**command)}
        except Exception as exc:  # noqa: BLE001 - reported to the test
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
