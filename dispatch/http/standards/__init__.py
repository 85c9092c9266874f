"""Standard interfaces: Open311 GeoReport v2 and OGC API Features."""
