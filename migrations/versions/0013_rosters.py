"""Rosters and live availability (issue 29): shifts, squad status with reason, certificate suspensions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:40:00
"""
from alembic import op  # noqa: F401

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
