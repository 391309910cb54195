"""Fulfillment: shipments of local orders, and the outbox of changes for Amazon.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Types are spelled out here (as in 0001) so this migration builds the same tables whatever the
models become.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=False),
        sa.Column("carrier_code", sa.String(length=64), nullable=False),
        sa.Column("carrier_name", sa.String(length=255), nullable=True),
        sa.Column("tracking_number", sa.String(length=255), nullable=False),
        sa.Column("shipping_method", sa.String(length=255), nullable=True),
        sa.Column("ship_date", TIMESTAMP, nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["local_orders.id"],
            name=op.f("fk_shipments_local_order_id_local_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    op.create_index(
        op.f("ix_shipments_local_order_id"), "shipments", ["local_order_id"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=False),
        sa.Column("amazon_order_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("accepted_at", TIMESTAMP, nullable=True),
        sa.Column("remote_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("confirmed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("kind IN ('ship', 'cancel')", name=op.f("ck_outbox_kind")),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'confirmed', 'failed')", name=op.f("ck_outbox_state")
        ),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["local_orders.id"],
            name=op.f("fk_outbox_local_order_id_local_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_outbox_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index("ix_outbox_state_next_attempt", "outbox", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_outbox_store_id"), "outbox", ["store_id"], unique=False)
    op.create_index(op.f("ix_outbox_local_order_id"), "outbox", ["local_order_id"], unique=False)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("shipments")
