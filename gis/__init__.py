"""Geometry without Flask: GeoJSON in and out, validation, reference data, travel times."""
