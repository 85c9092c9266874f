"""The SQLAlchemy engine and session, bound to the app in ``create_app``.

Hot path (``pipelined_transaction`` carries every dispatch), guarded by ``make bench``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import request
from sqlalchemy import create_engine, text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

log = logging.getLogger(__name__)


class Database:
    """Engine plus a request-scoped session, created unbound like a Flask extension."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory = sessionmaker(expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self._factory)

    def init_app(self, app) -> None:
        url = app.config["DATABASE_URL"]
        self.engine = create_engine(
            url,
            pool_size=app.config["DB_POOL_SIZE"],
            max_overflow=20,
            # No pre-ping (a round trip per checkout): a connection lost in a PostgreSQL
            # restart fails its request with 503 + Retry-After, and SQLAlchemy then drops
            # the whole pool, so the next request reconnects.
            pool_recycle=1800,
            # The connection returned last is handed out first: a quiet server works on one or
            # two warm PostgreSQL backends whose statements are prepared. Handed out in turn
            # (the default), each request met the backend idle longest, and the first five
            # executions of a statement on each are planned afresh: a cold backend took 10-15 ms
            # to plan the dispatch's locks, so after a reconnect storm dispatches came in bursts
            # of 20-38 ms, one per pooled connection (bench/realtime.py, PostgreSQL's log).
            pool_use_lifo=True,
        )
        self._factory.configure(bind=self.engine)
        app.extensions["dispatch_db"] = self

        @app.teardown_request
        def _end_read(exc):
            if exc is None and request.method in ("GET", "HEAD"):
                self._commit_read()

        @app.teardown_appcontext
        def _remove_session(exc):  # noqa: ARG001 - Flask passes the exception
            self.session.remove()

    def _commit_read(self) -> None:
        """A read (GET, HEAD) ends its transaction with COMMIT, not with remove()'s rollback.

        psycopg forgets every prepared statement of a connection whose transaction is
        rolled back (it sends DEALLOCATE ALL), so each read of the command centre made the
        next dispatch on that connection parse and plan its statements again, and a
        connection serving only reads never kept one. A read writes nothing of its own
        but its token's ``last_used_at``, which the rollback used to drop.
        """
        if not self.session.registry.has():
            return
        session = self.session()
        if not session.in_transaction():
            return
        try:
            session.commit()
        except Exception as exc:  # the database went away (the answer said so): remove() rolls back
            log.warning("a read's transaction could not end with COMMIT, rolled back instead: %s", exc)

    def postgis_version(self) -> str:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT postgis_lib_version()")).scalar_one()

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


db = Database()


def driver_sql(statement) -> str:
    """A ``text()`` statement (``:name`` parameters) for the psycopg connection itself (``%(name)s``)."""
    return str(statement.compile(dialect=psycopg_dialect.dialect()))


@contextmanager
def driver_connection(session: Session) -> Iterator[psycopg.Connection]:
    """The psycopg connection of the session's transaction, for the hot paths that pipeline
    their statements (several in one round trip) past SQLAlchemy. A connection lost in a
    database restart is invalidated, so the pool does not hand it out again."""
    connection = session.connection()
    raw = connection.connection.driver_connection
    try:
        yield raw
    except psycopg.OperationalError:
        if raw.closed or raw.broken:
            connection.invalidate()
        raise


# A transaction of our own begins with the generic plans of its (prepared) statements. The hot
# paths' statements take arrays and JSON record sets as parameters, and PostgreSQL's estimate
# for a generic plan (an array of unknown length) always looks dearer than the plan for the
# one squad at hand, so it never settles on the generic plan and plans again on every
# execution: a dispatch's squad lock and booking were planned each time (0.15 to 0.3 ms and
# 0.35 to 0.6 ms on this machine; they run in 0.07 and 0.9 ms). SET LOCAL ends with the
# transaction.
_BEGIN = ("BEGIN", "SET LOCAL plan_cache_mode = force_generic_plan")


class PipelinedTransaction:
    """A transaction sent to PostgreSQL in a few round trips of several statements each.

    ``round_trip()`` is a block of statements (psycopg's pipeline mode) that leave together
    at its end and come back in one round trip; cursors are read after the block. BEGIN
    leaves with the first one, COMMIT with the one given ``commit=True``. A round trip given
    ``reads_only=True`` writes nothing (reads and row locks).
    """

    def __init__(self, raw: psycopg.Connection, *, begin: bool):
        self.raw = raw
        self._begin = begin  # our own BEGIN still to send (the connection is in autocommit)
        self.wrote = False  # a round trip not declared reads_only has been sent

    @contextmanager
    def round_trip(self, *, commit: bool = False, reads_only: bool = False) -> Iterator[psycopg.Connection]:
        if not reads_only:
            self.wrote = True
        with self.raw.pipeline():
            if self._begin:
                for statement in _BEGIN:
                    self.raw.execute(statement)
                self._begin = False
            yield self.raw
            if commit:
                self.raw.execute("COMMIT")


@contextmanager
def pipelined_transaction(session: Session, *, commits: bool = True) -> Iterator[PipelinedTransaction]:
    """The session's transaction in round trips of several statements (``PipelinedTransaction``),
    ended by the caller's ``round_trip(commit=True)``; left any other way (an exception, a
    409) it is rolled back, or, when it has only read (a dispatch refused after its locks),
    committed: the same for the database (the row locks go either way), but psycopg forgets
    every prepared statement of a connection on a rollback, and the next dispatch on it would
    be parsed and planned again.

    psycopg begins a transaction by sending BEGIN and waiting for it, a round trip of its
    own even in pipeline mode (0.5 ms of a 5 ms dispatch on this machine). Here the
    connection is in autocommit for the while, with our own BEGIN leaving with the first
    statements and COMMIT with the last; autocommit is off again before the pool takes it
    back. A session already in a transaction goes on in it, and with ``commits=False`` the
    caller commits later (``session.commit()``).
    """
    with driver_connection(session) as raw:
        if not commits or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            yield PipelinedTransaction(raw, begin=False)
            return
        switched = not raw.autocommit
        raw.autocommit = True
        tx = PipelinedTransaction(raw, begin=True)
        try:
            yield tx
        finally:
            if not raw.closed and not raw.broken:
                status = raw.info.transaction_status
                if status == psycopg.pq.TransactionStatus.INTRANS and not tx.wrote:
                    raw.execute("COMMIT")
                elif status != psycopg.pq.TransactionStatus.IDLE:
                    raw.rollback()
                if switched:
                    raw.autocommit = False
