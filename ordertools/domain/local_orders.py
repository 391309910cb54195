"""The local order workflow: create local orders from Amazon orders, and follow Amazon through.

Creation is batch-shaped because a sync imports a page of up to 100 orders at once and a first
sync can bring tens of thousands: numbers, customers, products, items, history and reservations
are each written with one statement per page, not one per order. Follow-through (cancel,
complete, process) touches one order at a time; it is rare and reads best that way.

Stock: shipping an FBM order deducts its units from the products' on-hand quantity (FBA orders
never touch local stock: Amazon ships from its own warehouses). What open orders *hold* is
`domain.stock`'s: every change here ends by settling the order's reservations there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ordertools.amazon.models import AmazonOrder
from ordertools.db import (
    AmazonOrderRow,
    Customer,
    LocalOrder,
    LocalOrderHistory,
    LocalOrderItem,
    Product,
    StockReservation,
    Store,
    utcnow,
)
from ordertools.db.bulk import bulk_insert, bulk_insert_ids
from ordertools.db.numbering import take_local_order_numbers
from ordertools.domain import stock
from ordertools.domain.statuses import LocalStatus


@dataclass(frozen=True)
class NewItem:
    order_item_id: str
    sku: str | None
    title: str | None
    quantity: int
    unit_price: Decimal | None
    quantity_shipped: int = 0  # shipped from Seller Central before the import


@dataclass(frozen=True)
class NewLocalOrder:
    """What a local order is made from: the stored Amazon order and the rules' status."""

    amazon_order_pk: int
    amazon_order_id: str
    status: str
    fulfilled_by: str | None
    buyer_name: str | None
    buyer_email: str | None
    grand_total: Decimal | None
    currency: str | None
    items: tuple[NewItem, ...]


def new_local_order(order: AmazonOrder, pk: int, status: str) -> NewLocalOrder:
    """What a local order is made from: the Amazon order (stored with id `pk`) and the status
    the import rules gave it. The sync and `import-order` both build it here."""
    total = order.grand_total
    return NewLocalOrder(
        amazon_order_pk=pk,
        amazon_order_id=order.order_id,
        status=status,
        fulfilled_by=order.fulfilled_by,
        buyer_name=order.buyer_name,
        buyer_email=order.buyer_email,
        grand_total=total.amount if total else None,
        currency=total.currency_code if total else None,
        items=tuple(
            NewItem(
                item.order_item_id,
                item.sku,
                item.title,
                item.quantity_ordered,
                item.unit_price.amount if item.unit_price else None,
                min(item.quantity_shipped, item.quantity_ordered),
            )
            for item in order.order_items
        ),
    )


def create_local_orders(
    session: Session,
    store: Store,
    orders: list[NewLocalOrder],
    *,
    comment: str | None = None,
    numbers: list[str] | None = None,
    settle: bool = True,
) -> dict[int, str]:
    """Create local orders for these Amazon orders; returns Amazon order pk -> local number.

    `numbers` are the local numbers to give them, when the caller took them already (the sync
    writes each order's note, which names its number, before the import); by default they are
    taken here. The unique constraints on (store, Amazon order id) and (store, number) make a
    duplicate import fail here rather than happen. `settle=False` leaves the orders' stock to
    the caller's `stock.settle` (the sync settles a page's orders in one go).
    """
    if not orders:
        return {}
    if numbers is None:
        numbers = take_numbers(session, store, [o.amazon_order_id for o in orders])
    customers = _customers(session, store, orders)
    products = _products(session, orders)
    now = utcnow()
    local_ids = bulk_insert_ids(
        session,
        LocalOrder.__table__,
        [
            {
                "store_id": store.id,
                "amazon_order_pk": o.amazon_order_pk,
                "amazon_order_id": o.amazon_order_id,
                "number": number,
                "status": o.status,
                "customer_id": customers.get(_email_key(o.buyer_email)),
                "customer_name": o.buyer_name,
                "customer_email": o.buyer_email,
                "is_guest": _email_key(o.buyer_email) not in customers,
                "fulfilled_by": o.fulfilled_by,
                "grand_total": o.grand_total,
                "currency": o.currency,
                "created_at": now,
                "updated_at": now,
            }
            for o, number in zip(orders, numbers, strict=True)
        ],
        "amazon_order_pk",
    )
    items, history = [], []
    for order in orders:
        local_id = local_ids[order.amazon_order_pk]
        shipped = order.status == LocalStatus.COMPLETE
        for item in order.items:
            product = products.get(item.sku)
            items.append(
                {
                    "local_order_id": local_id,
                    "order_item_id": item.order_item_id,
                    "product_id": product.id if product else None,
                    "sku": item.sku,
                    "title": item.title,
                    "quantity": item.quantity,
                    "quantity_shipped": item.quantity if shipped else item.quantity_shipped,
                    "unit_price": item.unit_price,
                }
            )
        history.append(
            {
                "local_order_id": local_id,
                "at": now,
                "status": order.status,
                "comment": comment or f"Imported from Amazon order {order.amazon_order_id}",
                "source": "import",
            }
        )
        if order.fulfilled_by != "AMAZON":  # what left the shelf before the import
            _deduct_stock(session, products, order.items, everything=shipped)
    bulk_insert(session, LocalOrderItem.__table__, items)
    bulk_insert(session, LocalOrderHistory.__table__, history)
    # A Pending order's hold moves to its local order; one imported part-shipped holds only
    # what is left to ship.
    if settle:
        stock.settle(session, [o.amazon_order_pk for o in orders])
    return {o.amazon_order_pk: n for o, n in zip(orders, numbers, strict=True)}


def take_numbers(session: Session, store: Store, amazon_order_ids: list[str]) -> list[str]:
    """The local numbers these Amazon orders' imports get, by the store's order number source:
    Amazon's own numbers, or the store's next local ones (taken now, in the caller's
    transaction: a failed import leaves a gap)."""
    if store.order_number_source == "amazon":
        return list(amazon_order_ids)
    return take_local_order_numbers(session, store, len(amazon_order_ids))


def _email_key(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def _customers(session: Session, store: Store, orders: list[NewLocalOrder]) -> dict[str, int]:
    """Customer ids by email, creating accounts when the store creates customers.

    Guests (the default, and every order without an email: FBA orders have none) get no account.
    """
    if store.customer_creation != "create":
        return {}
    names = {}
    for order in orders:
        if (key := _email_key(order.buyer_email)) is not None:
            names.setdefault(key, order.buyer_name)
    if not names:
        return {}
    found = dict(
        session.execute(select(Customer.email, Customer.id).where(Customer.email.in_(names))).all()
    )
    missing = [
        {"email": e, "name": names[e], "created_at": utcnow()} for e in names if e not in found
    ]
    if missing:
        found.update(
            session.execute(
                insert(Customer.__table__).returning(
                    Customer.__table__.c.email, Customer.__table__.c.id
                ),
                missing,
            ).all()
        )
    return found


# What an import needs of a product, read with one statement built once (it runs per page).
_PRODUCTS_BY_SKU = select(Product.sku, Product.id, Product.manage_stock, Product.quantity).where(
    Product.sku.in_(bindparam("skus", expanding=True))
)


def _products(session: Session, orders: Iterable[NewLocalOrder]) -> dict[str, Row]:
    """Products by SKU (id, manage_stock, quantity); an unknown SKU gets a disabled placeholder
    with unmanaged stock, so the order imports and someone can set the product up later."""
    titles = {}
    for order in orders:
        for item in order.items:
            if item.sku:
                titles.setdefault(item.sku, item.title)
    if not titles:
        return {}
    connection = session.connection()  # Core rows: the import needs no Product objects
    found = {p.sku: p for p in connection.execute(_PRODUCTS_BY_SKU, {"skus": list(titles)})}
    missing = [
        {
            "sku": sku,
            "name": titles[sku] or sku,
            "enabled": False,
            "manage_stock": False,
            "quantity": None,
            "placeholder": True,
            "created_at": utcnow(),
        }
        for sku in titles
        if sku not in found
    ]
    if missing:
        session.execute(insert(Product.__table__), missing)
        added = connection.execute(_PRODUCTS_BY_SKU, {"skus": [m["sku"] for m in missing]})
        found.update((p.sku, p) for p in added)
    return found


def _deduct_stock(
    session: Session, products: dict[str, Row], items: Iterable[NewItem], *, everything: bool
) -> None:
    for item in items:
        product = products.get(item.sku)
        units = item.quantity if everything else item.quantity_shipped
        if units and product is not None and product.manage_stock and product.quantity is not None:
            session.execute(
                update(Product)
                .where(Product.id == product.id)
                .values(quantity=Product.quantity - units)
            )


# -- follow-through: Amazon changed an order that has a local order ----------------------------


def cancel_local_order(session: Session, local: LocalOrder, *, comment: str, source: str) -> None:
    """Cancel: record why, and release what it held."""
    _set_status(local, LocalStatus.CANCELED.value, comment, source)
    stock.settle(session, [local.amazon_order_pk])


def complete_local_order(session: Session, local: LocalOrder, *, comment: str, source: str) -> None:
    """Everything shipped: items shipped in full, stock deducted, reservation released."""
    fba = local.fulfilled_by == "AMAZON"
    for item in local.items:
        unshipped = item.units_left
        if unshipped > 0 and not fba and item.product is not None:
            _deduct(session, item.product, unshipped)
        item.quantity_shipped = item.quantity
    _set_status(local, LocalStatus.COMPLETE.value, comment, source)
    stock.settle(session, [local.amazon_order_pk])


def _deduct(session: Session, product: Product, units: int) -> None:
    """Shipped units leave the shelf. In SQL, not in Python: two orders of one product shipped
    at once must both count."""
    if product.manage_stock and product.quantity is not None:
        session.execute(
            update(Product)
            .where(Product.id == product.id)
            .values(quantity=Product.quantity - units)
        )


def process_local_order(session: Session, local: LocalOrder, *, comment: str, source: str) -> None:
    _set_status(local, LocalStatus.PROCESSING.value, comment, source)


def _set_status(local: LocalOrder, status: str, comment: str, source: str) -> None:
    local.status = status
    local.history.append(LocalOrderHistory(status=status, comment=comment, source=source))


def reserved_quantity(session: Session, product: Product) -> int:
    """Units of a product held by open orders (Pending ones and local ones)."""
    return session.scalar(
        select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(
            StockReservation.product_id == product.id, StockReservation.released_at.is_(None)
        )
    )


def local_order_for(session: Session, row: AmazonOrderRow) -> LocalOrder | None:
    return session.scalar(select(LocalOrder).where(LocalOrder.amazon_order_pk == row.id))


# -- our own actions: shipping from the order book, comments ----------------------------------


def ship_local_items(
    session: Session, local: LocalOrder, shipped: dict[int, int], *, comment: str, source: str
) -> bool:
    """Ship `shipped` (local item id -> units) of an FBM order; returns whether all shipped.

    Each shipped unit leaves stock and the order's hold; once every item is shipped the order
    is complete, before that it is processing.
    """
    for item in local.items:
        units = shipped.get(item.id, 0)
        if units <= 0:
            continue
        item.quantity_shipped += units
        product = item.product
        if product is not None:
            _deduct(session, product, units)
    done = all(item.units_left <= 0 for item in local.items)
    if done:
        _set_status(local, LocalStatus.COMPLETE.value, comment, source)
    elif local.status != LocalStatus.PROCESSING.value:
        _set_status(local, LocalStatus.PROCESSING.value, comment, source)
    else:
        add_comment(local, comment, source=source)
    stock.settle(session, [local.amazon_order_pk])  # the shipped units are held no more
    return done


def units_left_by_sku(local: LocalOrder) -> dict[str, int]:
    """SKU -> units still to ship (one SKU on several lines ships as one quantity)."""
    left: dict[str, int] = {}
    for item in local.items:
        sku = item.sku or "?"
        left[sku] = left.get(sku, 0) + item.units_left
    return {sku: n for sku, n in left.items() if n > 0}


def add_comment(local: LocalOrder, text: str, *, source: str = "user") -> None:
    """A comment in the order's history; the status is left as it is."""
    local.history.append(LocalOrderHistory(status=None, comment=text, source=source))
