"""A per-process cache of slowly changing reference data (ferry networks, the region tree,
zones, squads' counties), kept per database for a few minutes.

``clear()`` forgets everything (after loading or editing reference data); other processes
see the change when their entries expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

TTL_SECONDS = 300
_entries: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()


def db_key(db) -> str:
    """The database a Session or a Connection talks to (tests use one database each)."""
    bind = db.get_bind() if hasattr(db, "get_bind") else db.engine
    return str(bind.url)


def cached(db, key: tuple, load: Callable[[], object]):
    """``load()`` once per database and key for TTL_SECONDS; an exception is not remembered."""
    full_key = (db_key(db), *key)
    with _lock:
        hit = _entries.get(full_key)
        if hit and time.monotonic() - hit[0] < TTL_SECONDS:
            return hit[1]
    value = load()
    with _lock:
        _entries[full_key] = (time.monotonic(), value)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
