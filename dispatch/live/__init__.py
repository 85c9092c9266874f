"""Live updates: the bus the domain publishes to after commit, and the Socket.IO server it feeds.

- ``bus``: ``publish_after_commit`` / ``deliver_after_commit`` for the domain (no Socket.IO here).
- ``server``: Socket.IO on the app, the bus's sinks, background loops, the gevent server.
- ``namespaces``: ``/squad`` (tablets) and ``/command`` (screens).
- ``frames``: the coalescer, at most one frame per interval per screen.
- ``updates``: the Redis relay of updates between processes.
- ``writers``: group commit of tablets' fixes and acks.
- ``resend``: what tablets have not acknowledged, sent again.
- ``connections``: the tablets connected to this process.
- ``codec``, ``sio``, ``wsfast``: the wire, the Socket.IO object, gevent-websocket's C paths.

Only this package imports Flask-SocketIO.
"""
