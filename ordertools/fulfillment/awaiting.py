"""Orders awaiting shipment: what the ops team ships next (the dashboard's shipping queue).

An order is waiting when Amazon shows it Unshipped or Partially Shipped, it is fulfilled by the
merchant (Amazon ships FBA orders itself), and its local order is still open (neither complete
nor canceled: a shipment or cancellation made here may not have reached Amazon's reads yet).
Oldest first, the order people ship in. Each comes with what is left to ship and how far its
latest change for Amazon got in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ordertools.db import AmazonOrderRow, LocalOrder, OutboxEntry, Store
from ordertools.domain.statuses import AWAITING_SHIPMENT, CLOSED_LOCAL_STATUSES, display_status


@dataclass(frozen=True)
class AwaitingOrder:
    order_number: str  # Amazon's
    local_number: str
    purchase_date: datetime | None
    buyer_name: str | None
    grand_total: Decimal | None
    currency: str | None
    status: str  # the word shown: Unshipped, Partially Shipped
    to_ship: tuple[tuple[str, int], ...]  # (SKU, units left), per item line
    outbox_state: str | None  # of the order's latest outbox entry; None: nothing sent yet
    outbox_error: str | None


def awaiting_shipment(session: Session, store: Store, limit: int = 50) -> list[AwaitingOrder]:
    """The store's open FBM orders Amazon shows Unshipped / Partially Shipped, oldest first."""
    latest = (
        select(OutboxEntry.local_order_id, func.max(OutboxEntry.id).label("entry_id"))
        .group_by(OutboxEntry.local_order_id)
        .subquery()
    )
    rows = session.execute(
        select(LocalOrder, AmazonOrderRow, OutboxEntry)
        .join(AmazonOrderRow, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .outerjoin(latest, latest.c.local_order_id == LocalOrder.id)
        .outerjoin(OutboxEntry, OutboxEntry.id == latest.c.entry_id)
        .where(LocalOrder.store_id == store.id)
        .where(AmazonOrderRow.status.in_(AWAITING_SHIPMENT))
        .where(func.coalesce(AmazonOrderRow.fulfilled_by, "MERCHANT") != "AMAZON")
        .where(LocalOrder.status.not_in(sorted(CLOSED_LOCAL_STATUSES)))
        .order_by(AmazonOrderRow.purchase_date, AmazonOrderRow.id)
        .limit(limit)
        .options(selectinload(LocalOrder.items))
    ).all()
    return [
        AwaitingOrder(
            order_number=row.amazon_order_id,
            local_number=local.number,
            purchase_date=row.purchase_date,
            buyer_name=row.buyer_name,
            grand_total=row.grand_total,
            currency=row.currency,
            status=display_status(row.status, local.status),
            to_ship=tuple(
                (item.sku or "?", item.units_left) for item in local.items if item.units_left > 0
            ),
            outbox_state=entry.state if entry else None,
            outbox_error=entry.last_error if entry else None,
        )
        for local, row, entry in rows
    ]
