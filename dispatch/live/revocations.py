"""Ending what was revoked, in every server process, within a second or two.

A revoked tablet token, API token or browser session (logout, a password change, a disabled
account, ``squad-token --revoke``) is refused by the next request of the process that
revoked it. The other processes learn it here: once a second each process asks PostgreSQL
(the system of record, shared by all of them) what was revoked since it last asked, drops
those credentials from its token cache and disconnects the sockets that came in with them.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import text

from dispatch.accounts import forget_credentials
from dispatch.live.connections import forget, sockets_of
from dispatch.live.sio import socketio
from dispatch.store.db import db

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
# A revocation is stamped before its transaction commits: look back this far so that one
# committed just after a sweep read is still found by the next.
_OVERLAP = dt.timedelta(seconds=10)

_REVOKED = text("""
    SELECT 'tablet:' || id FROM tablet_token WHERE revoked_at >= :since
    UNION ALL SELECT 'token:' || id FROM api_token WHERE revoked_at >= :since
    UNION ALL SELECT 'session:' || id FROM account_session WHERE revoked_at >= :since
""")


def revoked_since(session, since: dt.datetime) -> set[str]:
    """Credentials (``tablet:<id>``, ``token:<id>``, ``session:<id>``) revoked at or after ``since``."""
    return set(session.execute(_REVOKED, {"since": since}).scalars())


def end_revoked(credentials: set[str]) -> int:
    """Forget and disconnect what came in with ``credentials``; the number of sockets closed."""
    forget_credentials(credentials)
    closed = 0
    for sid, namespace in sockets_of(credentials):
        forget(sid)  # its acks and fixes are refused from now on, even before the close lands
        socketio.server.disconnect(sid, namespace=namespace)
        closed += 1
    return closed


def sweep_loop(app) -> None:
    """Every INTERVAL_S: end what was revoked since the last round (by this process or another)."""
    since = dt.datetime.now(dt.UTC)
    while True:
        socketio.sleep(INTERVAL_S)
        try:
            with app.app_context():
                asked_at = db.session.scalar(text("SELECT now()"))
                revoked = revoked_since(db.session, since - _OVERLAP)
                db.session.commit()
            since = asked_at
            if revoked:
                closed = end_revoked(revoked)
                if closed:
                    log.info("disconnected %d sockets of revoked credentials", closed)
        except Exception:  # the database may be restarting: try again next round
            log.exception("revocation sweep failed")
