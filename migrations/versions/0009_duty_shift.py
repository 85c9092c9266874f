"""The command centre's duty shift (issue 27): incidents closed with an outcome, calls and
callers, reassigned tasks, zone targets, live township coverage, alerts, scheduled runs

- ``incident.source`` may be ``walk_in`` (a citizen at the counter);
- ``incident.status`` may be ``closed`` (a dispatcher closed it with an ``outcome``);
  ``cancel_reason``, ``closed_at``, ``closed_by``, ``caller_name``, ``caller_phone``.
- ``task.superseded_by_id``: the task that took a reassigned one's place.
- ``zone.target_minutes``: the zone's response-time target (NULL: the configured default).
- ``township_coverage``: whether each township is covered now (dispatch.coverage).
- ``alert``: raised once per key while its condition holds, cleared, acknowledged.
- ``scheduled_run``: the server's periodic jobs, run by one process at a time.
- ``ix_event_entity``: an entity's latest event (the snapshot's revs, a squad's status since),
  an index lookup per squad instead of a scan of the record.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_SOURCES_OLD = "source IN ('hotline_12345', 'police_110', 'patrol', 'grid', 'complaint', 'supervision')"
_SOURCES_NEW = "source IN ('hotline_12345', 'police_110', 'patrol', 'grid', 'complaint', 'supervision', 'walk_in')"
_OLD = "status IN ('open', 'dispatched', 'resolved', 'duplicate', 'cancelled')"
_NEW = "status IN ('open', 'dispatched', 'resolved', 'closed', 'duplicate', 'cancelled')"


def upgrade() -> None:
    op.drop_constraint('status_valid', 'incident', type_='check')
    op.create_check_constraint('status_valid', 'incident', _NEW)
    op.drop_constraint('source_valid', 'incident', type_='check')
    op.create_check_constraint('source_valid', 'incident', _SOURCES_NEW)
    for name, column in (
        ('caller_name', sa.String(length=100)),
        ('caller_phone', sa.String(length=40)),
        ('outcome', sa.String(length=30)),
        ('outcome_note', sa.Text()),
        ('cancel_reason', sa.Text()),
        ('closed_at', sa.DateTime(timezone=True)),
        ('closed_by', sa.String(length=100)),
    ):
        op.add_column('incident', sa.Column(name, column, nullable=True))
    op.add_column('task', sa.Column('superseded_by_id', sa.Integer(), nullable=True))
    op.create_foreign_key('task_superseded_by_id_fkey', 'task', 'task', ['superseded_by_id'], ['id'])
    op.add_column('zone', sa.Column('target_minutes', sa.Integer(), nullable=True))
    op.create_table('township_coverage',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('root_region_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('target_minutes', sa.Integer(), nullable=False),
    sa.Column('covered', sa.Boolean(), nullable=False),
    sa.Column('best_squad_id', sa.Integer(), nullable=True),
    sa.Column('eta_seconds', sa.Integer(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rev', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['best_squad_id'], ['squad.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['root_region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('region_id')
    )
    op.create_index(op.f('ix_township_coverage_root_region_id'), 'township_coverage', ['root_region_id'], unique=False)
    op.create_table('alert',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('squad_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('task_unacknowledged', 'sla_due', 'sla_breached', 'township_uncovered', 'position_stale', 'escalation_due')", name='kind_valid'),
    sa.CheckConstraint("severity IN ('critical', 'warning', 'info')", name='severity_valid'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_alert_incident_id'), 'alert', ['incident_id'], unique=False)
    op.create_index('uq_alert_active_key', 'alert', ['key'], unique=True, postgresql_where=sa.text('cleared_at IS NULL'))
    op.create_index('ix_alert_open', 'alert', ['raised_at'], unique=False, postgresql_where=sa.text('acknowledged_at IS NULL'))
    op.create_index('ix_event_entity', 'event', ['entity_type', 'entity_id', 'id'], unique=False)
    op.create_table('scheduled_run',
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.Column('runs', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job')
    )


def downgrade() -> None:
    op.drop_table('scheduled_run')
    op.drop_index('ix_event_entity', table_name='event')
    op.drop_index('ix_alert_open', table_name='alert', postgresql_where=sa.text('acknowledged_at IS NULL'))
    op.drop_index('uq_alert_active_key', table_name='alert', postgresql_where=sa.text('cleared_at IS NULL'))
    op.drop_index(op.f('ix_alert_incident_id'), table_name='alert')
    op.drop_table('alert')
    op.drop_index(op.f('ix_township_coverage_root_region_id'), table_name='township_coverage')
    op.drop_table('township_coverage')
    op.drop_column('zone', 'target_minutes')
    op.drop_constraint('task_superseded_by_id_fkey', 'task', type_='foreignkey')
    op.drop_column('task', 'superseded_by_id')
    for name in ('closed_by', 'closed_at', 'cancel_reason', 'outcome_note', 'outcome', 'caller_phone', 'caller_name'):
        op.drop_column('incident', name)
    op.execute("UPDATE incident SET status = 'resolved' WHERE status = 'closed'")
    op.drop_constraint('status_valid', 'incident', type_='check')
    op.create_check_constraint('status_valid', 'incident', _OLD)
    op.execute("UPDATE incident SET source = 'complaint' WHERE source = 'walk_in'")
    op.drop_constraint('source_valid', 'incident', type_='check')
    op.create_check_constraint('source_valid', 'incident', _SOURCES_OLD)
