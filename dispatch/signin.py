"""Signing in with a password: throttled per account and per address, on the record.

Each failed attempt for a key (``account:<name>``, ``address:<ip>``) doubles the wait before
the next one is even checked, after FREE_FAILURES free ones (2 s, 4 s, ... up to 15 min);
after LOCK_AFTER failures in a row an account is locked until an administrator runs
``flask --app dispatch unlock-account NAME``. A success clears both keys. Failures, locks,
sign-ins and sign-outs are events of the record (entity ``account``; 0 for an unknown name).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dispatch.accounts import check_password, end_session, find_account, start_session
from dispatch.record import record
from dispatch.store.models import Account, LoginThrottle

FREE_FAILURES = 3
MAX_WAIT = dt.timedelta(minutes=15)
LOCK_AFTER = 10


@dataclass
class SignIn:
    """What became of an attempt: ``account`` and ``session_id`` on success; else ``refusal``
    (wrong, throttled, locked) and, when throttled, ``retry_after`` seconds."""

    account: Account | None = None
    session_id: str | None = None
    refusal: str | None = None
    retry_after: int = 0


def account_key(username: str) -> str:
    """The throttle's key of an account name (as typed: any case, spaces around)."""
    return f"account:{username.strip().lower()}"[:120]


def _keys(username: str, address: str | None) -> list[str]:
    keys = [account_key(username)]
    if address:
        keys.append(f"address:{address}"[:120])
    return keys


def _wait(failures: int) -> dt.timedelta:
    if failures < FREE_FAILURES:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** (failures - FREE_FAILURES + 1)), MAX_WAIT)


def sign_in(session: Session, username: str, password: str, address: str | None) -> SignIn:
    """Check a password attempt under the throttle; the caller commits."""
    now = dt.datetime.now(dt.UTC)
    keys = _keys(username, address)
    rows = {r.key: r for r in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))}
    account_row = rows.get(keys[0])
    if account_row is not None and account_row.locked:
        return SignIn(refusal="locked")
    blocked = [r.blocked_until for r in rows.values() if r.blocked_until and r.blocked_until > now]
    if blocked:
        return SignIn(refusal="throttled", retry_after=max(1, int((max(blocked) - now).total_seconds()) + 1))
    account = check_password(session, username, password)
    known = find_account(session, username) if account is None else account
    entity = known.id if known is not None else 0
    if account is None:
        locked = False
        for key in keys:  # one statement per key: concurrent failures count, none is lost
            failures = session.scalar(
                insert(LoginThrottle)
                .values(key=key, failures=1, last_failure_at=now)
                .on_conflict_do_update(
                    index_elements=[LoginThrottle.key],
                    set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now},
                )
                .returning(LoginThrottle.failures)
            )
            lock = key == keys[0] and known is not None and failures >= LOCK_AFTER
            locked = locked or lock
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(blocked_until=now + _wait(failures), locked=LoginThrottle.locked | lock)
            )
        data = {"username": username[:60], "address": address}
        record(session, actor="sign-in", action="account.sign_in_failed", entity_type="account", entity_id=entity,
               data=data)  # fmt: skip
        if locked:
            record(session, actor="sign-in", action="account.locked", entity_type="account", entity_id=entity,
                   data={**data, "after_failures": LOCK_AFTER})  # fmt: skip
        return SignIn(refusal="locked" if locked else "wrong")
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    sid = start_session(session, account, address)
    record(session, actor=account.username, action="account.signed_in", entity_type="account", entity_id=account.id,
           data={"address": address})  # fmt: skip
    return SignIn(account=account, session_id=sid)


def sign_out(session: Session, session_id: object, address: str | None) -> None:
    account_id = end_session(session, session_id)
    if account_id is not None:
        account = session.get(Account, account_id)
        record(session, actor=account.username, action="account.signed_out", entity_type="account",
               entity_id=account_id, data={"address": address})  # fmt: skip


def unlock(session: Session, account: Account, *, actor: str) -> bool:
    """Lift a lock (and any wait) on an account; whether there was one."""
    removed = session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(account.username)))
    record(session, actor=actor, action="account.unlocked", entity_type="account", entity_id=account.id)
    return bool(removed.rowcount)
