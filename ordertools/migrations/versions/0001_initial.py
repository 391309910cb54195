"""Initial schema: stores, Amazon orders and their ledger, the local order book, sync runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Types are spelled out here rather than imported from ordertools.db, so this migration keeps
building the same tables whatever the models become.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Aware UTC instants (timestamptz on PostgreSQL; UTC text on SQLite, see db.types.UTCDateTime).
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("email", name=op.f("uq_customers_email")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("manage_stock", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("marketplace_id", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("token_url", sa.String(length=255), nullable=False),
        sa.Column("seller_central_domain", sa.String(length=100), nullable=False),
        sa.Column("integrated_at", TIMESTAMP, nullable=False),
        sa.Column("api_lag_seconds", sa.Integer(), server_default=sa.text("120"), nullable=False),
        sa.Column("overlap_seconds", sa.Integer(), server_default=sa.text("600"), nullable=False),
        sa.Column(
            "refresh_token_env",
            sa.String(length=100),
            server_default="ORDERTOOLS_REFRESH_TOKEN",
            nullable=False,
        ),
        sa.Column("import_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "customer_creation", sa.String(length=10), server_default="guest", nullable=False
        ),
        sa.Column(
            "order_number_source", sa.String(length=10), server_default="local", nullable=False
        ),
        sa.Column("reserve_quantity", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "new_order_status", sa.String(length=32), server_default="pending", nullable=False
        ),
        sa.Column("local_order_url_template", sa.String(length=500), nullable=True),
        sa.Column("last_order_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cursor", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "customer_creation IN ('guest', 'create')", name=op.f("ck_stores_customer_creation")
        ),
        sa.CheckConstraint(
            "order_number_source IN ('local', 'amazon')", name=op.f("ck_stores_order_number_source")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("name", name=op.f("uq_stores_name")),
    )
    op.create_table(
        "amazon_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("amazon_order_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("fulfilled_by", sa.String(length=16), nullable=True),
        sa.Column("marketplace_id", sa.String(length=20), nullable=True),
        sa.Column("purchase_date", TIMESTAMP, nullable=True),
        sa.Column("last_updated", TIMESTAMP, nullable=True),
        sa.Column("buyer_name", sa.String(length=255), nullable=True),
        sa.Column("buyer_email", sa.String(length=255), nullable=True),
        sa.Column("grand_total", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("raw", JSON_DOCUMENT, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_amazon_orders_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_orders")),
        sa.UniqueConstraint(
            "store_id", "amazon_order_id", name=op.f("uq_amazon_orders_store_id_amazon_order_id")
        ),
    )
    op.create_index(
        "ix_amazon_orders_store_last_updated",
        "amazon_orders",
        ["store_id", "last_updated"],
        unique=False,
    )
    op.create_index(
        "ix_amazon_orders_store_purchase",
        "amazon_orders",
        ["store_id", "purchase_date"],
        unique=False,
    )
    op.create_index(
        "ix_amazon_orders_store_status_purchase",
        "amazon_orders",
        ["store_id", "status", "purchase_date"],
        unique=False,
    )

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("window_start", TIMESTAMP, nullable=True),
        sa.Column("window_end", TIMESTAMP, nullable=True),
        sa.Column("outcome", sa.String(length=10), server_default="running", nullable=False),
        sa.Column("pages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("new", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("imported", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("canceled", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'success', 'failed')", name=op.f("ck_sync_runs_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_sync_runs_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        "ix_sync_runs_store_started", "sync_runs", ["store_id", "started_at"], unique=False
    )

    op.create_table(
        "amazon_order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amazon_order_pk", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("asin", sa.String(length=20), nullable=True),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("quantity_ordered", sa.Integer(), nullable=False),
        sa.Column("quantity_shipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["amazon_order_pk"],
            ["amazon_orders.id"],
            name=op.f("fk_amazon_order_items_amazon_order_pk_amazon_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_order_items")),
        sa.UniqueConstraint(
            "amazon_order_pk",
            "order_item_id",
            name=op.f("uq_amazon_order_items_amazon_order_pk_order_item_id"),
        ),
    )
    op.create_table(
        "local_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("amazon_order_pk", sa.Integer(), nullable=False),
        sa.Column("amazon_order_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=255), nullable=True),
        sa.Column("customer_email", sa.String(length=255), nullable=True),
        sa.Column("is_guest", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("fulfilled_by", sa.String(length=16), nullable=True),
        sa.Column("grand_total", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["amazon_order_pk"],
            ["amazon_orders.id"],
            name=op.f("fk_local_orders_amazon_order_pk_amazon_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_local_orders_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_local_orders_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_orders")),
        sa.UniqueConstraint("amazon_order_pk", name=op.f("uq_local_orders_amazon_order_pk")),
        sa.UniqueConstraint(
            "store_id", "amazon_order_id", name=op.f("uq_local_orders_store_id_amazon_order_id")
        ),
        sa.UniqueConstraint("store_id", "number", name=op.f("uq_local_orders_store_id_number")),
    )
    op.create_index(
        op.f("ix_local_orders_customer_id"), "local_orders", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_local_orders_store_status", "local_orders", ["store_id", "status"], unique=False
    )

    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amazon_order_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("amazon_updated_at", TIMESTAMP, nullable=True),
        sa.Column("observed_at", TIMESTAMP, nullable=False),
        sa.Column("sync_run_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["amazon_order_pk"],
            ["amazon_orders.id"],
            name=op.f("fk_status_events_amazon_order_pk_amazon_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["sync_runs.id"],
            name=op.f("fk_status_events_sync_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_events")),
    )
    op.create_index(
        op.f("ix_status_events_amazon_order_pk"), "status_events", ["amazon_order_pk"], unique=False
    )
    op.create_index(
        op.f("ix_status_events_sync_run_id"), "status_events", ["sync_run_id"], unique=False
    )

    op.create_table(
        "local_order_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "source IN ('import', 'amazon', 'user', 'system')",
            name=op.f("ck_local_order_history_source"),
        ),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["local_orders.id"],
            name=op.f("fk_local_order_history_local_order_id_local_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_order_history")),
    )
    op.create_index(
        "ix_local_order_history_order_at",
        "local_order_history",
        ["local_order_id", "at"],
        unique=False,
    )

    op.create_table(
        "local_order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.String(length=32), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("quantity_shipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["local_orders.id"],
            name=op.f("fk_local_order_items_local_order_id_local_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_local_order_items_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_order_items")),
        sa.UniqueConstraint(
            "local_order_id",
            "order_item_id",
            name=op.f("uq_local_order_items_local_order_id_order_item_id"),
        ),
    )
    op.create_index(
        op.f("ix_local_order_items_product_id"), "local_order_items", ["product_id"], unique=False
    )

    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("released_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["local_orders.id"],
            name=op.f("fk_stock_reservations_local_order_id_local_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_reservations_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservations")),
    )
    op.create_index(
        op.f("ix_stock_reservations_local_order_id"),
        "stock_reservations",
        ["local_order_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_stock_reservations_product_id"), "stock_reservations", ["product_id"], unique=False
    )


def downgrade() -> None:
    # Dependents first; their indexes go with them.
    op.drop_table("stock_reservations")
    op.drop_table("local_order_items")
    op.drop_table("local_order_history")
    op.drop_table("status_events")
    op.drop_table("local_orders")
    op.drop_table("amazon_order_items")
    op.drop_table("sync_runs")
    op.drop_table("amazon_orders")
    op.drop_table("stores")
    op.drop_table("products")
    op.drop_table("customers")
