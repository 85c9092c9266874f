"""The per-squad outbox: messages to tablets, numbered, durable, resent until acknowledged.

A message is written in the same transaction as the change that causes it,
with the squad's next sequence number (the squad row is locked by the
change). It is emitted after commit and again, while unacknowledged, on
reconnect (everything after the tablet's ``last_seq``) and after a timeout.
A newer message about the same task supersedes an unacknowledged older one:
a task cancelled while the tablet was away arrives only as its cancellation.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from dispatch.live.bus import deliver_after_commit
from dispatch.store.models import SquadMessage, Task


def enqueue_task_message(session: Session, task: Task, action: str, payload: dict) -> SquadMessage:
    """Write the message for ``task`` (action: dispatched, scheduled, acknowledged, ..., cancelled)."""
    seq = session.execute(
        text("UPDATE squad SET message_seq = message_seq + 1 WHERE id = :id RETURNING message_seq"),
        {"id": task.squad_id},
    ).scalar_one()
    now = dt.datetime.now(dt.UTC)
    body = message_body(seq, action, payload)
    message = SquadMessage(
        squad_id=task.squad_id, seq=seq, event="task", task_id=task.id, payload=body, last_sent_at=now, send_count=1
    )
    session.add(message)
    session.execute(
        update(SquadMessage)
        .where(
            SquadMessage.task_id == task.id,
            SquadMessage.squad_id == task.squad_id,
            SquadMessage.acked_at.is_(None),
            SquadMessage.superseded_by.is_(None),
            SquadMessage.seq < seq,
        )
        .values(superseded_by=seq)
    )
    deliver_after_commit(session, task.squad_id, body)
    return message


def message_body(seq: int, action: str, payload: dict) -> dict:
    """What a ``task`` message carries (and the outbox row's payload)."""
    return {"seq": seq, "action": action, "task": payload}


def unacknowledged(session: Session, squad_id: int, after_seq: int = 0) -> list[dict]:
    """What a reconnecting tablet must receive, in order."""
    rows = session.scalars(
        select(SquadMessage.payload)
        .where(
            SquadMessage.squad_id == squad_id,
            SquadMessage.seq > after_seq,
            SquadMessage.acked_at.is_(None),
            SquadMessage.superseded_by.is_(None),
        )
        .order_by(SquadMessage.seq)
    ).all()
    return list(rows)


def mark_sent(session: Session, squad_id: int, seqs: list[int]) -> None:
    if seqs:
        session.execute(
            update(SquadMessage)
            .where(SquadMessage.squad_id == squad_id, SquadMessage.seq.in_(seqs))
            .values(last_sent_at=dt.datetime.now(dt.UTC), send_count=SquadMessage.send_count + 1)
        )


def acknowledge(session: Session, squad_id: int, seq: int) -> bool:
    """The tablet has the message ``seq``; True if it was waiting for that."""
    return acknowledge_many(session, [(squad_id, seq)])[0]


_ACKNOWLEDGE = text("""
    UPDATE squad_message m SET acked_at = now()
    FROM unnest(CAST(:squads AS integer[]), CAST(:seqs AS integer[])) AS a(squad_id, seq)
    WHERE m.squad_id = a.squad_id AND m.seq = a.seq AND m.acked_at IS NULL
    RETURNING m.squad_id, m.seq""")


def acknowledge_many(session: Session, acks: list[tuple[int, int]]) -> list[bool]:
    """Several tablets' ``(squad_id, seq)`` in one statement; for each, whether it was waiting."""
    if not acks:
        return []
    rows = session.execute(_ACKNOWLEDGE, {"squads": [a[0] for a in acks], "seqs": [a[1] for a in acks]})
    waiting = {(squad_id, seq) for squad_id, seq in rows}
    answers = []
    for ack in acks:  # the same ack twice in one group: the first one took it
        answers.append(ack in waiting)
        waiting.discard(ack)
    return answers


_OVERDUE_SQUADS = text("""
    SELECT DISTINCT squad_id FROM squad_message
    WHERE acked_at IS NULL AND superseded_by IS NULL AND last_sent_at < :cutoff""")
_OVERDUE = text("""
    SELECT squad_id, payload FROM squad_message
    WHERE squad_id = ANY(CAST(:squads AS integer[])) AND acked_at IS NULL AND superseded_by IS NULL
      AND last_sent_at < :cutoff
    ORDER BY squad_id, seq""")


def overdue(session: Session, squad_ids: list[int], timeout_s: float) -> dict[int, list[dict]]:
    """Unacknowledged messages last sent more than ``timeout_s`` ago, per squad, in order.

    Asked every round for every tablet of the process: first which squads have overdue
    messages at all (the pending set, under its partial index), then the messages of those
    among ``squad_ids``. Sending a thousand connected squads' ids each round cost the
    event loop 8 to 18 ms (binding them), whatever the answer."""
    if not squad_ids:
        return {}
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=timeout_s)
    waiting = {row[0] for row in session.execute(_OVERDUE_SQUADS, {"cutoff": cutoff})}
    wanted = sorted(waiting.intersection(squad_ids))
    out: dict[int, list[dict]] = {}
    if wanted:
        for squad_id, payload in session.execute(_OVERDUE, {"squads": wanted, "cutoff": cutoff}):
            out.setdefault(squad_id, []).append(payload)
    return out


def backlog(session: Session) -> int:
    """Messages not yet acknowledged (for /metrics)."""
    return (
        session.scalar(text("SELECT count(*) FROM squad_message WHERE acked_at IS NULL AND superseded_by IS NULL")) or 0
    )
