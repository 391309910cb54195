"""Fulfillment back to Amazon: ship, cancel, comments, and the outbox, on both backends.

A store wired to the emulator (`shop`, from fixtures_sync) imports orders with a sync; the tests
then ship or cancel them and watch what Amazon (the emulator's world and its counters) and the
order book show. Amazon's reads lag by `API_LAG`: `shop.later()` moves time past it.
"""

from __future__ import annotations

import json
from threading import Thread

import pytest
from click.testing import CliRunner
from fixtures_sync import API_LAG, MUG, TEA, Shop, fast_client, imported
from sqlalchemy import select

from ordertools import fulfillment
from ordertools.amazon.feeds import read_processing_report
from ordertools.cli import main
from ordertools.db import OutboxEntry
from ordertools.db import session as db_session
from ordertools.fulfillment.actions import FulfillmentRefused


class Crash(Exception):
    """The process dying at a chosen point (no handler in ordertools catches it)."""


@pytest.fixture
def client(shop: Shop):
    with fast_client(shop) as client:
        yield client


def ship(shop: Shop, client, order: str, **options):
    options = {"carrier": "UPS", "tracking": "1Z999AA10123456784", **options}
    return fulfillment.ship(shop.engine, order, client=client, clock=shop.clock, **options)


def flush(shop: Shop, client):
    return fulfillment.flush_outbox(shop.engine, client=client, clock=shop.clock)


def entries(shop: Shop) -> list[OutboxEntry]:
    with db_session(shop.engine) as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def amazon(shop: Shop, order_id: str) -> dict:
    return shop.world.get(order_id)


def confirmations(shop: Shop) -> int:
    return shop.emu.stats["confirmShipment"]["ok"]


# -- ship ----------------------------------------------------------------------------------------


def test_a_full_shipment_completes_the_order_and_amazon_shows_it_once_visible(shop, client):
    shop.add_product(MUG, quantity=10)
    order_id = imported(shop)
    number = shop.local(order_id).number
    assert shop.reserved(MUG) == 2

    result = ship(shop, client, number, method="UPS Ground")
    assert (result.local_status, result.outbox_state) == ("complete", "sent")
    assert shop.product(MUG).quantity == 8 and shop.reserved(MUG) == 0
    now = amazon(shop, order_id)
    assert now["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    [package] = now["packages"]
    assert package["packageReferenceId"] == result.package_reference_id
    assert sorted(i["quantity"] for i in package["packageItems"]) == [1, 2]

    assert flush(shop, client).waiting == 0  # not due: Amazon's reads lag
    shop.later()
    assert flush(shop, client).confirmed == 1
    assert [e.state for e in entries(shop)] == ["confirmed"]
    assert confirmations(shop) == 1


def test_a_partial_shipment_then_the_rest(shop, client):
    order_id = imported(shop, mugs=3)
    first = ship(shop, client, order_id, items={MUG: 2})
    assert first.local_status == "processing"
    assert amazon(shop, order_id)["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert [i.quantity_shipped for i in shop.local(order_id).items] == [2, 0]

    second = ship(shop, client, order_id, carrier="Other", carrier_name="Acme Post", tracking="A1")
    assert second.local_status == "complete"
    now = amazon(shop, order_id)
    assert now["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [p["packageReferenceId"] for p in now["packages"]] == [
        first.package_reference_id,
        second.package_reference_id,
    ]
    assert now["packages"][1]["carrier"] == "Acme Post"
    shop.later()
    assert flush(shop, client).confirmed == 2


def test_refused_shipments_change_nothing_and_send_nothing(shop, client):
    order_id = imported(shop)
    number = shop.local(order_id).number
    refusals = {
        "no local order 999": dict(order="999"),
        'carrier "Other" needs': dict(carrier="Other"),
        "unknown carrier 'Pigeon'": dict(carrier="Pigeon"),
        "has no item NOPE": dict(items={"NOPE": 1}),
        f"only 2 unshipped unit\\(s\\) of {MUG}": dict(items={MUG: 3}),
        "tracking number is required": dict(tracking=" "),
    }
    for message, options in refusals.items():
        with pytest.raises(FulfillmentRefused, match=message):
            ship(shop, client, options.pop("order", number), **options)
    assert entries(shop) == [] and confirmations(shop) == 0

    fba = imported(shop, fulfilled_by="AMAZON", status="SHIPPED", teas=0)
    with pytest.raises(FulfillmentRefused, match="fulfilled by Amazon"):
        ship(shop, client, fba)
    ship(shop, client, number)
    with pytest.raises(FulfillmentRefused, match="already shipped"):
        ship(shop, client, number)
    assert confirmations(shop) == 1


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_an_unshipped_order(shop, client):
    shop.add_product(MUG, quantity=10)
    order_id = imported(shop)
    with pytest.raises(FulfillmentRefused, match="unknown cancel reason 'Bored'"):
        fulfillment.cancel(shop.engine, order_id, reason="Bored", client=client)

    result = fulfillment.cancel(
        shop.engine, order_id, reason="no-inventory", client=client, clock=shop.clock
    )
    assert (result.local_status, result.outbox_state) == ("canceled", "sent")
    assert shop.reserved(MUG) == 0 and shop.product(MUG).quantity == 10
    now = amazon(shop, order_id)
    assert now["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    execution = now["orderItems"][0]["cancellation"]["cancellationExecution"]
    assert execution == {"cancelledBy": "MERCHANT", "cancelReason": "NoInventory"}
    with db_session(shop.engine) as s:
        local = fulfillment.find_local_order(s, order_id)
        history = fulfillment.order_activity(s, local)["history"]
    *_, canceled, released = history
    assert canceled["status"] == "canceled" and "NoInventory" in canceled["comment"]
    assert (
        released["comment"] == f"Stock: released 2 × {MUG} (Local order {local.number} is canceled)"
    )

    shop.later()
    assert flush(shop, client).confirmed == 1
    with pytest.raises(FulfillmentRefused, match="already canceled"):
        fulfillment.cancel(shop.engine, order_id, reason="NoInventory", client=client)


def test_cancel_is_refused_unless_amazon_shows_unshipped(shop, client):
    shipped = imported(shop)
    ship(shop, client, shipped)
    with pytest.raises(FulfillmentRefused, match="shipped orders can't be canceled"):
        fulfillment.cancel(shop.engine, shipped, reason="BuyerCanceled", client=client)

    partial = imported(shop)
    ship(shop, client, partial, items={MUG: 1})
    with pytest.raises(FulfillmentRefused, match="pending or partially shipped .* Seller Central"):
        fulfillment.cancel(shop.engine, partial, reason="BuyerCanceled", client=client)
    assert shop.emu.stats["createFeed"]["requests"] == 0


def test_amazon_refusing_a_cancellation_fails_the_entry_and_says_so(shop, client):
    order_id = imported(shop)
    shop.world.set_status(order_id, "SHIPPED")  # shipped in Seller Central; we haven't synced
    result = fulfillment.cancel(
        shop.engine, order_id, reason="BuyerCanceled", client=client, clock=shop.clock
    )
    assert result.outbox_state == "sent"  # the feed was accepted; its report says no
    shop.later()
    report = flush(shop, client)
    assert report.failed == 1 and "shipped orders can't be canceled" in report.errors[0]
    [entry] = entries(shop)
    assert entry.state == "failed"
    with db_session(shop.engine) as s:
        local = fulfillment.find_local_order(s, order_id)
        last = fulfillment.order_activity(s, local)["history"][-1]
    assert last["source"] == "system" and "did not take the cancellation" in last["comment"]


def test_emulator_feed_reports_an_unknown_order_item(shop, client):
    order_id = imported(shop)
    feed_id = client.cancel_order(
        order_id, marketplace_id="ATVPDKIKX0DER", reason="NoInventory", item_ids=["123"]
    )
    status, report = client.feed_result(feed_id)
    assert status == "DONE" and report.successful == 0
    assert "AmazonOrderItemCode 123 is not in order" in report.errors[1]
    assert amazon(shop, order_id)["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    document = shop.emu.app.feeds.download(shop.emu.app.feeds.feeds[feed_id].result_document_id)
    assert read_processing_report(document.content).errors == report.errors


# -- the outbox: crashes and outages ---------------------------------------------------------------


def test_a_shipment_whose_answer_was_lost_is_confirmed_not_failed(shop, client):
    """Amazon carries the confirmation out and the answer is lost; the client's retry is
    refused as a duplicate (in the emulator's own words, which nothing here reads). Amazon's
    order decides: once its reads show the package, the entry is confirmed, sent once, and no
    "fix it" comment is written."""
    order_id = imported(shop)
    shop.emu.faults.lose_next_answer(operation="confirmShipment")
    result = ship(shop, client, order_id)
    assert result.outbox_state == "sent" and "checking its order again" in result.last_error
    shop.later()
    assert flush(shop, client).confirmed == 1
    [entry] = entries(shop)
    assert entry.state == "confirmed" and entry.last_error is None
    assert confirmations(shop) == 1 and len(amazon(shop, order_id)["packages"]) == 1
    with db_session(shop.engine) as s:
        history = fulfillment.order_activity(s, fulfillment.find_local_order(s, order_id))
    assert not any("did not take" in (h["comment"] or "") for h in history["history"])


def test_amazon_refusing_a_shipment_fails_the_entry_once_its_order_says_so(shop, client):
    order_id = imported(shop)
    shop.world.set_status(order_id, "CANCELLED")  # canceled at Amazon; we haven't synced
    result = ship(shop, client, order_id)
    assert result.outbox_state == "failed" and "Amazon refused it" in result.last_error
    assert confirmations(shop) == 0 and amazon(shop, order_id)["packages"] == []


def test_a_crash_before_the_call_sends_exactly_once_later(shop, client, monkeypatch):
    order_id = imported(shop)

    def crash(*args, **kwargs):
        raise Crash("killed after the claim, before the request")

    monkeypatch.setattr(client, "confirm_shipment", crash)
    with pytest.raises(Crash):
        ship(shop, client, order_id)
    monkeypatch.undo()
    assert shop.local(order_id).status == "complete"  # the local change was committed
    assert [e.state for e in entries(shop)] == ["sent"] and confirmations(shop) == 0

    flush(shop, client)  # uncertain, and within Amazon's lag: reads back, does not resend
    assert confirmations(shop) == 0
    shop.later()
    assert flush(shop, client).sent == 1  # still not at Amazon after the lag: sent now
    shop.later()
    assert flush(shop, client).confirmed == 1
    flush(shop, client)
    assert confirmations(shop) == 1 and len(amazon(shop, order_id)["packages"]) == 1


def test_a_crash_after_amazon_took_it_never_sends_twice(shop, client, monkeypatch):
    order_id = imported(shop)
    real = client.confirm_shipment

    def applied_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise Crash("killed before the answer was recorded")

    monkeypatch.setattr(client, "confirm_shipment", applied_then_crash)
    with pytest.raises(Crash):
        ship(shop, client, order_id)
    monkeypatch.undo()
    for _ in range(3):
        shop.later()
        flush(shop, client)
    assert [e.state for e in entries(shop)] == ["confirmed"]
    assert confirmations(shop) == 1 and len(amazon(shop, order_id)["packages"]) == 1


def test_an_entry_written_but_never_sent_goes_out_with_the_next_sync(shop, client):
    order_id = imported(shop)
    result = ship(shop, client, order_id, send=False)
    assert result.outbox_state == "pending" and confirmations(shop) == 0
    shop.sync(client=client)
    assert [e.state for e in entries(shop)] == ["sent"] and confirmations(shop) == 1
    shop.later()
    shop.sync(client=client)
    assert [e.state for e in entries(shop)] == ["confirmed"]
    assert shop.detail(order_id)["status"] == "Completed"


def test_an_amazon_outage_holds_the_outbox_then_it_drains(shop, client):
    ids = [imported(shop, teas=0) for _ in range(3)]
    shop.emu.faults.fail_next(100, status=503, operation="confirmShipment")
    for order_id in ids:
        result = ship(shop, client, order_id)
        assert result.outbox_state == "sent" and "503" in result.last_error
    assert all(shop.local(i).status == "complete" for i in ids)
    shop.later(3600)
    report = flush(shop, client)  # read back (nothing there), resend, fail again
    assert report.waiting == 3 and all(e.attempts == 2 for e in entries(shop))

    shop.emu.faults.clear()
    shop.later(3600)
    assert flush(shop, client).sent == 3
    shop.later()
    assert flush(shop, client).confirmed == 3
    assert confirmations(shop) == 3
    assert all(len(amazon(shop, i)["packages"]) == 1 for i in ids)


def test_two_flushes_of_one_entry_send_it_once(shop, client):
    order_id = imported(shop)
    ship(shop, client, order_id, send=False)
    other = fast_client(shop)
    try:
        threads = [Thread(target=flush, args=(shop, c)) for c in (client, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert confirmations(shop) == 1 and entries(shop)[0].attempts == 1


# -- comments, history and the CLI ---------------------------------------------------------------


def test_comments_and_status_changes_are_kept(shop, client):
    order_id = imported(shop)
    fulfillment.add_comment(shop.engine, order_id, "Buyer asked for gift wrap")
    ship(shop, client, order_id, items={TEA: 1})
    ship(shop, client, order_id)
    with pytest.raises(FulfillmentRefused, match="empty"):
        fulfillment.add_comment(shop.engine, order_id, "  ")
    with db_session(shop.engine) as s:
        activity = fulfillment.order_activity(s, fulfillment.find_local_order(s, order_id))
    history = activity["history"]
    assert [h["status"] for h in history] == ["pending", None, "processing", "complete"]
    assert history[1] == {**history[1], "comment": "Buyer asked for gift wrap", "source": "user"}
    assert [len(s["items"]) for s in activity["shipments"]] == [1, 1]
    assert [o["kind"] for o in activity["outbox"]] == ["ship", "ship"]


def test_lifecycle_through_the_cli(shop, client):
    order_id = imported(shop)
    number = shop.local(order_id).number
    env = {"ORDERTOOLS_DB": shop.engine.url.render_as_string(hide_password=False)}

    def cli(*argv):
        return CliRunner().invoke(main, list(argv), env=env, catch_exceptions=False)

    refused = cli("ship", number, "--carrier", "Other", "--tracking", "T1")
    assert refused.exit_code != 0 and refused.output.count("\n") == 1
    assert 'Error: carrier "Other" needs the carrier\'s name' in refused.output
    bad_item = cli("ship", number, "--carrier", "UPS", "--tracking", "T1", "--item", "MUG")
    assert bad_item.exit_code != 0 and "SKU=QUANTITY" in bad_item.output

    shipped = cli("ship", number, "--carrier", "ups", "--tracking", "1Z1", "--method", "Ground")
    assert shipped.exit_code == 0, shipped.output
    assert f"order {number} is complete; sent to Amazon" in shipped.output
    assert cli("comment", number, "left the dock").exit_code == 0
    listed = json.loads(cli("outbox", "list", "--format", "json").output)
    assert [(e["order_number"], e["kind"], e["state"]) for e in listed] == [
        (number, "ship", "sent")
    ]

    shop.later(API_LAG + 10)
    shop.sync(client=client)  # the sync that shows it, and confirms the entry
    shown = json.loads(cli("show", "acme", order_id, "--format", "json").output)
    assert (shown["status"], shown["local_order_status"]) == ("Completed", "complete")
    assert "confirmed" in cli("outbox").output
    assert cli("outbox", "retry").exit_code == 0
    assert cli("cancel", number, "--reason", "NoInventory").exit_code != 0


def test_the_store_option_narrows_the_lookup(shop, client):
    order_id = imported(shop)
    assert (
        fulfillment.ship(
            shop.engine, order_id, carrier="UPS", tracking="X", store="acme", client=client
        ).local_status
        == "complete"
    )
    with pytest.raises(FulfillmentRefused, match="no local order .* in store other"):
        fulfillment.ship(shop.engine, order_id, carrier="UPS", tracking="X", store="other")
