"""Psycopg's waits under gevent, through the hub's own io watchers.

Psycopg 3 cooperates with gevent by waiting in gevent's emulation of ``select.poll``
(``psycopg.waiting.wait_poll``): for every wait it builds a poll object, a watcher per
descriptor, a result object and a switch to the hub, even when the socket is ready
already, which it mostly is for writing. A dispatch waits about a dozen times. (Measured:
less CPU, no change in dispatch latency, which PostgreSQL's round trips decide.)

``wait`` here asks the kernel first (the unpatched ``poll`` with a zero timeout: no
switch when the socket is ready) and otherwise parks the greenlet on one io watcher of
the hub until the socket is ready. Same contract as psycopg's wait functions: consume
the generator, send it the ready state, return its value; ``timeout`` raises psycopg's
wait timeout. ``install()`` makes it psycopg's ``waiting.wait`` (psycopg looks that up
on each wait); it is called only in a gevent-patched process.
"""

from __future__ import annotations

from time import monotonic

from gevent import Timeout, monkey
from gevent.hub import get_hub
from psycopg import errors, waiting

_READY = {0: waiting.READY_NONE, 1: waiting.READY_R, 2: waiting.READY_W, 3: waiting.READY_RW}
# The kernel's poll, not gevent's emulation of it (get_original: also once patched).
_poll, _POLLIN, _POLLOUT, _POLLERR, _POLLHUP = monkey.get_original(
    "select", ["poll", "POLLIN", "POLLOUT", "POLLERR", "POLLHUP"]
)


def install() -> None:
    """Use ``wait`` for every psycopg wait of this (gevent-patched) process."""
    if not monkey.is_module_patched("select"):
        raise RuntimeError("pgwait.install() is for gevent-patched processes")
    waiting.wait = wait


def _ready_now(fileno: int, wanted: int) -> int:
    """What of ``wanted`` (1 read, 2 write) the socket can do right now, without blocking."""
    poller = _poll()
    poller.register(fileno, (_POLLIN if wanted & 1 else 0) | (_POLLOUT if wanted & 2 else 0))
    events = poller.poll(0)
    if not events:
        return 0
    revents = events[0][1]
    ready = (1 if revents & _POLLIN else 0) | (2 if revents & _POLLOUT else 0)
    if not ready and revents & (_POLLERR | _POLLHUP):
        ready = wanted  # let libpq read or write and report the broken connection itself
    return ready


def wait(gen, fileno: int, interval: float = 0.0, timeout: float | None = None):  # noqa: ARG001 - interval: the hub handles signals
    """Consume psycopg's generator ``gen`` on socket ``fileno``; see the module's text."""
    deadline = monotonic() + timeout if timeout is not None else None
    hub = get_hub()
    try:
        wanted = next(gen)
        while True:
            ready = _ready_now(fileno, wanted)
            if not ready:
                watcher = hub.loop.io(fileno, int(wanted))
                try:
                    if deadline is None:
                        hub.wait(watcher)
                    else:
                        remaining = deadline - monotonic()
                        if remaining <= 0:
                            raise errors._WaitTimeout("wait timeout expired")
                        with Timeout(remaining, False):
                            hub.wait(watcher)
                finally:
                    watcher.close()
                ready = _ready_now(fileno, wanted)
            wanted = gen.send(_READY[ready])
            if deadline is not None and monotonic() >= deadline:
                raise errors._WaitTimeout("wait timeout expired")
    except StopIteration as stop:
        return stop.value
