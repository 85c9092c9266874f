"""The live server of this process: Socket.IO on the app, the bus's sinks, the background loops,
the gevent server, and the live figures of /metrics.

Hot path, guarded by ``make bench`` (bench/realtime.py).

With several processes (``SOCKETIO_MESSAGE_QUEUE=redis://...``) each frames its own screens
with every process's updates (``updates.UpdateRelay``), and tablets' messages reach a tablet on
any process through the Socket.IO message queue.
"""

from __future__ import annotations

import logging
import socket

from prometheus_client import Gauge

from dispatch.errors import ApiError
from dispatch.live import bus, connections, duty
from dispatch.live.codec import Packet, PacketJSON, encode
from dispatch.live.frames import coalescer
from dispatch.live.namespaces import CommandNamespace, SquadNamespace
from dispatch.live.resend import resend_loop
from dispatch.live.revocations import sweep_loop
from dispatch.live.sio import COMMAND_NS, SQUAD_NS, socketio, squad_room
from dispatch.live.updates import relay
from dispatch.live.writers import ack_writer, position_writer
from dispatch.metrics import REGISTRY

log = logging.getLogger(__name__)

TABLETS = Gauge("dispatch_tablets_connected", "Tablets connected to this process", registry=REGISTRY)
TABLETS.set_function(connections.connected_tablets)


# -- the bus's sinks -------------------------------------------------------------------------------


def publish(update: dict) -> None:
    """One committed update: into this process's next frame, and to the other processes."""
    encoded = encode(update)
    coalescer.add(update, encoded)
    relay.send(encoded)


def deliver(messages: list[tuple[int, dict]]) -> None:
    """Emit committed outbox messages ``(squad_id, message)``, then let the tablets' writers
    send them before the caller goes on. An emit only queues the message for the socket's
    writer, which runs when this greenlet next waits: without the yield that is after the
    caller's HTTP answer is built and written (0.6 ms of a dispatch on this machine)."""
    for squad_id, message in messages:
        try:
            socketio.emit("task", message, namespace=SQUAD_NS, to=squad_room(squad_id))
        except Exception:  # the outbox still holds it: reconnect or the resend loop delivers
            log.exception("could not emit message %s to squad %s", message.get("seq"), squad_id)
    socketio.sleep(0)


# -- start-up --------------------------------------------------------------------------------------


def init_app(app) -> None:
    coalescer.interval = app.config["FRAME_INTERVAL_S"]
    relay.configure(app.config.get("SOCKETIO_MESSAGE_QUEUE"))
    coalescer.ignore_queue = relay.enabled
    coalescer.local = relay.enabled or not app.config.get("SOCKETIO_MESSAGE_QUEUE")
    position_writer.app = ack_writer.app = app
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        # A list: only those origins; None: the page's origin must be the Host asked for (python-engineio
        # checks the Origin header). Never []: engineio reads an empty list as "no origin check at all".
        cors_allowed_origins=app.config.get("SITE_ORIGINS") or None,
        json=PacketJSON,  # set on Packet by python-socketio
        serializer=Packet,
        logger=False,
        engineio_logger=False,
    )
    socketio.on_namespace(SquadNamespace(SQUAD_NS))
    socketio.on_namespace(CommandNamespace(COMMAND_NS))
    bus.register(updates=publish, messages=deliver)
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
    raise ApiError("the Socket.IO transport: connect with a Socket.IO client", status=400, code="socketio_only")


def start_background_work(app) -> None:
    """Start the resend loop of this server process, its revocation sweep, its share of the update relay,
    the live coverage and the scheduler of periodic jobs (dispatch.live.duty)."""
    socketio.start_background_task(resend_loop, app, app.config["RESEND_INTERVAL_S"], app.config["ACK_TIMEOUT_S"])
    duty.start(app)
    socketio.start_background_task(sweep_loop, app)
    if relay.enabled:
        socketio.start_background_task(relay.listen)


def start_background_task(target, *args) -> None:
    """A task of the server's async mode (a greenlet under gevent), e.g. the demo simulation."""
    socketio.start_background_task(target, *args)


def sleep(seconds: float) -> None:
    """Sleep the async mode's way (a greenlet yields)."""
    socketio.sleep(seconds)


# -- serving ---------------------------------------------------------------------------------------

LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
_stop_server = None


def serve(app, host: str, port: int) -> None:
    """Serve HTTP and Socket.IO until interrupted: gevent in production, Werkzeug threads otherwise."""
    if app.config["SOCKETIO_ASYNC_MODE"] != "gevent":
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
        return
    # gevent only in its async mode (lazy: the threading mode never loads it)
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


def stop_serving() -> bool:
    """From a signal handler: ask the gevent server to stop. False when there is none (threads).

    Raising KeyboardInterrupt from the handler would land in whichever greenlet is running
    (a tablet's disconnect, say), which catches it; the server would not stop.
    """
    if _stop_server is None:
        return False
    _stop_server()
    return True
