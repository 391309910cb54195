"""Orders listing: the (store, purchase date) index carries the filtered columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Recent/All Orders walk one store's orders newest first along (store_id, purchase_date) and stop
after a page. A filter no other index serves (buyer substring, order number substring, a rare
minimum total) used to fetch every order's table row on the way, about 1.5 kB each with the raw
JSON: 3 to 6 s over a million orders on SQLite. With status, grand_total, buyer_name and
amazon_order_id in the index, SQLite tests those conditions on index entries and fetches only the
rows that match, and the no-filter count is an index-only scan (3.4 s -> 0.1 s). This index
replaces `ix_amazon_orders_store_purchase` (its leading columns are the same). Measured by
bench/orders_query.py.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["store_id", "purchase_date", "status", "grand_total", "buyer_name", "amazon_order_id"]


def upgrade() -> None:
    op.create_index("ix_amazon_orders_store_purchase_listing", "amazon_orders", COLUMNS)
    op.drop_index("ix_amazon_orders_store_purchase", table_name="amazon_orders")


def downgrade() -> None:
    op.create_index(
        "ix_amazon_orders_store_purchase", "amazon_orders", ["store_id", "purchase_date"]
    )
    op.drop_index("ix_amazon_orders_store_purchase_listing", table_name="amazon_orders")
