"""The HTTP layer: Flask blueprints, pages, error handlers, sign-in, observability."""
