"""Who is asking, and may they: accounts, bearer tokens, tablet tokens, one permission matrix.

Principals:
- people sign in with a password (argon2 hash) and carry a session cookie;
- scripts and integrations (the 12345 bridge, monitoring, benchmarks) send
  ``Authorization: Bearer dpt_...`` (``flask --app dispatch api-token``);
- tablets send ``Authorization: Bearer sqt_...`` (``flask --app dispatch squad-token``)
  and act as their squad only.

Every action maps to the roles that may do it in ``PERMISSIONS``; every HTTP endpoint maps
to one action in ``dispatch.http.auth.ENDPOINT_ACTIONS`` (enforced before every request),
and the Socket.IO namespaces ask ``allowed`` on connect. ``identify`` is the one sign-in,
for HTTP and sockets alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.store import refcache
from dispatch.store.models import ROLES, Account, ApiToken
from dispatch.tablets import squad_for_token

API_TOKEN_PREFIX = "dpt_"
_hasher = PasswordHasher()

# action -> roles allowed
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": frozenset(),  # no sign-in needed
    "signed_in": frozenset(ROLES),
    "read_reference": frozenset(ROLES),
    "intake": frozenset({"dispatcher", "admin"}),
    "read_operations": frozenset({"dispatcher", "supervisor", "admin"}),
    "dispatch": frozenset({"dispatcher", "admin"}),
    "read_task": frozenset({"dispatcher", "supervisor", "squad", "admin"}),
    "read_incident": frozenset({"dispatcher", "supervisor", "squad", "admin"}),
    "act_on_task": frozenset({"dispatcher", "squad", "admin"}),
    "report_position": frozenset({"squad"}),
    "read_plans": frozenset({"planner", "dispatcher", "supervisor", "admin"}),
    "edit_plans": frozenset({"planner", "admin"}),
    "read_oversight": frozenset({"supervisor", "dispatcher", "admin"}),
    "oversee": frozenset({"supervisor", "dispatcher", "admin"}),
    "monitor": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Principal:
    kind: str  # account | api_token | tablet
    name: str
    role: str
    squad_id: int | None = None


def allowed(role: str | None, action: str | None) -> bool:
    """The matrix: may ``role`` (None: anonymous) do ``action``?"""
    if action is None:
        return False  # fail closed
    if action == "public":
        return True
    return role is not None and role in PERMISSIONS[action]


# -- credentials -----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, name: str, role: str) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, token_hash=_digest(token))
    session.add(row)
    session.flush()
    return row, token


def add_api_token(session: Session, name: str, role: str, token: str) -> ApiToken:
    """Store a token chosen by the caller (the test suite's fixed tokens, a migrated integration)."""
    row = ApiToken(name=name, role=role, token_hash=_digest(token))
    session.add(row)
    session.flush()
    return row


def add_account(session: Session, username: str, role: str, password: str, display_name: str | None = None) -> Account:
    if role not in ROLES or role == "squad":
        raise ValueError("accounts are for dispatcher, planner, supervisor or admin (squads use tablet tokens)")
    account = Account(
        username=username, display_name=display_name or username, role=role, password_hash=hash_password(password)
    )
    session.add(account)
    session.flush()
    return account


def check_password(session: Session, username: str, password: str) -> Account | None:
    account = session.scalar(select(Account).where(Account.username == username, Account.active.is_(True)))
    if account is None:
        _hasher.hash(password)  # same time whether or not the name exists
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return account


# Verified tokens are remembered for a few seconds per process, so a busy integration does
# not pay a lookup per request; a revocation takes effect within TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 10.0
_token_cache: dict[tuple[str, str], tuple[float, Principal]] = {}


def principal_from_token(session: Session, token: str | None) -> Principal | None:
    """A bearer token: an API token (dpt_) or a squad's tablet token (sqt_)."""
    if not token or len(token) > 200:
        return None
    key = (refcache.db_key(session), _digest(token))  # no Session is made for a remembered token
    hit = _token_cache.get(key)
    if hit and time.monotonic() - hit[0] < TOKEN_CACHE_SECONDS:
        return hit[1]
    principal = None
    if token.startswith(API_TOKEN_PREFIX):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == key[1], ApiToken.revoked_at.is_(None)))
        if row is not None:
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=dt.datetime.now(dt.UTC)))
            principal = Principal("api_token", row.name, row.role)
    else:
        squad_id = squad_for_token(session, token)
        if squad_id is not None:
            principal = Principal("tablet", f"squad-{squad_id}", "squad", squad_id)
    if principal is not None:
        _token_cache[key] = (time.monotonic(), principal)
    return principal


def forget_tokens() -> None:
    """Drop remembered tokens (after a revocation, in tests)."""
    _token_cache.clear()


def identify(session: Session, *, token: str | None, account_id: object) -> Principal | None:
    """The principal behind a bearer token (API or tablet), else behind a signed-in account's id
    (from the session cookie); None when neither names an active one."""
    if token:
        return principal_from_token(session, token)
    if isinstance(account_id, int):
        account = session.get(Account, account_id)
        if account is not None and account.active:
            return Principal("account", account.username, account.role)
    return None


DEMO_ACCOUNTS = (  # for `make run` only: printed at start so a newcomer can sign in at once
    ("dispatcher", "dispatcher", "值班调度员 Duty dispatcher"),
    ("planner", "planner", "片区规划员 Zone planner"),
    ("supervisor", "supervisor", "执法监督员 Supervisor"),
    ("admin", "admin", "系统管理员 Administrator"),
)


def ensure_demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo accounts (password = 'demo-' + username) if missing; return them."""
    out = []
    for username, role, name in DEMO_ACCOUNTS:
        password = f"demo-{username}"
        if session.scalar(select(Account.id).where(Account.username == username)) is None:
            add_account(session, username, role, password, name)
        out.append((username, password, role))
    return out
