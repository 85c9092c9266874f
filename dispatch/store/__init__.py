"""Storage: the engine and session, the models, migrations, the embedded PostGIS, the reference cache."""
