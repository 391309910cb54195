"""One sync per store at a time, whoever starts it and from whichever process.

A scheduled run, a notebook click and a cron job may all try to sync the same store. Whatever
holds the lock must lose it when its process dies, even by `kill -9`, or a crash would block
the store until someone deletes a file by hand. So the lock is always one the operating system
or the database server drops with the process:

- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection of its own,
  held for the whole sync. The server releases it when that connection ends (a dead process's
  connection ends with it); a sync that finishes unlocks it and hands the connection back.
- SQLite file: an OS lock (`flock`) on `<database>.store-<id>.lock` beside the database;
  the kernel releases it when the holder's file descriptor closes.
- In-memory SQLite: only this process can see the database, so a process-local lock.

The holder writes who it is (pid, host, since when) where a waiting process can read it, so
`StoreBusy` can say who to wait for.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from ordertools.db.engine import sqlite_file
from ordertools.errors import OrdertoolsError

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

POLL_SECONDS = 0.2
# First half of the two-int advisory key ("ords"); the second half is the store id.
_PG_LOCK_NAMESPACE = 0x6F726473
_PG_APP_PREFIX = "ordertools-lock"


class StoreBusy(OrdertoolsError):
    """Another sync of this store is running; `holder` says which one, when known."""

    exit_code = 75  # EX_TEMPFAIL: schedulers read it as "try again later"

    def __init__(self, store: str, holder: Holder | None, waited: float = 0):
        who = f" ({holder.describe()})" if holder else " in another process"
        after = f" after waiting {waited:g} s" if waited else ""
        super().__init__(f"store {store} is already syncing{who}{after}; try again later")
        self.store = store
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    pid: int | None
    host: str | None
    since: datetime | None

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), datetime.now(UTC).replace(microsecond=0))

    def dump(self) -> str:
        return f"{self.pid} {self.since:%Y-%m-%dT%H:%M:%SZ} {self.host}"

    @classmethod
    def parse(cls, line: str) -> Holder | None:
        parts = line.split(" ", 2)
        if len(parts) != 3:
            return None
        pid, since, host = parts
        try:
            moment = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return cls(int(pid), host or None, moment)
        except ValueError:
            return None

    def describe(self) -> str:
        words = [f"pid {self.pid}" if self.pid else "a process"]
        if self.host:
            words.append(f"on host {self.host}")
        if self.since:
            words.append(f"since {self.since:%Y-%m-%d %H:%M:%S} UTC")
        return " ".join(words)


class _Lock(Protocol):
    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...
    def holder(self) -> Holder | None: ...


@contextmanager
def store_lock(
    engine: Engine,
    store_id: int,
    *,
    wait: bool | float = False,
    shared: SharedConnectionLocks | None = None,
) -> Iterator[None]:
    """Hold the store's sync lock for the block.

    `wait=False` raises `StoreBusy` at once when another sync holds it; a number waits up to
    that many seconds first; `True` waits as long as it takes. `shared`: on PostgreSQL, hold
    it on that runner's one connection instead of a connection of its own.
    """
    if shared is not None and engine.dialect.name == "postgresql":
        lock: _Lock = _SharedAdvisoryLock(shared, store_id)
    else:
        lock = _lock_for(engine, store_id)
    started = time.monotonic()
    deadline = None if wait is True else started + float(wait)
    while not lock.try_acquire():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise StoreBusy(_store_name(engine, store_id), lock.holder(), round(now - started, 1))
        time.sleep(POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - now))
    try:
        yield
    finally:
        lock.release()


def _lock_for(engine: Engine, store_id: int) -> _Lock:
    if engine.dialect.name == "postgresql":
        return _AdvisoryLock(engine, store_id)
    database = _database_file(str(engine.url), os.getcwd())  # a relative path: from here
    if database is None:  # in memory (or a URI naming no file): only this process sees it
        return _ProcessLock(engine, store_id)
    return _FileLock(Path(f"{database}.store-{store_id}.lock"))


@functools.lru_cache(maxsize=16)
def _database_file(url: str, cwd: str) -> str | None:
    """The SQLite file's resolved path, worked out once per order book: a round of
    `sync --all` locks every store, and resolving the path took 0.1 ms of the 0.27 ms of
    CPU each lock and release cost."""
    database = sqlite_file(make_url(url))
    return None if database is None else str(database.resolve())


def _store_name(engine: Engine, store_id: int) -> str:
    try:
        with engine.connect() as conn:
            name = conn.scalar(text("SELECT name FROM stores WHERE id = :id"), {"id": store_id})
    except Exception:  # the message is still useful without the name
        name = None
    return name or f"#{store_id}"


class _AdvisoryLock:
    def __init__(self, engine: Engine, store_id: int):
        self.engine = engine
        self.key = {"ns": _PG_LOCK_NAMESPACE, "id": store_id}
        self.conn: Connection | None = None

    # One statement each way: `sync --all` takes and drops a lock per store, thousands a round.
    # Taken, the holder announces itself where waiters can see it (application_name holds 63
    # bytes); dropped, it stops announcing, and the connection goes back to the pool.
    _TAKE = text(
        "SELECT CASE WHEN pg_try_advisory_lock(:ns, :id)"
        " THEN set_config('application_name', :name, false) END"
    )
    _DROP = text(
        "SELECT pg_advisory_unlock(:ns, :id), set_config('application_name', 'ordertools', false)"
    )

    def try_acquire(self) -> bool:
        # Autocommit: holding the lock must not hold a transaction open for the whole sync.
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        name = f"{_PG_APP_PREFIX} {Holder.me().dump()}"[:63]
        try:
            taken = conn.scalar(self._TAKE, {**self.key, "name": name}) is not None
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        assert self.conn is not None
        conn, self.conn = self.conn, None
        try:
            conn.execute(self._DROP, self.key)
        except Exception:  # noqa: BLE001 - ending the server session drops the lock as well
            conn.invalidate()
        finally:
            conn.close()

    def holder(self) -> Holder | None:
        query = text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
            " AND l.classid = CAST(:ns AS oid) AND l.objid = CAST(:id AS oid)"
            # Advisory keys are per database: another order book on the same server may hold
            # the same store id's key without holding this store.
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with self.engine.connect() as conn:
            name = conn.scalar(query, self.key)
        if not name or not name.startswith(_PG_APP_PREFIX + " "):
            return None
        return Holder.parse(name.removeprefix(_PG_APP_PREFIX + " "))


class SharedConnectionLocks:
    """One connection holding every store lock a `sync --all` runner takes on PostgreSQL.

    A lock per connection cost a runner a connection per store at work: at `--jobs 16`, with
    each worker's next store claimed ahead and stores waiting for their run to be closed,
    three runners went past PostgreSQL's 100 connections. Advisory locks are held per
    session, so one session holds them all; the runner hands each store to one worker, so
    no two of its threads ask for one key (a session may take its own lock twice). The
    session announces the runner (`application_name`) as a store's connection did. If the
    connection ends, the server drops every lock on it, as it would with the process.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.guard = threading.Lock()  # one statement at a time on the connection
        self.conn: Connection | None = None

    def execute(self, statement, parameters) -> object:
        with self.guard:
            if self.conn is None:
                conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                name = f"{_PG_APP_PREFIX} {Holder.me().dump()}"[:63]
                conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
                self.conn = conn
            try:
                return self.conn.scalar(statement, parameters)
            except BaseException:
                conn, self.conn = self.conn, None
                conn.invalidate()  # the server drops its locks with the session
                conn.close()
                raise

    def close(self) -> None:
        with self.guard:
            if self.conn is not None:
                conn, self.conn = self.conn, None
                try:  # every lock was released; no connection goes back to the pool holding one
                    conn.execute(text("SELECT pg_advisory_unlock_all()"))
                except Exception:  # noqa: BLE001 - ending the session drops them as well
                    conn.invalidate()
                finally:
                    conn.close()


class _SharedAdvisoryLock:
    _TAKE = text("SELECT pg_try_advisory_lock(:ns, :id)")
    _DROP = text("SELECT pg_advisory_unlock(:ns, :id)")

    def __init__(self, shared: SharedConnectionLocks, store_id: int):
        self.shared = shared
        self.key = {"ns": _PG_LOCK_NAMESPACE, "id": store_id}

    def try_acquire(self) -> bool:
        return bool(self.shared.execute(self._TAKE, self.key))

    def release(self) -> None:
        try:
            self.shared.execute(self._DROP, self.key)
        except Exception:  # noqa: BLE001 - the session ended, and its locks with it
            pass

    def holder(self) -> Holder | None:
        return _AdvisoryLock(self.shared.engine, self.key["id"]).holder()


class _FileLock:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        # Never truncate before holding the lock: the file tells waiters who holds it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _os_lock(fd)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f" {Holder.me().dump()}\n".encode())  # byte 0 is the locked byte
        self.fd = fd
        return True

    def release(self) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 1)  # nobody holds it now; the file itself stays (deleting races)
        os.close(self.fd)  # closing drops the OS lock
        self.fd = None

    def holder(self) -> Holder | None:
        try:
            with open(self.path, "rb") as f:
                f.seek(1)
                return Holder.parse(f.read(200).decode(errors="replace").strip())
        except OSError:
            return None


def _os_lock(fd: int) -> None:
    """Lock the file without waiting; OSError when another open file holds it."""
    if os.name == "nt":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        # flock, not lockf: flock belongs to the open file, so two opens in one process
        # (two threads) exclude each other too, and closing another descriptor releases nothing.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


_process_locks: weakref.WeakKeyDictionary[Engine, dict[int, tuple[threading.Lock, list]]] = (
    weakref.WeakKeyDictionary()
)
_process_locks_guard = threading.Lock()


class _ProcessLock:
    def __init__(self, engine: Engine, store_id: int):
        with _process_locks_guard:
            per_store = _process_locks.setdefault(engine, {})
            self.lock, self.holders = per_store.setdefault(store_id, (threading.Lock(), [None]))

    def try_acquire(self) -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        self.holders[0] = Holder.me()
        return True

    def release(self) -> None:
        self.holders[0] = None
        self.lock.release()

    def holder(self) -> Holder | None:
        return self.holders[0]
