"""A per-process cache of slowly changing reference data (ferry networks, the region tree,
zones, authorities' and regions' names, squads' counties), kept per database for a few minutes.

``clear()`` forgets everything (after loading or editing reference data); other processes
see the change when their entries expire.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable

TTL_SECONDS = 300
_entries: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()
_engine_keys: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its URL, rendered once


def db_key(db) -> str:
    """The database a Session, a scoped session or a Connection talks to (tests use one database each)."""
    factory = getattr(db, "session_factory", None)  # a scoped_session: no need to create its session
    bind = factory.kw.get("bind") if factory is not None else None
    if bind is None:
        bind = db.get_bind() if hasattr(db, "get_bind") else db.engine
    key = _engine_keys.get(bind)
    if key is None:
        key = _engine_keys.setdefault(bind, str(bind.url))
    return key


def _fresh(full_key: tuple, now: float) -> tuple[float, object] | None:
    """The entry of ``full_key`` when it is younger than TTL_SECONDS (the caller holds _lock)."""
    hit = _entries.get(full_key)
    return hit if hit and now - hit[0] < TTL_SECONDS else None


def cached(db, key: tuple, load: Callable[[], object]):
    """``load()`` once per database and key for TTL_SECONDS; an exception is not remembered."""
    full_key = (db_key(db), *key)
    with _lock:
        hit = _fresh(full_key, time.monotonic())
        if hit:
            return hit[1]
    value = load()
    with _lock:
        _entries[full_key] = (time.monotonic(), value)
    return value


def peek(database: str, key: tuple):
    """The fresh value of ``key`` for ``database`` (``db_key``), or None: nothing is loaded."""
    with _lock:
        hit = _fresh((database, *key), time.monotonic())
    return hit[1] if hit else None


def cached_many(db, kind: str, ids: Iterable, load: Callable[[list], dict]) -> dict:
    """``{id: value}`` for ``ids``: the fresh ones from the cache, the others with one ``load(missing)``
    (which returns ``{id: value}``) remembered for TTL_SECONDS each."""
    base = db_key(db)
    found, missing = {}, []
    with _lock:
        now = time.monotonic()
        for i in ids:
            hit = _fresh((base, kind, i), now)
            if hit:
                found[i] = hit[1]
            else:
                missing.append(i)
    if missing:
        loaded = load(missing)
        with _lock:
            now = time.monotonic()
            for i, value in loaded.items():
                _entries[(base, kind, i)] = (now, value)
        found.update(loaded)
    return found


def clear() -> None:
    with _lock:
        _entries.clear()
