"""Dispatch: incidents, tasks, joint inspections, inspection requests and the append-only record

Also: each squad's island, kept by a trigger from its position, for the sea-aware ranking.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:41:53.014672
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('authority_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_scene_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("source IN ('hotline_12345', 'police_110', 'patrol', 'grid', 'complaint', 'supervision')", name='source_valid'),
    sa.CheckConstraint("status IN ('open', 'dispatched', 'resolved', 'duplicate', 'cancelled')", name='status_valid'),
    sa.CheckConstraint('priority BETWEEN 1 AND 3', name='priority_range'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='incident_source_external_id_key')
    )
    op.create_geospatial_index('idx_incident_location', 'incident', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_incident_open', 'incident', ['status', 'priority', 'sla_deadline'], unique=False, postgresql_where=sa.text("status IN ('open', 'dispatched')"))
    op.create_index(op.f('ix_incident_region_id'), 'incident', ['region_id'], unique=False)
    op.create_table('incident_matter',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], ),
    sa.PrimaryKeyConstraint('incident_id', 'matter_id')
    )
    op.create_geospatial_table('joint_inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_name', sa.String(length=200), nullable=False),
    sa.Column('target_business_id', sa.String(length=32), nullable=True),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('domains', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('lead_squad_id', sa.Integer(), nullable=False),
    sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slot_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='planned', nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('visits_replaced', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'completed', 'cancelled')", name='status_valid'),
    sa.CheckConstraint('slot_end > slot_start', name='slot_ordered'),
    sa.CheckConstraint('visits_replaced >= 1', name='visits_replaced_positive'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['lead_squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_joint_inspection_location', 'joint_inspection', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_joint_inspection_incident_id'), 'joint_inspection', ['incident_id'], unique=False)
    op.create_index(op.f('ix_joint_inspection_target_business_id'), 'joint_inspection', ['target_business_id'], unique=False)
    op.create_geospatial_table('event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=30), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('joint_inspection_id', sa.Integer(), nullable=True),
    sa.Column('squad_id', sa.Integer(), nullable=True),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography'), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('chain_seq', sa.BigInteger(), nullable=True),
    sa.Column('prev_hash', sa.LargeBinary(), nullable=True),
    sa.Column('hash', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['joint_inspection_id'], ['joint_inspection.id'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chain_seq')
    )
    op.create_geospatial_index('idx_event_location', 'event', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_event_incident_id'), 'event', ['incident_id'], unique=False)
    op.create_index(op.f('ix_event_joint_inspection_id'), 'event', ['joint_inspection_id'], unique=False)
    op.create_index(op.f('ix_event_squad_id'), 'event', ['squad_id'], unique=False)
    op.create_geospatial_table('inspection_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('target_name', sa.String(length=200), nullable=False),
    sa.Column('target_business_id', sa.String(length=32), nullable=True),
    sa.Column('location', Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('joint_inspection_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'merged', 'done', 'cancelled')", name='status_valid'),
    sa.CheckConstraint('window_end > window_start', name='window_ordered'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['joint_inspection_id'], ['joint_inspection.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_inspection_request_location', 'inspection_request', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_inspection_request_joint_inspection_id'), 'inspection_request', ['joint_inspection_id'], unique=False)
    op.create_index(op.f('ix_inspection_request_target_business_id'), 'inspection_request', ['target_business_id'], unique=False)
    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='response', nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('joint_inspection_id', sa.Integer(), nullable=True),
    sa.Column('squad_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('en_route_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_scene_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('response', 'inspection')", name='kind_valid'),
    sa.CheckConstraint("state IN ('scheduled', 'dispatched', 'acknowledged', 'en_route', 'on_scene', 'completed', 'declined', 'cancelled')", name='state_valid'),
    sa.CheckConstraint('incident_id IS NOT NULL OR joint_inspection_id IS NOT NULL', name='task_has_subject'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['joint_inspection_id'], ['joint_inspection.id'], ),
    sa.ForeignKeyConstraint(['squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_task_incident_id'), 'task', ['incident_id'], unique=False)
    op.create_index(op.f('ix_task_joint_inspection_id'), 'task', ['joint_inspection_id'], unique=False)
    op.create_index(op.f('ix_task_squad_id'), 'task', ['squad_id'], unique=False)
    op.create_index('uq_task_blocking_squad', 'task', ['squad_id'], unique=True, postgresql_where=sa.text("(kind = 'response' AND state IN ('dispatched', 'acknowledged', 'en_route', 'on_scene')) OR (kind = 'inspection' AND state IN ('en_route', 'on_scene'))"))
    op.add_column('squad', sa.Column('island_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_squad_island_id'), 'squad', ['island_id'], unique=False)
    op.create_foreign_key('squad_island_id_fkey', 'squad', 'island', ['island_id'], ['id'])

    # The record is append-only: the database itself refuses to change or remove it.
    op.execute("""
        CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the event record is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER event_no_update_delete BEFORE UPDATE OR DELETE ON event
            FOR EACH ROW EXECUTE FUNCTION event_append_only();
        CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
            FOR EACH STATEMENT EXECUTE FUNCTION event_append_only();
    """)
    # Tamper evidence: each event carries the hash of the one before it. Inserts take a
    # transaction-level advisory lock, so the chain has one order (chain_seq) even when
    # ids are handed out out of order by concurrent transactions.
    op.execute("""
        CREATE FUNCTION event_digest(e event, prev bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
            SELECT sha256(coalesce(prev, '\\x'::bytea) || convert_to(concat_ws('|',
                e.id, e.chain_seq, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                e.actor, e.action, e.entity_type, e.entity_id, e.incident_id, e.joint_inspection_id,
                e.squad_id, ST_AsEWKT(e.location), e.data::text), 'UTF8'))
        $$;
        CREATE FUNCTION event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE last event%ROWTYPE;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('dispatch.event_chain'));
            SELECT * INTO last FROM event ORDER BY chain_seq DESC NULLS LAST LIMIT 1;
            NEW.chain_seq := coalesce(last.chain_seq, 0) + 1;
            NEW.prev_hash := last.hash;
            NEW.hash := event_digest(NEW, NEW.prev_hash);
            RETURN NEW;
        END $$;
        CREATE TRIGGER event_chain BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION event_chain();
    """)
    # A squad's island follows its position (a fix a few hundred metres off the
    # approximate coastline still counts as that island); no fix yet: its station.
    op.execute("""
        CREATE FUNCTION squad_locate_island() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.last_position IS NULL THEN
                NEW.last_position := NEW.station;
            END IF;
            SELECT i.id INTO NEW.island_id FROM island i
            WHERE ST_DWithin(i.outline, NEW.last_position::geometry, 0.005)
            ORDER BY i.outline <-> NEW.last_position::geometry
            LIMIT 1;
            RETURN NEW;
        END $$;
        CREATE TRIGGER squad_island BEFORE INSERT OR UPDATE OF last_position, station ON squad
            FOR EACH ROW EXECUTE FUNCTION squad_locate_island();
        UPDATE squad SET last_position = last_position;
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER squad_island ON squad; DROP FUNCTION squad_locate_island()")
    op.execute("DROP TRIGGER event_no_update_delete ON event; DROP TRIGGER event_no_truncate ON event; "
               "DROP FUNCTION event_append_only(); DROP TRIGGER event_chain ON event; DROP FUNCTION event_chain(); "
               "DROP FUNCTION event_digest(event, bytea)")
    op.drop_constraint('squad_island_id_fkey', 'squad', type_='foreignkey')
    op.drop_index(op.f('ix_squad_island_id'), table_name='squad')
    op.drop_column('squad', 'island_id')
    op.drop_index('uq_task_blocking_squad', table_name='task', postgresql_where=sa.text("(kind = 'response' AND state IN ('dispatched', 'acknowledged', 'en_route', 'on_scene')) OR (kind = 'inspection' AND state IN ('en_route', 'on_scene'))"))
    op.drop_index(op.f('ix_task_squad_id'), table_name='task')
    op.drop_index(op.f('ix_task_joint_inspection_id'), table_name='task')
    op.drop_index(op.f('ix_task_incident_id'), table_name='task')
    op.drop_table('task')
    op.drop_index(op.f('ix_inspection_request_target_business_id'), table_name='inspection_request')
    op.drop_index(op.f('ix_inspection_request_joint_inspection_id'), table_name='inspection_request')
    op.drop_geospatial_index('idx_inspection_request_location', table_name='inspection_request', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('inspection_request')
    op.drop_index(op.f('ix_event_squad_id'), table_name='event')
    op.drop_index(op.f('ix_event_joint_inspection_id'), table_name='event')
    op.drop_index(op.f('ix_event_incident_id'), table_name='event')
    op.drop_geospatial_index('idx_event_location', table_name='event', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('event')
    op.drop_index(op.f('ix_joint_inspection_target_business_id'), table_name='joint_inspection')
    op.drop_index(op.f('ix_joint_inspection_incident_id'), table_name='joint_inspection')
    op.drop_geospatial_index('idx_joint_inspection_location', table_name='joint_inspection', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('joint_inspection')
    op.drop_table('incident_matter')
    op.drop_index(op.f('ix_incident_region_id'), table_name='incident')
    op.drop_index('ix_incident_open', table_name='incident', postgresql_where=sa.text("status IN ('open', 'dispatched')"))
    op.drop_geospatial_index('idx_incident_location', table_name='incident', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('incident')
