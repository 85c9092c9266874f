"""Evidence from the scene (issue 28): ``evidence``, one row per photo, video or document

stored content-addressed (``sha256`` names the file in the evidence store, dispatch.evidence),
attached to a task, a case or an incident, with the device's ``occurred_at`` and the server's
``recorded_at``; a chunked upload is a row in state ``uploading`` with the bytes ``received``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='stored', nullable=False),
    sa.Column('received', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('upload_id', sa.String(length=36), nullable=True),
    sa.Column('action_id', sa.String(length=64), nullable=True),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('uploading', 'stored', 'failed')", name='state_valid'),
    sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name='evidence_sha256_hex'),
    sa.CheckConstraint('size > 0 AND received >= 0 AND received <= size', name='evidence_sizes'),
    sa.CheckConstraint("state <> 'stored' OR received = size", name='evidence_stored_whole'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('upload_id'),
    sa.UniqueConstraint('action_id'),
    )
    op.create_index('ix_evidence_sha256', 'evidence', ['sha256'], unique=False)
    op.create_index(op.f('ix_evidence_task_id'), 'evidence', ['task_id'], unique=False)
    op.create_index(op.f('ix_evidence_case_id'), 'evidence', ['case_id'], unique=False)
    op.create_index(op.f('ix_evidence_incident_id'), 'evidence', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_table('evidence')
