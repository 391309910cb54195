"""Recent Orders and All Orders: the queries behind the dashboard, the CLI and the exports.

Everything is filtered, sorted and paged in the database, never by loading a store's orders
into memory: a page over a million stored orders is one indexed query. What comes back are
`OrderRecord`s, plain values with the keys of the fixed `orders --format json` contract.

Recent Orders follows the Sales Channel: orders placed before the store's integration never
show; Pending and Pending Availability orders are tracked but hidden until Amazon verifies them,
unless a status filter asks for them. The order number links to the local order when one
exists, else to the order in Seller Central.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Store
from ordertools.domain.money import money_string
from ordertools.domain.statuses import display_status
from ordertools.queries.filters import OrderFilters
from ordertools.queries.links import order_link
from ordertools.queries.search import filter_conditions, orders_select

# How many ids may drive a query on SQLite before it walks the store's orders instead (see
# queries/search.py for the planning; bench/orders_query.py for the figures).
PAGE_DRIVE_MAX = 20_000  # ids a page query looks up at most (~70 ms on SQLite); else it walks
COUNT_DRIVE_MAX = 100_000  # ids a count walks at most (materialised, then looked up until done)

SORTS = {
    "purchase_date": AmazonOrderRow.purchase_date,
    "grand_total": AmazonOrderRow.grand_total,
    "buyer_name": AmazonOrderRow.buyer_name,
    "order_number": AmazonOrderRow.amazon_order_id,
    "status": AmazonOrderRow.status,
}


@dataclass
class OrderRecord:
    """One row of Recent/All Orders, with the keys of `orders --format json`."""

    purchase_date: datetime | None
    order_number: str
    status: str
    buyer_name: str | None
    grand_total: Decimal | None
    currency: str | None
    local_order_number: str | None
    local_order_status: str | None
    link: str
    notes: str | None
    fulfilled_by: str | None = None
    marketplace_id: str | None = None
    amazon_status: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        data["purchase_date"] = self.purchase_date.isoformat() if self.purchase_date else None
        data["grand_total"] = money_string(self.grand_total, self.currency)
        return {**data, **self.extra}


COUNT_CAP = 10_000  # the All Orders pager counts this far, then says "10,000+"


def query_orders(
    session: Session,
    store: Store,
    filters: OrderFilters = OrderFilters(),
    *,
    limit: int | None = 20,
    offset: int = 0,
    sort: str = "purchase_date",
    descending: bool = True,
) -> list[OrderRecord]:
    """One page of orders, newest first by default (Recent Orders is the first page)."""
    if sort not in SORTS:
        raise ValueError(f"cannot sort by {sort!r}: use one of {', '.join(SORTS)}")
    key = SORTS[sort]
    order_by = [key.desc(), AmazonOrderRow.id.desc()] if descending else [key, AmazonOrderRow.id]
    stmt = (
        orders_select(
            filter_conditions(session, store, filters, drive_max=PAGE_DRIVE_MAX)[0],
            AmazonOrderRow.id,
            AmazonOrderRow.purchase_date,
            AmazonOrderRow.amazon_order_id,
            AmazonOrderRow.status,
            AmazonOrderRow.buyer_name,
            AmazonOrderRow.grand_total,
            AmazonOrderRow.currency,
            AmazonOrderRow.note,
            AmazonOrderRow.fulfilled_by,
            AmazonOrderRow.marketplace_id,
            LocalOrder.number,
            LocalOrder.status.label("local_status"),
        )
        .order_by(*order_by)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [order_record(store, row) for row in session.execute(stmt)]


def count_orders(
    session: Session,
    store: Store,
    filters: OrderFilters = OrderFilters(),
    *,
    cap: int | None = None,
) -> int:
    """How many orders `query_orders` would list with these filters, all pages.

    With `cap`, counting stops once it is passed: a result above `cap` (it is then `cap + 1`)
    means "more than `cap`". An exact count of a million orders reads them all (a second or
    more); the All Orders pager asks for `COUNT_CAP`.
    """
    conditions, driven = filter_conditions(session, store, filters, drive_max=COUNT_DRIVE_MAX)
    if cap is None:
        return session.scalar(orders_select(conditions, func.count()))
    matching = orders_select(conditions, literal_column("1")).limit(cap + 1)
    if session.get_bind().dialect.name == "sqlite" and not driven:
        # SQLite walks an index in its own order, oldest first, until the cap. Newest first finds
        # most filters' orders sooner (Completed ones have local orders, made since Import was
        # enabled); Shipped-not-Completed ones are mostly older (from before Import): oldest.
        shipped = filters.statuses is not None and filters.statuses.shipped
        walk = (
            AmazonOrderRow.purchase_date.asc() if shipped else AmazonOrderRow.purchase_date.desc()
        )
        matching = matching.order_by(walk)
    return session.scalar(select(func.count()).select_from(matching.subquery()))


def order_record(store: Store, row) -> OrderRecord:
    return OrderRecord(
        purchase_date=row.purchase_date,
        order_number=row.amazon_order_id,
        status=display_status(row.status, row.local_status),
        buyer_name=row.buyer_name,
        grand_total=row.grand_total,
        currency=row.currency,
        local_order_number=row.number,
        local_order_status=row.local_status,
        link=order_link(store, row.amazon_order_id, row.number),
        notes=row.note,
        fulfilled_by=row.fulfilled_by,
        marketplace_id=row.marketplace_id,
        amazon_status=row.status,
    )


# -- the dashboard's other sections ----------------------------------------------------------------


# -- saved views of All Orders ---------------------------------------------------------------------
