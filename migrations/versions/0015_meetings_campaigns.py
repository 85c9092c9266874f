"""Joint meetings and inspect-once campaigns (issue 32)

``joint_meeting`` (联席会议, 联合会商: seed 000 §2.2-2.3, seed 003 annex) with its participating departments
(``meeting_participant``) and the tasks its minutes decide (``meeting_task``: an owner, a deadline, feedback);
``campaign`` (专项行动: seed 001 §3.3.2, seed 003 §7) over townships (``campaign_region``) or an industry, with its
departments (``campaign_authority``), targets (``campaign_target``) and each department's findings in the one
visit, with their follow-up (``campaign_finding``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:30:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='planned', nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'active', 'closed')", name='status_valid'),
    sa.CheckConstraint('ends_on >= starts_on', name='ends_after_start'),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['lead_id'], ['authority.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_campaign_county_id'), 'campaign', ['county_id'], unique=False)
    op.create_table('campaign_authority',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'authority_id')
    )
    op.create_table('campaign_region',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'region_id')
    )
    op.create_table('joint_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('convenor_authority_id', sa.Integer(), nullable=True),
    sa.Column('convenor_body_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('agenda', sa.Text(), nullable=True),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('regular', 'ad_hoc', 'consultation')", name='kind_valid'),
    sa.CheckConstraint('(convenor_authority_id IS NULL) <> (convenor_body_id IS NULL)', name='one_convenor'),
    sa.ForeignKeyConstraint(['convenor_authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['convenor_body_id'], ['oversight_body.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_joint_meeting_county_id'), 'joint_meeting', ['county_id'], unique=False)
    op.create_index(op.f('ix_joint_meeting_held_at'), 'joint_meeting', ['held_at'], unique=False)
    op.create_index(op.f('ix_joint_meeting_incident_id'), 'joint_meeting', ['incident_id'], unique=False)
    op.create_geospatial_table('campaign_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('business_id', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('joint_inspection_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'inspected')", name='status_valid'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['joint_inspection_id'], ['joint_inspection.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'business_id', name='one_target_per_business')
    )
    op.create_geospatial_index('idx_campaign_target_location', 'campaign_target', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_campaign_target_campaign_id'), 'campaign_target', ['campaign_id'], unique=False)
    op.create_table('meeting_participant',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['joint_meeting.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'authority_id')
    )
    op.create_table('meeting_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=100), nullable=True),
    sa.Column('working_days', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='open', nullable=False),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'done' OR (feedback IS NOT NULL AND done_at IS NOT NULL)", name='done_has_feedback'),
    sa.CheckConstraint("status IN ('open', 'done')", name='status_valid'),
    sa.ForeignKeyConstraint(['meeting_id'], ['joint_meeting.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['authority.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_meeting_task_due_at'), 'meeting_task', ['due_at'], unique=False)
    op.create_index(op.f('ix_meeting_task_meeting_id'), 'meeting_task', ['meeting_id'], unique=False)
    op.create_index(op.f('ix_meeting_task_owner_id'), 'meeting_task', ['owner_id'], unique=False)
    op.create_table('campaign_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('rectify_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_result', sa.String(length=16), nullable=True),
    sa.Column('check_note', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("check_result IS NULL OR check_result IN ('rectified', 'not_rectified')", name='check_valid'),
    sa.CheckConstraint("result = 'violation' OR rectify_by IS NULL", name='only_violations_rectified'),
    sa.CheckConstraint("result IN ('compliant', 'violation')", name='result_valid'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['target_id'], ['campaign_target.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('target_id', 'authority_id', name='one_finding_per_department')
    )
    op.create_index(op.f('ix_campaign_finding_target_id'), 'campaign_finding', ['target_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_campaign_finding_target_id'), table_name='campaign_finding')
    op.drop_table('campaign_finding')
    op.drop_index(op.f('ix_meeting_task_owner_id'), table_name='meeting_task')
    op.drop_index(op.f('ix_meeting_task_meeting_id'), table_name='meeting_task')
    op.drop_index(op.f('ix_meeting_task_due_at'), table_name='meeting_task')
    op.drop_table('meeting_task')
    op.drop_table('meeting_participant')
    op.drop_index(op.f('ix_campaign_target_campaign_id'), table_name='campaign_target')
    op.drop_geospatial_index('idx_campaign_target_location', table_name='campaign_target', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('campaign_target')
    op.drop_index(op.f('ix_joint_meeting_incident_id'), table_name='joint_meeting')
    op.drop_index(op.f('ix_joint_meeting_held_at'), table_name='joint_meeting')
    op.drop_index(op.f('ix_joint_meeting_county_id'), table_name='joint_meeting')
    op.drop_table('joint_meeting')
    op.drop_table('campaign_region')
    op.drop_table('campaign_authority')
    op.drop_index(op.f('ix_campaign_county_id'), table_name='campaign')
    op.drop_table('campaign')
