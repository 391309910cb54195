"""Fixtures for the order book on SQLite and PostgreSQL (filled in with db.py)."""
