"""The sync engine's lifecycle, end to end: the emulator over real HTTP, both database backends.

Every test asserts what a seller would notice: the Amazon orders stored, their local orders and
statuses, the Order Notes, the report's counts, stock reservations, Recent Orders. The emulator
shows an update `API_LAG` seconds after it happens, as Amazon does, and the store asks for data
that old; tests move the shared ticking clock forward (`shop.later()`) instead of sleeping.
Multi-process tests (concurrent and killed syncs) are in `test_sync_processes.py`.
"""

from __future__ import annotations

import copy
import gc
from datetime import timedelta

import pytest
from fixtures_sync import (
    API_LAG,
    MARKET,
    MUG,
    Shop,
    add_emulated_store,
    before_page,
    orders_placed,
)
from sqlalchemy import func, select

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import FAST_RETRIES, AmazonClient
from ordertools.amazon.errors import ServerFailure
from ordertools.amazon.models import utc_iso
from ordertools.db import (
    AmazonOrderRow,
    Customer,
    LocalOrder,
    Product,
    StatusEvent,
    StockReservation,
    Store,
    SyncRun,
)
from ordertools.db import session as db_session
from ordertools.domain import rules as R
from ordertools.domain.stores import add_store, update_settings
from ordertools.sync.importing import ImportRefused, import_order
from ordertools.sync.run import sync_store

# --- 1. placed before integration ----------------------------------------------------------------


def test_an_order_placed_before_integration_is_kept_but_never_imported_or_listed(shop: Shop):
    old = shop.world.add_order(
        created=shop.integrated_at - timedelta(days=2), updated="now", buyer_name="Early Bird"
    )
    new = shop.world.add_order(buyer_name="On Time")
    shop.later()
    report = shop.sync()

    assert (report.new, report.imported, report.skipped, report.failed) == (2, 1, 1, 0)
    detail = shop.detail(old)
    assert detail["notes"] == R.NOTE_BEFORE_INTEGRATION
    assert detail["local_order"] is None and detail["placed_before_integration"] is True
    assert detail["buyer_name"] == "Early Bird"
    assert shop.local(old) is None
    assert shop.recent() == [new]
    # Not even a status filter shows it; only the order's own page does.
    assert old not in shop.recent("Unshipped", "Pending", "Shipped", "Canceled")

    shop.world.set_status(old, "SHIPPED")  # shipping it later changes nothing
    shop.later()
    report = shop.sync()
    assert (report.updated, report.imported, report.skipped) == (1, 0, 1)
    assert shop.local(old) is None
    assert shop.detail(old)["notes"] == R.NOTE_BEFORE_INTEGRATION
    assert shop.detail(old)["status"] == "Shipped"
    assert shop.count(LocalOrder) == 1


# --- 2. Pending -> Unshipped ----------------------------------------------------------------------


def test_a_pending_order_is_tracked_then_imported_when_amazon_verifies_it(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = shop.world.add_order(
        status="PENDING",
        buyer_name="Pat Pending",
        items=[{"sku": MUG, "title": "Mug", "quantity": 2, "price": "14.99"}],
    )
    # Amazon shows an update only after API_LAG: a sync right away does not see the order yet.
    assert shop.sync().new == 0
    assert shop.count(AmazonOrderRow) == 0

    shop.later()
    report = shop.sync()
    assert (report.new, report.skipped, report.imported) == (1, 1, 0)
    assert shop.detail(order)["notes"] == R.NOTE_PENDING
    assert shop.local(order) is None
    assert order not in shop.recent()
    assert shop.recent("Pending") == [order]
    assert shop.reserved(MUG) == 2  # a Pending FBM order holds its units (Reserve Quantity)

    shop.world.set_status(order, "UNSHIPPED")
    shop.later()
    report = shop.sync()
    assert (report.new, report.updated, report.imported) == (0, 1, 1)
    local = shop.local(order)
    assert (local.number, local.status) == ("000000001", "pending")
    assert shop.detail(order)["notes"] == "Imported as local order 000000001"
    assert shop.reserved(MUG) == 2
    [row] = shop.recent_records()
    assert (row.order_number, row.status, row.local_order_number) == (
        order,
        "Unshipped",
        "000000001",
    )
    assert "sellercentral" not in row.link  # links to the local order now
    history = [(e["status"], e["action"]) for e in shop.detail(order)["history"]]
    assert history == [("PENDING", "skip"), ("UNSHIPPED", "import")]

    # Re-reading the same data changes nothing.
    shop.later(10)
    report = shop.sync()
    assert (report.new, report.updated, report.imported) == (0, 0, 0)
    assert shop.count(LocalOrder) == 1 and shop.reserved(MUG) == 2


# --- 3. FBA ---------------------------------------------------------------------------------------


def test_an_fba_order_imports_only_when_shipped_as_complete_without_touching_stock(shop: Shop):
    shop.add_product(MUG, quantity=10)
    order = shop.world.add_order(
        fulfilled_by="AMAZON", items=[{"sku": MUG, "quantity": 3, "price": "14.99"}]
    )
    shop.later()
    report = shop.sync()
    assert (report.new, report.imported, report.skipped) == (1, 0, 1)
    assert shop.detail(order)["notes"] == R.NOTE_FBA_WAITING
    assert shop.local(order) is None
    assert shop.recent() == [order]  # view only, but listed

    shop.world.set_status(order, "SHIPPED")
    shop.later()
    report = shop.sync()
    assert (report.imported, report.completed) == (1, 0)
    local = shop.local(order)
    assert (local.number, local.status) == ("000000001", "complete")
    assert shop.detail(order)["notes"] == "Imported as local order 000000001"
    assert [r.status for r in shop.recent_records()] == ["Completed"]
    assert shop.count(StockReservation) == 0
    assert shop.product(MUG).quantity == 10  # Amazon shipped from its own warehouse


# --- 4. follow-through: canceled and shipped on Amazon --------------------------------------------


def test_amazon_cancellation_releases_stock_and_amazon_shipment_completes(shop: Shop):
    shop.add_product(MUG, quantity=10)
    canceled = shop.world.add_order(items=[{"sku": MUG, "quantity": 2, "price": "14.99"}])
    shipped = shop.world.add_order(items=[{"sku": MUG, "quantity": 3, "price": "14.99"}])
    shop.later()
    assert shop.sync().imported == 2
    assert shop.reserved(MUG) == 5
    numbers = {oid: shop.local(oid).number for oid in (canceled, shipped)}

    shop.world.set_status(canceled, "CANCELLED")
    shop.world.set_status(shipped, "SHIPPED")
    shop.later()
    report = shop.sync()
    assert (report.updated, report.canceled, report.completed, report.imported) == (2, 1, 1, 0)

    local = shop.local(canceled)
    assert local.status == "canceled"
    note = f"Canceled on Amazon: local order {numbers[canceled]} canceled"
    assert shop.detail(canceled)["notes"] == note
    *_, status_line, stock_line = shop.detail(canceled)["local_order"]["history"]
    assert status_line["comment"] == note
    assert stock_line["comment"] == (
        f"Stock: released 2 × {MUG} (Local order {numbers[canceled]} is canceled)"
    )
    local = shop.local(shipped)
    assert local.status == "complete"
    assert all(i.quantity_shipped == i.quantity for i in local.items)
    assert shop.detail(shipped)["notes"] == (
        f"Shipped on Amazon: local order {numbers[shipped]} complete"
    )
    assert shop.reserved(MUG) == 0  # both reservations released
    assert shop.product(MUG).quantity == 7  # only the shipped order took stock
    assert sorted(r.status for r in shop.recent_records()) == ["Canceled", "Completed"]

    # A later re-read of the same versions is a no-op: nothing canceled or deducted twice.
    shop.later(10)
    report = shop.sync()
    assert (report.updated, report.canceled, report.completed) == (0, 0, 0)
    assert shop.product(MUG).quantity == 7


# --- 5. the import toggle ----------------------------------------------------------------------


def test_import_toggle_off_and_on(shop: Shop):
    before = shop.world.add_order(buyer_name="Imported Before")
    shop.later()
    assert shop.sync().imported == 1

    with db_session(shop.engine) as s:
        update_settings(s, shop.name, import_enabled=False)
    off = shop.world.add_order(buyer_name="While Off")
    off_too = shop.world.add_order(buyer_name="Also While Off")
    waiting = shop.world.add_order(status="PENDING")
    pending = shop.world.add_order(status="PENDING")
    early = shop.world.add_order(created=shop.integrated_at - timedelta(days=1), updated="now")
    shop.world.set_status(before, "SHIPPED")
    shop.later()
    report = shop.sync()
    assert (report.new, report.imported, report.completed) == (5, 0, 1)
    assert shop.count(LocalOrder) == 1
    for oid in (off, off_too):
        assert shop.local(oid) is None
        assert shop.detail(oid)["notes"] == R.NOTE_IMPORT_DISABLED
    listed = {r.order_number: r for r in shop.recent_records()}
    assert set(listed) == {before, off, off_too}
    assert listed[off].local_order_number is None
    assert listed[off].link == f"https://sellercentral.amazon.com/orders-v3/order/{off}"
    # The order imported before keeps its local order, and still follows Amazon.
    assert listed[before].local_order_number == "000000001"
    assert shop.local(before).status == "complete"

    with db_session(shop.engine) as s:
        update_settings(s, shop.name, import_enabled=True)
    shop.world.set_status(off, "UNSHIPPED")  # a new version, same status: no import
    shop.world.set_status(waiting, "UNSHIPPED")  # a status change after enabling: import
    shop.later()
    report = shop.sync()
    assert (report.updated, report.imported, report.skipped) == (2, 1, 1)
    assert shop.local(off) is None
    assert shop.detail(off)["notes"] == R.NOTE_MISSED_WHILE_DISABLED.format(word="Unshipped")
    assert shop.local(waiting).number == "000000002"

    # import-order imports a view-only order on request...
    assert import_order(shop.engine, shop.name, off_too) == "000000003"
    assert shop.local(off_too).status == "pending"
    assert shop.detail(off_too)["notes"] == "Imported as local order 000000003"
    assert shop.detail(off_too)["local_order_number"] == "000000003"
    # ... and refuses what the rules refuse, saying why; nothing changes.
    with pytest.raises(ImportRefused, match=R.NOTE_PENDING.replace("(", r"\(").replace(")", r"\)")):
        import_order(shop.engine, shop.name, pending)
    with pytest.raises(ImportRefused, match=R.NOTE_BEFORE_INTEGRATION):
        import_order(shop.engine, shop.name, early)
    with pytest.raises(ImportRefused, match="Already imported as local order 000000003"):
        import_order(shop.engine, shop.name, off_too)
    assert shop.detail(pending)["notes"] == R.NOTE_PENDING
    assert shop.count(LocalOrder) == 3

    shop.world.set_status(off, "SHIPPED")  # a later status change imports it
    shop.later()
    assert shop.sync().imported == 1
    assert (shop.local(off).number, shop.local(off).status) == ("000000004", "complete")


# --- 6. an update while paging ------------------------------------------------------------------


def test_an_update_made_while_paging_ends_in_the_latest_version(shop: Shop):
    first, second, third = orders_placed(shop.world, 3)

    def amazon_changes_orders(page: int) -> None:
        if page == 2:  # page 1 was served; Amazon changes an order behind and one ahead
            shop.world.set_status(first, "CANCELLED")
            shop.world.set_status(second, "SHIPPED")
            shop.clock.advance(shop.step)  # paging is slow enough that both become visible

    before_page(shop.emu, amazon_changes_orders)
    report = shop.sync(page_size=1)
    assert (report.pages, report.new, report.imported) == (3, 3, 3)
    # The next page served the second order as it is now: shipped, so created complete.
    assert shop.local(second).status == "complete"
    assert shop.local(first).status == "pending"  # its cancellation is newer than the window

    report = shop.sync()
    assert (report.updated, report.canceled, report.unchanged) == (1, 1, 1)
    assert shop.local(first).status == "canceled"
    assert shop.local(third).status == "pending"
    for oid in (first, second, third):
        row = shop.row(oid)
        now = shop.world.get(oid)
        assert (row.status, utc_iso(row.last_updated)) == (
            now["fulfillment"]["fulfillmentStatus"],
            now["lastUpdatedTime"],
        )
    assert shop.count(AmazonOrderRow) == 3 and shop.count(LocalOrder) == 3

    # A lagging Amazon replica serves an older version again: the newer one stays.
    latest = shop.world.get(first)
    stale = copy.deepcopy(latest)
    stale["fulfillment"]["fulfillmentStatus"] = "UNSHIPPED"
    stale["lastUpdatedTime"] = utc_iso(shop.row(first).last_updated - timedelta(seconds=1))
    shop.world.add_raw(stale)
    shop.later()
    report = shop.sync()
    assert (report.updated, report.unchanged, report.imported) == (0, 2, 0)
    assert (shop.row(first).status, shop.local(first).status) == ("CANCELLED", "canceled")
    assert utc_iso(shop.row(first).last_updated) == latest["lastUpdatedTime"]


# --- 7. an order repeated across pages ------------------------------------------------------------


def test_an_order_repeated_across_pages_is_handled_once(shop: Shop):
    ids = orders_placed(shop.world, 5)
    shop.emu.faults.duplicate_next_page(2)
    report = shop.sync(page_size=2)

    assert shop.emu.stats["searchOrders"]["orders"] == 7  # two orders were served twice
    assert (report.pages, report.new, report.imported, report.failed) == (4, 5, 5, 0)
    assert shop.numbers() == [f"{n:09d}" for n in range(1, 6)]
    assert {shop.local(oid).number for oid in ids} == set(shop.numbers())
    with db_session(shop.engine) as s:
        events = s.scalars(select(StatusEvent.action)).all()
    assert events == ["import"] * 5


def test_a_sync_leaves_the_cycle_collector_as_it_found_it(shop: Shop):
    # The sync sets the process's older objects aside from the collector while it runs
    # (gc.freeze); a notebook's kernel must get them all back, or their cycles would never free.
    orders_placed(shop.world, 3)
    frozen_before = gc.get_freeze_count()
    report = shop.sync(page_size=2)
    assert report.imported == 3
    assert gc.get_freeze_count() == frozen_before == 0


# --- 10. malformed orders and unknown statuses ----------------------------------------------------


def test_malformed_orders_are_kept_with_an_error_and_the_rest_of_the_page_imports(shop: Shop):
    good = shop.world.add_order(buyer_name="Good Version")
    shop.later()
    assert shop.sync().imported == 1

    fine = shop.world.add_order()
    broken = shop.world.add_order(omit=["createdTime"])
    unknown = shop.world.add_order(status="NEW_STATUS")
    also_fine = shop.world.add_order()
    # Amazon sends the imported order again, without its items: the good version must stay.
    good_body = copy.deepcopy(shop.world.get(good))
    spoiled = copy.deepcopy(good_body)
    del spoiled["orderItems"]
    spoiled["lastUpdatedTime"] = utc_iso(shop.clock())
    shop.world.add_raw(spoiled)
    # And one with no id at all.
    shop.world.add_raw(
        {
            "createdTime": utc_iso(shop.clock()),
            "lastUpdatedTime": utc_iso(shop.clock()),
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": MARKET},
        }
    )
    shop.later()
    report = shop.sync()  # no exception

    assert report.outcome == "success"
    assert (report.new, report.imported, report.skipped, report.failed) == (3, 2, 1, 3)
    failed_ids = [oid for oid, _ in report.failures]
    assert sorted(failed_ids) == sorted([broken, good, "(no id)"])
    assert "createdTime" in dict(report.failures)[broken]
    assert shop.local(fine) and shop.local(also_fine)

    row = shop.row(broken)
    assert row.error and row.note.startswith("Import failed: Amazon sent a malformed order")
    assert row.raw["orderId"] == broken and "createdTime" not in row.raw
    assert shop.local(broken) is None
    assert shop.detail(broken)["error"] == row.error

    row = shop.row(good)  # the earlier good version is not lost
    assert row.error and row.note.startswith("Import failed: Amazon sent a malformed order")
    assert row.status == "UNSHIPPED" and "createdTime" in row.raw and len(row.items) == 1
    assert shop.local(good).number == "000000001"

    assert shop.detail(unknown)["notes"] == R.NOTE_UNKNOWN_STATUS.format(status="NEW_STATUS")
    assert shop.local(unknown) is None
    assert unknown in shop.recent()
    with db_session(shop.engine) as s:
        run = s.get(SyncRun, report.run_id)
    assert (run.outcome, run.failed, run.imported) == ("success", 3, 2)

    # Amazon fixes the order and ships it: the error clears and the local order completes.
    fixed = copy.deepcopy(good_body)
    fixed["fulfillment"]["fulfillmentStatus"] = "SHIPPED"
    fixed["lastUpdatedTime"] = utc_iso(shop.clock())
    shop.world.add_raw(fixed)
    shop.later()
    report = shop.sync()
    assert report.completed == 1
    row = shop.row(good)
    assert row.error is None and row.status == "SHIPPED"
    assert shop.local(good).status == "complete"
    assert row.note == "Shipped on Amazon: local order 000000001 complete"


def test_import_order_refuses_a_malformed_order_with_a_reason(shop: Shop):
    broken = shop.world.add_order(omit=["createdTime"])
    shop.later()
    assert shop.sync().failed == 1
    with pytest.raises(ImportRefused, match="malformed"):
        import_order(shop.engine, shop.name, broken)
    assert shop.local(broken) is None


# --- 11. Amazon outage mid-sync ----------------------------------------------------------------


def test_an_outage_mid_sync_fails_the_run_keeps_page_one_and_the_next_sync_converges(shop: Shop):
    assert shop.sync().outcome == "success"  # an empty first sync sets the cursor
    cursor = shop.cursor()
    assert cursor is not None
    ids = orders_placed(shop.world, 6, minutes_ago=5)

    def outage(page: int) -> None:
        if page == 2:  # every attempt at page 2 fails, beyond the retry budget
            shop.emu.faults.fail_next(10, status=500, operation="searchOrders")

    before_page(shop.emu, outage)
    with pytest.raises(ServerFailure, match="HTTP 500"):
        shop.sync(page_size=2)
    shop.emu.faults.clear()

    with db_session(shop.engine) as s:
        run = s.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert run.outcome == "failed" and "HTTP 500" in run.error and run.finished_at
    assert (run.pages, run.new, run.imported) == (1, 2, 2)
    assert shop.cursor() == cursor  # not advanced
    assert shop.count(AmazonOrderRow) == 2 and shop.count(LocalOrder) == 2  # page 1 kept

    report = shop.sync(page_size=2)
    assert report.outcome == "success"
    assert (report.new, report.unchanged, report.imported) == (4, 2, 4)
    assert shop.cursor() == report.window_end
    assert {shop.local(oid).number for oid in ids} == set(shop.numbers())
    assert shop.numbers() == [f"{n:09d}" for n in range(1, 7)]


# --- 12. Order Settings ---------------------------------------------------------------------------


def test_order_settings_customers_numbers_status_and_unknown_skus(shop: Shop):
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, customer_creation="create", new_order_status="awaiting_pick")
    sam = shop.world.add_order(buyer_name="Sam", buyer_email="Sam@Example.com")
    sam_again = shop.world.add_order(buyer_name="Sam", buyer_email="sam@example.com")
    kim = shop.world.add_order(
        buyer_name="Kim",
        buyer_email="kim@example.com",
        items=[{"sku": "NEW-SKU-1", "title": "Brand New Thing", "quantity": 4, "price": "5"}],
    )
    shop.later()
    assert shop.sync().imported == 3

    with db_session(shop.engine) as s:
        customers = dict(s.execute(select(Customer.email, Customer.id)).all())
    assert set(customers) == {"sam@example.com", "kim@example.com"}
    assert shop.local(sam).customer_id == shop.local(sam_again).customer_id
    assert shop.local(sam).customer_id == customers["sam@example.com"]
    assert not shop.local(kim).is_guest
    assert {shop.local(oid).status for oid in (sam, sam_again, kim)} == {"awaiting_pick"}
    placeholder = shop.product("NEW-SKU-1")
    assert (placeholder.enabled, placeholder.manage_stock, placeholder.name) == (
        False,
        False,
        "Brand New Thing",
    )
    assert shop.count(StockReservation) == 0  # unmanaged stock reserves nothing

    # A custom status still follows Amazon.
    shop.world.set_status(kim, "SHIPPED")
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, order_number_source="amazon", customer_creation="guest")
    amazon_numbered = shop.world.add_order(buyer_email="new@example.com")
    shop.later()
    report = shop.sync()
    assert (report.imported, report.completed) == (1, 1)
    assert shop.local(kim).status == "complete"
    local = shop.local(amazon_numbered)
    assert local.number == amazon_numbered and local.is_guest and local.customer_id is None
    assert shop.detail(amazon_numbered)["notes"] == f"Imported as local order {amazon_numbered}"
    assert shop.count(Customer) == 2


# --- the report and the run record ------------------------------------------------------------


def test_the_run_record_and_store_cursor_match_the_report(shop: Shop):
    orders_placed(shop.world, 3)
    shop.world.add_order(status="PENDING", created="-30m")
    report = shop.sync()
    with db_session(shop.engine) as s:
        run = s.get(SyncRun, report.run_id)
        store = s.scalar(select(Store).where(Store.name == shop.name))
        events = s.scalar(select(func.count()).select_from(StatusEvent))
    assert report.outcome == run.outcome == "success"
    assert (run.new, run.imported, run.skipped, run.pages) == (4, 3, 1, 1)
    assert run.window_start == shop.integrated_at
    assert store.cursor == run.window_end == report.window_end
    assert abs((shop.clock() - report.window_end).total_seconds() - API_LAG) < 5
    assert events == 4
    assert "4 new, 0 updated, 3 imported" in report.summary()


def test_a_product_with_managed_stock_is_reserved_per_open_order(shop: Shop):
    shop.add_product(MUG, quantity=5)
    with db_session(shop.engine) as s:
        update_settings(s, shop.name, reserve_quantity=False)
    shop.world.add_order(items=[{"sku": MUG, "quantity": 1, "price": "14.99"}])
    shop.later()
    assert shop.sync().imported == 1
    assert shop.reserved(MUG) == 0  # the store does not reserve
    with db_session(shop.engine) as s:
        assert s.scalar(select(Product.quantity).where(Product.sku == MUG)) == 5


def test_a_store_added_moments_ago_reports_success_only_when_amazon_answered(
    engine, sync_emulator, emulator_clock
):
    """Nothing to read yet (Amazon's data lags the integration), but the sync still asks
    Amazon once: success means the credentials and the API work; an endpoint with nothing
    listening fails the run and keeps the cursor where it was."""
    now = emulator_clock()
    add_emulated_store(engine, sync_emulator, "fresh", now)
    fresh = sync_store(engine, "fresh", clock=emulator_clock, progress=False)
    assert (fresh.outcome, fresh.pages, fresh.requests) == ("success", 0, 1)
    with db_session(engine) as s:
        add_store(
            s,
            "dead",
            marketplace_id=MARKET,
            endpoint="http://127.0.0.1:9",  # nothing listens on the discard port here
            token_url="http://127.0.0.1:9/auth/o2/token",
            integrated_at=now,
            api_lag_seconds=API_LAG,
        )
    dead_client = AmazonClient(
        Credentials.from_env(),
        endpoint="http://127.0.0.1:9",
        token_url="http://127.0.0.1:9/auth/o2/token",
        store_name="dead",
        retry=FAST_RETRIES,
    )
    with dead_client, pytest.raises(ServerFailure):
        sync_store(engine, "dead", client=dead_client, clock=emulator_clock, progress=False)
    with db_session(engine) as s:
        dead = s.scalar(select(Store).where(Store.name == "dead"))
        run = s.scalar(select(SyncRun).where(SyncRun.store_id == dead.id))
        assert dead.cursor is None and run.outcome == "failed"
