"""Each Amazon order's ship-by date (shipByWindow.latestDateTime), for late-shipment warnings.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Added with ADD COLUMN (no table rebuild). Filled from the stored JSON for the orders still
awaiting shipment, the only ones a ship-by date warns about; every other order gets its date
the next time Amazon changes it (a sync writes the column).
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported from the package (see 0001): Amazon's codes of orders awaiting
# shipment, and aware UTC instants (timestamptz on PostgreSQL, UTC text on SQLite).
AWAITING_SHIPMENT = ("UNSHIPPED", "PARTIALLY_SHIPPED")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("amazon_orders", sa.Column("ship_by", TIMESTAMP, nullable=True))
    orders = sa.table(
        "amazon_orders",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("raw", sa.JSON),
        sa.column("ship_by", TIMESTAMP),
    )
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    waiting = connection.execute(
        sa.select(orders.c.id, orders.c.raw).where(orders.c.status.in_(AWAITING_SHIPMENT))
    ).all()
    dates = []
    for pk, raw in waiting:
        ship_by = _latest_ship_date(raw)
        if ship_by is not None:  # SQLite keeps the UTC wall time, as db.types.UTCDateTime
            dates.append({"pk": pk, "ship_by": ship_by.replace(tzinfo=None) if sqlite else ship_by})
    if dates:
        connection.execute(
            orders.update()
            .where(orders.c.id == sa.bindparam("pk"))
            .values(ship_by=sa.bindparam("ship_by")),
            dates,
        )


def _latest_ship_date(raw) -> datetime | None:
    """As `AmazonOrder.ship_by` reads it: None for anything but an ISO 8601 instant."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    window = ((raw or {}).get("fulfillment") or {}).get("shipByWindow") or {}
    try:
        moment = datetime.fromisoformat(window.get("latestDateTime") or "")
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def downgrade() -> None:
    op.drop_column("amazon_orders", "ship_by")
