"""`sync --all`: a round over every store, stores in parallel, runners sharing the round.

Amazon's usage plans are per seller account and application, so different stores can be read
at the same time; what bounds a round is Amazon's latency, not our CPU. A round runs `jobs`
stores at once, each with its own client (token cache, rate-limit buckets) over one shared
pool of HTTP connections, and one store's failure never stops the others. The workers only
talk to Amazon; one thread writes what they read (sync/round_writer.py).

Several runners (processes, hosts: a Kubernetes CronJob with parallelism, Airflow tasks) may
share a round on one PostgreSQL order book. There is no coordinator: each store's sync lock
(`db.locks`, an advisory lock on PostgreSQL) is tried without waiting, so a store another
runner is syncing is skipped; under the lock, a store that already has a run in this round is
skipped too. So each store is synced once per round by one runner, and a runner that dies
releases its locks with its connections: its store's run stays in the round (marked
interrupted by the next run), and the next round picks the store up where its cursor stands.

Which round: runners name it (`--round KEY`, e.g. the Kubernetes Job's name, the Airflow run
id), or without a name join the newest unfinished round begun in the last `JOIN_WITHIN`, or
begin one. A runner that finds every store done marks the round finished.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select, text, update
from sqlalchemy.engine import Engine
from tqdm.auto import tqdm

from ordertools import db, stops
from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient, new_session
from ordertools.db import Notification, OutboxEntry, Store, SyncRound, SyncRun, utcnow
from ordertools.db import session as db_session
from ordertools.db.engine import is_memory_sqlite
from ordertools.db.locks import SharedConnectionLocks, StoreBusy, store_lock
from ordertools.errors import ConfigurationError, OrdertoolsError
from ordertools.fulfillment.outbox import OPEN_STATES, flush_outbox
from ordertools.sync.report import SyncFailed, SyncReport, failed_because
from ordertools.sync.round_writer import RoundWriter
from ordertools.sync.run import STOPPED, AlreadySynced, RunOf, RunThrough

log = logging.getLogger(__name__)

# Stores at once when `--jobs` is not given: bench/many_stores.py measured the round's wall
# time on this 2-core machine against the latency bound; see the README's "Many stores".
DEFAULT_JOBS = 16
SHOWN_IN_FULL = 10  # stores whose whole summary `sync --all` prints; past that, a line each
MAX_JOBS = 256
JOIN_WITHIN = timedelta(minutes=10)
# A store Amazon throttles (429: its quota spent by another app, or by a sync of it just now)
# gives up when its next call is further off than this, and waits for the next round: at
# Amazon's pace (one searchOrders call per 3 minutes once throttled) its retries would hold a
# worker, and the round, for a quarter of an hour.
THROTTLED_WAIT_LIMIT = 30.0
RUNNER_ENV = "ORDERTOOLS_RUNNER"
ROUND_ENV = "ORDERTOOLS_ROUND"
_ROUND_LOCK = (0x6F726473, 0)  # the stores' lock namespace; no store has id 0


@dataclass
class Round:
    """The round a runner works on, and how it went for this runner."""

    id: int
    key: str
    runner: str
    reports: list[SyncReport] = field(default_factory=list)
    skipped: list[SyncReport] = field(default_factory=list)  # another runner's, or done
    slowest: tuple[float, str] = (0.0, "")  # seconds, store
    seconds: float = 0.0

    @property
    def failed(self) -> list[SyncReport]:
        return [r for r in self.reports if r.outcome == "failed"]

    def summary(self, *, every_store: bool | None = None) -> str:
        """What the round did. Each store's own summary for a few stores (`every_store`
        None: up to `SHOWN_IN_FULL`); for more, a line per store that failed or changed."""
        full = len(self.reports) <= SHOWN_IN_FULL if every_store is None else every_store
        lines = []
        for report in sorted(self.reports, key=lambda r: r.store):
            if full:
                lines.append(report.summary())
            elif report.outcome != "success" or report.new or report.updated:
                lines.append(report.line())
        new = sum(r.new for r in self.reports)
        updated = sum(r.updated for r in self.reports)
        imported = sum(r.imported for r in self.reports)
        took, store = self.slowest
        lines.append(
            f"Round {self.key} (runner {self.runner}): {len(self.reports)} stores synced"
            f" ({len(self.failed)} failed), {len(self.skipped)} skipped (other runners'"
            f" or done this round); {new} new, {updated} updated, {imported} imported;"
            f" {self.seconds:.1f} s" + (f", slowest {store} {took:.1f} s" if store else "")
        )
        return "\n".join(lines)


def runner_name() -> str:
    """Who this runner is in the run records: `ORDERTOOLS_RUNNER`, else host and pid."""
    return os.environ.get(RUNNER_ENV) or f"{socket.gethostname()}:{os.getpid()}"


def sync_all(
    engine: Engine,
    *,
    jobs: int | None = None,
    round_key: str | None = None,
    runner: str | None = None,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: bool | None = None,
    wait: bool | float = False,
) -> list[SyncReport]:
    """Sync every store once in this round, `jobs` at a time; the reports of the stores this
    runner synced (stores other runners have, or had, in this round are left out).

    Raises `SyncFailed` at the end when any store failed, carrying every report. `wait` is
    accepted for `sync_store`'s sake and ignored: a busy store is another runner's to sync.
    """
    del wait
    the_round = sync_round(
        engine,
        jobs=jobs,
        round_key=round_key,
        runner=runner,
        client=client,
        clock=clock,
        progress=progress,
    )
    if the_round.failed:
        raise SyncFailed(the_round.reports)
    return the_round.reports


def sync_round(
    engine: Engine,
    *,
    jobs: int | None = None,
    round_key: str | None = None,
    runner: str | None = None,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: bool | None = None,
) -> Round:
    """`sync_all`'s round, returned as it went (failed stores included, nothing raised for
    them): what `ordertools sync --all` prints."""
    started = time.perf_counter()
    work = _RoundWork(engine, jobs=jobs, round_key=round_key, runner=runner)
    with work as (sized, the_round, stores):
        workers = _Workers(sized, the_round, stores, client, clock, progress, work.jobs)
        try:
            workers.run()
        finally:
            # Stores finish in whatever order their Amazon answers: report them by name.
            the_round.reports.sort(key=lambda r: r.store)
            the_round.slowest = workers.slowest
            the_round.seconds = time.perf_counter() - started
        _finish_if_done(sized, the_round.id)
    return the_round


class _RoundWork:
    """The round to work on, the stores in it, and an engine with a pool for `jobs` threads."""

    def __init__(self, engine, *, jobs, round_key, runner):
        self.jobs = _jobs(jobs)
        self.engine = engine
        self.round_key = round_key or os.environ.get(ROUND_ENV) or None
        self.runner = runner or runner_name()
        self._sized: Engine | None = None

    def __enter__(self):
        # On PostgreSQL: the round's writer, its locks' connection, and a worker sending a
        # store's outbox; a few to spare.
        needed = self.jobs + 4
        engine = self.engine
        if not is_memory_sqlite(engine.url) and engine.pool.size() < needed:
            engine = self._sized = db.connect(engine.url, connections=needed)
        the_round = join_round(engine, self.round_key, self.runner)
        with db_session(engine) as session:
            stores = _Stores.read(session)
        return engine, the_round, stores

    def __exit__(self, *exc):
        if self._sized is not None:
            self._sized.dispose()


def _jobs(jobs: int | None) -> int:
    if jobs is None:
        return DEFAULT_JOBS
    if not 1 <= jobs <= MAX_JOBS:
        raise ConfigurationError(f"--jobs {jobs}: give 1 to {MAX_JOBS} stores at once")
    return jobs


def join_round(engine: Engine, key: str | None, runner: str) -> Round:
    """The round named `key` (begun if new), or without a key the newest unfinished one begun
    in the last `JOIN_WITHIN`, or a new one. One runner at a time decides, so two runners
    starting together join one round."""
    now = utcnow()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            a, b = _ROUND_LOCK
            conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": a, "b": b})
        else:  # pysqlite begins lazily: take the write lock before reading
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        query = select(SyncRound.id, SyncRound.key)
        if key is not None:
            query = query.where(SyncRound.key == key)
        else:
            query = query.where(
                SyncRound.finished_at.is_(None), SyncRound.started_at > now - JOIN_WITHIN
            ).order_by(SyncRound.started_at.desc())
        found = conn.execute(query.limit(1)).first()
        if found is not None:
            return Round(found.id, found.key, runner)
        key = key or f"{now:%Y-%m-%dT%H:%M:%SZ} {runner}"
        new_id = conn.scalar(
            SyncRound.__table__.insert()
            .values(key=key, started_at=now)
            .returning(SyncRound.__table__.c.id)
        )
        return Round(new_id, key, runner)


def _finish_if_done(engine: Engine, round_id: int) -> None:
    """Mark the round finished when every store has a run in it (this runner's or another's)."""
    with db_session(engine) as session:
        done = session.scalar(
            select(func.count(distinct(SyncRun.store_id))).where(SyncRun.round_id == round_id)
        )
        if done >= session.scalar(select(func.count(Store.id))):
            session.execute(
                update(SyncRound)
                .where(SyncRound.id == round_id, SyncRound.finished_at.is_(None))
                .values(finished_at=utcnow())
            )


@dataclass
class _Stores:
    """What the round reads once for every store, instead of once per store."""

    names: dict[int, str]
    outbox_due: set[int]  # stores with shipments or cancellations to send
    notified: set[int]  # stores that ever received a notification

    @classmethod
    def read(cls, session) -> _Stores:
        names = dict(session.execute(select(Store.id, Store.name).order_by(Store.name)).all())
        # The outbox's open entries are few (an index on state finds them); notifications are
        # many, so each store's is an index probe, not a scan of the table.
        due = set(
            session.scalars(
                select(OutboxEntry.store_id).distinct().where(OutboxEntry.state.in_(OPEN_STATES))
            )
        )
        ever = select(Notification.id).where(Notification.store_id == Store.id).exists()
        notified = set(session.scalars(select(Store.id).where(ever)))
        return cls(names, due, notified)


class _Workers:
    """`jobs` threads taking the round's stores in turn; the main thread shows progress and
    answers Ctrl-C/SIGTERM (the workers stop at their next safe point, runs recorded)."""

    def __init__(self, engine, the_round, stores, client, clock, progress, jobs):
        self.engine, self.round, self.stores = engine, the_round, stores
        self.client, self.clock, self.progress, self.jobs = client, clock, progress, jobs
        self._queue: Iterator[int] = iter(list(stores.names))
        self._queue_lock = threading.Lock()
        self._report_lock = threading.Lock()
        self.slowest: tuple[float, str] = (0.0, "")

    def run(self) -> None:
        total = len(self.stores.names)
        bar = tqdm(total=total, desc="sync --all", unit=" stores", disable=_disabled(self.progress))
        http = new_session(connections=self.jobs)
        self.connect_client = lambda store: connect.amazon_client(
            store, session=http, throttled_wait_limit=THROTTLED_WAIT_LIMIT, prefetch_first=False
        )
        workers = min(self.jobs, total)
        self.locks = SharedConnectionLocks(self.engine)
        try:
            # Leaving the writer writes what the workers handed it: every run is closed.
            with bar, stops.cooperatively(), RoundWriter(self.engine) as self.writer:
                self.bar = bar
                with ThreadPoolExecutor(workers or 1, thread_name_prefix="sync") as pool:
                    futures = {pool.submit(self._work) for _ in range(workers)}
                    while futures:
                        done, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                        for future in done:
                            _raise_bug(future)
                        if self.slowest[1]:
                            took, store = self.slowest
                            bar.set_postfix_str(f"slowest {store} {took:.1f} s")
            stops.raise_if_requested()  # every worker stopped at a safe point: now stop
        finally:
            self.locks.close()
            http.close()

    def _next(self) -> int | None:
        with self._queue_lock:
            return next(self._queue, None)

    def _work(self) -> None:
        # Stores whose run is handed to the writer, their locks held until it is closed. The
        # worker lets go of them itself (a file's truncation and close apiece, on SQLite),
        # not the writer, whose thread is the round's busiest.
        closing: list[tuple[Future, ExitStack]] = []
        # A store ahead: its run is recorded while Amazon answers for the current one.
        current = self._claim()
        while current is not None:
            ahead = None if stops.requested() else self._claim()
            if (handed := self._sync(*current)) is not None:
                closing.append(handed)
            closing = _release_closed(closing)
            current = ahead
        for closed, held in closing:
            wait([closed])
            held.close()

    def _claim(self) -> tuple[int, ExitStack, RunThrough] | None:
        """The next store this runner can lock, its run being recorded; None when done."""
        while (store_id := self._next()) is not None:
            name = self.stores.names[store_id]
            held = ExitStack()
            try:
                held.enter_context(store_lock(self.engine, store_id, shared=self.locks))
                run = RunThrough(
                    self.writer,
                    self.engine,
                    store_id,
                    client=self.client,
                    clock=self.clock,
                    run_of=RunOf(self.round.id, self.round.runner),
                    connect_client=self.connect_client,
                    notified=store_id in self.stores.notified,
                )
            except BaseException as exc:  # noqa: BLE001 - one store's failure is its report
                held.close()
                self._done(_not_synced(name, exc), time.perf_counter())
                continue
            return store_id, held, run
        return None

    def _sync(
        self, store_id: int, held: ExitStack, run: RunThrough
    ) -> tuple[Future, ExitStack] | None:
        """Read the store's window; its lock is held until its run is closed. Returns the
        future of the report and the held lock when the run is still the writer's to close."""
        name, started = self.stores.names[store_id], time.perf_counter()
        try:
            closed = run.abandon() if stops.requested() else run.read()
            if store_id not in self.stores.outbox_due:  # the next store meanwhile
                closed.add_done_callback(lambda f: self._done(f.result(), started))
                return closed, held
            report = closed.result()  # shipments out, still under the lock
            flush_outbox(self.engine, name, client=self.client, clock=self.clock)
        except BaseException as exc:  # noqa: BLE001 - one store's failure is its report
            report = _not_synced(name, exc)
        held.close()
        self._done(report, started)
        return None

    def _done(self, report: SyncReport, started: float) -> None:
        took = time.perf_counter() - started
        with self._report_lock:
            if report.outcome == "skipped":  # not this runner's to sync
                self.round.skipped.append(report)
            else:
                self.round.reports.append(report)
                self.slowest = max(self.slowest, (took, report.store))
            self.bar.update(1)


def _release_closed(closing: list[tuple[Future, ExitStack]]) -> list[tuple[Future, ExitStack]]:
    """Let go of the stores whose run is closed; the others, still held."""
    held = []
    for closed, lock in closing:
        if closed.done():
            lock.close()
        else:
            held.append((closed, lock))
    return held


def _not_synced(name: str, exc: BaseException) -> SyncReport:
    """The report of a store this runner did not sync (another's) or could not."""
    if isinstance(exc, StoreBusy | AlreadySynced):  # another runner's (or a `sync NAME`'s)
        return SyncReport(store=name, outcome="skipped", error=str(exc))
    # The run record says the same; a stop (Ctrl-C, SIGTERM) ends the other workers at their
    # next store, and the main thread raises it.
    error, _ = failed_because(exc, STOPPED)
    if not isinstance(exc, OrdertoolsError | KeyboardInterrupt):
        log.error("store %s: the sync failed unexpectedly", name, exc_info=exc)
    return SyncReport(store=name, outcome="failed", error=error)


def _raise_bug(future: Future) -> None:
    exc = future.exception()
    if exc is not None:
        raise exc


def _disabled(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
