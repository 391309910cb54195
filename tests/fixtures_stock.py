"""Stock's invariant, checked from the order book's raw rows without `domain.stock`.

What every managed product's open holds must add up to: the units still to ship of the open
FBM orders that reserve (a local order's own unshipped units; a Pending order's units, when it
would import once verified). Available stock is then on hand minus exactly that. Fault tests
(concurrent syncs, a sync killed with SIGKILL) end by asserting `stock_discrepancies() == {}`.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ordertools.db import (
    AmazonOrderItem,
    AmazonOrderRow,
    LocalOrder,
    LocalOrderItem,
    Product,
    StockReservation,
    Store,
)
from ordertools.db import session as db_session


def expected_holds(engine: Engine) -> Counter:
    """SKU -> units the open orders should hold."""
    want: Counter = Counter()
    with db_session(engine) as s:
        managed = {p.id: p.sku for p in s.scalars(select(Product).where(Product.manage_stock))}
        by_sku = {sku: pid for pid, sku in managed.items()}
        rows = s.execute(
            select(AmazonOrderRow, Store, LocalOrder)
            .join(Store, Store.id == AmazonOrderRow.store_id)
            .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
            .where(AmazonOrderRow.fulfilled_by == "MERCHANT", AmazonOrderRow.reserve_quantity)
        ).all()
        for order, store, local in rows:
            if local is not None:
                if local.status in ("complete", "canceled"):
                    continue
                for item in s.scalars(
                    select(LocalOrderItem).where(LocalOrderItem.local_order_id == local.id)
                ):
                    if item.product_id in managed:
                        want[managed[item.product_id]] += item.quantity - item.quantity_shipped
            elif (
                order.status == "PENDING"
                and store.import_enabled
                and order.purchase_date >= store.integrated_at
            ):
                for item in s.scalars(
                    select(AmazonOrderItem).where(AmazonOrderItem.amazon_order_pk == order.id)
                ):
                    if item.sku in by_sku:
                        want[item.sku] += item.quantity_ordered - item.quantity_shipped
    return +want


def held(engine: Engine) -> Counter:
    """SKU -> units the open holds add up to."""
    with db_session(engine) as s:
        rows = s.execute(
            select(Product.sku, StockReservation.quantity)
            .join(Product, Product.id == StockReservation.product_id)
            .where(StockReservation.released_at.is_(None))
        ).all()
    total: Counter = Counter()
    for sku, quantity in rows:
        total[sku] += quantity
    return +total


def stock_discrepancies(engine: Engine) -> dict[str, tuple[int, int]]:
    """SKU -> (held, should hold) wherever they differ; {} when stock is right."""
    want, have = expected_holds(engine), held(engine)
    return {sku: (have[sku], want[sku]) for sku in set(want) | set(have) if have[sku] != want[sku]}


def stock_the_catalog(engine: Engine, quantity: int = 50) -> list[str]:
    """Managed products for every SKU the emulator sells by default; their SKUs."""
    from ordertools.amazon.emulator.orders import CATALOG

    skus = sorted({sku for _, sku, _, _ in CATALOG})
    with db_session(engine) as s:
        known = set(s.scalars(select(Product.sku)))
        for sku in skus:
            if sku not in known:
                s.add(Product(sku=sku, name=sku, manage_stock=True, quantity=quantity))
    return skus
