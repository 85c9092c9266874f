"""Real time: tablet tokens, the per-squad outbox (seq numbers), position fixes; KNN per island

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:52:28.771098
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # KNN of squads within one island: GiST over (island_id, last_position) needs btree_gist.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_index('ix_squad_island_position', 'squad', ['island_id', 'last_position'], unique=False,
                    postgresql_using='gist')
    op.create_geospatial_table('position_fix',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('squad_id', sa.Integer(), nullable=False),
    sa.Column('client_fix_id', sa.String(length=64), nullable=False),
    sa.Column('fix_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('speed_mps', sa.Float(), nullable=True),
    sa.Column('heading', sa.Float(), nullable=True),
    sa.Column('source_crs', sa.String(length=8), server_default='wgs84', nullable=False),
    sa.Column('flags', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('squad_id', 'client_fix_id')
    )
    op.create_geospatial_index('idx_position_fix_location', 'position_fix', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_position_fix_squad_time', 'position_fix', ['squad_id', 'fix_time'], unique=False)
    op.create_table('tablet_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('squad_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_tablet_token_squad_id'), 'tablet_token', ['squad_id'], unique=False)
    op.create_table('squad_message',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('squad_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=30), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('send_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('squad_id', 'seq')
    )
    op.create_index('ix_squad_message_pending', 'squad_message', ['squad_id', 'seq'], unique=False, postgresql_where=sa.text('acked_at IS NULL AND superseded_by IS NULL'))
    op.create_index(op.f('ix_squad_message_task_id'), 'squad_message', ['task_id'], unique=False)
    op.add_column('squad', sa.Column('message_seq', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_index('ix_squad_island_position', table_name='squad', postgresql_using='gist')
    op.drop_column('squad', 'message_seq')
    op.drop_index(op.f('ix_squad_message_task_id'), table_name='squad_message')
    op.drop_index('ix_squad_message_pending', table_name='squad_message', postgresql_where=sa.text('acked_at IS NULL AND superseded_by IS NULL'))
    op.drop_table('squad_message')
    op.drop_index(op.f('ix_tablet_token_squad_id'), table_name='tablet_token')
    op.drop_table('tablet_token')
    op.drop_index('ix_position_fix_squad_time', table_name='position_fix')
    op.drop_geospatial_index('idx_position_fix_location', table_name='position_fix', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('position_fix')
