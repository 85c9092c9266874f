"""What a view needs of the request besides its declared query and body (dispatch.http.contract):
the raw JSON body for domain code that reads it, the actor, the regions in scope."""

from __future__ import annotations

from flask import request

from dispatch.accounts import find_account
from dispatch.errors import ApiError
from dispatch.http.auth import current_principal
from dispatch.http.contract import request_json
from dispatch.scope import Actor, covered_regions, covers
from dispatch.store.db import db


def json_body() -> dict:
    """The request's JSON object (read as its declared operation reads it), or a 400 saying what is wrong."""
    body = request_json()
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object", code="invalid_body")
    return body


def actor() -> Actor:
    """Who acts, recorded on every event: the signed-in person, the token, or the tablet's squad.

    Never a header alone: an integration token granted ``act-for`` (the 12345 bridge) may
    name in ``X-Actor`` the account it acts for, which must exist, be active and lie in the
    token's scope; the record then keeps both. Any other principal sending ``X-Actor`` is
    refused (403), so that nobody believes the header was recorded.
    """
    principal = current_principal()
    header = request.headers.get("X-Actor")
    if principal is None:  # a public route (Open311 intake names its own actor)
        raise ApiError("sign in, or send Authorization: Bearer <token>", status=401, code="unauthorized")
    if header is None:
        return Actor(principal.name, principal=principal)
    header = header.strip()
    if not principal.act_for:
        raise ApiError(
            "X-Actor is only for integration tokens granted act-for; your own identity is recorded",
            field="X-Actor",
            status=403,
            code="actor_not_allowed",
        )
    account = find_account(db.session, header) if 0 < len(header) <= 60 else None
    if account is None or not account.active:
        raise ApiError(f"X-Actor names no active account: {header[:100]!r}", field="X-Actor", status=403,
                       code="actor_not_allowed")  # fmt: skip
    if (
        account.region_id is None
        and principal.region_id is not None
        or not covers(db.session, principal, account.region_id)
    ):
        raise ApiError(f"{account.username} lies outside this token's scope", field="X-Actor", status=403,
                       code="out_of_scope")  # fmt: skip
    return Actor(principal.name, on_behalf_of=account.username, principal=principal)


def scope_regions() -> frozenset[int] | None:
    """The regions the principal's scope covers, for views that list (None: every region)."""
    principal = current_principal()
    if principal is None or principal.region_id is None:
        return None
    return covered_regions(db.session, principal.region_id)
