"""The only module that touches Socket.IO: domain code calls ``publish``."""

from __future__ import annotations

import logging

from flask_socketio import SocketIO

log = logging.getLogger(__name__)

socketio = SocketIO()


def init_app(app) -> None:
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        cors_allowed_origins=[],  # same origin only
        logger=False,
        engineio_logger=False,
    )


def publish(event: str, payload: dict, *, namespace: str = "/command", room: str | None = None) -> None:
    """Send ``event`` to the command centre (or a room); never fails the caller's work."""
    try:
        socketio.emit(event, payload, namespace=namespace, to=room)
    except Exception:  # a broken message queue must not undo a committed change
        log.exception("could not publish %s", event)
