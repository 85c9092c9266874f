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
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from dispatch.store import refcache
from dispatch.store.models import ROLES, Account, AccountSession, ApiToken
from dispatch.tablets import tablet_for_token

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
    "own_tasks": frozenset({"squad"}),  # a tablet reads its own squad's work
    "read_plans": frozenset({"planner", "dispatcher", "supervisor", "admin"}),
    "edit_plans": frozenset({"planner", "admin"}),
    "read_oversight": frozenset({"supervisor", "dispatcher", "admin"}),
    "oversee": frozenset({"supervisor", "dispatcher", "admin"}),
    "monitor": frozenset({"admin"}),
    "edit_rosters": frozenset({"dispatcher", "admin"}),  # shifts (issue 29)
    "set_squad_status": frozenset({"dispatcher", "squad", "admin"}),  # a tablet: its own squad only
    "manage_certificates": frozenset({"supervisor", "admin"}),  # suspensions and revocations
    "reload_reference": frozenset({"admin"}),  # timetables re-read without a restart
    "publish_catalogue": frozenset({"planner", "admin"}),  # a new version of the matter catalogue (issue 32)
}


@dataclass(frozen=True)
class Principal:
    """Who a request or a socket comes from, and the scope they carry.

    ``account_id``: the person (a signed-in account, or a token issued to an account);
    ``credential``: what ends it (``session:<id>``, ``token:<id>``, ``tablet:<id>``), so a
    revocation can find every open socket that came in with it.
    """

    kind: str  # account | api_token | tablet
    name: str
    role: str
    squad_id: int | None = None
    account_id: int | None = None
    region_id: int | None = None  # None: every region
    authority_id: int | None = None
    body_id: int | None = None
    act_for: bool = False
    credential: str | None = None

    @property
    def personal(self) -> bool:
        """A person's own credential: the acts the seeds reserve to a named person need one."""
        return self.account_id is not None


def allowed(role: str | None, action: str | None) -> bool:
    """The matrix: may ``role`` (None: anonymous) do ``action``?"""
    if action is None:
        return False  # fail closed
    if action == "public":
        return True
    return role is not None and role in PERMISSIONS[action]


# -- passwords -------------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
# The 30,000 most common passwords of the zxcvbn project's frequency lists (from leaked sets).
_COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])


class PasswordRejected(ValueError):
    """A password that fails the policy; the message says why."""


def check_password_policy(username: str, password: str) -> None:
    """At least MIN_PASSWORD_LENGTH characters, not a common password, not the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1000:
        raise PasswordRejected("a password may have at most 1000 characters")
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or lowered.rstrip("0123456789!.") in _COMMON_PASSWORDS:
        raise PasswordRejected("this is one of the most common passwords: choose another")
    if username and username.lower() in lowered:
        raise PasswordRejected("a password must not contain the username")
    if len(set(password)) < 4:
        raise PasswordRejected("a password needs at least 4 different characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _scope_of(row: Account | ApiToken) -> dict:
    return {"region_id": row.region_id, "authority_id": row.authority_id, "body_id": row.body_id}


# -- accounts ---------------------------------------------------------------------------------------


def add_account(
    session: Session,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
    *,
    region_id: int | None = None,
    authority_id: int | None = None,
    body_id: int | None = None,
    demo: bool = False,
    check_policy: bool = True,
) -> Account:
    """A new account; the password is checked against the policy (the demo's printed ones are not)."""
    if role not in ROLES or role == "squad":
        raise ValueError("accounts are for dispatcher, planner, supervisor or admin (squads use tablet tokens)")
    if not username or len(username) > 60:
        raise ValueError("a username has 1 to 60 characters")
    if authority_id is not None and body_id is not None:
        raise ValueError("an account acts for one authority or one body, not both")
    if check_policy:
        check_password_policy(username, password)
    account = Account(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        region_id=region_id,
        authority_id=authority_id,
        body_id=body_id,
        demo=demo,
    )
    session.add(account)
    session.flush()
    return account


def find_account(session: Session, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.username == username))


def check_password(session: Session, username: str, password: str) -> Account | None:
    """The active account ``username`` if ``password`` is its password; None otherwise."""
    account = session.scalar(select(Account).where(Account.username == username, Account.active.is_(True)))
    if account is None:
        _hasher.hash(password)  # same time whether or not the name exists
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return account


def end_credentials(session: Session, account_id: int, reason: str) -> list[str]:
    """End every session and token of an account at once; the credentials ended (for sockets)."""
    now = dt.datetime.now(dt.UTC)
    sessions = session.scalars(
        update(AccountSession)
        .where(AccountSession.account_id == account_id, AccountSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(AccountSession.id)
    ).all()
    tokens = session.scalars(
        update(ApiToken)
        .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiToken.id)
    ).all()
    ended = [f"session:{i}" for i in sessions] + [f"token:{i}" for i in tokens]
    forget_credentials(ended)
    return ended


def set_password(session: Session, account: Account, password: str) -> None:
    """A new password (checked against the policy); every session and token of the account ends."""
    check_password_policy(account.username, password)
    account.password_hash = hash_password(password)
    account.password_changed_at = dt.datetime.now(dt.UTC)
    account.demo = False
    end_credentials(session, account.id, "password_changed")


def set_active(session: Session, account: Account, active: bool) -> None:
    """Disable (ending every session and token at once) or enable an account."""
    account.active = active
    if not active:
        end_credentials(session, account.id, "disabled")


def set_role(session: Session, account: Account, role: str) -> None:
    if role not in ROLES or role == "squad":
        raise ValueError(f"role must be one of {', '.join(r for r in ROLES if r != 'squad')}")
    account.role = role
    end_credentials(session, account.id, "role_changed")


# -- browser sessions (server side) -------------------------------------------------------------------

SESSION_HOURS = 12


def start_session(session: Session, account: Account, address: str | None) -> str:
    """A new browser session of ``account``; returns its id (the cookie's), stored as a hash."""
    sid = secrets.token_urlsafe(32)
    session.add(
        AccountSession(
            account_id=account.id,
            token_hash=_digest(sid),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=SESSION_HOURS),
            address=(address or "")[:64] or None,
        )
    )
    session.flush()
    return sid


def end_session(session: Session, sid: object, reason: str = "signed_out") -> int | None:
    """Sign out: revoke the session ``sid``; its account id, if it was live."""
    if not isinstance(sid, str) or len(sid) > 100:
        return None
    row = session.scalar(
        update(AccountSession)
        .where(AccountSession.token_hash == _digest(sid), AccountSession.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC), revoked_reason=reason)
        .returning(AccountSession.id, AccountSession.account_id)
    )
    if row is None:
        return None
    forget_credentials([f"session:{row.id}"])
    return row.account_id


def _account_principal(account: Account, credential: str) -> Principal:
    return Principal("account", account.username, account.role, account_id=account.id, credential=credential,
                     **_scope_of(account))  # fmt: skip


def session_principal(session: Session, sid: object) -> Principal | None:
    """The principal of a live session id (not revoked, not expired, its account active)."""
    if not isinstance(sid, str) or len(sid) > 100:
        return None
    row = session.execute(
        select(AccountSession.id, Account)
        .join(Account, Account.id == AccountSession.account_id)
        .where(
            AccountSession.token_hash == _digest(sid),
            AccountSession.revoked_at.is_(None),
            AccountSession.expires_at > dt.datetime.now(dt.UTC),
            Account.active.is_(True),
        )
    ).first()
    return None if row is None else _account_principal(row.Account, f"session:{row.id}")


# -- tokens ----------------------------------------------------------------------------------------


def _new_api_token(session: Session, name: str, role: str, token: str, **scope) -> ApiToken:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    row = ApiToken(name=name, role=role, token_hash=_digest(token), **scope)
    session.add(row)
    session.flush()
    return row


def issue_api_token(session: Session, name: str, role: str, **scope) -> tuple[ApiToken, str]:
    """A new API token (clear text returned once). ``scope``: region_id, authority_id, body_id,
    account_id (a person's own token), act_for (an integration that names whom it acts for)."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return _new_api_token(session, name, role, token, **scope), token


def add_api_token(session: Session, name: str, role: str, token: str, **scope) -> ApiToken:
    """Store a token chosen by the caller (the test suite's fixed tokens, a migrated integration)."""
    return _new_api_token(session, name, role, token, **scope)


# Verified tokens are remembered for a few seconds per process, so a busy integration does
# not pay a lookup per request. A revocation is seen at once by the process that made it
# and within a second by the others (dispatch.live.revocations drops it from here).
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
        owner = session.get(Account, row.account_id) if row is not None and row.account_id is not None else None
        if row is not None and (row.account_id is None or (owner is not None and owner.active)):
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=dt.datetime.now(dt.UTC)))
            principal = Principal(
                "api_token",
                owner.username if owner is not None else row.name,
                row.role,
                account_id=row.account_id,
                act_for=row.act_for,
                credential=f"token:{row.id}",
                **_scope_of(row),
            )
    else:
        tablet = tablet_for_token(session, token)
        if tablet is not None:
            principal = Principal(
                "tablet", f"squad-{tablet.squad_id}", "squad", tablet.squad_id, credential=f"tablet:{tablet.id}"
            )
    if principal is not None:
        _token_cache[key] = (time.monotonic(), principal)
    return principal


def forget_tokens() -> None:
    """Drop remembered tokens (in tests)."""
    _token_cache.clear()


def forget_credentials(credentials) -> None:
    """Drop remembered tokens whose credential was revoked."""
    ended = set(credentials)
    if not ended:
        return
    for key, (_, principal) in list(_token_cache.items()):
        if principal.credential in ended:
            _token_cache.pop(key, None)


def identify(session: Session, *, token: str | None, session_id: object) -> Principal | None:
    """The principal behind a bearer token (API or tablet), else behind the browser session's
    id (from the cookie); None when neither names a live one."""
    if token:
        return principal_from_token(session, token)
    return session_principal(session, session_id)


# -- the demo (make run only) -------------------------------------------------------------------------

DEMO_ACCOUNTS = (  # printed at start so a newcomer can sign in at once; never made in production
    ("dispatcher", "dispatcher", "值班调度员 Duty dispatcher"),
    ("planner", "planner", "片区规划员 Zone planner"),
    ("supervisor", "supervisor", "执法监督员 Supervisor"),
    ("admin", "admin", "系统管理员 Administrator"),
)


def demo_password(username: str) -> str:
    return f"demo-{username}"


def ensure_demo_accounts(session: Session, region_id: int | None = None) -> list[tuple[str, str, str]]:
    """The demo's sign-ins: made once, on a database that has no account yet; afterwards only
    those that still carry their printed password are returned (a renamed, deleted, disabled or
    re-passworded one stays as its administrator left it)."""
    if session.scalar(select(Account.id).limit(1)) is None:
        for username, role, name in DEMO_ACCOUNTS:
            add_account(session, username, role, demo_password(username), name, region_id=region_id, demo=True,
                        check_policy=False)  # fmt: skip
    out = []
    for account in session.scalars(select(Account).where(Account.demo.is_(True), Account.active.is_(True))):
        try:
            _hasher.verify(account.password_hash, demo_password(account.username))
        except (VerificationError, InvalidHashError):
            continue
        out.append((account.username, demo_password(account.username), account.role))
    order = {username: i for i, (username, _, _) in enumerate(DEMO_ACCOUNTS)}
    return sorted(out, key=lambda a: order.get(a[0], len(order)))
