"""The listener against moto's SQS server and the emulator's ORDER_CHANGE notifications.

The emulator sends a message to the subscribed queue moments after each order change (with
faults that drop, repeat and reorder them); the listener imports from them with no sync. The
sync stays the safety net. Both backends (the `engine` fixture).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from fixtures_sqs import wait_for
from fixtures_stock import stock_discrepancies
from fixtures_sync import API_LAG, MUG, Shop, _emulator_env, add_emulated_store, fast_client
from sqlalchemy import func, select

from ordertools import db
from ordertools.db import LocalOrder, Notification, StatusEvent
from ordertools.db import session as db_session
from ordertools.sync.listen import Listener
from ordertools.sync.run import sync_store
from ordertools.sync.subscribe import setup_notifications

FORK = multiprocessing.get_context("fork")
DELAY = 0.05  # the emulator sends each message this long after the change


@pytest.fixture
def lshop(engine, emulator_factory, emulator_clock, monkeypatch, queue) -> Shop:
    """A store subscribed to ORDER_CHANGE on a fresh moto queue; the emulator shows every
    change to getOrder at once (searchOrders keeps Amazon's lag: the sync's window does)."""
    emu = emulator_factory(notification_delay=DELAY)
    _emulator_env(monkeypatch, emu)
    integrated_at = (emulator_clock() - timedelta(days=1)).replace(microsecond=0)
    add_emulated_store(engine, emu, "acme", integrated_at)
    shop = Shop(engine, emu, emulator_clock, integrated_at)
    with fast_client(shop) as client:
        setup_notifications(engine, "acme", queue.arn, client=client)
    shop.queue = queue
    return shop


def listener(shop: Shop, **options) -> Listener:
    options = {"wait_seconds": 1, "visibility_timeout": 5, **options}
    return Listener(
        shop.engine,
        ["acme"],
        queue_url=shop.queue.url,
        clients={"acme": fast_client(shop)},
        echo=lambda line: None,
        **options,
    )


def drain(listen: Listener, quiet_polls: int = 2, timeout: float = 120) -> None:
    """Poll until the queue has stayed empty for `quiet_polls` polls in a row."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < quiet_polls:
        assert time.monotonic() < deadline, "the queue never emptied"
        quiet = 0 if listen.poll_once() else quiet + 1


def imports_per_order(shop: Shop) -> dict[int, int]:
    with db_session(shop.engine) as s:
        return dict(
            s.execute(
                select(StatusEvent.amazon_order_pk, func.count())
                .where(StatusEvent.action == "import")
                .group_by(StatusEvent.amazon_order_pk)
            ).all()
        )


def test_a_verified_order_imports_within_seconds_without_any_sync(lshop: Shop):
    shop = lshop
    shop.add_product(MUG, quantity=10)
    order = shop.world.add_order(
        status="PENDING", items=[{"sku": MUG, "quantity": 2, "price": "14.99"}]
    )
    with listener(shop) as listen:
        assert wait_for(lambda: listen.poll_once() and shop.row(order) is not None, 10)
        assert shop.local(order) is None and shop.reserved(MUG) == 2  # Pending: held, not imported
        shop.world.set_status(order, "UNSHIPPED")
        # How soon is bench/notification_latency.py's to measure; here: with no sync at all.
        assert wait_for(lambda: listen.poll_once() >= 0 and shop.local(order) is not None, 30)
    assert shop.local(order).status == "pending"
    with db_session(shop.engine) as s:
        assert s.scalar(select(func.count()).select_from(db.SyncRun)) == 0  # no sync ran
        assert s.scalar(select(func.count()).select_from(Notification)) == 2
    assert stock_discrepancies(shop.engine) == {}


def test_1000_changes_through_lossy_delivery_end_exact_after_one_poll(lshop: Shop):
    shop = lshop
    faults = shop.emu.faults
    faults.repeat_notifications(0.10, seed=1)
    faults.reorder_notifications(0.10, seed=2)
    faults.drop_notifications(0.05, seed=3)
    orders = [shop.world.add_order(status="PENDING", created=f"-{600 - i}s") for i in range(500)]
    with listener(shop) as listen:
        for order in orders:  # 500 new orders and 500 verifications: 1,000 changes
            shop.world.set_status(order, "UNSHIPPED")
        drain(listen)
        report = listen.report
    sent = shop.emu.stats["notifications"]
    assert sent["dropped"] > 20 and sent["repeated"] > 50 and sent["reordered"] > 50
    assert report.repeats >= sent["repeated"] and report.malformed == 0
    missed = sum(1 for o in orders if shop.local(o) is None)
    assert missed > 0  # what the drops cost: imports only the poll can bring

    shop.later(API_LAG + 10)
    poll = sync_store(shop.engine, "acme", clock=shop.clock, progress=False)
    assert poll.imported == missed
    assert f"this poll found {poll.new + poll.updated} order" in poll.summary()
    assert "last message" in poll.summary()
    assert all(shop.row(o).status == "UNSHIPPED" and shop.local(o) for o in orders)
    assert set(imports_per_order(shop).values()) == {1} and len(imports_per_order(shop)) == 500


def _listen_in_child(db_url, queue_url, base_url, token_url, started):
    from fixtures_emulator import FAST_PLANS
    from fixtures_sync import fast_client as _  # noqa: F401 - the child's imports, as the parent's

    from ordertools.amazon.auth import Credentials
    from ordertools.amazon.client import FAST_RETRIES, AmazonClient

    engine = db.connect(db_url)
    client = AmazonClient(
        Credentials.from_env(),
        endpoint=base_url,
        token_url=token_url,
        store_name="acme",
        plans=FAST_PLANS,
        retry=FAST_RETRIES,
    )
    with Listener(
        engine,
        ["acme"],
        queue_url=queue_url,
        clients={"acme": client},
        wait_seconds=1,
        visibility_timeout=3,
        echo=lambda line: None,
    ) as listen:
        started.set()
        while True:
            listen.poll_once()


def test_a_listener_killed_mid_batch_and_restarted_loses_and_doubles_nothing(lshop: Shop, db_url):
    shop = lshop
    orders = [shop.world.add_order(status="PENDING", created=f"-{300 - i}s") for i in range(30)]
    time.sleep(DELAY * 4)
    # The child's reads of Amazon stall: it is killed with messages received, none deleted.
    shop.emu.faults.delay_next(1000, seconds=5, operation="getOrder")
    started = FORK.Event()
    args = (db_url, shop.queue.url, shop.emu.base_url, shop.emu.token_url, started)
    child = FORK.Process(target=_listen_in_child, args=args)
    child.start()
    assert started.wait(20)
    assert wait_for(lambda: shop.emu.stats["getOrder"]["requests"] > 0, 20)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert shop.count(db.AmazonOrderRow) == 0
    shop.emu.faults.clear()

    for order in orders:
        shop.world.set_status(order, "UNSHIPPED")
    with listener(shop, visibility_timeout=3) as listen:
        drain(listen, quiet_polls=4)  # the killed child's messages come back after 3 s
    assert all(shop.local(o) is not None for o in orders)
    assert set(imports_per_order(shop).values()) == {1} and len(imports_per_order(shop)) == 30


def test_a_listener_and_a_sync_of_one_store_at_once_never_double_import(lshop: Shop):
    shop = lshop
    orders = [shop.world.add_order(created=f"-{900 - 5 * i}s") for i in range(120)]
    shop.later(API_LAG + 10)
    errors = []

    def sync():
        try:
            sync_store(shop.engine, "acme", clock=shop.clock, progress=False, wait=60)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with listener(shop) as listen:
        thread = threading.Thread(target=sync)
        thread.start()
        drain(listen)
        thread.join(60)
    assert errors == []
    assert shop.count(LocalOrder) == 120 and set(imports_per_order(shop).values()) == {1}
    assert all(shop.local(o) is not None for o in orders)


def test_a_malformed_message_is_recorded_skipped_and_the_rest_go_on(lshop: Shop):
    from ordertools.amazon.notifications import sqs_client

    shop = lshop
    sqs = sqs_client()
    sqs.send_message(QueueUrl=shop.queue.url, MessageBody='{"NotificationType": "ORDER_CHANGE"}')
    sqs.send_message(QueueUrl=shop.queue.url, MessageBody="not json at all")
    order = shop.world.add_order()
    with listener(shop) as listen:
        drain(listen)
        report = listen.report
    assert report.malformed == 2 and shop.local(order) is not None
    with db_session(shop.engine) as s:
        bad = s.scalars(select(Notification).where(Notification.error.is_not(None))).all()
    assert len(bad) == 2 and all("malformed" in n.error for n in bad)
    assert all("\n" not in n.error for n in bad)
    again = sqs.receive_message(QueueUrl=shop.queue.url, WaitTimeSeconds=0)
    assert "Messages" not in again  # deleted once recorded


def test_a_message_ahead_of_getorder_is_tried_again_until_amazon_shows_the_change(
    engine, emulator_factory, emulator_clock, monkeypatch, queue
):
    # Amazon's reads may show a change after it notified it: an hour here, on the emulator's
    # clock, which the test moves on once the message has come back unread at least once.
    emu = emulator_factory(notification_delay=DELAY, visibility_delay=3600.0)
    _emulator_env(monkeypatch, emu)
    integrated_at = (emulator_clock() - timedelta(days=1)).replace(microsecond=0)
    add_emulated_store(engine, emu, "acme", integrated_at)
    shop = Shop(engine, emu, emulator_clock, integrated_at)
    with fast_client(shop) as client:
        setup_notifications(engine, "acme", queue.arn, client=client)
    shop.queue = queue
    order = shop.world.add_order(status="UNSHIPPED")
    with listener(shop) as listen:
        assert wait_for(lambda: listen.poll_once() >= 0 and listen.report.left >= 1, 20)
        assert shop.local(order) is None  # getOrder does not know it yet: nothing to import
        shop.later(3601)
        assert wait_for(lambda: listen.poll_once() >= 0 and shop.local(order) is not None, 20)
        drain(listen)
    assert set(imports_per_order(shop).values()) == {1}
