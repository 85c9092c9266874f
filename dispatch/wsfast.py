"""gevent-websocket's two byte-by-byte loops, done in C.

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
character split across frames is still accepted). Called by ``dispatch.production``.
"""

from __future__ import annotations

import codecs


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


def install() -> None:
    """Use ``unmask`` and ``Utf8Validator`` in gevent-websocket (this process)."""
    from geventwebsocket import websocket

    def mask_payload(header, payload):
        return unmask(header.mask, payload)

    websocket.Header.mask_payload = mask_payload
    websocket.Header.unmask_payload = mask_payload
    websocket.Utf8Validator = Utf8Validator
