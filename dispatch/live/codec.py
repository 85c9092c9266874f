"""The wire: JSON of Socket.IO packets (orjson) and a quick test for binary data.

Hot path, guarded by ``make bench`` (bench/realtime.py): every frame and task message passes here.
"""

from __future__ import annotations

import json

import orjson
from socketio import packet as socketio_packet


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


def encode(update: dict) -> orjson.Fragment:
    """An update's JSON, once, for the frames of this process and the update relay alike."""
    return orjson.Fragment(PacketJSON.dumps(update))
