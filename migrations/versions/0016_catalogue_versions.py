"""Matter catalogue versions (issue 32): the catalogue changes over time

``catalogue_version`` (a county's or city's catalogue as published: effective from a day, its publishing document;
seed 001 §3.2.1, seed 004 art. 5) and ``catalogue_entry`` (each matter as that version lists it). A database
holding exactly one county gets its present ``matter`` rows as the first version, effective from its plan's day.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalogue_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region_id', 'effective_from')
    )
    op.create_index(op.f('ix_catalogue_version_region_id'), 'catalogue_version', ['region_id'], unique=False)
    op.create_table('catalogue_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('authority_kind', sa.String(length=24), nullable=False),
    sa.Column('township_held', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('joint_domains', sa.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('priority', sa.Integer(), server_default='2', nullable=False),
    sa.Column('sla_minutes', sa.Integer(), server_default='120', nullable=False),
    sa.CheckConstraint("authority_kind IN ('municipal_bureau', 'county_bureau', 'department', 'township_government')",
                       name='authority_kind_valid'),
    sa.CheckConstraint('priority BETWEEN 1 AND 3', name='priority_range'),
    sa.CheckConstraint('sla_minutes > 0', name='sla_positive'),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['catalogue_version.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'code')
    )
    op.create_index(op.f('ix_catalogue_entry_matter_id'), 'catalogue_entry', ['matter_id'], unique=False)
    # One county loaded: its matters are its first version (several: each gets one when it is loaded again).
    op.execute("""
        INSERT INTO catalogue_version (region_id, effective_from, source, published_by)
        SELECT r.id, coalesce((SELECT min((p.effective_at AT TIME ZONE 'Asia/Shanghai')::date) FROM coverage_plan p
                               WHERE p.region_id = r.id AND p.status = 'published'), current_date),
               'matters.yaml (the catalogue before versions were kept)', 'migration 0016'
        FROM region r WHERE r.parent_id IS NULL AND (SELECT count(*) FROM region WHERE parent_id IS NULL) = 1
          AND EXISTS (SELECT 1 FROM matter)""")
    op.execute("""
        INSERT INTO catalogue_entry (version_id, matter_id, code, name_zh, name_en, domain, authority_kind,
                                     township_held, joint_domains, priority, sla_minutes)
        SELECT v.id, m.id, m.code, m.name_zh, m.name_en, m.domain, m.authority_kind, m.township_held,
               m.joint_domains, m.priority, m.sla_minutes
        FROM catalogue_version v CROSS JOIN matter m""")


def downgrade() -> None:
    op.drop_index(op.f('ix_catalogue_entry_matter_id'), table_name='catalogue_entry')
    op.drop_table('catalogue_entry')
    op.drop_index(op.f('ix_catalogue_version_region_id'), table_name='catalogue_version')
    op.drop_table('catalogue_version')
