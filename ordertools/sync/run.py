"""The sync engine: Amazon's changed orders into the order book, under the import rules.

One store at a time, under the store's lock:

1. The window on `lastUpdatedTime` runs from the stored cursor minus the overlap (the first
   window from the integration instant) to now minus `api_lag` (Amazon shows an update about two
   minutes after it happens; asking for fresher data misses some).
2. Page through `searchOrders`. Each page is one transaction: upsert the orders whose
   `lastUpdatedTime` is newer than what is stored, record status events, apply the rules (create,
   cancel, complete local orders) and commit. (In a round of `sync --all`, the round's writer
   commits pages of several stores together, each page in a savepoint: still all or nothing.)
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
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
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
from ordertools.domain.stores import get_store
from ordertools.errors import OrdertoolsError
from ordertools.fulfillment.outbox import flush_outbox
from ordertools.sync.applier import ImportRefused, PageApplier
from ordertools.sync.listen import liveness
from ordertools.sync.report import SyncReport, failed_because

log = logging.getLogger(__name__)

# Pages of one run handed to the round's writer and not yet written, at most (and the
# client's prefetch holds up to PAGES_AHEAD more).
PAGES_HANDED = 2
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
        return sync_locked(engine, store_id, client=client, clock=clock, progress=progress)


def sync_locked(
    engine: Engine,
    store_id: int,
    *,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: bool | None = None,
    run_of: RunOf | None = None,
    flush: bool = True,
    connect_client: Callable[[Store], AmazonClient] | None = None,
    notified: bool | None = None,
) -> SyncReport:
    """Sync a store whose lock the caller holds, then send its outbox (`flush`).

    `run_of` names the round and runner the run record belongs to (`sync --all`);
    `connect_client` makes the store's client when no `client` is given; `notified` says
    whether the store ever received a notification (None: look it up)."""
    run = _Run(
        engine,
        store_id,
        client,
        clock,
        progress,
        run_of=run_of,
        connect_client=connect_client,
        notified=notified,
    )
    report = run.run()
    if flush:
        flush_outbox(engine, report.store, client=client, clock=clock)  # shipments out
    return report


class RunThrough:
    """A run for a round of `sync --all`, its transactions handed to `writes` (the round's
    writer), the caller holding the store's lock until the run is closed.

    Made, it asks for the run to be recorded, and returns without waiting: a worker claims
    its next store while Amazon answers for this one. `read` (or, after a stop, `abandon`)
    then returns with a future of the report, done when the run is closed.
    """

    def __init__(
        self,
        writes: Writes,
        engine: Engine,
        store_id: int,
        *,
        client: AmazonClient | None = None,
        clock: Callable[[], datetime] | None = None,
        run_of: RunOf | None = None,
        connect_client: Callable[[Store], AmazonClient] | None = None,
        notified: bool | None = None,
    ):
        run = self._run = _Run(
            engine,
            store_id,
            client,
            clock,
            False,
            run_of=run_of,
            connect_client=connect_client,
            notified=notified,
        )
        self.writes = writes
        self.opened = writes.soon(run.open)
        self._raised: BaseException | None = None  # what reading the window raised

    def read(self) -> Future:
        """Read the window. Raises what recording the run raised (`AlreadySynced`); what
        failed after is in the report (and in the log, when it is a bug)."""
        run = self._run
        self.opened.result()
        try:
            run.read(self.writes)
        except BaseException as exc:  # noqa: BLE001 - recorded in the report by `read`
            self._raised = exc
        return self._report()

    def abandon(self) -> Future:
        """Close the run unread: a stop came before its turn."""
        run = self._run
        self.opened.result()
        run.report.outcome, run.report.error = "failed", STOPPED
        run.finished = self.writes.later(run.finish)
        return self._report()

    def _report(self) -> Future:
        run, report = self._run, Future()

        def closed(finished: Future) -> None:
            if (error := finished.exception()) is not None:  # the run's close was not written
                run.report.outcome = "failed"
                run.report.error, _ = failed_because(error, STOPPED)
            # Once, whichever thread met it: a page's failure is raised in the worker too.
            bug = run.failure or self._raised
            if bug is not None and not isinstance(bug, OrdertoolsError | KeyboardInterrupt):
                log.error("store %s: the sync failed unexpectedly", run.report.store, exc_info=bug)
            report.set_result(run.report)

        run.finished.add_done_callback(closed)
        return report


class AlreadySynced(OrdertoolsError):
    """The store has a run in this round already (another runner's, or an earlier one's)."""

    def __init__(self, store: str, runner: str | None):
        super().__init__(f"store {store} was synced in this round already by {runner}")


@dataclass(frozen=True)
class RunOf:
    """Whose run a run record is: a round of `sync --all` and its runner, or neither."""

    round_id: int | None = None
    runner: str | None = None


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


class WriteAgain(Exception):
    """Raised by work handed to `Writes` (`may_fail` work, or any `InlineWrites` work) to have
    what it wrote undone and to be run once more."""


class Writes:
    """Where a run's transactions go: on its own connection, one after another (`InlineWrites`,
    a `sync NAME`), or to the round's writer thread (`sync --all`, sync/round_writer.py).

    `now(work)` runs `work(connection)` in a transaction and returns what it returned (`soon`:
    a future of it); `later(work)` runs it in a transaction in order, and may return before
    it has run (a failure then shows in the run: `_Run.failure`). Work never begins or
    commits itself.
    """

    def now(self, work: Callable[[Connection], object]) -> object:
        return self.soon(work).result()

    def soon(self, work: Callable[[Connection], object]) -> Future:
        """`now` without waiting for it."""
        raise NotImplementedError

    def later(self, work: Callable[[Connection], object], *, may_fail: bool = False) -> Future:
        """`may_fail`: the work may fail on its data (a page), and must then cost only itself."""
        raise NotImplementedError

    def writing_pages(self, stack: ExitStack, written: int, engine: Engine) -> None:
        """Called before a run's `written`-th page with orders (0 for the first)."""


class InlineWrites(Writes):
    """A transaction per call, on the run's one connection, right away."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def now(self, work):
        try:
            with self.connection.begin():
                return work(self.connection)
        except WriteAgain:
            with self.connection.begin():
                return work(self.connection)

    def later(self, work, *, may_fail: bool = False) -> Future:
        done = Future()  # already: what failed has been raised
        done.set_result(self.now(work))
        return done

    soon = later

    def writing_pages(self, stack, written, engine):
        if written == 0:
            stack.enter_context(_collector_spares_older_objects())
        elif written == 1:
            # A second page: a sync long enough for the log to grow. One page is one commit,
            # not worth a thread and a connection (most stores with anything new in a round
            # of sync --all have one page).
            stack.enter_context(background_checkpoints(engine))


class _Run:
    """One run over one store's window: a transaction to record the run, one per page with
    orders, one to close the record (see `Writes` for where they run).

    A store with nothing new (most stores, most rounds of `sync --all`) costs the two run
    transactions and one searchOrders call; the writer's extras (collector freeze, checkpoint
    thread) start with the first page that has orders, and the second.
    """

    failure: BaseException | None = None  # a page's, when it was written by another thread
    applied = 0  # pages written
    careful = False  # pages' imports made in a savepoint (after the database refused one)

    def __init__(
        self, engine, store_id, client, clock, progress, *, run_of, connect_client, notified
    ):
        self.engine = engine
        self.store_id = store_id
        self.client = client
        self.clock = clock or (lambda: datetime.now(UTC))
        self.progress = progress
        self.run_of = run_of or RunOf()
        self.connect_client = connect_client or connect.amazon_client
        self.notified = notified  # whether the store ever had a notification; None: look
        self.report = SyncReport(store="")
        self.cursor = None

    def run(self) -> SyncReport:
        with writer_connection(self.engine) as connection:
            writes = InlineWrites(connection)
            writes.now(self.open)
            return self.read(writes)

    def open(self, connection: Connection) -> None:
        """Record the run (raises `AlreadySynced` if the round has one of the store)."""
        # A row, not an ORM object: it has what the run and the client read, for less; and
        # in the same statement, what the run must know of the store's other runs.
        store = connection.execute(
            _STORE_TO_RUN, {"b_store": self.store_id, "b_round": self.run_of.round_id}
        ).one()
        report = self.report
        report.store = store.name
        # Under the lock: no other runner can add one now. (Every run in a round names its
        # runner, so a name found is a run found.)
        if store.round_runner is not None:
            raise AlreadySynced(store.name, store.round_runner)
        # This run holds the store's lock, so a run of the store still "running" is one whose
        # process died (kill -9, a crash): say so instead of leaving it running forever.
        if store.left_running:
            connection.execute(_MARK_INTERRUPTED, {"b_store": store.id})
        now = self.clock()
        start = (
            store.cursor - timedelta(seconds=store.overlap_seconds)
            if store.cursor
            else store.integrated_at
        )
        end = now - timedelta(seconds=store.api_lag_seconds)
        report.run_id = connection.scalar(
            _NEW_RUN,
            {
                "store_id": store.id,
                "started_at": utcnow(),
                "window_start": start,
                "window_end": end,
                "host": _HOST,
                "pid": os.getpid(),
                "round_id": self.run_of.round_id,
                "runner": self.run_of.runner,
            },
        )
        report.window_start, report.window_end = start, end
        if end <= start:
            report.opens_at = now + (start - end)
        self.store = store

    def read(self, writes: Writes) -> SyncReport:
        """Read the window and write its pages, then close the run (`writes.later`): the
        report is final once that has run. Raises what failed, after recording it."""
        report, store = self.report, self.store
        start, end = report.window_start, report.window_end
        client = self.client
        owns_client = client is None
        try:
            if owns_client:  # even with nothing to read: a missing credential shows at once
                client = self.connect_client(store)
            if end > start:
                self._read_window(writes, client, store.marketplace_id, start, end)
            else:  # nothing to read yet; still, success means Amazon answered
                client.check_access(store.marketplace_id, before=end)
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
            self.cursor = end if report.outcome == "success" and end > start else None
            self.finished = writes.later(self.finish)
        return report

    def _read_window(self, writes, client, marketplace_id, start, end) -> None:
        report = self.report
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
            ExitStack() as writing,
        ):
            statistics = None
            written = 0  # pages with something to write
            unwritten: deque[Future] = deque()  # handed to `writes`, perhaps not written yet
            for page in pages:
                if page.orders or page.malformed:
                    writes.writing_pages(writing, written, self.engine)
                    statistics = statistics or _Statistics(self.engine)
                    written += 1
                    unwritten.append(
                        writes.later(
                            lambda connection, page=page: self.apply(connection, page),
                            may_fail=True,
                        )
                    )
                    # Handed to another thread, pages wait for it in memory: a first sync of
                    # a big store would hold its whole window there: at most PAGES_HANDED wait.
                    while len(unwritten) > PAGES_HANDED:
                        wait_for([unwritten.popleft()])
                    statistics.after(report.new)
                if self.failure is not None:  # a page written by another thread failed
                    raise self.failure
                report.pages += 1
                waits.page_done()
                stops.raise_if_requested()  # between pages: nothing half-written
                bar.update(len(page.orders) + len(page.malformed))

    def apply(self, connection: Connection, page) -> None:
        """Write one page (after a page that failed, nothing: the window is not read)."""
        if self.failure is not None:
            return
        try:
            # The session only uses the transaction it is given (`Writes` commits).
            with Session(
                connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            ) as session:
                # The first page takes the store as the run read it when it began; each later
                # one reads it again, so a setting changed meanwhile (the Import toggle)
                # applies from the next page on. A row, not an ORM object: the applier only
                # reads it, and loading one cost 0.7 ms of the 4.8 ms of CPU a page of 5 new
                # orders took in a round of sync --all.
                store = self.store
                if self.applied:
                    store = connection.execute(_STORE, {"b_store": self.store_id}).one()
                mark = self.report.mark()
                PageApplier(session, store, self.report, careful=self.careful).apply(page)
                session.flush()
            self.applied += 1
        except ImportRefused:  # written again with an import at a time, the culprit failing
            self.report.back_to(mark)
            self.careful = True
            raise WriteAgain from None
        except BaseException as exc:
            self.failure = exc
            raise

    def finish(self, connection: Connection) -> None:
        """Close the run record, and move the cursor if the whole window was read."""
        report, store = self.report, self.store
        cursor = self.cursor
        if self.failure is not None and report.outcome == "success":  # a page written later
            report.error, _ = failed_because(self.failure, STOPPED)
            report.outcome, cursor = "failed", None
        if store.notification_subscription_id is not None or self.notified is not False:
            live = liveness(connection, store)
            if live.set_up or live.last_received is not None:
                report.notifications = live.words(self.clock())
        values = {
            **report.counts(),
            "pages": report.pages,
            "outcome": report.outcome,
            "error": report.error,
            "finished_at": utcnow(),
        }
        connection.execute(_CLOSE_RUN, {"b_run": report.run_id, **values})
        if cursor is not None:
            connection.execute(_MOVE_CURSOR, {"b_store": self.store_id, "cursor": cursor})


# The statements every run makes, built once (thousands of runs a round with `sync --all`).
_STORES, _RUNS = Store.__table__, SyncRun.__table__
_STORE = select(_STORES).where(_STORES.c.id == bindparam("b_store"))
_MARK_INTERRUPTED = (
    update(_RUNS)
    .where(_RUNS.c.store_id == bindparam("b_store"), _RUNS.c.outcome == "running")
    .values(outcome="failed", error=INTERRUPTED)
)
_NEW_RUN = insert(_RUNS).returning(_RUNS.c.id)
# The store, the runner of this round's run of it if it has one, and whether a run of it
# was left "running": one read where a quiet store's run made three (a round of sync --all
# makes thousands). The last probes a partial index of the running runs (migration 0013), so
# it costs the same after a year of runs as after one.
_STORE_TO_RUN = select(
    _STORES,
    select(_RUNS.c.runner)
    .where(_RUNS.c.round_id == bindparam("b_round"), _RUNS.c.store_id == _STORES.c.id)
    .limit(1)
    .scalar_subquery()
    .label("round_runner"),
    select(_RUNS.c.id)
    .where(_RUNS.c.store_id == _STORES.c.id, _RUNS.c.outcome == "running")
    .exists()
    .label("left_running"),
).where(_STORES.c.id == bindparam("b_store"))
_CLOSE_RUN = update(_RUNS).where(_RUNS.c.id == bindparam("b_run"))
_MOVE_CURSOR = update(_STORES).where(_STORES.c.id == bindparam("b_store"))
_HOST = socket.gethostname()
