"""Transport conditions (issue 29): ferry and boat suspensions, timetable versions

``transport_suspension``: sailings stopped for a window (one link, a pier, the county; ferries,
boats or both), with its reason and who set and lifted it. ``ferry_timetable``: a link's timetable
versions with effective dates (summer, winter). ``travel_profile`` gains the wind force at which each
vessel class stops (``wind_limits``) and ``transport_version``, bumped at every change of sailings,
which every server process compares with the conditions it has cached.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('travel_profile', sa.Column('wind_limits', postgresql.JSONB(astext_type=sa.Text()),
                                              server_default=sa.text("'{}'::jsonb"), nullable=False))
    op.add_column('travel_profile', sa.Column('transport_version', sa.BigInteger(), server_default='0',
                                              nullable=False))
    op.create_table('ferry_timetable',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('season', sa.String(length=32), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_until', sa.Date(), nullable=True),
    sa.Column('departures', postgresql.ARRAY(sa.String(length=5)), server_default='{}', nullable=False),
    sa.CheckConstraint('effective_until IS NULL OR effective_until >= effective_from', name='season_dates'),
    sa.ForeignKeyConstraint(['link_id'], ['ferry_link.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_id', 'season', 'effective_from'),
    )
    op.create_index(op.f('ix_ferry_timetable_link_id'), 'ferry_timetable', ['link_id'], unique=False)
    op.create_table('transport_suspension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_region_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('port_id', sa.Integer(), nullable=True),
    sa.Column('vessels', postgresql.ARRAY(sa.String(length=8)), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason_kind', sa.String(length=10), nullable=False),
    sa.Column('wind_force', sa.Integer(), nullable=True),
    sa.Column('reason_text', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.CheckConstraint("scope IN ('link', 'pier', 'county')", name='scope_valid'),
    sa.CheckConstraint("reason_kind IN ('wind', 'fog', 'typhoon', 'other')", name='reason_kind_valid'),
    sa.CheckConstraint('ends_at > starts_at', name='suspension_window'),
    sa.CheckConstraint("(scope = 'link') = (link_id IS NOT NULL) AND (scope = 'pier') = (port_id IS NOT NULL)",
                       name='suspension_scope_key'),
    sa.CheckConstraint("vessels <@ ARRAY['ferry', 'boat']::varchar[] AND cardinality(vessels) > 0",
                       name='vessels_valid'),
    sa.CheckConstraint('wind_force IS NULL OR wind_force BETWEEN 0 AND 17', name='wind_force_beaufort'),
    sa.ForeignKeyConstraint(['root_region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['ferry_link.id'], ),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_transport_suspension_active', 'transport_suspension', ['root_region_id', 'ends_at'],
                    unique=False, postgresql_where=sa.text('lifted_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_transport_suspension_active', table_name='transport_suspension',
                  postgresql_where=sa.text('lifted_at IS NULL'))
    op.drop_table('transport_suspension')
    op.drop_index(op.f('ix_ferry_timetable_link_id'), table_name='ferry_timetable')
    op.drop_table('ferry_timetable')
    op.drop_column('travel_profile', 'transport_version')
    op.drop_column('travel_profile', 'wind_limits')
