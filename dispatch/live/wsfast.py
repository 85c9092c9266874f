"""gevent-websocket's two byte-by-byte loops, done in C; gevent's sendall in one system call; no class per close.

gevent-websocket 0.10.1 (the websocket server of the gevent async mode, unchanged since
2017) unmasks every frame a client sends with a Python loop over its bytes
(``Header.mask_payload``), and checks the UTF-8 of every text message with a Python
state machine (``Utf8Validator``), once per frame and once more for the whole message.
Tablets and browsers mask every frame they send (RFC 6455, 5.3), so this is every
position event and every ack: measured at a third of the server's CPU while it ingested
6,400 fixes per second.

``install()`` replaces both with the same work in C: the XOR as one operation on two
integers the size of the payload, and the check with CPython's incremental UTF-8
decoder (the same verdict: invalid UTF-8 still closes the connection, as before, and a
character split across frames is still accepted).

gevent's ``socket.sendall`` asks the kernel for the socket's send buffer size
(``getsockopt(SO_SNDBUF)``, to size its chunks) before every write: a system call as dear
as the write itself on this VM, made for every websocket frame and every HTTP answer
(measured: 13 % of the server's CPU in a broadcast to 1,000 screens). ``sendall`` here
first tries one plain ``send`` of everything and hands only what the kernel did not take
(a full buffer, a slow client) to gevent's own ``sendall``, which waits as before.

gevent-websocket's ``WebSocket.current_app`` defines a class each time it is asked for (on
each close of each websocket); ``install()`` makes it hand out one do-nothing listener.

Called by ``dispatch.production``.
"""

from __future__ import annotations

import codecs
import errno


def unmask(mask: bytes, payload: bytes) -> bytes:
    """``payload`` XOR the 4-byte ``mask`` repeated (masking and unmasking alike)."""
    n = len(payload)
    if not n:
        return b""
    key = (bytes(mask) * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class Utf8Validator:
    """gevent-websocket's validator interface on CPython's incremental UTF-8 decoder.

    ``validate`` returns ``(valid, ends_on_a_character, index, total)`` like the original;
    state carries over between calls until ``reset()``, so a character may span frames.
    """

    __slots__ = ("_decoder", "_total")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._total = 0

    def reset(self) -> None:
        self._decoder.reset()
        self._total = 0

    def validate(self, payload: bytes) -> tuple[bool, bool, int, int]:
        try:
            self._decoder.decode(payload, False)
        except UnicodeDecodeError as exc:
            return False, False, exc.start, self._total + exc.start
        self._total += len(payload)
        pending = self._decoder.getstate()[0]
        return True, not pending, len(payload), self._total


_AGAIN = {errno.EAGAIN, errno.EWOULDBLOCK}


def one_send_first(socket_class):
    """A ``sendall`` for gevent's ``socket_class``: one ``send`` of the whole buffer on the
    (non-blocking) system socket, then gevent's ``sendall`` for whatever is left."""
    gevent_sendall = socket_class.sendall

    def sendall(self, data, flags=0):
        if type(self) is not socket_class:  # a subclass (gevent's SSL socket) writes through its own layer
            return gevent_sendall(self, data, flags)
        view = memoryview(data).cast("B")
        try:
            sent = self._sock.send(view, flags)
        except OSError as exc:
            if exc.errno not in _AGAIN:
                raise
            sent = 0
        if sent < len(view):
            return gevent_sendall(self, view[sent:], flags)
        return None

    sendall.gevent_sendall = gevent_sendall
    return sendall


def install() -> None:
    """Use ``unmask``, ``Utf8Validator`` and one close listener in gevent-websocket, and
    ``one_send_first`` for gevent's sockets (this process)."""
    from gevent import socket as gevent_socket
    from geventwebsocket import websocket

    if not hasattr(gevent_socket.socket.sendall, "gevent_sendall"):
        gevent_socket.socket.sendall = one_send_first(gevent_socket.socket)

    def mask_payload(header, payload):
        return unmask(header.mask, payload)

    websocket.Header.mask_payload = mask_payload
    websocket.Header.unmask_payload = mask_payload
    websocket.Utf8Validator = Utf8Validator
    websocket.WebSocket.current_app = property(_current_app)


class _NoCloseListener:
    def on_close(self, *args) -> None:
        pass


_NO_CLOSE_LISTENER = _NoCloseListener()


def _current_app(ws):
    """gevent-websocket's ``WebSocket.current_app``, without defining a class on every call.

    When the server's application has no ``current_app`` (ours has none), the original
    defines a do-nothing ``MockApp`` class and returns an instance, on each close of each
    websocket: classes are reference cycles, so every connection that ended left several for
    the garbage collector. The same do-nothing listener, made once."""
    application = ws.handler.server.application
    return application.current_app if hasattr(application, "current_app") else _NO_CLOSE_LISTENER
