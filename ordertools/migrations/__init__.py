"""Alembic migrations of the order book; run by `ordertools.db.connect()`, never by hand."""
