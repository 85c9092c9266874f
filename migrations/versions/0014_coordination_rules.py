"""Coordination rules (issue 32): the holiday calendar's years, case rules, referral and dispute changes

- ``calendar_year``: the years of the State Council's holiday notice loaded whole, with their
  source; the calendar's horizon is the last one's 31 December. Years already in ``calendar_day``
  are taken as loaded from ``oversight.yaml``.
- ``oversight_policy.major_fine_yuan``: above it a penalty is a major decision whatever the caller
  says (seed 002 task 4: legal review of major decisions).
- ``assistance_request.due_provisional``: a working-day time limit that runs past the calendar's
  horizon.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_year',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('loaded_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name='year_range'),
    sa.PrimaryKeyConstraint('year')
    )
    op.execute(
        "INSERT INTO calendar_year (year, source, loaded_by) "
        "SELECT DISTINCT extract(year FROM day)::int, 'oversight.yaml', 'migration 0014' FROM calendar_day"
    )
    op.add_column('oversight_policy', sa.Column('major_fine_yuan', sa.Numeric(precision=12, scale=2), nullable=True))
    op.add_column('assistance_request',
                  sa.Column('due_provisional', sa.Boolean(), server_default='false', nullable=False))


def downgrade() -> None:
    op.drop_column('assistance_request', 'due_provisional')
    op.drop_column('oversight_policy', 'major_fine_yuan')
    op.drop_table('calendar_year')
