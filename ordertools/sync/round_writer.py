"""The round's writer: in `sync --all`, one thread writes every store's run records and pages.

SQLite takes one writer at a time. When each of a round's workers wrote its own store's
transactions, they queued for SQLite's write lock, and whoever held it was held up mid
transaction by the other threads' turns at the interpreter lock: in a round over 1,000 stores
with 5 new orders each (bench/many_stores.py, `--jobs 16`), a page's transaction held the lock
4-5 ms for 2.7 ms of work, and a worker waited some 15 ms for it per page and 8 ms per run
record; the round took 1.6 x its latency bound.

Here the workers only talk to Amazon. One thread writes, back to back, what they hand it,
batching what is waiting into one transaction, each page in a savepoint of its own, so a
store's bad page costs only that store. A worker does not wait for its pages and its run's
close (`later`): it takes the next store meanwhile, and lets go of the store's lock once the
run is closed. It does wait for its run to be recorded (`soon`, then `now`: that record is
what keeps two runners off one store in a round), asked for while Amazon answers for the
store before, and the writer takes such work first. On PostgreSQL the batches also save a
commit, and its WAL flush, per run record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ordertools.db.checkpoints import background_checkpoints
from ordertools.db.writer import writer_connection
from ordertools.sync.run import WriteAgain, Writes

log = logging.getLogger(__name__)

# A batch of later work ends after this long, or sooner when a worker waits on `now`: its
# wait is one piece of work and a commit, not a batch.
BATCH_SECONDS = 0.02


@dataclass
class _Work:
    work: Callable[[Connection], object]
    urgent: bool
    may_fail: bool  # on its data (a page): in a savepoint, so that it costs only itself
    future: Future = field(default_factory=Future)


class RoundWriter(Writes):
    """A thread writing the work handed to it, in handed order (`now` before `later`).

    Use as a context manager: leaving it writes what is still queued, then ends the thread.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._urgent: deque[_Work] = deque()
        self._later: deque[_Work] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._broken: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="sync-writer", daemon=True)

    def __enter__(self) -> RoundWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    # -- Writes ------------------------------------------------------------------------------

    def soon(self, work) -> Future:
        return self._hand(work, urgent=True, may_fail=False)

    def later(self, work, *, may_fail: bool = False) -> Future:
        return self._hand(work, urgent=False, may_fail=may_fail)

    def _hand(self, work, *, urgent: bool, may_fail: bool) -> Future:
        item = _Work(work, urgent, may_fail)
        with self._ready:
            if self._broken is not None or self._closed:
                item.future.set_exception(self._broken or RuntimeError("the writer has ended"))
                return item.future
            (self._urgent if urgent else self._later).append(item)
            self._ready.notify()
        return item.future

    # -- the thread --------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            with (
                writer_connection(self.engine) as connection,
                background_checkpoints(self.engine),
            ):
                while (first := self._take(block=True)) is not None:
                    self._write(connection, first)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting worker
            log.error("the round's writer failed", exc_info=True)
            with self._ready:
                self._broken = exc
                waiting = [*self._urgent, *self._later]
                self._urgent.clear()
                self._later.clear()
            for item in waiting:
                item.future.set_exception(exc)

    def _take(self, *, block: bool, urgent_only: bool = False) -> _Work | None:
        with self._ready:
            while block and not (self._urgent or self._later or self._closed):
                self._ready.wait()
            if self._urgent:
                return self._urgent.popleft()
            if self._later and not urgent_only:
                return self._later.popleft()
            return None

    def _urgent_waiting(self) -> bool:
        with self._ready:
            return bool(self._urgent)

    def _write(self, connection: Connection, first: _Work) -> None:
        """One transaction: `first`, then what is waiting.

        Work that may fail on its data runs in a savepoint. The rest (the run records) can
        fail only with the database (a lost connection, a full disk), which fails the whole
        batch, as its commit would: a savepoint each (two statements, each a parse of its own
        name) cost more than the record's own statements."""
        done: list[tuple[_Work, object, BaseException | None]] = []
        item: _Work | None = first
        started = time.perf_counter()
        try:
            with connection.begin():
                if connection.dialect.name == "sqlite":
                    # pysqlite begins only before a write, and a SAVEPOINT outside a
                    # transaction would begin (and its release end) one of its own; taken
                    # now, the write lock is not waited for in the middle of the batch.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                while item is not None:
                    done.append(self._one(connection, item))
                    if item.urgent:  # a batch of `now` work ends when no more waits
                        item = self._take(block=False, urgent_only=True)
                    elif self._urgent_waiting() or time.perf_counter() - started > BATCH_SECONDS:
                        item = None
                    else:
                        item = self._take(block=False)
        except Exception as exc:  # noqa: BLE001 - the commit failed: so did all of it
            log.warning("a batch of the round's writes failed: %s", exc)
            for work, _, _ in done:
                work.future.set_exception(exc)
            if item is not None and not item.future.done():
                item.future.set_exception(exc)
            return
        for work, result, error in done:
            if error is None:
                work.future.set_result(result)
            else:
                work.future.set_exception(error)

    @staticmethod
    def _one(connection: Connection, item: _Work):
        savepoint = connection.begin_nested() if item.may_fail else None
        try:
            try:
                result = item.work(connection)
            except WriteAgain:  # what it wrote undone, once
                if savepoint is None:
                    raise
                savepoint.rollback()
                savepoint = connection.begin_nested()
                result = item.work(connection)
        except Exception as exc:  # noqa: BLE001 - the work's own failure, handed to its waiter
            if savepoint is not None:
                savepoint.rollback()
            elif isinstance(exc, DBAPIError):  # the database failed: the batch with it
                raise
            return item, None, exc
        if savepoint is not None:
            savepoint.commit()
        return item, result, None
