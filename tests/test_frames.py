"""The Socket.IO packets and command frames of dispatch.live, against python-socketio's own.

The live behaviour (frames at screens, tasks at tablets) is tested with real servers in
test_realtime.py; here the shortcuts are checked to give the same bytes as the originals.
"""

import json

import orjson
import pytest
from socketio import packet as sio_packet

from dispatch.live.codec import Packet, PacketJSON
from dispatch.live.frames import Coalescer


class _Original(sio_packet.Packet):
    """python-socketio's packet (its binary check walks the data), with our JSON module."""

    json = PacketJSON


PAYLOADS = [
    None,
    "text",
    7,
    ["task", {"seq": 3, "action": "dispatched", "task": {"id": 9, "squad": "嵊山中队"}}],
    ["frame", {"at": 1.5, "updates": [{"type": "position", "id": 1, "rev": 2, "data": {"coordinates": [1, 2]}}]}],
    ["photo", {"name": "a.jpg", "bytes": b"\x00\x01"}],  # an attachment, deep down
    ["photos", [bytearray(b"x"), {"nested": [b"y"]}]],
    [2**70, {"big": -(2**80)}],  # beyond orjson: std json, and no attachment
    {"k": [1.5, True, None, {"deep": [[[]]]}]},
]


@pytest.mark.parametrize("data", PAYLOADS, ids=range(len(PAYLOADS)))
def test_packets_encode_as_python_socketio_encodes_them(data):
    Packet.json = PacketJSON  # as socketio.init_app sets it (serializer=Packet, json=PacketJSON)
    for namespace, ack_id in (("/squad", None), ("/command", 12), (None, None)):
        ours = Packet(sio_packet.EVENT, data=data, namespace=namespace, id=ack_id)
        theirs = _Original(sio_packet.EVENT, data=data, namespace=namespace, id=ack_id)
        assert ours.packet_type == theirs.packet_type
        assert ours.encode() == theirs.encode()


def test_the_binary_check_agrees_with_python_socketios_walk():
    for data in PAYLOADS:
        assert Packet.data_is_binary(data) == sio_packet.Packet.data_is_binary(data), data


def _update(kind: str, entity: int, rev: int, **data) -> dict:
    return {"type": kind, "id": entity, "rev": rev, "data": {"id": entity, **data}}


def test_a_frame_holds_the_latest_update_of_each_entity_as_its_json():
    coalescer = Coalescer()
    coalescer._loop.wake = lambda: None  # no background loop: the frame is taken by hand
    coalescer.add(_update("position", 1, 10, coordinates=[122.4, 30.7]))
    coalescer.add(_update("position", 1, 30, coordinates=[122.5, 30.8]))
    coalescer.add(_update("position", 1, 20, coordinates=[0, 0]))  # older than what is there: dropped
    coalescer.add(_update("task", 1, 5, state="dispatched", note="枸杞乡"))
    frame = {"at": 1.0, "updates": coalescer.take()}
    assert all(isinstance(u, orjson.Fragment) for u in frame["updates"])
    assert json.loads(PacketJSON.dumps(frame)) == {
        "at": 1.0,
        "updates": [
            _update("position", 1, 30, coordinates=[122.5, 30.8]),
            _update("task", 1, 5, state="dispatched", note="枸杞乡"),
        ],
    }
    assert coalescer.take() == []


def test_through_a_message_queue_a_frame_holds_the_updates_themselves():
    coalescer = Coalescer()
    coalescer._loop.wake = lambda: None
    coalescer.local = False  # a queue that is not the update bus: the frame is pickled
    coalescer.add(_update("squad", 4, 1, status="busy"))
    assert coalescer.take() == [_update("squad", 4, 1, status="busy")]
