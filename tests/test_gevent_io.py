"""The production server's gevent I/O shortcuts: psycopg's waits (dispatch.store.pgwait),
gevent-websocket's unmasking and UTF-8 check and gevent's sendall (dispatch.live.wsfast).

The originals are the oracles: the same bytes out, the same verdicts. The live checks run
real processes (gevent is never patched into the test process itself).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import websocket
from geventwebsocket import websocket as gws
from geventwebsocket.utf8validator import Utf8Validator as OriginalValidator

from dispatch.live.wsfast import Utf8Validator, unmask

PROJECT = Path(__file__).resolve().parent.parent
ORIGINAL_MASK = gws.Header.__dict__["mask_payload"]


@pytest.mark.skipif(ORIGINAL_MASK.__module__ != "geventwebsocket.websocket", reason="already replaced here")
def test_unmask_gives_the_bytes_gevent_websocket_gives():
    rng = random.Random(6455)
    for length in [*range(0, 70), 125, 126, 127, 1500, 65535, 65536, 70001]:
        mask, payload = rng.randbytes(4), rng.randbytes(length)
        header = gws.Header(length=length)
        header.mask = mask
        assert unmask(mask, payload) == bytes(ORIGINAL_MASK(header, payload)), length
        assert unmask(mask, unmask(mask, payload)) == payload


@pytest.mark.parametrize(
    "message",
    [
        "嵊泗县综合行政执法大队".encode(),
        "a€b😀".encode(),
        b"plain ascii",
        b"\xff",  # never valid
        b"\xc0\xaf",  # overlong
        b"\xed\xa0\x80",  # a surrogate
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
        b"\xe6\x89",  # cut short
        b"\xe6\x89a",  # broken in the middle
    ],
)
def test_utf8_verdict_is_gevent_websockets_at_every_frame_split(message):
    for split in range(len(message) + 1):
        verdicts = []
        for validator in (OriginalValidator(), Utf8Validator()):
            first = validator.validate(message[:split])
            second = validator.validate(message[split:]) if first[0] else first
            valid = first[0] and second[0]
            verdicts.append((valid, second[1] if valid else None))  # valid, and ends on a whole character
        assert verdicts[0] == verdicts[1], (message, split)


def test_production_server_closes_on_invalid_utf8_and_serves_good_clients(start_server):
    server = start_server(production=True)
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    bad = websocket.create_connection(url, timeout=10)
    assert bad.recv().startswith("0")  # the engine.io opening
    bad.send(b"4\xff\xfe", opcode=websocket.ABNF.OPCODE_TEXT)  # a text frame that is not UTF-8
    opcode, frame = bad.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE  # closed (engine.io closes it without a status, as before)
    bad.shutdown()
    # a good client on the same server: Chinese text through the C unmasking and check
    good = websocket.create_connection(url, timeout=10)
    assert good.recv().startswith("0")
    good.send('40/command,{"token":"不是令牌"}')  # masked by the client, as every client frame
    answer = good.recv()
    assert answer.startswith("44/command,"), answer  # refused: a readable error, not a broken frame
    good.close()


def test_sendall_in_one_send_still_sends_everything_to_slow_readers_and_reports_a_closed_peer():
    """Small writes go in one system call; 8 MB to a reader that takes its time are partly
    sent and the rest waited for (gevent's own sendall), other greenlets running meanwhile;
    a peer gone is an error, as before."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import hashlib, random, socket, time, gevent
        from dispatch.live import wsfast
        wsfast.install()
        print("patched", hasattr(socket.socket.sendall, "gevent_sendall"))
        a, b = socket.socketpair()
        for n in (1, 200, 70001):
            a.sendall(b"x" * n)
            got = b""
            while len(got) < n:
                got += b.recv(n - len(got))
            assert got == b"x" * n, n
        print("small ok")
        big = random.Random(1).randbytes(8 << 20)
        received, ticks = [], []
        def reader():
            while sum(map(len, received)) < len(big):
                received.append(b.recv(65536))
                time.sleep(0.0005 if len(received) % 16 == 0 else 0)
        def ticker():
            while sum(map(len, received)) < len(big):
                ticks.append(1)
                gevent.sleep(0.001)
        jobs = [gevent.spawn(reader), gevent.spawn(ticker)]
        a.sendall(memoryview(big))
        gevent.joinall(jobs, raise_error=True)
        print("big", hashlib.sha256(b"".join(received)).hexdigest() == hashlib.sha256(big).hexdigest(), len(ticks) > 2)
        b.close()
        try:
            for _ in range(100):
                a.sendall(b"y" * 65536)
            print("no error")
        except OSError as exc:
            print("closed peer", type(exc).__name__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:3] == ["patched True", "small ok", "big True True"], result.stdout
    assert lines[3] in ("closed peer BrokenPipeError", "closed peer ConnectionResetError"), result.stdout


def test_psycopg_waits_cooperate_under_gevent(database_url):
    """Twenty greenlets each wait 0.3 s in PostgreSQL: together in about 0.3 s, not 6 s; and
    a statement timeout and a broken query still surface as psycopg errors."""
    script = textwrap.dedent(
        f"""
        from gevent import monkey
        monkey.patch_all()
        import time, gevent, psycopg
        from dispatch.store import pgwait
        pgwait.install()
        url = {database_url.replace("postgresql+psycopg", "postgresql")!r}
        conns = [psycopg.connect(url, autocommit=True) for _ in range(20)]
        started = time.monotonic()
        gevent.joinall([gevent.spawn(c.execute, "SELECT pg_sleep(0.3)") for c in conns], raise_error=True)
        print("together", round(time.monotonic() - started, 2))
        conns[0].execute("SET statement_timeout = 100")
        try:
            conns[0].execute("SELECT pg_sleep(2)")
        except psycopg.errors.QueryCanceled:
            print("timeout surfaced")
        try:
            conns[1].execute("SELECT no_such_column FROM squad")
        except psycopg.errors.UndefinedColumn:
            print("error surfaced")
        with conns[2].pipeline():
            cur = conns[2].execute("SELECT 1"); cur2 = conns[2].execute("SELECT 2")
            print("pipeline", cur.fetchone()[0] + cur2.fetchone()[0])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    together = float(lines[0].split()[1])
    assert together < 2.0, result.stdout  # cooperative (serial waits would take 6 s)
    assert "timeout surfaced" in lines and "error surfaced" in lines and "pipeline 3" in lines, result.stdout


def test_a_closing_websocket_tells_one_listener_and_defines_no_class():
    """gevent-websocket's ``current_app`` defined a class on each call (each close of each
    websocket); wsfast's gives the server application's listener, or one do-nothing one."""
    from types import SimpleNamespace

    from dispatch.live.wsfast import _current_app

    def ws_of(application):
        return SimpleNamespace(handler=SimpleNamespace(server=SimpleNamespace(application=application)))

    plain = ws_of(object())
    first, second = _current_app(plain), _current_app(plain)
    assert first is second
    assert first.on_close("closed") is None
    listener = SimpleNamespace(on_close=lambda *args: None)
    assert _current_app(ws_of(SimpleNamespace(current_app=listener))) is listener
    original = gws.WebSocket.current_app.fget(plain)
    assert type(original) is not type(gws.WebSocket.current_app.fget(plain))  # a new class each call
