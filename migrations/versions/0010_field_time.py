"""Field time on the record, and tablets' actions answered once (issue 28)

- ``event.recorded_at``: when the server wrote the event. ``occurred_at`` is when it happened in
  the field (a tablet's tap, offline perhaps); for everything else the two are the same. Events
  written before this revision keep ``recorded_at`` NULL (their ``occurred_at`` is the server's
  time); ``event_digest`` appends ``recorded_at`` when present, so their hashes, and the chain,
  verify as before.
- ``task_action``: each tablet action by its client ``action_id`` with the first answer given,
  so a retry whose answer was lost gets that answer again instead of a refusal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_DIGEST = """
    CREATE OR REPLACE FUNCTION event_digest(e event, prev bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
        SELECT sha256(coalesce(prev, '\\x'::bytea) || convert_to(concat_ws('|',
            e.id, e.chain_seq, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            e.actor, e.action, e.entity_type, e.entity_id, e.incident_id, e.joint_inspection_id,
            e.squad_id, ST_AsEWKT(e.location), e.data::text, e.on_behalf_of{extra}), 'UTF8'))
    $$;
"""
_RECORDED = """, to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""


def upgrade() -> None:
    op.add_column('event', sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))
    # the default only for rows to come (a volatile default in ADD COLUMN would fill the old ones)
    op.alter_column('event', 'recorded_at', server_default=sa.text('clock_timestamp()'))
    op.execute(_DIGEST.format(extra=_RECORDED))
    op.create_table('task_action',
    sa.Column('action_id', postgresql.UUID(as_uuid=True), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('answer', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('action_id')
    )


def downgrade() -> None:
    op.drop_table('task_action')
    op.execute(_DIGEST.format(extra=""))
    op.drop_column('event', 'recorded_at')
