"""Syncs in real processes: several at once on one store, and one killed with SIGKILL mid-way.

The children are forked; each opens the order book from `db_url` on its own and talks to the
emulator running in this (the parent) process over HTTP, on the parent's clock.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

from fixtures_stock import held, stock_discrepancies, stock_the_catalog
from fixtures_sync import Shop, add_emulated_store, before_page, orders_placed, paged_client
from sqlalchemy import func, select

from ordertools import db
from ordertools.db import AmazonOrderRow, LocalOrder, StatusEvent, Store, SyncRun
from ordertools.db import session as db_session
from ordertools.db.locks import StoreBusy
from ordertools.sync.run import sync_store

FORK = multiprocessing.get_context("fork")


class _ParentClock:
    """The parent's emulator clock as seen from a child: real time plus the parent's jumps.

    A second behind, so a child's window never ends later than the emulator allows.
    """

    def __init__(self, shop: Shop):
        self.offset = shop.clock() - datetime.now(UTC) - timedelta(seconds=1)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _sync_in_child(db_url, base_url, token_url, clock, wait, start, results):
    """A child's sync of "acme" in pages of 4; puts ("ok", imported, new) or ("busy", message)."""
    try:
        engine = db.connect(db_url)
        with paged_client(base_url, token_url, page_size=4) as client:
            if start is not None:
                start.wait(10)
            report = sync_store(
                engine, "acme", client=client, clock=clock, progress=False, wait=wait
            )
        results.put(("ok", report.imported, report.new))
    except StoreBusy as busy:
        results.put(("busy", str(busy)))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _run_children(shop: Shop, db_url: str, n: int, wait) -> list[tuple]:
    start, results = FORK.Barrier(n), FORK.SimpleQueue()
    args = (db_url, shop.emu.base_url, shop.emu.token_url, _ParentClock(shop), wait, start, results)
    children = [FORK.Process(target=_sync_in_child, args=args) for _ in range(n)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    return [results.get() for _ in children]


def _assert_imported_exactly_once(shop: Shop, ids: list[str]) -> None:
    with db_session(shop.engine) as s:
        imports = s.execute(
            select(StatusEvent.amazon_order_pk, func.count())
            .where(StatusEvent.action == "import")
            .group_by(StatusEvent.amazon_order_pk)
        ).all()
        locals_ = s.scalar(select(func.count()).select_from(LocalOrder))
    assert len(imports) == len(ids) and {count for _, count in imports} == {1}
    assert locals_ == len(ids)
    assert shop.numbers() == [f"{n:09d}" for n in range(1, len(ids) + 1)]
    assert all(shop.local(oid) is not None for oid in ids)


def test_concurrent_syncs_of_one_store_import_every_order_exactly_once(shop: Shop, db_url):
    stock_the_catalog(shop.engine)
    ids = orders_placed(shop.world, 30)
    waiting = orders_placed(shop.world, 6, minutes_ago=40, status="PENDING")
    # The first to get the store holds it a while: its first page comes slowly.
    shop.emu.faults.delay_next(1, seconds=1.5, operation="searchOrders")
    results = _run_children(shop, db_url, 3, wait=False)
    assert sorted(r[0] for r in results) == ["busy", "busy", "ok"], results
    assert [r[1:] for r in results if r[0] == "ok"] == [(30, 36)]  # 6 Pending, not imported
    assert all("already syncing" in r[1] for r in results if r[0] == "busy")
    _assert_imported_exactly_once(shop, ids)
    assert stock_discrepancies(shop.engine) == {} and held(shop.engine)

    # Waiting instead of giving up: all three run, one after another, and import once.
    more = orders_placed(shop.world, 12, minutes_ago=6)
    for order in waiting[:3]:  # verified meanwhile: their holds move to their local orders
        shop.world.set_status(order, "UNSHIPPED", at="-5m")
    shop.emu.faults.delay_next(1, seconds=0.5, operation="searchOrders")
    results = _run_children(shop, db_url, 3, wait=30)
    assert [r[0] for r in results] == ["ok"] * 3, results
    assert sorted(r[1] for r in results) == [0, 0, 15]
    _assert_imported_exactly_once(shop, ids + more + waiting[:3])
    assert stock_discrepancies(shop.engine) == {}  # three syncs, every unit held once
    with db_session(shop.engine) as s:
        outcomes = s.scalars(select(SyncRun.outcome)).all()
    assert outcomes == ["success"] * 4  # a busy store writes no run record


def _store_state(engine, name: str) -> dict:
    """What a user sees of a store's orders, local numbers aside (they are compared apart)."""
    with db_session(engine) as s:
        rows = s.execute(
            select(
                AmazonOrderRow.id,
                AmazonOrderRow.amazon_order_id,
                AmazonOrderRow.status,
                AmazonOrderRow.last_updated,
                AmazonOrderRow.note,
                AmazonOrderRow.error,
                LocalOrder.number,
                LocalOrder.status,
            )
            .select_from(AmazonOrderRow)
            .join(Store, Store.id == AmazonOrderRow.store_id)
            .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
            .where(Store.name == name)
        ).all()
        events = dict(
            s.execute(
                select(StatusEvent.amazon_order_pk, func.count()).group_by(
                    StatusEvent.amazon_order_pk
                )
            ).all()
        )
    return {
        oid: (
            status,
            updated,
            note.replace(number, "N") if note and number else note,
            error,
            local_status,
            events.get(pk, 0),
        )
        for pk, oid, status, updated, note, error, number, local_status in rows
    }


def test_a_sync_killed_mid_way_is_resumed_by_the_next_one(shop: Shop, db_url):
    stock_the_catalog(shop.engine)
    orders_placed(shop.world, 10)
    shop.world.add_order(status="PENDING", created="-45m")
    shop.world.add_order(fulfilled_by="AMAZON", status="SHIPPED", created="-44m")

    def hold_back(page: int) -> None:  # page 2 comes slowly: the child is killed waiting for it
        if page == 2:
            shop.emu.faults.delay_next(1, seconds=3, operation="searchOrders")

    before_page(shop.emu, hold_back)
    results = FORK.SimpleQueue()
    args = (db_url, shop.emu.base_url, shop.emu.token_url, _ParentClock(shop), False, None)
    child = FORK.Process(target=_sync_in_child, args=(*args, results))
    child.start()
    deadline = time.monotonic() + 20
    while shop.count(AmazonOrderRow) < 4:  # page 1 committed; page 2 is held back
        if not child.is_alive():
            said = results.get() if not results.empty() else f"exit code {child.exitcode}"
            raise AssertionError(f"the child ended before it was killed: {said}")
        assert time.monotonic() < deadline, "page 1 never committed"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL and results.empty()

    assert shop.count(AmazonOrderRow) == 4
    assert shop.cursor() is None  # the killed run never finished its window
    with db_session(shop.engine) as s:
        [killed] = s.scalars(select(SyncRun)).all()
    assert killed.outcome == "running" and killed.finished_at is None
    assert stock_discrepancies(shop.engine) == {}  # page 1's holds landed with page 1

    report = shop.sync(page_size=4, wait=10)
    assert report.outcome == "success"
    assert (report.new, report.unchanged, report.pages) == (8, 4, 3)
    assert shop.cursor() == report.window_end  # moved by the run that completed

    # The same state as a sync that was never interrupted (a second store on the same seller).
    add_emulated_store(shop.engine, shop.emu, "control", shop.integrated_at)
    with paged_client(shop.emu.base_url, shop.emu.token_url, 4, store="control") as client:
        control = sync_store(
            shop.engine, "control", client=client, clock=shop.clock, progress=False
        )
    assert (control.new, control.imported) == (12, 11)
    resumed, uninterrupted = _store_state(shop.engine, "acme"), _store_state(shop.engine, "control")
    assert len(resumed) == 12 and resumed == uninterrupted
    assert shop.numbers() == [f"{n:09d}" for n in range(1, 12)]  # unique, none skipped
    assert stock_discrepancies(shop.engine) == {}  # nothing held twice or lost by the kill
    with db_session(shop.engine) as s:
        killed = s.get(SyncRun, killed.id)
    assert killed.outcome == "failed" and "interrupted" in killed.error
