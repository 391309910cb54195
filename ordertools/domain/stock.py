"""Stock held by orders: bring each order's reservations to what the rules say it holds.

`rules.reservation` decides *whether* an order holds stock; this module counts *what*: the
units still to ship of each of its products whose stock is managed (a Pending order's from
Amazon's items, a local order's from its own, which shipping from the order book runs ahead
of Amazon), and writes the difference. `settle` is the one place reservations change: the
sync calls it for every page, the order book's own actions (ship, cancel) for their order,
and the catalog for the orders of a product whose stock starts or stops being managed.

Settling is idempotent: it compares what is held with what should be, so settling twice, or
after a crash, or after a sync that was killed half-way (whose transaction never landed),
writes nothing new. Open holds are unique per order and product in the database, and on
PostgreSQL the orders' rows are locked first, so two settles of one order (a sync and a Ship
from the dashboard) take turns rather than both adding the same units.

A changed hold is released and replaced, never edited, so an order's reservation rows are its
stock history; a local order also gets one line in its history per change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from ordertools.db import (
    AmazonOrderItem,
    AmazonOrderRow,
    LocalOrder,
    LocalOrderHistory,
    LocalOrderItem,
    Product,
    StockReservation,
    Store,
    utcnow,
)
from ordertools.db.bulk import bulk_insert, bulk_update
from ordertools.domain.rules import (
    PENDING,
    LocalFacts,
    OrderFacts,
    Reservation,
    StoreRules,
    reservation,
)
from ordertools.domain.statuses import CLOSED_LOCAL_STATUSES

# Orders per statement: the ids go into IN lists, which both backends take at this size.
_CHUNK = 500
# A malformed order may have no purchase date: it counts as placed before any integration.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class StockChanges:
    """What a settle changed, in units (for reports and tests)."""

    reserved: int = 0
    released: int = 0

    def __iadd__(self, other: StockChanges) -> StockChanges:
        self.reserved += other.reserved
        self.released += other.released
        return self


def settle(session: Session, amazon_order_pks: Iterable[int]) -> StockChanges:
    """Make these Amazon orders' open reservations what the rules say; in the caller's
    transaction (flushes the session first, so it sees the caller's changes)."""
    pks = sorted(set(amazon_order_pks))
    changes = StockChanges()
    if not pks:
        return changes
    session.flush()
    for start in range(0, len(pks), _CHUNK):
        changes += _settle(session, pks[start : start + _CHUNK])
    return changes


@dataclass(frozen=True)
class _Order:
    pk: int
    local_id: int | None
    local_number: str | None
    decision: Reservation


_ORDERS = (
    select(
        AmazonOrderRow.id,
        AmazonOrderRow.status,
        AmazonOrderRow.fulfilled_by,
        AmazonOrderRow.purchase_date,
        AmazonOrderRow.reserve_quantity,
        Store.integrated_at,
        Store.import_enabled,
        Store.new_order_status,
        LocalOrder.id.label("local_id"),
        LocalOrder.number,
        LocalOrder.status.label("local_status"),
    )
    .join(Store, Store.id == AmazonOrderRow.store_id)
    .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
    .where(AmazonOrderRow.id.in_(bindparam("pks", expanding=True)))
)

_OPEN = select(
    StockReservation.id,
    StockReservation.amazon_order_pk,
    StockReservation.product_id,
    StockReservation.local_order_id,
    StockReservation.quantity,
).where(
    StockReservation.amazon_order_pk.in_(bindparam("pks", expanding=True)),
    StockReservation.released_at.is_(None),
)

# Units still to ship per order and managed product: a local order's own lines...
_LOCAL_UNITS = (
    select(
        LocalOrder.amazon_order_pk,
        LocalOrderItem.product_id,
        func.sum(LocalOrderItem.quantity - LocalOrderItem.quantity_shipped),
    )
    .join(LocalOrder, LocalOrder.id == LocalOrderItem.local_order_id)
    .join(Product, Product.id == LocalOrderItem.product_id)
    .where(LocalOrder.amazon_order_pk.in_(bindparam("pks", expanding=True)), Product.manage_stock)
    .group_by(LocalOrder.amazon_order_pk, LocalOrderItem.product_id)
)
# ...and a Pending order's, from what Amazon says, by SKU.
_PENDING_UNITS = (
    select(
        AmazonOrderItem.amazon_order_pk,
        Product.id,
        func.sum(AmazonOrderItem.quantity_ordered - AmazonOrderItem.quantity_shipped),
    )
    .join(Product, Product.sku == AmazonOrderItem.sku)
    .where(
        AmazonOrderItem.amazon_order_pk.in_(bindparam("pks", expanding=True)), Product.manage_stock
    )
    .group_by(AmazonOrderItem.amazon_order_pk, Product.id)
)


# Whether these orders could hold anything: an item of a product whose stock is managed, or
# an open hold to release. Most orders of most stores have neither (FBA, unmanaged catalogs),
# and one read then spares the lock and the three reads below (a first sync of 20,000 orders
# of unmanaged products: 7 % of its time, bench/sync_bench.py).
_MAY_HOLD = select(
    or_(
        select(AmazonOrderItem.id)
        .join(Product, Product.sku == AmazonOrderItem.sku)
        .where(
            AmazonOrderItem.amazon_order_pk.in_(bindparam("pks", expanding=True)),
            Product.manage_stock,
        )
        .exists(),
        select(StockReservation.id)
        .where(
            StockReservation.amazon_order_pk.in_(bindparam("pks", expanding=True)),
            StockReservation.released_at.is_(None),
        )
        .exists(),
    )
)


def _settle(session: Session, pks: list[int]) -> StockChanges:
    connection = session.connection()
    if not connection.scalar(_MAY_HOLD, {"pks": pks}):
        return StockChanges()
    # Take turns with any other settle of these orders before reading what they hold (see the
    # module's docstring): on PostgreSQL by locking their rows, on SQLite by taking the
    # database's write lock now (pysqlite begins a transaction only at the first write, so
    # without this the reads below could predate another writer's commit).
    if connection.dialect.name == "postgresql":
        connection.execute(
            select(AmazonOrderRow.id)
            .where(AmazonOrderRow.id.in_(pks))
            .order_by(AmazonOrderRow.id)
            .with_for_update()
        ).all()
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE stock_reservations SET id = id WHERE 0")
    orders = {row.id: _decide(row) for row in connection.execute(_ORDERS, {"pks": pks})}
    open_rows = connection.execute(_OPEN, {"pks": pks}).all()
    held = [o for o in orders.values() if o.decision.holds]
    if not held and not open_rows:
        return StockChanges()  # the common case for FBA and non-reserving stores: two reads
    wanted = _wanted(connection, held)
    return _write(session, orders, open_rows, wanted)


def _decide(row) -> _Order:
    facts = OrderFacts(row.status, row.fulfilled_by, row.purchase_date or _EPOCH, row.status)
    store = StoreRules(row.integrated_at, row.import_enabled, row.new_order_status)
    local = LocalFacts(row.number, row.local_status) if row.local_id is not None else None
    decision = reservation(facts, store, local, reserve_quantity=row.reserve_quantity)
    return _Order(row.id, row.local_id, row.number, decision)


def _wanted(connection, held: Sequence[_Order]) -> dict[tuple[int, int], int]:
    """(order pk, product id) -> units that should be held."""
    wanted: dict[tuple[int, int], int] = {}
    local = [o.pk for o in held if o.local_id is not None]
    pending = [o.pk for o in held if o.local_id is None]
    for query, pks in ((_LOCAL_UNITS, local), (_PENDING_UNITS, pending)):
        if pks:
            for pk, product_id, units in connection.execute(query, {"pks": pks}):
                if units and units > 0:
                    wanted[(pk, product_id)] = int(units)
    return wanted


def _write(session, orders: dict[int, _Order], open_rows, wanted) -> StockChanges:
    now = utcnow()
    changes = StockChanges()
    have: dict[tuple[int, int], list] = defaultdict(list)
    for row in open_rows:
        have[(row.amazon_order_pk, row.product_id)].append(row)
    skus = _skus(session, {product for _, product in set(have) | set(wanted)})
    releases, attaches, inserts = [], [], []
    told: dict[int, list[str]] = defaultdict(list)  # local order id -> what changed
    for key in sorted(set(have) | set(wanted)):
        pk, product_id = key
        order = orders[pk]
        rows = have.get(key, [])
        held = sum(r.quantity for r in rows)
        want = wanted.get(key, 0)
        sku = skus.get(product_id, f"product {product_id}")
        if held == want and len(rows) == 1:
            if order.local_id is not None and rows[0].local_order_id != order.local_id:
                attaches.append({"id": rows[0].id, "local_order_id": order.local_id})
                told[order.local_id].append(
                    f"{held} × {sku} held since Pending, now for this order"
                )
            continue
        why = _release_reason(order, held, want)
        for r in rows:
            releases.append({"id": r.id, "released_at": now, "release_reason": why})
        if want > 0:
            inserts.append(
                {
                    "product_id": product_id,
                    "amazon_order_pk": pk,
                    "local_order_id": order.local_id,
                    "quantity": want,
                    "reason": order.decision.reason,
                    "created_at": now,
                    "released_at": None,
                    "release_reason": None,
                }
            )
        changes.reserved += max(want - held, 0)
        changes.released += max(held - want, 0)
        if order.local_id is not None:
            told[order.local_id].append(_history_words(sku, held, want, why))
    # Releases first: the unique open hold per order and product must be free for its successor.
    bulk_update(session, StockReservation.__table__, releases)
    bulk_update(session, StockReservation.__table__, attaches)
    bulk_insert(session, StockReservation.__table__, inserts)
    bulk_insert(
        session,
        LocalOrderHistory.__table__,
        [
            {
                "local_order_id": local_id,
                "at": now,
                "status": None,
                "comment": "Stock: " + "; ".join(lines),
                "source": "system",
            }
            for local_id, lines in told.items()
        ],
    )
    return changes


def _release_reason(order: _Order, held: int, want: int) -> str:
    if not order.decision.holds:
        return order.decision.reason
    if want == 0 and held > 0:
        return "stock of this product is no longer managed, or nothing is left to ship"
    if want < held:
        return f"{held - want} shipped" if order.local_id is not None else "Amazon changed it"
    return "more to hold"


def _history_words(sku: str, held: int, want: int, why: str) -> str:
    if held == 0:
        return f"reserved {want} × {sku}"
    if want == 0:
        return f"released {held} × {sku} ({why})"
    return f"reserved {want} × {sku}, was {held} ({why})"


def _skus(session: Session, product_ids: set[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = session.connection().execute(
        select(Product.id, Product.sku).where(Product.id.in_(product_ids))
    )
    return dict(rows.all())


def orders_holding(session: Session, product_ids: Iterable[int]) -> list[int]:
    """Amazon order pks that hold, or could hold, these products: open holds, open local
    orders and Pending orders with them. Settle these after a product's stock starts or stops
    being managed."""
    ids = list(set(product_ids))
    if not ids:
        return []
    skus = select(Product.sku).where(Product.id.in_(ids))
    held = select(StockReservation.amazon_order_pk).where(
        StockReservation.product_id.in_(ids), StockReservation.released_at.is_(None)
    )
    local = (
        select(LocalOrder.amazon_order_pk)
        .join(LocalOrderItem, LocalOrderItem.local_order_id == LocalOrder.id)
        .where(LocalOrderItem.product_id.in_(ids), LocalOrder.status.not_in(CLOSED_LOCAL_STATUSES))
    )
    pending = (
        select(AmazonOrderRow.id)
        .join(AmazonOrderItem, AmazonOrderItem.amazon_order_pk == AmazonOrderRow.id)
        .where(AmazonOrderItem.sku.in_(skus), AmazonOrderRow.status == PENDING)
    )
    found = set(session.scalars(held.union(local, pending)))
    return sorted(found)
