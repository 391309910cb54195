"""Reconciliation against Amazon's order reports: what the sync missed is found, and repaired.

The emulator's lost-updates fault makes searchOrders silently omit a share of order versions,
as Amazon's index sometimes does; its reports still show the truth. `emulator.app.lost_versions()`
says exactly which versions were lost, so a test knows which orders the book must have missing
or stale before it reconciles. Both backends (the `engine` fixture).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fixtures_stock import stock_discrepancies
from fixtures_sync import API_LAG, MARKET, MUG, Shop, add_emulated_store, fast_client
from sqlalchemy import func, select

from ordertools.amazon.errors import ReportFailed
from ordertools.db import AmazonOrderRow, LocalOrder, Reconciliation, StatusEvent
from ordertools.db import session as db_session
from ordertools.domain import rules as R
from ordertools.sync.reconcile import reconcile_store
from ordertools.sync.run import sync_store

REPORTS = {"report_delay": 0.2, "report_lag": API_LAG}
LAG = timedelta(seconds=API_LAG)  # the reconciliation asks for reports this far behind now
STATUSES = ("UNSHIPPED", "SHIPPED", "CANCELLED", "PARTIALLY_SHIPPED")


@pytest.fixture
def rshop(engine, emulator_factory, emulator_clock, monkeypatch) -> Shop:
    """The sync tests' shop, with an emulator whose reports come quickly."""
    from fixtures_sync import _emulator_env

    emu = emulator_factory(visibility_delay=API_LAG, min_before_age=API_LAG, **REPORTS)
    _emulator_env(monkeypatch, emu)
    integrated_at = (emulator_clock() - timedelta(days=1)).replace(microsecond=0)
    add_emulated_store(engine, emu, "acme", integrated_at)
    return Shop(engine, emu, emulator_clock, integrated_at)


def reconcile(shop: Shop, **options):
    with fast_client(shop) as client:
        return reconcile_store(
            shop.engine, shop.name, client=client, clock=shop.clock, lag=LAG, **options
        )


def expected_differences(shop: Shop) -> tuple[set[str], set[str]]:
    """(missing, stale): orders whose newest version is lost; missing if every one was."""
    lost = set(shop.emu.app.lost_versions())
    versions: dict[str, list] = {}
    for order_id, at in shop.emu.world.version_times():
        versions.setdefault(order_id, []).append(at)
    missing = {o for o, ats in versions.items() if all((o, at) in lost for at in ats)}
    stale = {o for o, ats in versions.items() if (o, max(ats)) in lost} - missing
    return missing, stale


def imports_per_order(shop: Shop) -> set[int]:
    with db_session(shop.engine) as s:
        counts = s.execute(
            select(func.count())
            .select_from(StatusEvent)
            .where(StatusEvent.action == "import")
            .group_by(StatusEvent.amazon_order_pk)
        ).scalars()
        return set(counts)


def test_lost_updates_over_2000_orders_are_found_exactly_and_repaired(rshop: Shop):
    shop = rshop
    shop.emu.faults.lose_updates(0.05, seed=7)
    shop.add_product(MUG, quantity=10_000)
    ids = [
        shop.world.add_order(
            created=f"-{20 * 3600 - 30 * i}s",
            status="PENDING" if i % 3 == 0 else "UNSHIPPED",
            items=[{"sku": MUG, "quantity": 1 + i % 2, "price": "14.99"}],
        )
        for i in range(2000)
    ]
    shop.later()
    shop.sync()
    for round_ in range(3):  # several syncs, each after a round of status changes
        for n, order_id in enumerate(ids[round_::4]):
            shop.world.set_status(order_id, STATUSES[(n + round_) % len(STATUSES)])
        shop.later()
        shop.sync()
    missing, stale = expected_differences(shop)
    assert len(missing) + len(stale) > 50  # the fault really lost updates

    found = reconcile(shop)
    assert found.outcome == "success" and found.reports == 1
    by_kind = {}
    for d in found.orders:
        by_kind.setdefault(d.difference, set()).add(d.order_number)
    assert by_kind.get("missing", set()) == missing
    assert by_kind.get("stale", set()) == stale
    assert found.counts["not_in_report"] == 0
    assert found.repaired == len(missing) + len(stale) and found.unrepaired == 0
    assert all(d.repaired for d in found.orders)
    repaired = next(iter(stale))
    truth = shop.emu.world.get(repaired)["fulfillment"]["fulfillmentStatus"]
    assert shop.row(repaired).status == truth
    with db_session(shop.engine) as s:
        [event] = s.scalars(
            select(StatusEvent.note)
            .join(AmazonOrderRow)
            .where(AmazonOrderRow.amazon_order_id == repaired)
            .order_by(StatusEvent.id.desc())
            .limit(1)
        ).all()
    assert "found by reconciliation" in event.lower()  # the ledger says who found it

    again = reconcile(shop)
    assert again.differences == 0 and again.repaired == 0
    assert imports_per_order(shop) <= {1}  # nothing imported twice
    assert stock_discrepancies(shop.engine) == {}
    with db_session(shop.engine) as s:
        records = s.scalars(select(Reconciliation).order_by(Reconciliation.id)).all()
    assert [(r.outcome, r.missing, r.stale, r.repaired) for r in records] == [
        ("success", len(missing), len(stale), len(missing) + len(stale)),
        ("success", 0, 0, 0),
    ]


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_a_complete_book_is_proved_complete_whatever_the_document(
    rshop, emulator_factory, compressed
):
    shop = rshop
    shop.emu.config.report_gzip = compressed
    for _ in range(30):
        shop.world.add_order(created="-3h")
    shop.world.add_order(created="-2h", status="BRAND_NEW_STATUS")  # unknown to ordertools
    shop.later()
    shop.sync()
    shop.emu.faults.repeat_report_rows(10)
    found = reconcile(shop)
    assert (found.report_orders, found.differences, found.repaired) == (31, 0, 0)
    assert found.compared == 31


def test_an_unknown_status_the_sync_missed_is_stored_and_never_imported(rshop: Shop):
    shop = rshop
    order = shop.world.add_order(created="-2h", status="BRAND_NEW_STATUS")
    shop.emu.faults.lose_updates(1.0)  # the sync sees nothing at all
    shop.later()
    assert shop.sync().new == 0
    shop.emu.faults.lose_updates(0.0)
    found = reconcile(shop)
    assert [(d.order_number, d.difference, d.repaired) for d in found.orders] == [
        (order, "missing", True)
    ]
    row = shop.row(order)
    assert row.status == "BRAND_NEW_STATUS" and shop.local(order) is None
    assert row.note == (
        R.NOTE_UNKNOWN_STATUS.format(status="BRAND_NEW_STATUS") + " (found by reconciliation)"
    )


def test_a_fatal_report_is_a_clear_error_and_changes_nothing(rshop: Shop):
    shop = rshop
    shop.emu.faults.lose_updates(1.0)
    shop.world.add_order(created="-2h")
    shop.later()
    shop.sync()
    shop.emu.faults.fail_next_report("FATAL")
    with pytest.raises(ReportFailed, match="could not make report") as failed:
        reconcile(shop)
    assert "\n" not in str(failed.value)
    assert shop.count(AmazonOrderRow) == 0  # nothing repaired on a failed report
    with db_session(shop.engine) as s:
        [record] = s.scalars(select(Reconciliation)).all()
    assert record.outcome == "failed" and "could not make report" in record.error


def test_a_window_over_30_days_is_read_as_several_reports_without_moving_the_cursor(
    engine, emulator_factory, emulator_clock, monkeypatch
):
    from fixtures_sync import _emulator_env

    emu = emulator_factory(visibility_delay=API_LAG, min_before_age=API_LAG, **REPORTS)
    _emulator_env(monkeypatch, emu)
    integrated_at = (emulator_clock() - timedelta(days=50)).replace(microsecond=0)
    add_emulated_store(engine, emu, "acme", integrated_at)
    shop = Shop(engine, emu, emulator_clock, integrated_at)
    old = shop.world.add_order(created="-45d")
    recent = shop.world.add_order(created="-2d")
    shop.later()
    shop.sync()
    cursor = shop.cursor()
    shop.emu.faults.lose_updates(1.0)  # from now on the sync would miss everything
    newer = shop.world.add_order(created="-1h")
    shop.later()
    shop.emu.faults.lose_updates(0.0)
    found = reconcile(shop, start=integrated_at)
    assert found.reports == 2  # 50 days: two reports of at most 30 days
    assert [(d.order_number, d.difference) for d in found.orders] == [(newer, "missing")]
    assert found.compared == 3 and {old, recent} <= {
        shop.row(o).amazon_order_id for o in (old, recent)
    }
    assert shop.cursor() == cursor  # a backfill never moves the sync's cursor
    assert shop.local(newer) is not None  # imported under the import rules


def test_an_order_updated_within_the_report_lag_is_left_for_the_next_run(rshop: Shop):
    shop = rshop
    shop.world.add_order(created="-3h")
    fresh = shop.world.add_order(created="-3h")
    shop.later()
    shop.sync()
    shop.world.set_status(fresh, "SHIPPED")
    shop.later()
    shop.sync()  # the book has the update; the report (asked for up to 10 min ago) not yet
    found = reconcile_store(
        shop.engine,
        shop.name,
        client=fast_client(shop),
        clock=shop.clock,
        lag=timedelta(minutes=10),
    )
    assert (found.left, found.differences) == (1, 0)
    assert "1 updated within the report's lag" in found.summary()


def test_an_order_placed_before_the_integration_is_stored_and_never_imported(rshop: Shop):
    shop = rshop
    before = shop.world.add_order(created="-3d")  # the store was integrated a day ago
    shop.world.set_status(before, "UNSHIPPED", at="-2h")  # updated after the integration
    shop.emu.faults.lose_updates(1.0)
    shop.later()
    shop.sync()
    shop.emu.faults.lose_updates(0.0)
    found = reconcile(shop)
    assert [(d.order_number, d.difference) for d in found.orders] == [(before, "missing")]
    assert shop.local(before) is None
    assert shop.row(before).note == R.NOTE_BEFORE_INTEGRATION + " (found by reconciliation)"
    assert "starts at the store's integration" in found.summary()


def test_a_sync_and_a_reconciliation_at_once_import_each_order_once(rshop: Shop):
    shop = rshop
    shop.emu.faults.lose_updates(0.3, seed=3)
    for i in range(200):
        shop.world.add_order(created=f"-{3 * 3600 - 20 * i}s")
    shop.later()
    shop.sync()
    shop.emu.faults.lose_updates(0.0)
    for i in range(50):
        shop.world.add_order(created=f"-{3600 - 20 * i}s")
    shop.later()
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    jobs = [
        lambda: reconcile(shop),
        lambda: sync_store(shop.engine, shop.name, clock=shop.clock, progress=False, wait=60),
    ]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert shop.count(AmazonOrderRow) == 250 and shop.count(LocalOrder) == 250
    assert imports_per_order(shop) == {1}
    assert reconcile(shop).differences == 0


def test_without_repair_the_differences_are_listed_and_the_book_left_alone(rshop: Shop):
    shop = rshop
    shop.emu.faults.lose_updates(1.0)
    order = shop.world.add_order(created="-2h")
    shop.later()
    shop.sync()
    shop.emu.faults.lose_updates(0.0)
    found = reconcile(shop, repair=False)
    assert (found.counts["missing"], found.repaired, found.unrepaired) == (1, 0, 1)
    assert shop.row(order) is None
    assert found.as_json()["orders"] == [
        {
            "order_number": order,
            "difference": "missing",
            "detail": "Amazon shows it Unshipped",
            "repaired": False,
        }
    ]
    assert MARKET  # the store's marketplace is the report's (fixtures_sync)
