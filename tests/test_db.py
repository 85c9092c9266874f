"""db.pipelined_transaction: our own BEGIN and COMMIT around psycopg pipelines, on real PostgreSQL."""

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from dispatch.store.db import db, pipelined_transaction

SQUAD = "cb-shengshan"
RENAME = "UPDATE squad SET name_en = %(name)s WHERE code = %(code)s"


def _name_elsewhere() -> str:
    """The squad's name as another connection sees it (committed data only)."""
    with db.engine.connect() as other:
        return other.execute(text("SELECT name_en FROM squad WHERE code = :c"), {"c": SQUAD}).scalar_one()


def _driver(session) -> psycopg.Connection:
    return session.connection().connection.driver_connection


def test_a_committed_pipelined_transaction_is_stored_and_the_connection_is_as_before(session):
    with pipelined_transaction(session) as tx, tx.raw.cursor() as cursor:
        assert tx.raw.autocommit  # our BEGIN, not psycopg's
        with tx.round_trip():
            cursor.execute("SELECT id FROM squad WHERE code = %(code)s FOR UPDATE", {"code": SQUAD})
        assert cursor.fetchone() is not None
        assert tx.raw.info.transaction_status == TransactionStatus.INTRANS  # BEGIN went with the first
        with tx.round_trip(commit=True):
            cursor.execute(RENAME, {"name": "renamed in two round trips", "code": SQUAD})
    raw = _driver(session)
    assert not raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE
    assert _name_elsewhere() == "renamed in two round trips"


def test_leaving_before_the_commit_rolls_back_and_releases_the_locks(session):
    before = _name_elsewhere()
    with pytest.raises(RuntimeError), pipelined_transaction(session) as tx, tx.raw.cursor() as cursor:
        with tx.round_trip():
            cursor.execute(RENAME, {"name": "never stored", "code": SQUAD})
        raise RuntimeError("a 409 after the first round trip")
    raw = _driver(session)
    assert not raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE
    assert _name_elsewhere() == before
    with db.engine.connect() as other:  # the row lock went with the rollback
        other.execute(text("SELECT id FROM squad WHERE code = :c FOR UPDATE NOWAIT"), {"c": SQUAD})


def test_a_failing_statement_rolls_back_everything_before_it(session):
    before = _name_elsewhere()
    with pytest.raises(psycopg.errors.UniqueViolation), pipelined_transaction(session) as tx, tx.raw.cursor() as c:
        with tx.round_trip():
            c.execute(RENAME, {"name": "never stored either", "code": SQUAD})
        with tx.round_trip(commit=True):
            c.execute("UPDATE squad SET code = 'cb-caiyuan' WHERE code = %(code)s", {"code": SQUAD})
    assert _driver(session).info.transaction_status == TransactionStatus.IDLE
    assert _name_elsewhere() == before


def test_a_session_already_in_a_transaction_goes_on_in_it(session):
    session.execute(text("UPDATE squad SET status = 'off_duty' WHERE code = :c"), {"c": SQUAD})
    with pipelined_transaction(session) as tx, tx.raw.cursor() as cursor:
        assert not tx.raw.autocommit  # no BEGIN of ours: psycopg's transaction is open
        with tx.round_trip(commit=True):
            cursor.execute(RENAME, {"name": "with the status", "code": SQUAD})
    with db.engine.connect() as other:
        row = other.execute(text("SELECT status, name_en FROM squad WHERE code = :c"), {"c": SQUAD}).one()
    assert tuple(row) == ("off_duty", "with the status")  # one transaction, both committed


def test_without_commits_the_caller_commits(session):
    with pipelined_transaction(session, commits=False) as tx, tx.raw.cursor() as cursor, tx.round_trip():
        cursor.execute(RENAME, {"name": "committed by the caller", "code": SQUAD})
    assert _name_elsewhere() != "committed by the caller"
    session.commit()
    assert _name_elsewhere() == "committed by the caller"


LOCK_BY_IDS = "SELECT id FROM squad WHERE id = ANY(CAST(%(ids)s AS integer[])) ORDER BY id FOR UPDATE"


def _plans(raw: psycopg.Connection) -> tuple[int, int]:
    """(generic, custom) executions of LOCK_BY_IDS as prepared on this connection (0, 0 before)."""
    row = raw.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
        ("%ANY(CAST($1 AS integer[]))%FOR UPDATE",),
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def test_its_prepared_statements_keep_their_generic_plan_and_the_connection_its_planning(session):
    """A statement with an array parameter: PostgreSQL plans it again on every execution (the
    generic plan's estimate, for an array of unknown length, looks dearer); in a pipelined
    transaction of our own it runs on the generic plan, and only there."""
    ids = [session.execute(text("SELECT id FROM squad WHERE code = :c"), {"c": SQUAD}).scalar_one()]
    session.commit()
    raw = _driver(session)  # the session keeps this connection from here on (it never commits)
    for _ in range(8):  # psycopg prepares a statement on its sixth execution (prepare_threshold 5)
        with pipelined_transaction(session) as tx, tx.raw.cursor() as cursor:
            with tx.round_trip(commit=True):
                cursor.execute(LOCK_BY_IDS, {"ids": ids})
            assert cursor.fetchall() == [(ids[0],)] and tx.raw is raw
    generic, custom = _plans(raw)
    assert generic >= 2 and custom == 0
    assert raw.execute("SHOW plan_cache_mode").fetchone()[0] == "auto"  # SET LOCAL: gone with the COMMIT
    for _ in range(6):  # the same statement in psycopg's own transaction: planned each time
        raw.execute(LOCK_BY_IDS, {"ids": ids})
    assert _plans(raw) == (generic, 6)
    session.rollback()


def _prepared(raw: psycopg.Connection) -> int:
    return raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


@pytest.mark.parametrize(("method", "kept"), [("GET", True), ("POST", False)])
def test_a_read_ends_with_commit_so_the_connection_keeps_its_prepared_statements(app, method, kept):
    """psycopg deallocates every prepared statement of a connection whose transaction is
    rolled back; a GET's transaction ends with COMMIT, so its connection keeps them, and what
    it wrote (its token's last use) is kept. A POST that leaves without committing is rolled
    back, as before."""
    with app.test_request_context("/api/v1/squads", method=method):
        session = db.session
        raw = _driver(session)
        for _ in range(6):  # prepared on the sixth execution
            session.execute(text("SELECT id FROM squad WHERE code = :c"), {"c": SQUAD}).scalar_one()
        session.execute(text("UPDATE squad SET name_en = 'changed by the request' WHERE code = :c"), {"c": SQUAD})
        assert _prepared(raw) == 1
    # the request's teardown has run and the connection is back in the pool
    assert raw.info.transaction_status == TransactionStatus.IDLE
    assert _prepared(raw) == (1 if kept else 0)
    assert (_name_elsewhere() == "changed by the request") is kept


def test_a_token_used_for_reads_only_records_its_last_use(app, client):
    from dispatch.accounts import forget_tokens

    forget_tokens()
    assert client.get("/api/v1/squads").status_code == 200
    with app.app_context(), db.engine.connect() as other:  # committed data only
        used = other.execute(text("SELECT last_used_at FROM api_token WHERE name = 'api'")).scalar_one()
    assert used is not None


def test_leaving_after_reads_only_keeps_the_prepared_statements_and_releases_the_locks(session):
    """A dispatch refused after its locks (a 409) has written nothing: it ends with COMMIT, which
    releases the row locks as a rollback would, and psycopg keeps the connection's prepared
    statements (it deallocates them all on a rollback)."""
    ids = [session.execute(text("SELECT id FROM squad WHERE code = :c"), {"c": SQUAD}).scalar_one()]
    session.commit()
    raw = _driver(session)
    for attempt in range(8):
        with pytest.raises(RuntimeError), pipelined_transaction(session) as tx, tx.raw.cursor() as cursor:
            with tx.round_trip(reads_only=True):
                cursor.execute(LOCK_BY_IDS, {"ids": ids})
            assert cursor.fetchall() == [(ids[0],)]
            raise RuntimeError(f"409 number {attempt}")
    assert raw.info.transaction_status == TransactionStatus.IDLE and not raw.autocommit
    assert _plans(raw)[0] >= 2, "prepared on the sixth refusal and kept since"
    with db.engine.connect() as other:  # the row lock went with the COMMIT
        other.execute(text("SELECT id FROM squad WHERE code = :c FOR UPDATE NOWAIT"), {"c": SQUAD})


def test_the_pool_hands_out_the_connection_returned_last(app):
    """A quiet server keeps working on its warmest backend (see Database.init_app)."""
    with app.app_context():
        first, second = db.engine.connect(), db.engine.connect()
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for c in (first, second)]
        first.close()
        second.close()  # returned last
        for _ in range(3):
            with db.engine.connect() as again:
                assert again.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == pids[1]
