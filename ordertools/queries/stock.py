"""Stock levels as people read them: on hand, held by open orders, available, oversold.

`available = on hand - reserved`, where reserved adds up the open holds (`domain.stock`);
`oversold` is how far available is below zero. A product whose stock is not managed has no
levels (None), and a placeholder (a SKU Amazon sold that the catalog lacks) is marked as one so
someone can set it up. One statement per listing: the open holds are summed through their
partial index, so listing 100,000 products stays well under a second (bench/products_bench.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Product, StockReservation, Store
from ordertools.domain.rules import LocalFacts, OrderFacts, StoreRules, reservation
from ordertools.queries.links import order_link


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


# -- the dashboard's Stock section and the order page -----------------------------------------


@dataclass(frozen=True)
class Holding:
    """An order holding units of a product, with the address its number links to."""

    store: str
    amazon_order_id: str
    local_order_number: str | None  # None: Pending on Amazon, no local order yet
    quantity: int
    link: str


@dataclass(frozen=True)
class LowStock:
    """What the Stock section shows: the lowest products and the orders holding them."""

    low: int
    levels: list[StockLevel]
    holdings: dict[str, list[Holding]] = field(default_factory=dict)
    more_holders: dict[str, int] = field(default_factory=dict)  # SKU -> holders not listed
    more: bool = False  # more products are at or below `low` than `levels` lists
    managed: bool = True  # False: no product manages its stock (the catalog is not loaded)


def low_stock(
    session: Session, *, low: int, limit: int = 50, holders_per_product: int = 10
) -> LowStock:
    """Managed products with available <= low, oversold first, at most `limit` of them, each
    with at most `holders_per_product` orders holding it (biggest holds first), from any store.

    Two bounded statements: the levels, then the holders of those products (or, when none is
    low, whether any product manages its stock at all).
    """
    levels = stock_levels(session, low=low, limit=limit + 1)
    more = len(levels) > limit
    levels = levels[:limit]
    if not levels:
        managed = bool(session.scalar(select(exists().where(Product.manage_stock))))
        return LowStock(low, [], managed=managed)
    rank = (
        func.row_number()
        .over(
            partition_by=StockReservation.product_id,
            order_by=(StockReservation.quantity.desc(), AmazonOrderRow.amazon_order_id),
        )
        .label("rank")
    )
    total = func.count().over(partition_by=StockReservation.product_id).label("total")
    ranked = (
        select(
            Product.sku,
            AmazonOrderRow.store_id,
            AmazonOrderRow.amazon_order_id,
            LocalOrder.number,
            StockReservation.quantity,
            rank,
            total,
        )
        .join(Product, Product.id == StockReservation.product_id)
        .join(AmazonOrderRow, AmazonOrderRow.id == StockReservation.amazon_order_pk)
        .outerjoin(LocalOrder, LocalOrder.id == StockReservation.local_order_id)
        .where(
            Product.sku.in_([level.sku for level in levels]),
            StockReservation.released_at.is_(None),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked, Store)
        .join(Store, Store.id == ranked.c.store_id)
        .where(ranked.c.rank <= holders_per_product)
        .order_by(ranked.c.sku, ranked.c.rank)
    )
    holdings: dict[str, list[Holding]] = {level.sku: [] for level in levels}
    more_holders: dict[str, int] = {}
    for row in rows:
        link = order_link(row.Store, row.amazon_order_id, row.number)
        holdings[row.sku].append(
            Holding(row.Store.name, row.amazon_order_id, row.number, row.quantity, link)
        )
        if row.total > holders_per_product:
            more_holders[row.sku] = row.total - holders_per_product
    return LowStock(low, levels, holdings, more_holders, more)


@dataclass(frozen=True)
class ItemStock:
    """What one SKU of an order holds now, and why nothing when it holds nothing."""

    held: int
    not_held_because: str | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_HELD = "Not held: "


def item_stock(
    session: Session, order: AmazonOrderRow, store: Store, holds: Sequence[OrderHold]
) -> dict[str, ItemStock]:
    """SKU -> what the order holds of it now (its open holds), or why it holds nothing: the
    import rules' reason (FBA, Reserve Quantity off, a closed local order, ...), or the
    product's (not in the catalog, stock not managed, nothing left to ship)."""
    local = order.local_order
    decision = reservation(
        OrderFacts(order.status, order.fulfilled_by, order.purchase_date or _EPOCH, order.status),
        StoreRules.of(store),
        LocalFacts(local.number, local.status) if local is not None else None,
        reserve_quantity=order.reserve_quantity,
    )
    held: dict[str, int] = {}
    for hold in holds:
        if hold.open:
            held[hold.sku] = held.get(hold.sku, 0) + hold.quantity
    if local is not None:
        lines = [(i.sku, i.quantity - i.quantity_shipped) for i in local.items]
    else:
        lines = [(i.sku, i.quantity_ordered - i.quantity_shipped) for i in order.items]
    left: dict[str, int] = {}
    for sku, units in lines:
        if sku is not None:
            left[sku] = left.get(sku, 0) + max(units, 0)
    skus = sorted(set(left) | set(held))
    products = (
        {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
        if skus
        else {}
    )
    found: dict[str, ItemStock] = {}
    for sku in skus:
        if held.get(sku):
            found[sku] = ItemStock(held[sku], None)
            continue
        product = products.get(sku)
        if not decision.holds:
            why = decision.reason.removeprefix(_NOT_HELD)
        elif product is None:
            why = "not in the catalog"
        elif not product.manage_stock:
            why = "stock not managed" + (" (not in the catalog yet)" if product.placeholder else "")
        elif not left.get(sku):
            why = "nothing left to ship"
        else:
            why = "not reserved yet: the next sync reserves it"
        found[sku] = ItemStock(0, why)
    return found
