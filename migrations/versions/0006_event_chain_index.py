"""The hash chain finds the previous event through the chain_seq index

The trigger of 0002 asked for ``ORDER BY chain_seq DESC NULLS LAST LIMIT 1``. A
btree index scanned backwards yields DESC NULLS FIRST, so PostgreSQL answered
that with a sequential scan and a sort of the whole event table on every
insert: the cost of recording a change grew with the size of the record. Every
row has a chain_seq (the trigger sets it), so ``WHERE chain_seq IS NOT NULL
ORDER BY chain_seq DESC`` is the same row, found by a backward index scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:20:00
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_CHAIN = """
    CREATE OR REPLACE FUNCTION event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE last event%%ROWTYPE;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('dispatch.event_chain'));
        SELECT * INTO last FROM event %s LIMIT 1;
        NEW.chain_seq := coalesce(last.chain_seq, 0) + 1;
        NEW.prev_hash := last.hash;
        NEW.hash := event_digest(NEW, NEW.prev_hash);
        RETURN NEW;
    END $$;
"""


def upgrade() -> None:
    op.execute(_CHAIN % "WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC")


def downgrade() -> None:
    op.execute(_CHAIN % "ORDER BY chain_seq DESC NULLS LAST")
