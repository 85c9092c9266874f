"""Real python-socketio clients for the tests: a tablet and a command-centre screen."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import socketio

from tests.conftest import free_port


def close_quickly(client: socketio.Client) -> None:
    """Disconnect without websocket-client's 3 s wait for the server's close frame.

    The development server (Werkzeug + simple-websocket) answers the close
    frame late; a browser or tablet closes asynchronously and never waits on it.
    """
    ws = getattr(client.eio, "ws", None)
    if ws is not None:
        original = ws.close
        ws.close = lambda *args, **kwargs: original(timeout=0.1)
    client.disconnect()


class Tablet:
    """A squad tablet on /squad that records every ``task`` message it receives."""

    def __init__(self, url: str, token: str, last_seq: int = 0, *, auto_ack: bool = False):
        self.messages: list[dict] = []
        self.welcome: dict | None = None
        self.auto_ack = auto_ack
        self._arrived = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("task", self._on_task, namespace="/squad")
        self.client.on("welcome", self._on_welcome, namespace="/squad")
        self.client.connect(
            url,
            namespaces=["/squad"],
            auth={"token": token, "last_seq": last_seq},
            transports=["websocket"],
            wait_timeout=10,
        )

    def _on_welcome(self, data):
        self.welcome = data

    def _on_task(self, message):
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        if self.auto_ack:
            self.client.emit("ack", {"seq": message["seq"]}, namespace="/squad")

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self.messages)}: {self.messages}")
                self._arrived.wait(left)
            return list(self.messages)

    def ack(self, seq: int) -> dict:
        return self.client.call("ack", {"seq": seq}, namespace="/squad", timeout=10)

    def send_position(self, fix: dict) -> dict:
        return self.client.call("position", fix, namespace="/squad", timeout=10)

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages]

    def close(self) -> None:
        close_quickly(self.client)


class CommandScreen:
    """A command-centre client on /command recording the frames it receives."""

    def __init__(self, url: str, token: str | None = None):
        from tests.conftest import TOKENS

        self.frames: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("frame", lambda frame: self.frames.append(frame), namespace="/command")
        self.client.connect(
            url,
            namespaces=["/command"],
            auth={"token": token or TOKENS["dispatcher"][1]},
            transports=["websocket"],
            wait_timeout=10,
        )

    def updates(self, kind: str | None = None) -> list[dict]:
        return [u for f in self.frames for u in f["updates"] if kind is None or u["type"] == kind]

    def wait_until(self, predicate, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; frames: {self.frames}")
            time.sleep(0.05)

    def close(self) -> None:
        close_quickly(self.client)


class RedisServer:
    """Debian's redis-server on a free port, in the foreground, no persistence."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing (make test installs it)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
