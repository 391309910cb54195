"""One order's whole story: the Amazon order, its local order, its note, status ledger and stock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Store
from ordertools.domain.money import money_string
from ordertools.domain.statuses import display_status
from ordertools.errors import NotInOrderBook
from ordertools.queries.orders import order_record
from ordertools.queries.stock import item_stock, order_holds


def order_detail(session: Session, store: Store, order_number: str) -> dict:
    """One Amazon order, whatever its status or age, with its local order, note and history.

    `order_number` is Amazon's id or the local order's number. Raises `NotInOrderBook` for an order
    this store never received.
    """
    row = session.scalar(
        select(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(AmazonOrderRow.store_id == store.id)
        .where(
            or_(AmazonOrderRow.amazon_order_id == order_number, LocalOrder.number == order_number)
        )
    )
    if row is None:
        raise NotInOrderBook(
            f"store {store.name} has never received order {order_number}: check the number, "
            "or run `ordertools sync` first"
        )
    local = row.local_order
    record = order_record(
        store,
        _Row(row, local.number if local else None, local.status if local else None),
    )
    detail = record.to_json()
    detail["placed_before_integration"] = bool(
        row.purchase_date and row.purchase_date < store.integrated_at
    )
    detail["error"] = row.error
    detail["buyer_email"] = row.buyer_email
    detail["ship_by"] = row.ship_by.isoformat() if row.ship_by else None
    holds = order_holds(session, row.id)
    stock = item_stock(session, row, store, holds)
    detail["items"] = [
        {
            "order_item_id": i.order_item_id,
            "sku": i.sku,
            "asin": i.asin,
            "title": i.title,
            "quantity_ordered": i.quantity_ordered,
            "quantity_shipped": i.quantity_shipped,
            "unit_price": money_string(i.unit_price, i.currency),
            # What the order holds of this SKU now; else why it holds nothing.
            "held": stock[i.sku].held if i.sku in stock else 0,
            "not_held_because": stock[i.sku].not_held_because if i.sku in stock else "no SKU",
        }
        for i in row.items
    ]
    # Its stock history: every hold, open or released, oldest first.
    detail["stock"] = [
        {
            "sku": h.sku,
            "quantity": h.quantity,
            "reason": h.reason,
            "since": h.since.isoformat(),
            "released_at": h.released_at.isoformat() if h.released_at else None,
            "release_reason": h.release_reason,
            "open": h.open,
        }
        for h in holds
    ]
    detail["history"] = [
        {
            "status": e.status,
            "status_word": display_status(e.status),
            "action": e.action,
            "note": e.note,
            "observed_at": e.observed_at.isoformat(),
            "amazon_updated_at": e.amazon_updated_at.isoformat() if e.amazon_updated_at else None,
        }
        for e in row.events
    ]
    detail["local_order"] = (
        None
        if local is None
        else {
            "number": local.number,
            "status": local.status,
            "customer_name": local.customer_name,
            "customer_email": local.customer_email,
            "is_guest": local.is_guest,
            "created_at": local.created_at.isoformat(),
            "history": [
                {
                    "at": h.at.isoformat(),
                    "status": h.status,
                    "comment": h.comment,
                    "source": h.source,
                }
                for h in local.history
            ],
        }
    )
    return detail


@dataclass(frozen=True)
class _Row:
    """Adapts an ORM row to what `order_record` reads from a query row."""

    order: AmazonOrderRow
    number: str | None
    local_status: str | None

    def __getattr__(self, name):
        return getattr(self.order, name)


def delivery_address(session: Session, store: Store, amazon_order_id: str) -> dict | None:
    """Where the order ships, as Amazon sent it (FBM orders carry it once payment is verified)."""
    raw = session.scalar(
        select(AmazonOrderRow.raw).where(
            AmazonOrderRow.store_id == store.id, AmazonOrderRow.amazon_order_id == amazon_order_id
        )
    )
    recipient = (raw or {}).get("recipient") or {}
    address = recipient.get("deliveryAddress")
    return address if isinstance(address, dict) else None
