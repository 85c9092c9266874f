"""dispatch: command and dispatch for comprehensive administrative law enforcement.

Layers, top to bottom; a module imports only from the layers below it (``make lint``
checks the contracts in .importlinter):

    dispatch.production, dispatch.app        entry points, the composition root
    dispatch.commands                        every ``flask --app dispatch`` command
    dispatch.http   |   dispatch.live        Flask routes and pages | Socket.IO server
    domain                                   incidents, tasks, states, shapes, joint, jurisdiction,
                                             recommend, plans, positions, record, outbox, tablets,
                                             accounts, audit, boundaries, seed, simulate, synthetic,
                                             validation, oversight.*
    dispatch.live.bus                        publish / deliver after commit (sinks set at start-up)
    dispatch.store                           engine and session, models, migrations, embedded
                                             PostGIS, reference cache
    dispatch.errors, config, metrics         leaves
    gis                                      geometry, coordinate systems, travel, the China clock
"""

from __future__ import annotations


def create_app(test_config=None):
    """``dispatch.app.create_app``, for ``flask --app dispatch``. Lazy: start-up cost (importing
    ``dispatch.store`` for a migration or a tool does not build the web application)."""
    from dispatch.app import create_app as build  # lazy: start-up cost

    return build(test_config)
