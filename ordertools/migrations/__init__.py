"""Alembic migrations of the order book; run by `ordertools.db.connect()`, never by hand."""

# The newest revision. Opening an order book compares its stored revision with this before
# importing Alembic at all (a tenth of a second of every command, notebook and scheduled run);
# tests/test_db.py fails when a new migration is added without moving it.
HEAD = "0005"
