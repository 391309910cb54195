"""Notifications: where each store's ORDER_CHANGE notifications go, and the messages received.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Store columns are added with ADD COLUMN (no table rebuild on SQLite). Types are spelled out
here (as in 0001) so this migration builds the same table whatever the models become.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
STORE_COLUMNS = (
    ("notification_queue_arn", 255),
    ("notification_destination_id", 100),
    ("notification_subscription_id", 100),
)


def upgrade() -> None:
    for name, length in STORE_COLUMNS:
        op.add_column("stores", sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=100), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("amazon_order_id", sa.String(length=32), nullable=True),
        sa.Column("order_status", sa.String(length=40), nullable=True),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("applied_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_notifications_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_notifications_notification_id")),
    )
    op.create_index("ix_notifications_store_received", "notifications", ["store_id", "received_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    for name, _ in STORE_COLUMNS:
        # SQLite (3.35+) drops a column in place; batch mode would rebuild stores, which
        # every other table references.
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE stores DROP COLUMN {name}")
        else:
            op.drop_column("stores", name)
