"""Several processes behind one address: the relay that brings every process every committed update."""

from __future__ import annotations

import json
import logging
import threading
import uuid

import orjson
import redis

from dispatch.live.frames import coalescer
from dispatch.live.sio import Loop, socketio

log = logging.getLogger(__name__)


class UpdateRelay:
    """Every process learns every committed update and frames its own screens, so a screen
    still gets at most one frame per interval.

    (Emitting each process's frames through the Socket.IO message queue would give a screen
    one frame per interval per process.) Updates go to the other processes over a Redis
    channel of their own, batched by a forwarder so that no request waits on Redis; each
    process's listener adds what the others committed to its coalescer. Frames are best
    effort, as they always were: a screen that missed one catches up from the snapshot and
    the revs; tablets' messages go through the outbox and the Socket.IO queue, not here.
    """

    CHANNEL = "dispatch-command-updates"

    def __init__(self):
        self.url: str | None = None
        self.host = uuid.uuid4().hex  # its own messages come back to it: ignored
        self._out: list[orjson.Fragment] = []  # updates' JSON (``codec.encode``)
        self._lock = threading.Lock()
        self._loop = Loop(self._forward)
        self.received = 0

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def configure(self, message_queue: str | None) -> None:
        redis_url = message_queue and message_queue.startswith(("redis://", "rediss://", "unix://"))
        self.url = message_queue if redis_url else None

    def send(self, encoded: orjson.Fragment) -> None:
        if self.url is None:
            return
        with self._lock:
            self._out.append(encoded)
        self._loop.wake()

    def _forward(self) -> None:
        client = redis.Redis.from_url(self.url)
        while True:
            self._loop.wait()
            with self._lock:
                batch, self._out = self._out, []
            if batch:
                try:
                    client.publish(self.CHANNEL, orjson.dumps({"from": self.host, "updates": batch}))
                except Exception:  # Redis away: these updates reach only this process's screens
                    log.exception("could not forward %d command updates to the other processes", len(batch))

    def listen(self) -> None:
        """The other processes' updates into this process's coalescer (a background task)."""
        while True:
            try:
                pubsub = redis.Redis.from_url(self.url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.CHANNEL)
                for message in pubsub.listen():
                    body = json.loads(message["data"])
                    if body.get("from") == self.host:
                        continue
                    for update in body.get("updates", []):
                        self.received += 1
                        coalescer.add(update)
            except Exception:  # Redis restarting: subscribe again
                log.exception("command update listener lost Redis; subscribing again")
                socketio.sleep(1)


relay = UpdateRelay()
