"""Order search: trigram indexes for buyer and order-number substrings, an index on totals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

All Orders' buyer and order-number filters are substring searches, any case. Without an index
they read every order of the store (0.5 s on SQLite, 4 s on PostgreSQL over a million orders
when the text is rare; bench/orders_query.py). This adds:

- PostgreSQL: `pg_trgm` GIN indexes on lower(buyer_name) and lower(amazon_order_id), which
  `lower(column) LIKE '%text%'` uses. Creating the extension needs the right to (a
  superuser, or since PostgreSQL 13 a database owner, pg_trgm being trusted); refused, the
  indexes are skipped with a warning and searches keep working, unindexed. A downgrade leaves
  the extension installed (other objects may use it; it is harmless).
- SQLite (3.34+ with FTS5): `amazon_orders_search`, an FTS5 table with the trigram tokenizer
  over amazon_orders' buyer_name and amazon_order_id (external content: it stores only the
  index, ~140 MB per million orders), filled from the existing rows here (about a minute per
  million orders) and kept in step by triggers on insert, update of those columns and delete
  (executemany inserts and upserts included). A SQLite without FTS5 trigram gets none: a warning,
  and searches keep scanning.

  A later migration that rebuilds amazon_orders on SQLite (batch mode's copy-and-move) drops
  these triggers with the old table: it must create them again (`create_sqlite_triggers`).
- Both: `ix_amazon_orders_store_total` (store_id, grand_total) for a minimum or maximum total
  that few orders reach, and to count a total range without reading the whole store.

The search structures are not models (see `ordertools.migrations.include_name`).
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import exc

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("ordertools.migrations")

SEARCH_TABLE = "amazon_orders_search"
SEARCHED = ("buyer_name", "amazon_order_id")
TRIGRAM_INDEXES = {
    "ix_amazon_orders_buyer_name_trgm": "buyer_name",
    "ix_amazon_orders_amazon_order_id_trgm": "amazon_order_id",
}
TOTAL_INDEX = "ix_amazon_orders_store_total"

# FTS5's 'delete' command must be given the values the row was indexed with: the triggers pass
# the old row's. An update that leaves both columns as they were (every upsert of a known order)
# touches nothing.
SQLITE_TRIGGERS = {
    f"{SEARCH_TABLE}_insert": f"""
        CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON amazon_orders BEGIN
            INSERT INTO {SEARCH_TABLE} (rowid, buyer_name, amazon_order_id)
            VALUES (new.id, new.buyer_name, new.amazon_order_id);
        END""",
    f"{SEARCH_TABLE}_delete": f"""
        CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON amazon_orders BEGIN
            INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, buyer_name, amazon_order_id)
            VALUES ('delete', old.id, old.buyer_name, old.amazon_order_id);
        END""",
    f"{SEARCH_TABLE}_update": f"""
        CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF id, buyer_name, amazon_order_id
        ON amazon_orders
        WHEN old.id IS NOT new.id OR old.buyer_name IS NOT new.buyer_name
            OR old.amazon_order_id IS NOT new.amazon_order_id
        BEGIN
            INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, buyer_name, amazon_order_id)
            VALUES ('delete', old.id, old.buyer_name, old.amazon_order_id);
            INSERT INTO {SEARCH_TABLE} (rowid, buyer_name, amazon_order_id)
            VALUES (new.id, new.buyer_name, new.amazon_order_id);
        END""",
}


def upgrade() -> None:
    op.create_index(TOTAL_INDEX, "amazon_orders", ["store_id", "grand_total"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgresql_upgrade(bind)
    elif bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            bind.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    elif bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
    op.drop_index(TOTAL_INDEX, table_name="amazon_orders")


def _postgresql_upgrade(bind) -> None:
    installed = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
    if installed.first() is None:
        try:
            # A savepoint: a refusal must not abort the migration's transaction.
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except exc.DBAPIError as error:
            log.warning(
                "order search: could not create the pg_trgm extension (%s); buyer and "
                "order-number searches will work without an index. A superuser can create it "
                "and the indexes of migration 0006 (ordertools/migrations/versions).",
                str(error.orig).strip().splitlines()[0],
            )
            return
    # On lower(column), which the searches use: an index on the column itself also answers
    # `=` (pg_trgm 1.6), and the planner took it over the unique index for the sync's lookups
    # of orders by id, rechecking each candidate.
    for name, column in TRIGRAM_INDEXES.items():
        try:
            with bind.begin_nested():
                bind.exec_driver_sql(
                    f"CREATE INDEX {name} ON amazon_orders USING gin (lower({column}) gin_trgm_ops)"
                )
        except exc.DBAPIError as error:
            log.warning(
                "order search: index %s not created (%s); searches work without it",
                name,
                str(error.orig).strip().splitlines()[0],
            )


def create_sqlite_triggers(bind) -> None:
    for ddl in SQLITE_TRIGGERS.values():
        bind.exec_driver_sql(ddl)


def _sqlite_upgrade(bind) -> None:
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5("
                f"{', '.join(SEARCHED)}, content='amazon_orders', content_rowid='id', "
                "tokenize='trigram')"
            )
    except exc.OperationalError as error:  # no FTS5, or a SQLite before 3.34 (no trigram)
        log.warning(
            "order search: this SQLite (%s) cannot build an FTS5 trigram index (%s); buyer and "
            "order-number searches will scan the orders",
            bind.exec_driver_sql("SELECT sqlite_version()").scalar(),
            error.orig,
        )
        return
    # The rows already stored; new ones come through the triggers.
    bind.exec_driver_sql(f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('rebuild')")
    create_sqlite_triggers(bind)
