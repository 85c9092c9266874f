"""Tablet tokens: a squad's revocable credential; only a SHA-256 of it is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.errors import NotFound
from dispatch.store.models import Squad, TabletToken

PREFIX = "sqt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token's clear text, and the hash of it that is stored (the text never is)."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, _hash(token)


def issue_token(session: Session, squad_id: int, label: str | None = None) -> tuple[TabletToken, str]:
    """A new token for the squad's tablet; the clear text is returned once and never stored."""
    if session.get(Squad, squad_id) is None:
        raise NotFound(f"no squad {squad_id}", field="squad_id")
    token, token_hash = new_token()
    row = TabletToken(squad_id=squad_id, token_hash=token_hash, label=label)
    session.add(row)
    session.flush()
    return row, token


def tablet_for_token(session: Session, token: object) -> TabletToken | None:
    """The valid, unrevoked tablet token row for ``token``; None for anything else."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(TabletToken).where(TabletToken.token_hash == _hash(token), TabletToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    session.execute(update(TabletToken).where(TabletToken.id == row.id).values(last_used_at=dt.datetime.now(dt.UTC)))
    return row


def is_revoked(session: Session, token: object) -> bool:
    """Whether ``token`` is a tablet token that was revoked (its tablet is told so, not just refused)."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
        return False
    revoked = session.scalar(select(TabletToken.revoked_at).where(TabletToken.token_hash == _hash(token)))
    return revoked is not None


def squad_for_token(session: Session, token: object) -> int | None:
    """The squad a valid, unrevoked token belongs to; None for anything else."""
    row = tablet_for_token(session, token)
    return None if row is None else row.squad_id


def revoke_labelled(session: Session, squad_id: int, label: str) -> None:
    """Revoke the squad's tokens that carry ``label`` and are not revoked yet (the demo's)."""
    session.execute(
        update(TabletToken)
        .where(TabletToken.squad_id == squad_id, TabletToken.label == label, TabletToken.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )


def revoke(session: Session, token_id: int) -> TabletToken:
    row = session.get(TabletToken, token_id)
    if row is None:
        raise NotFound(f"no tablet token {token_id}", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
    return row
