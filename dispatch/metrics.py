"""The Prometheus registry of this process, and the domain's own figures.

``/metrics`` (``dispatch.http.observability``) serves the registry; each layer registers
its figures here: the HTTP layer its requests, the live server its tablets, the domain
what it stores. Each process exposes its own figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry()
FIXES = Counter("dispatch_position_fixes_total", "Position fixes stored", registry=REGISTRY)
STALE_POSITIONS = Counter(
    "dispatch_stale_positions_total",
    "Squads read again because the position this process knew had changed (another process moved them)",
    registry=REGISTRY,
)
