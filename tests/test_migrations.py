"""Alembic owns the schema: up, down, up again, and nothing left for autogenerate."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, pool, text

from dispatch.store import migrate
from dispatch.store.models import Base


def _tables(url):
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    engine.dispose()
    return names


def test_upgrade_downgrade_upgrade(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url)
    assert {"region", "zone", "squad", "officer", "matter", "authority"} <= _tables(url)
    assert migrate.is_current(url)
    migrate.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version", "spatial_ref_sys"}
    migrate.upgrade(url)
    assert migrate.is_current(url)


def test_autogenerate_finds_nothing_to_do(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": alembic_helpers.include_object,
                "render_item": alembic_helpers.render_item,
                "compare_type": True,
            },
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_every_geometry_has_a_gist_index(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT f_table_name, f_geometry_column FROM geometry_columns "
                "UNION ALL SELECT f_table_name, f_geography_column FROM geography_columns"
            )
        ).all()
        indexed = {
            (row.table, row.column)
            for row in conn.execute(
                text("""
                SELECT t.relname AS table, a.attname AS column
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_am am ON am.oid = c.relam JOIN pg_class t ON t.oid = i.indrelid
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)
                WHERE am.amname = 'gist'
            """)
            )
        }
    engine.dispose()
    assert columns
    missing = [c for c in columns if (c[0], c[1]) not in indexed and c[0] != "spatial_ref_sys"]
    assert missing == []


def test_incidents_stored_before_0007_get_the_lead_matter_of_their_authority(empty_database_url):
    from sqlalchemy.orm import Session

    from dispatch.config import PROJECT_ROOT
    from dispatch.seed import load_dataset_into
    from gis.reference import load_dataset

    url = empty_database_url
    # The reference data is loaded by today's models (at head), then the schema goes back to 0006.
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            load_dataset_into(session, load_dataset(PROJECT_ROOT / "gis" / "data" / "shengsi"))
            session.commit()
        migrate.downgrade(url, "0006")
        filed = {  # matters, the authority intake chose from the first of them
            "market": (["MS-001", "CM-001"], "dept-market"),
            "bureau": (["CM-002", "AG-001"], "county-bureau"),
        }
        with engine.begin() as conn:
            for name, (codes, authority) in filed.items():
                incident = conn.scalar(
                    text("""
                    INSERT INTO incident (source, description, location, authority_id, priority, status,
                                          reported_at, sla_deadline, created_by)
                    VALUES ('hotline_12345', :name, 'SRID=4326;POINT(122.45 30.72)',
                            (SELECT id FROM authority WHERE code = :authority), 2, 'open', now(),
                            now() + interval '1 hour', 'migration-test')
                    RETURNING id"""),
                    {"name": name, "authority": authority},
                )
                conn.execute(
                    text("INSERT INTO incident_matter SELECT :i, id FROM matter WHERE code = ANY(:codes)"),
                    {"i": incident, "codes": codes},
                )
        migrate.upgrade(url)
        with engine.connect() as conn:
            leads = dict(
                conn.execute(
                    text("SELECT i.description, m.code FROM incident i JOIN matter m ON m.id = i.lead_matter_id")
                ).all()
            )
    finally:
        engine.dispose()
    assert leads == {"market": "MS-001", "bureau": "CM-002"}
