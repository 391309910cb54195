"""Stock: reservations belong to the Amazon order (a Pending FBM order holds stock before it
has a local order), each order remembers the Reserve Quantity it was first seen under, and
products say whether they are placeholders.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

- amazon_orders.reserve_quantity: the store's setting when the order was first seen (toggling
  applies to new orders only). Existing orders take their store's current setting, which is
  what their local orders reserved under. Added with ADD COLUMN, so SQLite does not rebuild
  amazon_orders (which would drop 0006's search triggers), nor products (which other tables
  reference).
- stock_reservations: amazon_order_pk (filled from the local order), local_order_id nullable,
  reason and release_reason, a partial index on the open rows by product, and a unique one
  on the open rows by order and product (one hold per order and product).
- products: placeholder (the disabled rows the import made for unknown SKUs).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("released_at IS NULL")


def upgrade() -> None:
    op.add_column(
        "amazon_orders",
        sa.Column("reserve_quantity", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.execute(
        "UPDATE amazon_orders SET reserve_quantity = "
        "(SELECT stores.reserve_quantity FROM stores WHERE stores.id = amazon_orders.store_id)"
    )

    op.add_column(
        "products",
        sa.Column("placeholder", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute("UPDATE products SET placeholder = NOT enabled")

    with op.batch_alter_table("stock_reservations") as batch:
        batch.add_column(sa.Column("amazon_order_pk", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("release_reason", sa.Text(), nullable=True))
    op.execute(
        "UPDATE stock_reservations SET amazon_order_pk = (SELECT local_orders.amazon_order_pk "
        "FROM local_orders WHERE local_orders.id = stock_reservations.local_order_id)"
    )
    # The import used to hold one row per order line: two lines of one SKU become one hold.
    same = (
        "r.released_at IS NULL AND r.amazon_order_pk = stock_reservations.amazon_order_pk "
        "AND r.product_id = stock_reservations.product_id"
    )
    first = f"(SELECT MIN(r.id) FROM stock_reservations r WHERE {same})"
    op.execute(
        "UPDATE stock_reservations SET quantity = "
        f"(SELECT SUM(r.quantity) FROM stock_reservations r WHERE {same}) "
        f"WHERE released_at IS NULL AND id = {first}"
    )
    op.execute(f"DELETE FROM stock_reservations WHERE released_at IS NULL AND id > {first}")
    with op.batch_alter_table("stock_reservations") as batch:
        batch.alter_column("amazon_order_pk", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("local_order_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            op.f("fk_stock_reservations_amazon_order_pk_amazon_orders"),
            "amazon_orders",
            ["amazon_order_pk"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            op.f("ix_stock_reservations_amazon_order_pk"), ["amazon_order_pk"], unique=False
        )
        batch.create_index(
            "ix_stock_reservations_open_product",
            ["product_id"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch.create_index(
            "uq_stock_reservations_open_order_product",
            ["amazon_order_pk", "product_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    # Reservations of orders without a local order cannot be kept by the old schema.
    op.execute("DELETE FROM stock_reservations WHERE local_order_id IS NULL")
    with op.batch_alter_table("stock_reservations") as batch:
        batch.drop_index("uq_stock_reservations_open_order_product")
        batch.drop_index("ix_stock_reservations_open_product")
        batch.drop_index(op.f("ix_stock_reservations_amazon_order_pk"))
        batch.drop_constraint(
            op.f("fk_stock_reservations_amazon_order_pk_amazon_orders"), type_="foreignkey"
        )
        batch.alter_column("local_order_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("release_reason")
        batch.drop_column("reason")
        batch.drop_column("amazon_order_pk")
    _drop_column("products", "placeholder")
    _drop_column("amazon_orders", "reserve_quantity")


def _drop_column(table: str, column: str) -> None:
    # Not batch mode: rebuilding amazon_orders on SQLite would drop 0006's search triggers, and
    # rebuilding products fails on the tables referencing it. SQLite (3.35+) drops in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
