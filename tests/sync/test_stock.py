"""Stock held by orders through their lives, as a sync and the order book's actions move them.

Each test follows one story through the emulator and the order book (both backends) and ends
with the stock invariant checked from raw rows (`fixtures_stock`): the open holds are exactly
the open orders' units still to ship.
"""

from __future__ import annotations

import threading

from fixtures_stock import stock_discrepancies
from fixtures_sync import MUG, TEA, Shop
from sqlalchemy import select, update

from ordertools import fulfillment
from ordertools.db import Product, StockReservation
from ordertools.db import session as db_session
from ordertools.domain import rules as R
from ordertools.domain import stock
from ordertools.domain.stores import update_settings
from ordertools.queries.stock import order_holds, stock_levels


def level(shop: Shop, sku: str):
    with db_session(shop.engine) as s:
        [found] = stock_levels(s, skus=[sku])
    return found


def holds(shop: Shop, order_id: str):
    with db_session(shop.engine) as s:
        return order_holds(s, shop.row(order_id).id)


def pending(shop: Shop, mugs: int = 2, **fields) -> str:
    items = [{"sku": MUG, "title": "Mug", "quantity": mugs, "price": "14.99"}]
    return shop.world.add_order(status="PENDING", items=items, **fields)


def test_a_pending_order_holds_stock_and_amazon_canceling_it_releases(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = pending(shop)
    shop.later()
    shop.sync()
    found = level(shop, MUG)
    assert (found.on_hand, found.reserved, found.available) == (10, 2, 8)
    [hold] = holds(shop, order)
    assert (hold.sku, hold.quantity, hold.open, hold.reason) == (MUG, 2, True, R.RESERVE_PENDING)

    shop.world.set_status(order, "CANCELLED")
    shop.later()
    shop.sync()
    assert (level(shop, MUG).reserved, level(shop, MUG).available) == (0, 10)
    [hold] = holds(shop, order)  # the order's stock history: held, then released and why
    assert not hold.open and hold.release_reason == R.NOTE_CANCELED_BEFORE_IMPORT
    assert stock_discrepancies(shop.engine) == {}


def test_a_pending_hold_moves_to_its_local_order_and_is_never_counted_twice(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = pending(shop)
    shop.later()
    shop.sync()
    with db_session(shop.engine) as s:
        [before] = s.scalars(select(StockReservation)).all()

    shop.world.set_status(order, "UNSHIPPED")
    shop.later()
    assert shop.sync().imported == 1
    local = shop.local(order)
    with db_session(shop.engine) as s:
        [after] = s.scalars(select(StockReservation)).all()  # the same hold, not a second one
    assert (after.id, after.quantity, after.released_at) == (before.id, 2, None)
    assert after.local_order_id == local.id
    assert level(shop, MUG).reserved == 2
    history = [h["comment"] for h in shop.detail(order)["local_order"]["history"]]
    assert f"Stock: 2 × {MUG} held since Pending, now for this order" in history

    shop.later(10)
    shop.sync()  # a re-read changes nothing
    assert level(shop, MUG).reserved == 2
    assert stock_discrepancies(shop.engine) == {}


def test_an_order_imported_partially_shipped_holds_only_what_is_left_to_ship(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = shop.world.add_order(
        status="PARTIALLY_SHIPPED",
        items=[{"sku": MUG, "title": "Mug", "quantity": 3, "shipped": 1, "price": "14.99"}],
    )
    shop.later()
    assert shop.sync().imported == 1
    [item] = shop.local(order).items
    assert (item.quantity, item.quantity_shipped) == (3, 1)
    found = level(shop, MUG)
    # The shipped unit left the shelf before the import; the other two are held.
    assert (found.on_hand, found.reserved, found.available) == (9, 2, 7)
    assert stock_discrepancies(shop.engine) == {}


def test_shipping_from_the_order_book_deducts_and_releases_unit_by_unit(shop: Shop):
    shop.add_product(MUG, quantity=10)
    shop.add_product(TEA, quantity=4)
    order = shop.world.add_order(
        items=[
            {"sku": MUG, "title": "Mug", "quantity": 2, "price": "14.99"},
            {"sku": TEA, "title": "Tea", "quantity": 1, "price": "9.49"},
        ]
    )
    shop.later()
    shop.sync()
    assert (level(shop, MUG).reserved, level(shop, TEA).reserved) == (2, 1)

    fulfillment.ship(shop.engine, order, carrier="UPS", tracking="1Z1", items={MUG: 1}, send=False)
    assert (level(shop, MUG).on_hand, level(shop, MUG).reserved) == (9, 1)
    assert level(shop, TEA).reserved == 1
    assert stock_discrepancies(shop.engine) == {}
    fulfillment.ship(shop.engine, order, carrier="UPS", tracking="1Z2", send=False)
    mug, tea = level(shop, MUG), level(shop, TEA)
    assert (mug.on_hand, mug.reserved, tea.on_hand, tea.reserved) == (8, 0, 3, 0)
    assert shop.local(order).status == "complete"
    history = [h["comment"] for h in shop.detail(order)["local_order"]["history"]]
    assert f"Stock: reserved 1 × {MUG}, was 2 (1 shipped)" in history
    assert stock_discrepancies(shop.engine) == {}


def test_amazon_shipping_an_order_takes_it_off_the_shelf_and_ends_its_hold(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = pending(shop, mugs=3)
    shop.later()
    shop.sync()
    shop.world.set_status(order, "UNSHIPPED")
    shop.later()
    shop.sync()
    shop.world.set_status(order, "SHIPPED")
    shop.later()
    assert shop.sync().completed == 1
    found = level(shop, MUG)
    assert (found.on_hand, found.reserved, found.available) == (7, 0, 7)
    assert stock_discrepancies(shop.engine) == {}


def test_toggling_reserve_quantity_applies_to_new_orders_only(shop: Shop):
    shop.add_product(MUG, quantity=10)
    first = pending(shop)
    shop.later()
    shop.sync()
    assert level(shop, MUG).reserved == 2
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, reserve_quantity=False)
    second = pending(shop, mugs=3)
    shop.later()
    shop.sync()
    assert level(shop, MUG).reserved == 2  # the first keeps its hold; the second takes none

    for order in (first, second):
        shop.world.set_status(order, "UNSHIPPED")
    shop.later()
    assert shop.sync().imported == 2
    assert level(shop, MUG).reserved == 2
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, reserve_quantity=True)
    shop.later(10)
    shop.sync()
    assert level(shop, MUG).reserved == 2  # switching back does not start the second's hold
    assert stock_discrepancies(shop.engine) == {}


def test_pending_orders_that_will_not_import_hold_nothing(shop: Shop):
    shop.add_product(MUG, quantity=10)
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, import_enabled=False)
    pending(shop)
    pending(shop, created="-3d")  # placed before the store's integration
    shop.later()
    shop.sync()
    assert level(shop, MUG).reserved == 0
    assert stock_discrepancies(shop.engine) == {}


def test_fba_orders_and_unmanaged_products_hold_nothing(shop: Shop):
    shop.add_product(MUG, quantity=10)
    shop.world.add_order(
        status="PENDING",
        fulfilled_by="AMAZON",
        items=[{"sku": MUG, "title": "Mug", "quantity": 2, "price": "14.99"}],
    )
    shop.world.add_order(
        status="PENDING", items=[{"sku": "NOT-IN-CATALOG", "quantity": 1, "price": "1"}]
    )
    shop.later()
    shop.sync()
    assert shop.count(StockReservation) == 0
    assert stock_discrepancies(shop.engine) == {}


def test_settles_of_one_order_at_once_take_turns_and_hold_its_units_once(shop: Shop):
    # The order book's own actions (Ship, Cancel) settle an order without the store's lock, so
    # they can meet a sync settling the same order. Here four settle it at the same instant.
    with db_session(shop.engine) as s:
        s.add(Product(sku=MUG, name=MUG, manage_stock=False, quantity=None))
    order = pending(shop)
    shop.later()
    shop.sync()
    assert shop.count(StockReservation) == 0  # not managed yet: nothing held
    with db_session(shop.engine) as s:
        s.execute(update(Product).where(Product.sku == MUG).values(manage_stock=True, quantity=5))
    pk = shop.row(order).id
    start, errors = threading.Barrier(4), []

    def settle_now():
        try:
            with db_session(shop.engine) as s:
                s.connection()  # connected before the start, so they really race
                start.wait(10)
                stock.settle(s, [pk])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=settle_now) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    [hold] = holds(shop, order)
    assert (hold.quantity, hold.open) == (2, True)
    assert stock_discrepancies(shop.engine) == {}


def open_holds(shop: Shop, order_id: str) -> list[tuple[int, int | None]]:
    """(units, local order id) of each hold the order has open."""
    with db_session(shop.engine) as s:
        rows = s.execute(
            select(StockReservation.quantity, StockReservation.local_order_id).where(
                StockReservation.amazon_order_pk == shop.row(order_id).id,
                StockReservation.released_at.is_(None),
            )
        )
        return [tuple(row) for row in rows]


def _refuse_local_orders_for(shop: Shop, order_id: str) -> None:
    """The database refuses to create a local order for `order_id`, as a constraint would."""
    if shop.engine.dialect.name == "sqlite":
        statements = [
            "CREATE TRIGGER refuse_import BEFORE INSERT ON local_orders"
            f" WHEN NEW.amazon_order_id = '{order_id}'"
            " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
    else:
        statements = [
            "CREATE FUNCTION refuse_import() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.amazon_order_id = '{order_id}' THEN RAISE EXCEPTION 'refused by the test';"
            " END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_import BEFORE INSERT ON local_orders"
            " FOR EACH ROW EXECUTE FUNCTION refuse_import()",
        ]
    with shop.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_an_import_the_database_refuses_costs_only_its_order_and_lets_go_of_its_hold(shop: Shop):
    shop.add_product(MUG, quantity=10)
    refused, fine = pending(shop, mugs=2), pending(shop, mugs=3)
    shop.later()
    shop.sync()
    assert level(shop, MUG).reserved == 5
    _refuse_local_orders_for(shop, refused)
    for order in (refused, fine):
        shop.world.set_status(order, "UNSHIPPED")
    shop.later()
    report = shop.sync()

    assert (report.imported, report.failed) == (1, 1)
    assert shop.local(refused) is None and shop.local(fine) is not None
    row = shop.row(refused)
    assert row.error and row.note.startswith("Import failed:") and "refused" in row.note
    # The imported order's hold is now its local order's; the refused one lets go of its own,
    # as an Unshipped order with no local order holds nothing (no local order will ship it).
    assert open_holds(shop, fine) == [(3, shop.local(fine).id)]
    assert open_holds(shop, refused) == []
    assert level(shop, MUG).reserved == 3
    assert stock_discrepancies(shop.engine) == {}
