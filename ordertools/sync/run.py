"""The sync engine: Amazon's changed orders into the order book, under the import rules.

One store at a time, under the store's lock:

1. The window on `lastUpdatedTime` runs from the stored cursor minus the overlap (the first
   window from the integration instant) to now minus `api_lag` (Amazon shows an update about two
   minutes after it happens; asking for fresher data misses some).
2. Page through `searchOrders`. Each page is one transaction: upsert the orders whose
   `lastUpdatedTime` is newer than what is stored, record status events, apply the rules (create,
   cancel, complete local orders) and commit.
3. Only when the whole window is done does the cursor move to the window's end.

Why this survives `kill -9` at any point: a page is all or nothing, the cursor moves last, and
re-reading a window is free (unchanged orders are skipped), so the next run converges on the
same state. Why it never double-imports: the store lock keeps runs apart, and the database's
unique constraints forbid a second local order for one Amazon order even if something slipped.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tqdm.auto import tqdm

from ordertools import stops
from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient
from ordertools.db import (
    Store,
    SyncRun,
    utcnow,
)
from ordertools.db import session as db_session
from ordertools.db.checkpoints import background_checkpoints
from ordertools.db.locks import store_lock
from ordertools.db.writer import writer_connection
from ordertools.domain.stores import get_store, list_stores
from ordertools.errors import OrdertoolsError
from ordertools.fulfillment.outbox import flush_outbox
from ordertools.sync.applier import PageApplier
from ordertools.sync.listen import liveness
from ordertools.sync.report import SyncFailed, SyncReport, failed_because

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the sync process ended before the run finished; a later run resumed"
STOPPED = "stopped (Ctrl-C or SIGTERM) before the window was read; the next run picks up"


def sync_store(
    engine: Engine,
    name: str,
    *,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: bool | None = None,
    wait: bool | float = False,
) -> SyncReport:
    """Sync one store. Raises `StoreBusy` when another run holds it (unless `wait`), and the
    client's typed errors when Amazon fails; the run record says how it ended either way."""
    with db_session(engine) as session:
        store_id = get_store(session, name).id
    with store_lock(engine, store_id, wait=wait):
        run = _Run(engine, store_id, client, clock or (lambda: datetime.now(UTC)), progress)
        report = run.run()
        flush_outbox(engine, name, client=client, clock=clock)  # shipments, cancellations out
        return report


def sync_all(engine: Engine, **options) -> list[SyncReport]:
    """Sync every store, one after another; one store's failure never stops the others.

    Raises `SyncFailed` at the end when any store failed, carrying every report.
    """
    with db_session(engine) as session:
        names = [store.name for store in list_stores(session)]
    reports = []
    for name in names:
        try:
            reports.append(sync_store(engine, name, **options))
        except OrdertoolsError as exc:
            reports.append(SyncReport(store=name, outcome="failed", error=str(exc)))
    if any(r.outcome != "success" for r in reports):
        raise SyncFailed(reports)
    return reports


class _Statistics:
    """Keeps PostgreSQL's planner informed while a sync brings many new orders.

    Without statistics (a new order book, or a new store beside big ones) the planner believes
    the store has a handful of orders and looks orders up by walking a store-wide index
    instead of the (store, Amazon order id) key: every page read the whole store, and a first
    sync slowed down as it grew. Autovacuum analyzes too late for that (a minute after), so the
    sync does it, on the two columns the lookups use, each time its new orders double (from
    1,000): a few times in a first sync, never in a routine one.
    """

    FIRST = 1_000

    def __init__(self, engine: Engine):
        self.engine = engine
        self.due = self.FIRST if engine.dialect.name == "postgresql" else None

    def after(self, new_orders: int) -> None:
        if self.due is None or new_orders < self.due:
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE amazon_orders (store_id, amazon_order_id)")
        self.due = 2 * new_orders


@contextmanager
def _collector_spares_older_objects() -> Iterator[None]:
    """Python's cycle collector leaves what existed before the sync alone while it runs.

    A full collection visits every object the process holds: some 100,000 after the CLI's
    imports, many more in a notebook with pandas and widgets loaded, and a first sync sets off
    several. Frozen (`gc.freeze`), those objects are skipped (3-8 % of a first sync of 20,000
    orders, bench/sync_bench.py); the sync's own are still collected, and `gc.unfreeze` hands
    the older ones back to the collector at the end.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _AmazonWaits:
    """Shows on the progress bar what the sync is waiting for, with a countdown.

    At Amazon's pace (searchOrders: a burst of 20 pages, then one every three minutes) a sync
    spends most of its time waiting for Amazon's rate limit; a bar that just stands still looks
    like a hang. The client announces each wait (`on_wait`); a ticker redraws the line every
    second until the next page arrives.
    """

    TICK = 1.0

    def __init__(self, client: AmazonClient, bar, report: SyncReport):
        self.client, self.bar, self.report = client, bar, report
        self._until: float | None = None
        self._why = ""
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="sync-progress", daemon=True)

    def __enter__(self) -> _AmazonWaits:
        self._previous, self.client.on_wait = self.client.on_wait, self._announced
        if not self.bar.disable:
            self._ticker.start()
        self._show()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.on_wait = self._previous
        self._stop.set()

    def page_done(self) -> None:
        # A wait announced still runs: the client waits for the next page ahead of the writer.
        self._show()

    def _announced(self, operation: str, seconds: float, why: str) -> None:
        if operation == "searchOrders":
            reason = "rate limit" if why == "rate limit" else "retry"
            self._until, self._why = time.monotonic() + seconds, f"Amazon's {reason}"
            self._show()

    def _tick(self) -> None:
        while not self._stop.wait(self.TICK):
            if self._until is not None:
                self._show()

    def _show(self) -> None:
        pages = f"{self.report.pages} pages"
        left = 0 if self._until is None else round(self._until - time.monotonic())
        if left <= 0:
            self.bar.set_postfix_str(pages)
            return
        self.bar.set_postfix_str(
            f"{pages}; waiting for {self._why} (searchOrders): next page in "
            f"{left // 60}:{left % 60:02d}"
        )


class _Run:
    """One run over one store's window."""

    def __init__(self, engine, store_id, client, clock, progress):
        self.engine = engine
        self.store_id = store_id
        self.client = client
        self.clock = clock
        self.progress = progress

    def run(self) -> SyncReport:
        with db_session(self.engine) as session:
            store = session.get(Store, self.store_id)
            report = SyncReport(store=store.name)
            # This run holds the store's lock, so a run of the store still "running" is one whose
            # process died (kill -9, a crash): say so instead of leaving it running forever.
            session.execute(
                update(SyncRun)
                .where(SyncRun.store_id == store.id, SyncRun.outcome == "running")
                .values(outcome="failed", error=INTERRUPTED)
            )
            now = self.clock()
            start = (
                store.cursor - timedelta(seconds=store.overlap_seconds)
                if store.cursor
                else store.integrated_at
            )
            end = now - timedelta(seconds=store.api_lag_seconds)
            run = SyncRun(
                store_id=store.id,
                window_start=start,
                window_end=end,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(run)
            session.flush()
            report.run_id, report.window_start, report.window_end = run.id, start, end
            if end <= start:
                report.opens_at = now + (start - end)
            marketplace_id = store.marketplace_id
            client = self.client
        owns_client = client is None
        try:
            if owns_client:  # even with nothing to read: a missing credential shows at once
                client = connect.amazon_client(store)
            if end > start:
                self._read_window(client, marketplace_id, start, end, report)
            else:  # nothing to read yet; still, success means Amazon answered
                client.check_access(marketplace_id, before=end)
            report.outcome = "success"
        except BaseException as exc:  # recorded, then raised as it is: a bug must stay visible
            report.error, stop = failed_because(exc, STOPPED)
            report.outcome = "failed"
            if stop is not None and stop is not exc:
                raise stop from None
            raise
        finally:
            if client is not None:
                stats = client.stats["searchOrders"]
                report.requests, report.throttled = stats.requests, stats.throttled
                report.waited = stats.token_wait + stats.backoff
                if owns_client:
                    client.close()
            self._finish(report, end if report.outcome == "success" and end > start else None)
        return report

    def _read_window(self, client, marketplace_id, start, end, report) -> None:
        # The client fetches the next page while this one is written (its prefetch).
        pages = client.search_orders(
            marketplace_ids=[marketplace_id], last_updated_after=start, last_updated_before=end
        )
        # disable=None lets tqdm decide: a bar on a terminal or in a notebook, none in a pipe.
        disable = None if self.progress is None else not self.progress
        bar = tqdm(desc=f"sync {report.store}", unit=" orders", disable=disable, leave=False)
        with (
            bar,
            _AmazonWaits(client, bar, report) as waits,
            stops.cooperatively(),  # a stop ends the waits for Amazon, then the loop, below
            writer_connection(self.engine) as connection,
            background_checkpoints(self.engine),
            _collector_spares_older_objects(),
        ):
            statistics = _Statistics(self.engine)
            for page in pages:
                # A transaction per page, all on the one held connection (db/writer.py).
                with Session(connection, expire_on_commit=False) as session, session.begin():
                    store = session.get(Store, self.store_id)
                    PageApplier(session, store, report).apply(page)
                report.pages += 1
                waits.page_done()
                stops.raise_if_requested()  # between pages: nothing half-written
                bar.update(len(page.orders) + len(page.malformed))
                statistics.after(report.new)

    def _finish(self, report: SyncReport, cursor: datetime | None) -> None:
        with db_session(self.engine) as session:
            store = session.get(Store, self.store_id)
            live = liveness(session, store)
            if live.set_up or live.last_received is not None:
                report.notifications = live.words(self.clock())
            values = {
                **report.counts(),
                "pages": report.pages,
                "outcome": report.outcome,
                "error": report.error,
                "finished_at": utcnow(),
            }
            session.execute(update(SyncRun).where(SyncRun.id == report.run_id).values(**values))
            if cursor is not None:
                session.execute(
                    update(Store).where(Store.id == self.store_id).values(cursor=cursor)
                )
