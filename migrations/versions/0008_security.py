"""Security (issue 25): scoped accounts and tokens, server-side sessions, sign-in throttle,
and the record's on-behalf-of

- ``account`` and ``api_token`` carry a scope: a region (province, county or township;
  NULL: everywhere) and the authority or oversight body they act for. A token may belong
  to an account (ended with it) and may be an act-for integration token.
- ``account_session``: the server's half of a browser session (revocable).
- ``login_throttle``: failed sign-ins per account and per address.
- ``event.on_behalf_of``: the person an integration acted for. ``event_digest`` appends it
  to the hashed fields; ``concat_ws`` skips NULLs, so every event written before keeps its
  hash and the chain verifies across the upgrade.
- Demo accounts made by ``make run`` before this revision (password ``demo-<name>``) are
  marked ``demo``, so the demo can tell which still carry their printed password.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_DIGEST = """
    CREATE OR REPLACE FUNCTION event_digest(e event, prev bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
        SELECT sha256(coalesce(prev, '\\x'::bytea) || convert_to(concat_ws('|',
            e.id, e.chain_seq, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            e.actor, e.action, e.entity_type, e.entity_id, e.incident_id, e.joint_inspection_id,
            e.squad_id, ST_AsEWKT(e.location), e.data::text{extra}), 'UTF8'))
    $$;
"""


def _scope_columns(table: str) -> None:
    op.add_column(table, sa.Column('region_id', sa.Integer(), nullable=True))
    op.add_column(table, sa.Column('authority_id', sa.Integer(), nullable=True))
    op.add_column(table, sa.Column('body_id', sa.Integer(), nullable=True))
    op.create_foreign_key(f'{table}_region_id_fkey', table, 'region', ['region_id'], ['id'])
    op.create_foreign_key(f'{table}_authority_id_fkey', table, 'authority', ['authority_id'], ['id'])
    op.create_foreign_key(f'{table}_body_id_fkey', table, 'oversight_body', ['body_id'], ['id'])
    op.create_check_constraint('one_organisation', table, 'authority_id IS NULL OR body_id IS NULL')


def upgrade() -> None:
    _scope_columns('account')
    op.add_column('account', sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('account', sa.Column('demo', sa.Boolean(), server_default='false', nullable=False))
    op.execute("UPDATE account SET demo = true WHERE username IN ('dispatcher', 'planner', 'supervisor', 'admin')")
    _scope_columns('api_token')
    op.add_column('api_token', sa.Column('account_id', sa.Integer(), nullable=True))
    op.add_column('api_token', sa.Column('act_for', sa.Boolean(), server_default='false', nullable=False))
    op.create_foreign_key('api_token_account_id_fkey', 'api_token', 'account', ['account_id'], ['id'])
    op.create_index(op.f('ix_api_token_account_id'), 'api_token', ['account_id'], unique=False)
    op.create_table('account_session',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_account_session_account_id'), 'account_session', ['account_id'], unique=False)
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked', sa.Boolean(), server_default='false', nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.add_column('event', sa.Column('on_behalf_of', sa.String(length=100), nullable=True))
    op.execute(_DIGEST.format(extra=", e.on_behalf_of"))


def downgrade() -> None:
    op.execute(_DIGEST.format(extra=""))
    op.drop_column('event', 'on_behalf_of')
    op.drop_table('login_throttle')
    op.drop_index(op.f('ix_account_session_account_id'), table_name='account_session')
    op.drop_table('account_session')
    op.drop_index(op.f('ix_api_token_account_id'), table_name='api_token')
    op.drop_constraint('api_token_account_id_fkey', 'api_token', type_='foreignkey')
    for table in ('api_token', 'account'):
        op.drop_constraint('one_organisation', table, type_='check')
        for column in ('body_id', 'authority_id', 'region_id'):
            op.drop_constraint(f'{table}_{column}_fkey', table, type_='foreignkey')
            op.drop_column(table, column)
    op.drop_column('api_token', 'act_for')
    op.drop_column('api_token', 'account_id')
    op.drop_column('account', 'demo')
    op.drop_column('account', 'password_changed_at')
