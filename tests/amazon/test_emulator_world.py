"""The emulator's world and scenarios: every order it can make is a valid Amazon order."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from spapi_spec import ORDERS, assert_valid, schema_errors

from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock, World
from ordertools.amazon.models import KNOWN_STATUSES, parse_order, parse_search_page, utc_iso

ORDER_ID = r"^\d{3}-\d{7}-\d{7}$"


def test_every_demo_order_validates_and_the_demo_is_varied():
    clock = ManualClock()
    emulator = Emulator("demo", EmulatorConfig(clock=clock))
    orders = emulator.world.orders()
    assert 40 <= len(orders) <= 80
    for order in orders:
        assert_valid(ORDERS, "Order", order)
        parse_order(order)
    statuses = {o["fulfillment"]["fulfillmentStatus"] for o in orders}
    assert statuses == KNOWN_STATUSES
    assert {o["fulfillment"]["fulfilledBy"] for o in orders} == {"AMAZON", "MERCHANT"}
    currencies = {o["proceeds"]["grandTotal"]["currencyCode"] for o in orders}
    assert {"USD", "EUR", "GBP", "JPY"} <= currencies
    names = {o["buyer"].get("buyerName") for o in orders}
    assert {"Zoë Müller", "山田 太郎", "José Ñúñez"} <= names
    assert any("<" in name for name in names)
    integrated = {s.marketplace_id: s.integrated_at for s in emulator.stores}
    assert any(o["createdTime"] < integrated[o["salesChannel"]["marketplaceId"]] for o in orders)
    assert all(o["createdTime"] > (clock() - timedelta(days=30)).isoformat() for o in orders)


def test_demo_timeline_moves_pending_orders_to_unshipped():
    clock = ManualClock()
    emulator = Emulator("demo", EmulatorConfig(clock=clock))
    pending = {
        o["orderId"]
        for o in emulator.world.orders()
        if o["fulfillment"]["fulfillmentStatus"] == "PENDING"
    }
    count = len(emulator.world)
    clock.advance(minutes=4)
    now = {o["orderId"]: o["fulfillment"]["fulfillmentStatus"] for o in emulator.world.orders()}
    moved = [i for i in pending if now[i] == "UNSHIPPED"]
    assert len(moved) == 2
    assert len(now) == count  # the order the timeline adds at +30s now exists too
    assert list(now.values()).count("UNSHIPPED") > len(moved)


def test_generated_orders_validate_and_are_reproducible():
    start = datetime(2026, 3, 2, 12, tzinfo=ManualClock()().tzinfo)
    first, second = World(ManualClock(start)), World(ManualClock(start))
    ids = first.generate(300, seed=9, marketplace_ids=["ATVPDKIKX0DER", "A1VC38T7YXB528"])
    assert ids == second.generate(300, seed=9, marketplace_ids=["ATVPDKIKX0DER", "A1VC38T7YXB528"])
    assert len(set(ids)) == 300
    for order in first.orders():
        assert_valid(ORDERS, "Order", order)
    assert len(first.visible_orders()) == 300  # generated orders are past the visibility delay


def test_twenty_thousand_orders_generate_in_seconds():
    world = World(ManualClock())
    started = time.perf_counter()
    world.generate(20_000, seed=1)
    assert time.perf_counter() - started < 5
    assert len(world) == 20_000


def test_add_order_defaults_and_friendly_arguments():
    clock = ManualClock(ManualClock()().replace(microsecond=0))
    world = World(clock, visibility_delay=0)
    order_id = world.add_order(
        status="PARTIALLY_SHIPPED",
        marketplace_id="A1VC38T7YXB528",
        created="-1d2h",
        updated="-3h",
        buyer_name="山田 太郎",
        items=[{"sku": "MUG", "title": "マグカップ", "price": "1980", "quantity": 3, "shipped": 1}],
    )
    order = parse_order(world.get(order_id))
    assert order.order_id == order_id and order.status == "PARTIALLY_SHIPPED"
    assert str(order.grand_total) == "5940 JPY"
    assert order.created_time == clock() - timedelta(days=1, hours=2)
    assert order.packages[0].package_items[0].quantity == 1
    assert order.order_items[0].quantity_shipped == 1
    assert_valid(ORDERS, "Order", world.get(order_id))
    assert re.match(ORDER_ID, world.add_order())


def test_malformed_and_undocumented_orders_reach_the_reader(emulator):
    world = emulator.world
    world.add_order(status="ON_HOLD_FOR_REVIEW", created="-1h")
    broken = world.add_order(omit=["createdTime"], created="-1h")
    raw = world.add_raw({"orderId": "111-0000000-0000001", "lastUpdatedTime": "-30m"})
    assert schema_errors(ORDERS, "Order", world.get(broken))
    body = emulator.app.world.visible_orders()
    assert len(body) == 3
    page = parse_search_page({"orders": [v.body for v in body]})
    assert [o.status for o in page.orders] == ["ON_HOLD_FOR_REVIEW"]
    assert not page.orders[0].status_known
    assert {bad.order_id for bad in page.malformed} == {broken, raw}


def test_scheduled_status_applies_on_top_of_later_changes():
    clock = ManualClock()
    world = World(clock, visibility_delay=0)
    order_id = world.add_order(status="PENDING", created="-1h")
    world.set_status(order_id, "UNSHIPPED", at="+1m")
    assert world.get(order_id)["fulfillment"]["fulfillmentStatus"] == "PENDING"
    clock.advance(61)
    assert world.get(order_id)["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert len(world.versions(order_id)) == 2


def test_scenario_file_and_unknown_scenario(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(
        '{"stores": [{"name": "s", "marketplace_id": "A1F83G8C2ARO7P",'
        ' "integrated_at": "-1d"}], "orders": [{"status": "SHIPPED"}]}'
    )
    emulator = Emulator(path)
    assert len(emulator.world) == 1 and emulator.stores[0].region == "eu"
    with pytest.raises(FileNotFoundError, match="no scenario"):
        Emulator("no-such-scenario")


def test_a_cancellation_takes_effect_at_the_second_amazon_reports_for_it():
    # Searches filter on the version's time; a cancellation at 12:00:00.5 reported as 12:00:00
    # would otherwise be missed by a window ending at the reported time.
    clock = ManualClock(ManualClock()().replace(microsecond=500_000))
    world = World(clock, visibility_delay=0)
    order_id = world.add_order(status="UNSHIPPED", created="-1h")
    items = [item["orderItemId"] for item in world.get(order_id)["orderItems"]]
    clock.advance(30)
    world.cancel_order(order_id, items, "BuyerCanceled")
    reported = world.get(order_id)["lastUpdatedTime"]
    visible = {v.order_id: v for v in world.visible_orders()}[order_id]
    assert visible.body["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert utc_iso(visible.updated) == reported
    assert visible.updated.microsecond == 0
