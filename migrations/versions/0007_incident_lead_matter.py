"""An incident remembers its lead matter: the first one it was filed with

Intake decides the competent authority from the first matter given, but
``incident_matter`` keeps no order, so a stored incident's jurisdiction was
answered from its matters in code order: for one filed as [MS-001, CM-001], the
intake answer named the market regulation bureau (as the incident's authority
does) and every later GET the county bureau. ``lead_matter_id`` keeps the first
matter given. Incidents stored before this revision get the matter in the
domain of their authority, else the first by code (what GET showed until now).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('incident', sa.Column('lead_matter_id', sa.Integer(), nullable=True))
    op.create_foreign_key('incident_lead_matter_id_fkey', 'incident', 'matter', ['lead_matter_id'], ['id'])
    op.execute("""
        UPDATE incident i SET lead_matter_id = (
            SELECT m.id FROM incident_matter im JOIN matter m ON m.id = im.matter_id
            LEFT JOIN authority a ON a.id = i.authority_id
            WHERE im.incident_id = i.id
            ORDER BY (m.domain = a.domain) IS TRUE DESC, m.code
            LIMIT 1)
    """)


def downgrade() -> None:
    op.drop_constraint('incident_lead_matter_id_fkey', 'incident', type_='foreignkey')
    op.drop_column('incident', 'lead_matter_id')
