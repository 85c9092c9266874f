"""The only module that touches Socket.IO.

- ``/squad``: tablets connect with ``auth={"token", "last_seq"}``, join their
  squad's room and no other, receive ``task`` messages ``{"seq", ...}`` from the
  outbox and answer ``ack {"seq"}``; they may send ``position`` fixes.
- ``/command``: command centres receive ``frame`` events, at most one per
  interval (1 s) per screen, each a list of updates ``{"type", "id", "rev", "data"}``
  (the latest state of each entity changed since the last frame). With several
  processes, each frames its own screens with every process's updates (UpdateBus).

Domain code never calls this module directly: it queues updates with
``dispatch.record.publish_after_commit`` and messages with
``dispatch.outbox.enqueue_task_message``; both go out after the commit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import orjson
from flask import request
from flask_socketio import Namespace, SocketIO, emit, join_room
from socketio import packet as socketio_packet

from dispatch.errors import MAX_ID

log = logging.getLogger(__name__)


class PacketJSON:
    """The JSON of Socket.IO packets: orjson, std json where orjson can't.

    A command frame of 1,000 positions is encoded in about a tenth of the time. orjson
    writes Chinese as UTF-8 (std json: \\u escapes) and refuses integers beyond 64 bits;
    such a packet (a hostile tablet's) is left to std json, as before.
    """

    @staticmethod
    def dumps(obj, **_options) -> str:  # python-socketio asks for compact separators: orjson's own
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)


class Packet(socketio_packet.Packet):
    """python-socketio's packet, with a quick test for binary data.

    Before encoding, python-socketio walks every value of a packet's data in Python to see
    whether it holds bytes (sent as attachments): 2.9 ms for a frame of 640 positions,
    half of the time from a frame leaving the coalescer to its arrival at a screen. orjson
    refuses bytes, so a packet it can encode has none; only what it refuses is walked.
    """

    @classmethod
    def data_is_binary(cls, data) -> bool:
        if data is None or isinstance(data, str | int | float):
            return False
        try:
            orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # bytes, or what orjson refuses (integers beyond 64 bits): look
            return super().data_is_binary(data)
        return False


socketio = SocketIO()

SQUAD_NS = "/squad"
COMMAND_NS = "/command"


def squad_room(squad_id: int) -> str:
    return f"squad:{squad_id}"


# -- coalesced updates for the command centre ----------------------------------------------------


class _Loop:
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


def encode(update: dict) -> orjson.Fragment:
    """An update's JSON, once, for the frames of this process and the update bus alike."""
    return orjson.Fragment(PacketJSON.dumps(update))


class Coalescer:
    """Keeps the latest update per entity and emits them as frames, at most one per interval.

    Leading edge: an update that finds no frame sent within the last interval goes out at
    once; updates arriving sooner wait for the end of that interval and share one frame.
    Under a steady stream that is one frame per interval, as before; a lone update (a
    dispatch on a quiet evening) reaches the screens without waiting for a clock tick.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        # (type, id) -> (rev, update, its JSON): encoded as it comes, so a frame of thousands
        # of updates is only joined when it leaves (0.02 ms for 600 instead of 0.15).
        self._pending: dict[tuple[str, object], tuple[int, dict, orjson.Fragment]] = {}
        self._lock = threading.Lock()
        self._loop = _Loop(self._run)
        self._last_frame = float("-inf")
        self.frames_sent = 0
        self.local = True  # frames go to this process's screens (no queue, or the update bus)

    def add(self, update: dict, encoded: orjson.Fragment | None = None) -> None:
        """``update``, and its JSON when the caller has it already (``encode``)."""
        key = (update["type"], update["id"])
        rev = update.get("rev") or 0
        encoded = encoded if encoded is not None else encode(update)
        with self._lock:
            current = self._pending.get(key)
            if current is None or rev >= current[0]:
                self._pending[key] = (rev, update, encoded)
        self._loop.wake()

    def take(self) -> list:
        """The updates waiting for the next frame, and none waiting after: their JSON
        (``orjson.Fragment``) for this process's screens, the updates themselves when the
        frame goes through a message queue (which pickles it)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return [p[2] if self.local else p[1] for p in pending.values()]

    def flush(self) -> None:
        updates = self.take()
        if updates:
            try:
                # this process's screens only, when the bus brings every process every update
                socketio.emit(
                    "frame", {"at": time.time(), "updates": updates}, namespace=COMMAND_NS, ignore_queue=bus.enabled
                )
                self.frames_sent += 1
            except Exception:  # a broken message queue must not kill the loop
                log.exception("could not emit a command frame")

    # The hub's timers fire when the loop comes round to them: under load about 0.6 ms late,
    # and every update of a frame waits that long. The loop sleeps until twice its usual
    # lateness before the frame is due, then waits the rest in the hub's own turns (sleep(0)):
    # frames leave within about 0.3 ms of their time, and a quiet loop hardly waits that way.
    MAX_LEAD_S = 0.002

    def _run(self) -> None:
        late = 0.0  # how late the timer fires, on average
        while True:
            self._loop.wait()
            due = self._last_frame + self.interval
            wake = due - min(2 * late, self.MAX_LEAD_S)  # twice: most wakes before the frame is due
            if wake > time.monotonic():
                socketio.sleep(wake - time.monotonic())
                late = 0.9 * late + 0.1 * max(0.0, time.monotonic() - wake)
            while time.monotonic() < due:
                socketio.sleep(0)
            self._last_frame = time.monotonic()
            self.flush()


coalescer = Coalescer()


class UpdateBus:
    """Several processes behind one address: every process learns every committed update and
    frames its own screens, so a screen still gets at most one frame per interval.

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
        self._out: list[orjson.Fragment] = []  # updates' JSON (``encode``)
        self._lock = threading.Lock()
        self._loop = _Loop(self._forward)
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
        import redis

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
        import redis

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


bus = UpdateBus()


def publish(update: dict) -> None:
    """One update for the command centre (called after commit by dispatch.record)."""
    encoded = encode(update)
    coalescer.add(update, encoded)
    bus.send(encoded)


def deliver_to_squad(squad_id: int, message: dict) -> None:
    """Emit an outbox message to the squad's tablets (after commit; resent until acked)."""
    try:
        socketio.emit("task", message, namespace=SQUAD_NS, to=squad_room(squad_id))
    except Exception:  # the outbox still holds it: reconnect or the resend loop delivers
        log.exception("could not emit message %s to squad %s", message.get("seq"), squad_id)


def deliver(messages: list[tuple[int, dict]]) -> None:
    """Emit committed outbox messages ``(squad_id, message)``, then let the tablets' writers
    send them before the caller goes on. An emit only queues the message for the socket's
    writer, which runs when this greenlet next waits: without the yield that is after the
    caller's HTTP answer is built and written (0.6 ms of a dispatch on this machine)."""
    for squad_id, message in messages:
        deliver_to_squad(squad_id, message)
    if messages:
        socketio.sleep(0)


# -- group commit of what tablets send ----------------------------------------------------------


class GroupWriter:
    """Stores what the tablets of this process send (positions, acks), many per transaction.

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
        self.app = None  # set by init_app: the writer runs in its app's context
        self._queue: list[list] = []
        self._lock = threading.Lock()
        self._loop = _Loop(self._run)

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
        from dispatch.db import db
        from dispatch.errors import ApiError

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
    from dispatch.positions import ingest_many

    return [{"ok": True, **result} for result in ingest_many(session, items, commit=True)]  # committed with the store


def _store_acks(session, items: list[tuple[int, int]]) -> list[dict]:
    from dispatch.outbox import acknowledge_many

    return [{"ok": True, "acknowledged": waiting} for waiting in acknowledge_many(session, items)]


position_writer = GroupWriter("fixes", _store_positions)
ack_writer = GroupWriter("ack", _store_acks)


# -- tablets -------------------------------------------------------------------------------------

# sid -> squad id, for the tablets connected to this process.
_tablets: dict[str, int] = {}
_tablets_lock = threading.Lock()


# squad id -> handshakes in progress: a connecting tablet is sent its backlog by on_connect,
# so the resend loop leaves that squad alone until the handshake has marked it sent.
_connecting: dict[int, int] = {}


def connected_squads() -> list[int]:
    """Squads with a tablet here whose backlog is the resend loop's to send."""
    with _tablets_lock:
        return sorted(set(_tablets.values()).difference(_connecting))


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
        sid = request.sid
        with _tablets_lock:
            _tablets[sid] = squad_id  # from now on its acks and fixes are taken
            _connecting[squad_id] = _connecting.get(squad_id, 0) + 1
        try:
            join_room(squad_room(squad_id))  # before the backlog is read: nothing falls in between
            pending = unacknowledged(session, squad_id, last_seq)
            for message in pending:
                emit("task", message)
            mark_sent(session, squad_id, [m["seq"] for m in pending])
            session.commit()
        except BaseException:
            with _tablets_lock:
                _tablets.pop(sid, None)
            raise
        finally:
            with _tablets_lock:
                if _connecting.get(squad_id, 0) <= 1:
                    _connecting.pop(squad_id, None)
                else:
                    _connecting[squad_id] -= 1
        emit("welcome", {"squad_id": squad_id, "resent": len(pending)})

    def on_disconnect(self, *args):
        with _tablets_lock:
            _tablets.pop(request.sid, None)

    def trigger_event(self, event, *args):
        """``ack`` and ``position``, a tablet's frequent events, skip Flask-SocketIO's request
        context (built per event, unused by them): they run on the sid alone."""
        lean = self._LEAN.get(event)
        if lean is None:
            return super().trigger_event(event, *args)
        sid, data = args[0], (args[1] if len(args) > 1 else None)
        with _tablets_lock:
            squad_id = _tablets.get(sid)
        if squad_id is None:
            return {"ok": False, "error": "not connected as a squad"}
        try:
            return lean(squad_id, data)
        except Exception:  # what Flask-SocketIO would have logged; the tablet gets an answer
            log.exception("%s from squad %s failed", event, squad_id)
            return {"ok": False, "error": "internal error"}

    @staticmethod
    def _ack(squad_id: int, data) -> dict:
        """``{"seq": N}``: the tablet holds message N of its own squad."""
        seq = data.get("seq") if isinstance(data, dict) else None
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq <= MAX_ID:
            return {"ok": False, "error": 'ack takes {"seq": N}'}
        return ack_writer.submit((squad_id, seq))

    @staticmethod
    def _position(squad_id: int, data) -> dict:
        """One fix (or ``{"fixes": [...]}``); the counts once they are committed."""
        from dispatch import refcache
        from dispatch.db import db
        from dispatch.errors import ApiError
        from dispatch.positions import parse_batch, parse_fix, preview

        try:
            fixes = parse_batch(data) if isinstance(data, dict) and "fixes" in data else [parse_fix(data, "fix")]
        except ApiError as exc:
            return {"ok": False, **exc.to_dict()}
        # On the screens as it arrives (the squad's newest clean fix), while the writer stores it.
        update = preview(refcache.db_key(db.session), squad_id, fixes)  # no Session is made
        if update is not None:
            publish(update)
        return position_writer.submit((squad_id, fixes))

    _LEAN = {"ack": _ack, "position": _position}


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
    """Start the resend loop of this server process, and its share of the update bus."""
    socketio.start_background_task(_resend_loop, app, app.config["RESEND_INTERVAL_S"], app.config["ACK_TIMEOUT_S"])
    if bus.enabled:
        socketio.start_background_task(bus.listen)


def serve(app, host: str, port: int) -> None:
    """Serve HTTP and Socket.IO until interrupted: gevent in production, Werkzeug threads otherwise."""
    if app.config["SOCKETIO_ASYNC_MODE"] != "gevent":
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
        return
    import socket

    import gevent
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayHandler(WebSocketHandler):
        """Small JSON answers leave at once: no Nagle wait for the peer's delayed ACK (~40 ms)."""

        def __init__(self, sock, *args, **kwargs):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, *args, **kwargs)

    global _stop_server
    # A reconnect storm (every tablet after a restart) opens a thousand connections at once:
    # gevent's default listen backlog of 128 overflows into SYN retransmits of seconds.
    server = pywsgi.WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None, backlog=LISTEN_BACKLOG)
    _stop_server = lambda: gevent.spawn(server.stop)  # noqa: E731
    try:
        server.serve_forever()
    finally:
        _stop_server = None


LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
_stop_server = None


def stop_serving() -> bool:
    """From a signal handler: ask the gevent server to stop. False when there is none (threads).

    Raising KeyboardInterrupt from the handler would land in whichever greenlet is running
    (a tablet's disconnect, say), which catches it; the server would not stop.
    """
    if _stop_server is None:
        return False
    _stop_server()
    return True


def init_app(app) -> None:
    coalescer.interval = app.config["FRAME_INTERVAL_S"]
    bus.configure(app.config.get("SOCKETIO_MESSAGE_QUEUE"))
    coalescer.local = bus.enabled or not app.config.get("SOCKETIO_MESSAGE_QUEUE")
    position_writer.app = ack_writer.app = app
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        cors_allowed_origins=[],  # same origin only
        json=PacketJSON,  # set on Packet by python-socketio
        serializer=Packet,
        logger=False,
        engineio_logger=False,
    )
    socketio.on_namespace(SquadNamespace(SQUAD_NS))
    socketio.on_namespace(CommandNamespace(COMMAND_NS))
    # Flask-SocketIO runs a connection's events in a request context made from the connection's
    # environ (PATH_INFO /socket.io/). With no rule for that path, Flask's URL matching raised
    # NotFound for each of them and kept it on the request, whose context the exception's
    # traceback holds: a reference cycle of the greenlet's frames, about 200 objects per
    # connection left to the garbage collector. The rule is never dispatched: the Socket.IO
    # middleware answers this path before Flask does. (Two rules: werkzeug matches a websocket
    # upgrade only to a websocket rule, and long polling only to a plain one.)
    app.add_url_rule("/socket.io/", "socketio_transport", _transport_only, methods=["GET", "POST"])
    app.add_url_rule("/socket.io/", "socketio_transport", _transport_only, websocket=True)


def _transport_only():
    from dispatch.errors import ApiError

    raise ApiError("the Socket.IO transport: connect with a Socket.IO client", status=400, code="socketio_only")
