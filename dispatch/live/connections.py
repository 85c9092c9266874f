"""The sockets connected to this process: which squad each tablet speaks for, and the
credential (tablet token, API token, browser session) every socket came in with, so that a
revoked one is disconnected (dispatch.live.revocations)."""

from __future__ import annotations

import threading

# sid -> squad id, for the tablets connected to this process.
_tablets: dict[str, int] = {}
_lock = threading.Lock()

# squad id -> handshakes in progress: a connecting tablet is sent its backlog by the squad
# namespace's connect, so the resend loop leaves that squad alone until the handshake has
# marked it sent.
_connecting: dict[int, int] = {}


# sid -> (namespace, credential) of every socket of this process.
_credentials: dict[str, tuple[str, str]] = {}


def remember_credential(sid: str, namespace: str, credential: str | None) -> None:
    if credential is not None:
        with _lock:
            _credentials[sid] = (namespace, credential)


def sockets_of(credentials: set[str]) -> list[tuple[str, str]]:
    """(sid, namespace) of the sockets that came in with one of ``credentials``."""
    with _lock:
        return [(sid, ns) for sid, (ns, credential) in _credentials.items() if credential in credentials]


def squad_of(sid: str) -> int | None:
    with _lock:
        return _tablets.get(sid)


def begin_handshake(sid: str, squad_id: int) -> None:
    """From now on the socket's acks and fixes are taken; its squad's backlog is the handshake's."""
    with _lock:
        _tablets[sid] = squad_id
        _connecting[squad_id] = _connecting.get(squad_id, 0) + 1


def end_handshake(squad_id: int) -> None:
    with _lock:
        if _connecting.get(squad_id, 0) <= 1:
            _connecting.pop(squad_id, None)
        else:
            _connecting[squad_id] -= 1


def forget(sid: str) -> None:
    with _lock:
        _tablets.pop(sid, None)
        _credentials.pop(sid, None)


def connected_squads() -> list[int]:
    """Squads with a tablet here whose backlog is the resend loop's to send."""
    with _lock:
        return sorted(set(_tablets.values()).difference(_connecting))


def connected_tablets() -> int:
    with _lock:
        return len(_tablets)
