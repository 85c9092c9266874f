"""Verifying the tamper-evident record: every event's hash, and the link to the one before.

The chain is built by the database (trigger ``event_chain``, migration 0002):
``hash = sha256(prev_hash || the row's fields)`` in ``chain_seq`` order. A row
changed or removed behind the server's back breaks its own hash or the next
link; verification recomputes both in PostgreSQL with the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.store.models import Event


@dataclass
class Verdict:
    verified: int
    first_bad_event: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_event is None


_VERIFY = text("""
    SELECT id, chain_seq,
           hash = event_digest(e, prev_hash) AS hash_ok,
           prev_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
           chain_seq = coalesce(lag(chain_seq) OVER w, 0) + 1 AS seq_ok
    FROM event e
    WINDOW w AS (ORDER BY chain_seq)
    ORDER BY chain_seq
""")


def verify_chain(session: Session) -> Verdict:
    """Walk the whole record in chain order; stop at the first event that does not verify."""
    count = 0
    for row in session.execute(_VERIFY).yield_per(10_000):
        if row.chain_seq is None:
            return Verdict(count, row.id, "no place in the chain (inserted without the chain trigger)")
        if not row.hash_ok:
            return Verdict(count, row.id, "its content does not match its hash (changed after it was written)")
        if not row.link_ok:
            return Verdict(count, row.id, "it does not follow the event before it (an event was changed or removed)")
        if not row.seq_ok:
            return Verdict(count, row.id, "an event is missing before it in the chain")
        count += 1
    return Verdict(count)


def last_events(session: Session, count: int) -> list[Event]:
    """The last ``count`` events of the chain, oldest first: who acted, for whom, what."""
    rows = session.scalars(select(Event).order_by(Event.chain_seq.desc()).limit(max(count, 0))).all()
    return list(reversed(rows))
