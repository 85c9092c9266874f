"""The two Socket.IO namespaces: ``/squad`` for tablets, ``/command`` for command-centre screens.

Hot path, guarded by ``make bench`` (bench/realtime.py): a tablet's acks and fixes run here.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app, request
from flask import session as cookie_session
from flask_socketio import Namespace, emit, join_room
from socketio.exceptions import ConnectionRefusedError as SocketRefused  # not the builtin: it carries the data

from dispatch import accounts
from dispatch.errors import MAX_ID, ApiError
from dispatch.live import bus, connections
from dispatch.live.frames import coalescer
from dispatch.live.sio import COMMAND_NS, SQUAD_NS, squad_room
from dispatch.live.writers import ack_writer, position_writer
from dispatch.outbox import mark_sent, unacknowledged
from dispatch.positions import MAX_AHEAD, parse_batch, parse_fix, preview
from dispatch.store import refcache
from dispatch.store.db import db
from dispatch.tablets import is_revoked, tablet_for_token

log = logging.getLogger(__name__)


class SquadNamespace(Namespace):
    """A squad's tablets: authenticated by token, one room per squad.

    Tablets connect with ``auth={"token", "last_seq"}``, join their squad's room and no
    other, receive ``task`` messages ``{"seq", ...}`` from the outbox (everything after
    ``last_seq`` first) and answer ``ack {"seq"}``; they may send ``position`` fixes.
    """

    # How far a fix's time may lie ahead of ours (FIX_MAX_AHEAD_S), read at each connect: the lean
    # position handler below runs without the app.
    max_ahead = MAX_AHEAD

    def on_connect(self, auth=None):
        SquadNamespace.max_ahead = dt.timedelta(seconds=current_app.config.get("FIX_MAX_AHEAD_S", 300.0))
        auth = auth if isinstance(auth, dict) else {}
        last_seq = auth.get("last_seq", 0)
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise SocketRefused(
                "last_seq must be a whole number >= 0", {"code": "invalid_field", "field": "auth.last_seq"}
            )
        session = db.session
        tablet = tablet_for_token(session, auth.get("token"))
        revoked = tablet is None and is_revoked(session, auth.get("token"))
        session.commit()
        if revoked:  # the tablet says so, as the API's 401 token_revoked does
            raise SocketRefused(
                "unauthorized: this tablet's token was revoked", {"code": "token_revoked", "field": "auth.token"}
            )
        if tablet is None:
            raise SocketRefused(
                "unauthorized: a valid tablet token is required", {"code": "unauthorized", "field": "auth.token"}
            )
        squad_id = tablet.squad_id
        sid = request.sid
        connections.remember_credential(sid, SQUAD_NS, f"tablet:{tablet.id}")
        connections.begin_handshake(sid, squad_id)
        try:
            join_room(squad_room(squad_id))  # before the backlog is read: nothing falls in between
            pending = unacknowledged(session, squad_id, last_seq)
            for message in pending:
                emit("task", message)
            mark_sent(session, squad_id, [m["seq"] for m in pending])
            session.commit()
        except BaseException:
            connections.forget(sid)
            raise
        finally:
            connections.end_handshake(squad_id)
        emit("welcome", {"squad_id": squad_id, "resent": len(pending)})

    def on_disconnect(self, *args):
        connections.forget(request.sid)

    def trigger_event(self, event, *args):
        """``ack`` and ``position``, a tablet's frequent events, skip Flask-SocketIO's request
        context (built per event, unused by them): they run on the sid alone."""
        lean = self._LEAN.get(event)
        if lean is None:
            return super().trigger_event(event, *args)
        sid, data = args[0], (args[1] if len(args) > 1 else None)
        squad_id = connections.squad_of(sid)
        if squad_id is None:
            return {"ok": False, "error": "not connected as a squad"}
        try:
            return lean(squad_id, data)
        except Exception:  # what Flask-SocketIO would have logged; the tablet gets an answer
            log.exception("%s from squad %s failed", event, squad_id)
            return {"ok": False, "error": "internal error"}

    @staticmethod
    def _ack(squad_id: int, data) -> dict:
        """``{"seq": N}``: the tablet holds message N of its own squad."""
        seq = data.get("seq") if isinstance(data, dict) else None
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq <= MAX_ID:
            return {"ok": False, "error": 'ack takes {"seq": N}'}
        return ack_writer.submit((squad_id, seq))

    @staticmethod
    def _position(squad_id: int, data) -> dict:
        """One fix (or ``{"fixes": [...]}``); the counts once they are committed. A refused fix
        (a time too far ahead, say) is an error ack naming the field, as the REST route's 400."""
        ahead = SquadNamespace.max_ahead
        try:
            if isinstance(data, dict) and "fixes" in data:
                fixes = parse_batch(data, max_ahead=ahead)
            else:
                fixes = [parse_fix(data, "fix", max_ahead=ahead)]
        except ApiError as exc:
            return {"ok": False, **exc.to_dict()}
        # On the screens as it arrives (the squad's newest clean fix), while the writer stores it.
        update = preview(refcache.db_key(db.session), squad_id, fixes)  # no Session is made
        if update is not None:
            bus.publish(update)
        return position_writer.submit((squad_id, fixes))

    _LEAN = {"ack": _ack, "position": _position}


class CommandNamespace(Namespace):
    """Command-centre screens: ``frame`` events, at most one per interval (1 s) per screen, each
    a list of updates ``{"type", "id", "rev", "data"}`` (the latest state of each entity
    changed since the last frame)."""

    def on_connect(self, auth=None):
        """Signed-in screens only: the session cookie, or ``auth={"token": "dpt_..."}``."""
        token = auth.get("token") if isinstance(auth, dict) else None
        principal = accounts.identify(db.session, token=token, session_id=None if token else cookie_session.get("sid"))
        db.session.commit()
        if not accounts.allowed(principal.role if principal else None, "read_operations"):
            raise SocketRefused("unauthorized: sign in as a dispatcher, supervisor or admin", {"code": "unauthorized"})
        connections.remember_credential(request.sid, COMMAND_NS, principal.credential)
        emit("welcome", {"frame_interval": coalescer.interval})

    def on_disconnect(self, *args):
        connections.forget(request.sid)
