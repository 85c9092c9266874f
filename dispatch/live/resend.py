"""Resending what tablets have not acknowledged, every few seconds, to the tablets of this process."""

from __future__ import annotations

import logging

from dispatch.live.connections import connected_squads
from dispatch.live.sio import SQUAD_NS, socketio, squad_room
from dispatch.outbox import mark_sent, overdue
from dispatch.store.db import db

log = logging.getLogger(__name__)


def resend_loop(app, interval: float, timeout: float) -> None:
    while True:
        socketio.sleep(interval)
        squads = connected_squads()
        if not squads:
            continue
        try:
            with app.app_context():
                session = db.session
                for squad_id, messages in overdue(session, squads, timeout).items():
                    for message in messages:
                        socketio.emit("task", message, namespace=SQUAD_NS, to=squad_room(squad_id))
                    mark_sent(session, squad_id, [m["seq"] for m in messages])
                session.commit()
        except Exception:  # the database may be restarting: try again next round
            log.exception("resend round failed")
