"""Group commit of what tablets send (positions, acks): many tablets' items per transaction.

Hot path, guarded by ``make bench`` (bench/realtime.py: ingest and ack rates).
"""

from __future__ import annotations

import logging
import threading

from dispatch.errors import ApiError
from dispatch.live.sio import Loop, socketio
from dispatch.outbox import acknowledge_many
from dispatch.positions import ingest_many
from dispatch.store.db import db

log = logging.getLogger(__name__)


class GroupWriter:
    """Stores what the tablets of this process send, many items per transaction.

    A handler queues its item and waits; one writer takes everything queued, stores it
    with ``store(session, items) -> answers`` and commits, then answers each tablet. A
    reply therefore means the item is in the database (a tablet may drop fixes from its
    offline queue once answered). Alone, an item is written at once; under load the items
    that arrive during one commit share the next. If a group fails, its items are retried
    one by one, so a bad item fails only its own tablet.
    """

    WAIT_S = 30.0

    def __init__(self, name: str, store):
        self.name = name
        self.store = store
        self.app = None  # set by server.init_app: the writer runs in its app's context
        self._queue: list[list] = []
        self._lock = threading.Lock()
        self._loop = Loop(self._run)

    def submit(self, item) -> dict:
        done = socketio.server.eio.create_event()
        entry = [item, done, None]
        with self._lock:
            self._queue.append(entry)
        self._loop.wake()
        if not done.wait(self.WAIT_S):
            return {"ok": False, "error": f"the server could not store the {self.name} in time; send it again"}
        return entry[2]

    def _run(self) -> None:
        while True:
            self._loop.wait()
            with self._lock:
                group, self._queue = self._queue, []
            if not group:
                continue
            try:
                with self.app.app_context():
                    self._write(group)
            except Exception:  # the writer outlives anything; no tablet waits for nothing
                log.exception("%s writer round failed", self.name)
                for entry in group:
                    if entry[2] is None:
                        entry[2] = {"ok": False, "error": f"the {self.name} could not be stored; send it again"}
                    entry[1].set()

    def _write(self, group: list[list]) -> None:
        session = db.session
        answers: list[dict] | None = None
        try:
            answers = self.store(session, [entry[0] for entry in group])
            session.commit()
        except ApiError as exc:  # e.g. a squad the database no longer knows
            answers = None if len(group) > 1 else [{"ok": False, **exc.to_dict()}]
            _rollback(session)
        except Exception:  # the database refused the group, or is away
            _rollback(session)
            answers = None
            if len(group) == 1:
                log.exception("could not store the %s of squad %s", self.name, group[0][0][0])
                answers = [{"ok": False, "error": f"the {self.name} could not be stored; send it again"}]
        finally:
            db.session.remove()
        if answers is None:  # one item at a time: each gets its own answer
            for entry in group:
                self._write([entry])
            return
        for entry, answer in zip(group, answers, strict=True):
            entry[2] = answer
            entry[1].set()


def _rollback(session) -> None:
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection: the pool replaces it
        log.warning("rollback failed after a write error", exc_info=True)


def _store_positions(session, items: list[tuple[int, list]]) -> list[dict]:
    return [{"ok": True, **result} for result in ingest_many(session, items, commit=True)]  # committed with the store


def _store_acks(session, items: list[tuple[int, int]]) -> list[dict]:
    return [{"ok": True, "acknowledged": waiting} for waiting in acknowledge_many(session, items)]


position_writer = GroupWriter("fixes", _store_positions)
ack_writer = GroupWriter("ack", _store_acks)
