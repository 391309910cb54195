"""Alembic migrations of the order book; run by `ordertools.db.connect()`, never by hand."""

# The newest revision. Opening an order book compares its stored revision with this before
# importing Alembic at all (a tenth of a second of every command, notebook and scheduled run);
# tests/db/test_db.py fails when a new migration is added without moving it.
HEAD = "0013"

# Search structures the models don't declare (0006): SQLite's FTS5 trigram table over
# amazon_orders, with the shadow tables FTS5 keeps beside it, and PostgreSQL's pg_trgm indexes.
# They are the database's business, not a model's: autogenerate must neither drop nor add them.
SEARCH_TABLE = "amazon_orders_search"
TRIGRAM_INDEXES = frozenset(
    {"ix_amazon_orders_buyer_name_trgm", "ix_amazon_orders_amazon_order_id_trgm"}
)


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name` hook: leave the search structures out of comparisons."""
    if type_ == "table":
        return name != SEARCH_TABLE and not (name or "").startswith(SEARCH_TABLE + "_")
    if type_ == "index":
        return name not in TRIGRAM_INDEXES
    return True
