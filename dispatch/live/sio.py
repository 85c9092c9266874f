"""The Socket.IO server object of this process, its namespaces' names, and background loops.

``dispatch.live`` is the only package that imports Flask-SocketIO (a test checks it).
"""

from __future__ import annotations

import threading

from flask_socketio import SocketIO

socketio = SocketIO()

SQUAD_NS = "/squad"
COMMAND_NS = "/command"


def squad_room(squad_id: int) -> str:
    return f"squad:{squad_id}"


class Loop:
    """A background loop of this process, started the first time there is work for it.

    ``wake()`` from any greenlet or thread says there is work; the loop, ``run``, blocks in
    ``wait()`` until then. Wakes while it is busy come to one more round.
    """

    def __init__(self, run):
        self._run = run
        self._event = None  # the async mode's event (gevent or threading), made at the first wake
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:
            if self._event is None:
                self._event = socketio.server.eio.create_event()
                socketio.start_background_task(self._run)
        self._event.set()

    def wait(self) -> None:
        self._event.wait()
        self._event.clear()
