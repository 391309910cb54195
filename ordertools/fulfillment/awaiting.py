"""Orders awaiting shipment: what the ops team ships next (the dashboard's shipping queue).

An order is waiting when Amazon shows it Unshipped or Partially Shipped, it is fulfilled by the
merchant (Amazon ships FBA orders itself), and its local order is still open (neither complete
nor canceled: a shipment or cancellation made here may not have reached Amazon's reads yet).
Soonest ship-by date first (then oldest), the order people ship in. Each comes with its ship-by
date, what is left to ship and how far its latest change for Amazon got in the outbox; the
ones overdue or due soon are counted for Store Data and named by the sync (domain/ship_by.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ordertools.db import AmazonOrderRow, LocalOrder, OutboxEntry, Store
from ordertools.domain.ship_by import DEFAULT_HORIZON, ShipByCounts
from ordertools.domain.statuses import AWAITING_SHIPMENT, CLOSED_LOCAL_STATUSES, display_status


@dataclass(frozen=True)
class AwaitingOrder:
    order_number: str  # Amazon's
    local_number: str
    purchase_date: datetime | None
    ship_by: datetime | None  # Amazon's latest ship date; None when Amazon gave none
    buyer_name: str | None
    grand_total: Decimal | None
    currency: str | None
    status: str  # the word shown: Unshipped, Partially Shipped
    to_ship: tuple[tuple[str, int], ...]  # (SKU, units left), per item line
    outbox_state: str | None  # of the order's latest outbox entry; None: nothing sent yet
    outbox_error: str | None


def _waiting(store: Store):
    """What makes an order one to ship here: the conditions in the module's docstring."""
    return (
        LocalOrder.store_id == store.id,
        AmazonOrderRow.status.in_(AWAITING_SHIPMENT),
        func.coalesce(AmazonOrderRow.fulfilled_by, "MERCHANT") != "AMAZON",
        LocalOrder.status.not_in(sorted(CLOSED_LOCAL_STATUSES)),
    )


def awaiting_shipment(
    session: Session, store: Store, limit: int = 50, *, due_before: datetime | None = None
) -> list[AwaitingOrder]:
    """The store's open FBM orders Amazon shows Unshipped / Partially Shipped, soonest ship-by
    first; with `due_before`, only those whose ship-by date is before it (overdue included)."""
    latest = (
        select(OutboxEntry.local_order_id, func.max(OutboxEntry.id).label("entry_id"))
        .group_by(OutboxEntry.local_order_id)
        .subquery()
    )
    query = (
        select(LocalOrder, AmazonOrderRow, OutboxEntry)
        .join(AmazonOrderRow, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .outerjoin(latest, latest.c.local_order_id == LocalOrder.id)
        .outerjoin(OutboxEntry, OutboxEntry.id == latest.c.entry_id)
        .where(*_waiting(store))
        .order_by(
            AmazonOrderRow.ship_by.is_(None),  # orders without a date last
            AmazonOrderRow.ship_by,
            AmazonOrderRow.purchase_date,
            AmazonOrderRow.id,
        )
        .limit(limit)
        .options(selectinload(LocalOrder.items))
    )
    if due_before is not None:
        query = query.where(AmazonOrderRow.ship_by <= due_before)
    rows = session.execute(query).all()
    return [
        AwaitingOrder(
            order_number=row.amazon_order_id,
            local_number=local.number,
            purchase_date=row.purchase_date,
            ship_by=row.ship_by,
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


def ship_by_counts(
    session: Session, store: Store, now: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> ShipByCounts:
    """How many orders awaiting shipment are overdue at `now`, and how many are due within
    `horizon` of it (one query)."""
    overdue = func.count().filter(AmazonOrderRow.ship_by <= now)
    due = func.count().filter(AmazonOrderRow.ship_by > now)
    row = session.execute(
        select(overdue, due)
        .select_from(LocalOrder)
        .join(AmazonOrderRow, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(*_waiting(store), AmazonOrderRow.ship_by <= now + horizon)
    ).one()
    return ShipByCounts(overdue=row[0], due=row[1], horizon=horizon)
