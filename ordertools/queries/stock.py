"""Stock levels as people read them: on hand, held by open orders, available, oversold.

`available = on hand - reserved`, where reserved adds up the open holds (`domain.stock`);
`oversold` is how far available is below zero. A product whose stock is not managed has no
levels (None), and a placeholder (a SKU Amazon sold that the catalog lacks) is marked as one so
someone can set it up. One statement per listing: the open holds are summed through their
partial index, so listing 100,000 products stays well under a second (bench/products_bench.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Product, StockReservation, Store


@dataclass(frozen=True)
class StockLevel:
    sku: str
    name: str
    manage_stock: bool
    placeholder: bool
    on_hand: int | None  # None: stock not managed
    reserved: int
    available: int | None
    oversold: int  # units sold beyond what is on hand (0 if none)


@dataclass(frozen=True)
class Holder:
    """An order holding units of a product."""

    store: str
    amazon_order_id: str
    local_order_number: str | None  # None: Pending on Amazon, no local order yet
    quantity: int


def _reserved():
    return (
        select(
            StockReservation.product_id,
            func.sum(StockReservation.quantity).label("reserved"),
        )
        .where(StockReservation.released_at.is_(None))
        .group_by(StockReservation.product_id)
        .subquery()
    )


def stock_levels(
    session: Session,
    *,
    low: int | None = None,
    skus: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[StockLevel]:
    """Products by SKU, or with `low`: managed products with available <= low, oversold first
    (lowest available first, then SKU)."""
    held = _reserved()
    reserved = func.coalesce(held.c.reserved, 0)
    available = case((Product.manage_stock, Product.quantity - reserved), else_=None)
    query = select(
        Product.sku,
        Product.name,
        Product.manage_stock,
        Product.placeholder,
        Product.quantity,
        reserved.label("reserved"),
        available.label("available"),
    ).outerjoin(held, held.c.product_id == Product.id)
    if skus is not None:
        query = query.where(Product.sku.in_(list(skus)))
    if low is not None:
        query = query.where(Product.manage_stock, available <= low).order_by(available, Product.sku)
    else:
        query = query.order_by(Product.sku)
    if limit is not None:
        query = query.limit(limit)
    return [_level(row) for row in session.execute(query)]


def _level(row) -> StockLevel:
    managed = bool(row.manage_stock)
    on_hand = row.quantity if managed else None
    available = None if on_hand is None else int(row.available)
    return StockLevel(
        sku=row.sku,
        name=row.name,
        manage_stock=managed,
        placeholder=bool(row.placeholder),
        on_hand=on_hand,
        reserved=int(row.reserved),
        available=available,
        oversold=max(-available, 0) if available is not None else 0,
    )


def holders(session: Session, skus: Sequence[str]) -> dict[str, list[Holder]]:
    """SKU -> the orders holding it now, biggest holds first."""
    if not skus:
        return {}
    rows = session.execute(
        select(
            Product.sku,
            Store.name,
            AmazonOrderRow.amazon_order_id,
            LocalOrder.number,
            StockReservation.quantity,
        )
        .join(Product, Product.id == StockReservation.product_id)
        .join(AmazonOrderRow, AmazonOrderRow.id == StockReservation.amazon_order_pk)
        .join(Store, Store.id == AmazonOrderRow.store_id)
        .outerjoin(LocalOrder, LocalOrder.id == StockReservation.local_order_id)
        .where(Product.sku.in_(list(skus)), StockReservation.released_at.is_(None))
        .order_by(Product.sku, StockReservation.quantity.desc(), AmazonOrderRow.amazon_order_id)
    )
    found: dict[str, list[Holder]] = {sku: [] for sku in skus}
    for sku, store, order_id, number, quantity in rows:
        found[sku].append(Holder(store, order_id, number, quantity))
    return found


@dataclass(frozen=True)
class OrderHold:
    """What one order holds or held of one product (its stock history, one row per hold)."""

    sku: str
    quantity: int
    reason: str | None
    since: object  # datetime
    released_at: object | None
    release_reason: str | None

    @property
    def open(self) -> bool:
        return self.released_at is None


def order_holds(session: Session, amazon_order_pk: int) -> list[OrderHold]:
    """An order's holds, open and released, oldest first: what its items reserve and when."""
    rows = session.execute(
        select(
            Product.sku,
            StockReservation.quantity,
            StockReservation.reason,
            StockReservation.created_at,
            StockReservation.released_at,
            StockReservation.release_reason,
        )
        .join(Product, Product.id == StockReservation.product_id)
        .where(StockReservation.amazon_order_pk == amazon_order_pk)
        .order_by(StockReservation.created_at, StockReservation.id)
    )
    return [OrderHold(*row) for row in rows]
