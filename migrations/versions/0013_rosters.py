"""Rosters and live availability (issue 29): shifts, squad status with reason, certificate suspensions

- ``shift``: a squad's or an officer's time on duty (start, end, role on shift); two shifts of one
  officer (or of one squad) never overlap (an exclusion constraint, btree_gist).
- ``officer.rostered``: a roster exists for the officer (a shift of theirs or of their squad was
  ever entered): then the roster, not ``on_duty``, says whether they are on duty now.
- ``certificate_action``: a certificate's suspension (暂扣, until a date or lifted) or revocation
  (注销), with its dates and the deciding document.
- ``squad.status`` may be ``returning`` or ``out_of_service`` (with ``status_reason``).
- ``squad.parked_*``: where a squad is placed when its last fix is too old to be trusted (the pier
  within 500 m of that fix, else its station), kept by a trigger from the fix; a partial GiST
  index finds the squads parked on another island than their fix's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:40:00
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_OLD = "status IN ('available', 'busy', 'off_duty')"
_NEW = "status IN ('available', 'busy', 'returning', 'out_of_service', 'off_duty')"


def upgrade() -> None:
    op.create_table('shift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('squad_id', sa.Integer(), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(squad_id IS NULL) <> (officer_id IS NULL)', name='shift_of_squad_or_officer'),
    sa.CheckConstraint('ends_at > starts_at', name='shift_ordered'),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_shift_officer', 'shift', ['officer_id', 'starts_at'], unique=False)
    op.create_index('ix_shift_squad', 'shift', ['squad_id', 'starts_at'], unique=False)
    op.create_index('ix_shift_starts_at', 'shift', ['starts_at'], unique=False)
    op.execute("ALTER TABLE shift ADD CONSTRAINT shift_officer_no_overlap EXCLUDE USING gist "
               "(officer_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (officer_id IS NOT NULL)")
    op.execute("ALTER TABLE shift ADD CONSTRAINT shift_squad_no_overlap EXCLUDE USING gist "
               "(squad_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (squad_id IS NOT NULL)")
    op.add_column('officer', sa.Column('rostered', sa.Boolean(), server_default='false', nullable=False))
    op.create_table('certificate_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('document', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.Column('lift_document', sa.String(length=200), nullable=True),
    sa.CheckConstraint("kind IN ('suspension', 'revocation')", name='kind_valid'),
    sa.CheckConstraint('ends_at IS NULL OR ends_at > starts_at', name='certificate_action_ordered'),
    sa.CheckConstraint("kind = 'suspension' OR (ends_at IS NULL AND lifted_at IS NULL)", name='revocation_final'),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_certificate_action_officer_id'), 'certificate_action', ['officer_id'], unique=False)
    op.drop_constraint('status_valid', 'squad', type_='check')
    op.create_check_constraint('status_valid', 'squad', _NEW)
    op.add_column('squad', sa.Column('status_reason', sa.String(length=20), nullable=True))
    op.create_check_constraint(
        'status_reason_valid', 'squad',
        "status_reason IS NULL OR status_reason IN ('vessel_fault', 'meal', 'training', 'leave')")
    op.add_column('squad', sa.Column('parked_position', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True))
    op.add_column('squad', sa.Column('parked_island_id', sa.Integer(), nullable=True))
    op.add_column('squad', sa.Column('parked_port_id', sa.Integer(), nullable=True))
    op.create_foreign_key('squad_parked_island_id_fkey', 'squad', 'island', ['parked_island_id'], ['id'])
    op.create_foreign_key('squad_parked_port_id_fkey', 'squad', 'port', ['parked_port_id'], ['id'])
    op.create_index('ix_squad_parked_away', 'squad', ['parked_island_id', 'parked_position'], unique=False,
                    postgresql_using='gist',
                    postgresql_where=sa.text('island_id IS DISTINCT FROM parked_island_id'))
    # Where a squad stands when its fix is stale (dispatch.rosters.position_basis): the pier within
    # 500 m of its last fix, else its station. Runs after squad_island (trigger names sort so).
    op.execute("""
        CREATE FUNCTION squad_park() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.parked_port_id := NULL;
            IF NEW.last_position_at IS NOT NULL AND NEW.last_position IS NOT NULL THEN
                SELECT p.id INTO NEW.parked_port_id FROM port p
                WHERE ST_DWithin(p.location, NEW.last_position, 500)
                ORDER BY p.location <-> NEW.last_position LIMIT 1;
            END IF;
            IF NEW.parked_port_id IS NOT NULL THEN
                SELECT p.location, p.island_id INTO NEW.parked_position, NEW.parked_island_id
                FROM port p WHERE p.id = NEW.parked_port_id;
            ELSE
                NEW.parked_position := NEW.station;
                SELECT i.id INTO NEW.parked_island_id FROM island i
                WHERE ST_DWithin(i.outline, NEW.station::geometry, 0.005)
                ORDER BY i.outline <-> NEW.station::geometry LIMIT 1;
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER squad_park BEFORE INSERT OR UPDATE OF last_position, last_position_at, station ON squad
            FOR EACH ROW EXECUTE FUNCTION squad_park();
        UPDATE squad SET station = station;
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER squad_park ON squad; DROP FUNCTION squad_park()")
    op.drop_index('ix_squad_parked_away', table_name='squad', postgresql_using='gist',
                  postgresql_where=sa.text('island_id IS DISTINCT FROM parked_island_id'))
    op.drop_constraint('squad_parked_port_id_fkey', 'squad', type_='foreignkey')
    op.drop_constraint('squad_parked_island_id_fkey', 'squad', type_='foreignkey')
    for name in ('parked_port_id', 'parked_island_id', 'parked_position'):
        op.drop_column('squad', name)
    op.drop_constraint('status_reason_valid', 'squad', type_='check')
    op.drop_column('squad', 'status_reason')
    op.execute("UPDATE squad SET status = 'available' WHERE status = 'returning'")
    op.execute("UPDATE squad SET status = 'off_duty' WHERE status = 'out_of_service'")
    op.drop_constraint('status_valid', 'squad', type_='check')
    op.create_check_constraint('status_valid', 'squad', _OLD)
    op.drop_index(op.f('ix_certificate_action_officer_id'), table_name='certificate_action')
    op.drop_table('certificate_action')
    op.drop_column('officer', 'rostered')
    op.drop_index('ix_shift_starts_at', table_name='shift')
    op.drop_index('ix_shift_squad', table_name='shift')
    op.drop_index('ix_shift_officer', table_name='shift')
    op.drop_table('shift')
