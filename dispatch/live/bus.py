"""The live bus: the one way the domain tells the outside world about a committed change.

- ``publish_after_commit(session, kind, data, rev=...)``: an update for the command
  centre's screens (the latest state of one entity), sent once the session commits.
- ``deliver_after_commit(session, squad_id, body)``: a message to a squad's tablets
  whose outbox row the same transaction writes, sent once it commits.
- ``publish(update)`` / ``deliver(messages)``: the same, now, for what is committed already
  (the dispatch hot path commits in its own round trip; a tablet's fix is shown as it
  arrives, checked as the store checks it).

A rollback drops what was queued. Where it goes is decided once at start-up:
``dispatch.live.server`` registers its sinks (Socket.IO, framed per process, with Redis
between processes when there are several). With no sink registered (a command-line tool,
a migration), publishing does nothing. This module imports nothing of Socket.IO, so the
domain may call it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

UpdateSink = Callable[[dict], None]
MessageSink = Callable[[list[tuple[int, dict]]], None]

_PENDING_UPDATES = "dispatch_pending_updates"
_PENDING_MESSAGES = "dispatch_pending_messages"

_update_sinks: list[UpdateSink] = []
_message_sinks: list[MessageSink] = []


def register(*, updates: UpdateSink | None = None, messages: MessageSink | None = None) -> None:
    """Where updates and tablet messages go from now on (called once per sink at start-up)."""
    if updates is not None and updates not in _update_sinks:
        _update_sinks.append(updates)
    if messages is not None and messages not in _message_sinks:
        _message_sinks.append(messages)


def publish(update: dict) -> None:
    """One committed update ``{"type", "id", "rev", "data"}`` for the command centre."""
    for sink in _update_sinks:
        sink(update)


def deliver(messages: list[tuple[int, dict]]) -> None:
    """Committed outbox messages ``(squad_id, body)`` for the squads' tablets."""
    if messages:
        for sink in _message_sinks:
            sink(messages)


def update(kind: str, data: dict, rev: int | None) -> dict:
    """The shape of an update: ``kind`` is incident, task, squad, position or plan; ``data`` the
    full state of that entity (``data["id"]`` identifies it); ``rev`` the id of the event that
    changed it, so a screen applies an update only if it is newer than what it has."""
    return {"type": kind, "id": data["id"], "rev": rev, "data": data}


def publish_after_commit(session: Session, kind: str, data: dict, *, rev: int | None = None) -> None:
    """Queue an update (``update``) on the session; it goes out once the transaction commits."""
    session.info.setdefault(_PENDING_UPDATES, []).append(update(kind, data, rev))


def deliver_after_commit(session: Session, squad_id: int, body: dict) -> None:
    """Queue a tablet message whose outbox row this transaction writes; sent once it commits."""
    session.info.setdefault(_PENDING_MESSAGES, []).append((squad_id, body))


def pending_updates(session: Session) -> list[dict]:
    """What the session will publish when it commits (nothing is taken)."""
    return list(session.info.get(_PENDING_UPDATES, ()))


@sa_event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    updates = session.info.pop(_PENDING_UPDATES, None)
    messages = session.info.pop(_PENDING_MESSAGES, None)
    if messages:
        deliver(messages)  # the tablets first
    if updates:
        for item in updates:
            publish(item)


@sa_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_UPDATES, None)
    session.info.pop(_PENDING_MESSAGES, None)
