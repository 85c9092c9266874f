"""The only module that touches Socket.IO.

- ``/squad``: tablets connect with ``auth={"token", "last_seq"}``, join their
  squad's room and no other, receive ``task`` messages ``{"seq", ...}`` from the
  outbox and answer ``ack {"seq"}``; they may send ``position`` fixes.
- ``/command``: command centres receive ``frame`` events, at most one per
  second per process, each a list of updates ``{"type", "id", "rev", "data"}``
  (the latest state of each entity changed since the last frame).

Domain code never calls this module directly: it queues updates with
``dispatch.record.publish_after_commit`` and messages with
``dispatch.outbox.enqueue_task_message``; both go out after the commit.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import request
from flask_socketio import Namespace, SocketIO, emit, join_room

log = logging.getLogger(__name__)

socketio = SocketIO()

SQUAD_NS = "/squad"
COMMAND_NS = "/command"


def squad_room(squad_id: int) -> str:
    return f"squad:{squad_id}"


# -- coalesced updates for the command centre ----------------------------------------------------


class Coalescer:
    """Keeps the latest update per entity and emits them as frames, at most one per interval.

    Leading edge: an update that finds no frame sent within the last interval goes out at
    once; updates arriving sooner wait for the end of that interval and share one frame.
    Under a steady stream that is one frame per interval, as before; a lone update (a
    dispatch on a quiet evening) reaches the screens without waiting for a clock tick.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._pending: dict[tuple[str, object], dict] = {}
        self._lock = threading.Lock()
        self._wake = None  # the async mode's event, made when the loop starts
        self._last_frame = float("-inf")
        self.frames_sent = 0

    def add(self, update: dict) -> None:
        key = (update["type"], update["id"])
        with self._lock:
            current = self._pending.get(key)
            if current is None or (update.get("rev") or 0) >= (current.get("rev") or 0):
                self._pending[key] = update
            if self._wake is None:
                self._wake = socketio.server.eio.create_event()
                socketio.start_background_task(self._run)
            wake = self._wake
        wake.set()

    def flush(self) -> None:
        with self._lock:
            updates, self._pending = list(self._pending.values()), {}
        if updates:
            try:
                socketio.emit("frame", {"at": time.time(), "updates": updates}, namespace=COMMAND_NS)
                self.frames_sent += 1
            except Exception:  # a broken message queue must not kill the loop
                log.exception("could not emit a command frame")

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            wait = self._last_frame + self.interval - time.monotonic()
            if wait > 0:
                socketio.sleep(wait)
            self._last_frame = time.monotonic()
            self.flush()


coalescer = Coalescer()


def publish(update: dict) -> None:
    """One update for the command centre (called after commit by dispatch.record)."""
    coalescer.add(update)


def deliver_to_squad(squad_id: int, message: dict) -> None:
    """Emit an outbox message to the squad's tablets (after commit; resent until acked)."""
    try:
        socketio.emit("task", message, namespace=SQUAD_NS, to=squad_room(squad_id))
    except Exception:  # the outbox still holds it: reconnect or the resend loop delivers
        log.exception("could not emit message %s to squad %s", message.get("seq"), squad_id)


# -- tablets -------------------------------------------------------------------------------------

# sid -> squad id, for the tablets connected to this process.
_tablets: dict[str, int] = {}
_tablets_lock = threading.Lock()


def connected_squads() -> list[int]:
    with _tablets_lock:
        return sorted(set(_tablets.values()))


def connected_tablets() -> int:
    with _tablets_lock:
        return len(_tablets)


class SquadNamespace(Namespace):
    """A squad's tablets: authenticated by token, one room per squad."""

    def on_connect(self, auth=None):
        from dispatch.db import db
        from dispatch.outbox import mark_sent, unacknowledged
        from dispatch.tablets import squad_for_token

        auth = auth if isinstance(auth, dict) else {}
        last_seq = auth.get("last_seq", 0)
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise ConnectionRefusedError("last_seq must be a whole number >= 0")
        session = db.session
        squad_id = squad_for_token(session, auth.get("token"))
        session.commit()
        if squad_id is None:
            raise ConnectionRefusedError("unauthorized: a valid tablet token is required")
        with _tablets_lock:
            _tablets[request.sid] = squad_id
        join_room(squad_room(squad_id))
        pending = unacknowledged(session, squad_id, last_seq)
        for message in pending:
            emit("task", message)
        mark_sent(session, squad_id, [m["seq"] for m in pending])
        session.commit()
        emit("welcome", {"squad_id": squad_id, "resent": len(pending)})

    def on_disconnect(self, *args):
        with _tablets_lock:
            _tablets.pop(request.sid, None)

    def _squad(self) -> int | None:
        with _tablets_lock:
            return _tablets.get(request.sid)

    def on_ack(self, data):
        """``{"seq": N}``: the tablet holds message N of its own squad."""
        from dispatch.db import db
        from dispatch.outbox import acknowledge

        squad_id = self._squad()
        seq = data.get("seq") if isinstance(data, dict) else None
        if squad_id is None or isinstance(seq, bool) or not isinstance(seq, int):
            return {"ok": False, "error": 'ack takes {"seq": N}'}
        acknowledged = acknowledge(db.session, squad_id, seq)
        db.session.commit()
        return {"ok": True, "acknowledged": acknowledged}

    def on_position(self, data):
        """One fix (or ``{"fixes": [...]}``) from the tablet; answers the counts or the error."""
        from dispatch.db import db
        from dispatch.errors import ApiError
        from dispatch.positions import ingest, parse_batch, parse_fix

        squad_id = self._squad()
        if squad_id is None:
            return {"ok": False, "error": "not connected as a squad"}
        try:
            fixes = parse_batch(data) if isinstance(data, dict) and "fixes" in data else [parse_fix(data, "fix")]
            result = ingest(db.session, squad_id, fixes)
            db.session.commit()
        except ApiError as exc:
            db.session.rollback()
            return {"ok": False, **exc.to_dict()}
        return {"ok": True, **result}


class CommandNamespace(Namespace):
    """Command-centre screens: every frame goes to every connected screen."""

    def on_connect(self, auth=None):
        """Signed-in screens only: the session cookie, or ``auth={"token": "dpt_..."}``."""
        from flask import current_app
        from flask import session as web_session

        from dispatch.auth import allowed, principal_from_token
        from dispatch.db import db
        from dispatch.models import Account

        if current_app.config.get("AUTH_REQUIRED", True):
            token = auth.get("token") if isinstance(auth, dict) else None
            role = None
            if token:
                principal = principal_from_token(db.session, token)
                role = principal.role if principal else None
            elif isinstance(web_session.get("account_id"), int):
                account = db.session.get(Account, web_session["account_id"])
                role = account.role if account is not None and account.active else None
            db.session.commit()
            if not allowed(role, "read_operations"):
                raise ConnectionRefusedError("unauthorized: sign in as a dispatcher, supervisor or admin")
        emit("welcome", {"frame_interval": coalescer.interval})


# -- resending what is not acknowledged ----------------------------------------------------------


def _resend_loop(app, interval: float, timeout: float) -> None:
    from dispatch.db import db
    from dispatch.outbox import mark_sent, overdue

    while True:
        socketio.sleep(interval)
        squads = connected_squads()
        if not squads:
            continue
        try:
            with app.app_context():
                session = db.session
                for squad_id, messages in overdue(session, squads, timeout).items():
                    for message in messages:
                        socketio.emit("task", message, namespace=SQUAD_NS, to=squad_room(squad_id))
                    mark_sent(session, squad_id, [m["seq"] for m in messages])
                session.commit()
        except Exception:  # the database may be restarting: try again next round
            log.exception("resend round failed")


def start_background_work(app) -> None:
    """Start the resend loop of this server process."""
    socketio.start_background_task(_resend_loop, app, app.config["RESEND_INTERVAL_S"], app.config["ACK_TIMEOUT_S"])


def serve(app, host: str, port: int) -> None:
    """Serve HTTP and Socket.IO until interrupted: gevent in production, Werkzeug threads otherwise."""
    if app.config["SOCKETIO_ASYNC_MODE"] != "gevent":
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
        return
    import socket

    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayHandler(WebSocketHandler):
        """Small JSON answers leave at once: no Nagle wait for the peer's delayed ACK (~40 ms)."""

        def __init__(self, sock, *args, **kwargs):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, *args, **kwargs)

    server = pywsgi.WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None)
    server.serve_forever()


def init_app(app) -> None:
    coalescer.interval = app.config["FRAME_INTERVAL_S"]
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        cors_allowed_origins=[],  # same origin only
        logger=False,
        engineio_logger=False,
    )
    socketio.on_namespace(SquadNamespace(SQUAD_NS))
    socketio.on_namespace(CommandNamespace(COMMAND_NS))
