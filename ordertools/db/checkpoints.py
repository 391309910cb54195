"""SQLite checkpoints in a background thread while a sync writes.

In WAL mode, each commit appends the changed pages to the log. A checkpoint copies them into
the database file and fsyncs it. Left to SQLite, the checkpoint runs inside whichever commit
takes the log past `wal_autocheckpoint` pages, so the sync stops and waits for the disk: a
fifth of 20,000 orders' commit time went into a handful of such commits
(bench/sync_bench.py --profile).

SQLite's documentation suggests the alternative used here: a second connection runs PASSIVE
checkpoints from its own thread. A PASSIVE checkpoint never blocks the writer or readers, and
sqlite3 releases the GIL while it copies and syncs, so the sync prepares its next page
meanwhile. The log stays short, so the writer's own automatic checkpoint rarely comes due.
If the thread falls behind, it still does, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from ordertools.db.engine import is_memory_sqlite

log = logging.getLogger(__name__)

INTERVAL_S = 0.1  # a first sync commits a page about every 20 ms


@contextmanager
def background_checkpoints(engine: Engine, interval: float = INTERVAL_S) -> Iterator[None]:
    """Checkpoint the SQLite order book from a thread while the block runs (other backends,
    and in-memory SQLite, have no log to checkpoint: then it does nothing)."""
    if engine.dialect.name != "sqlite" or is_memory_sqlite(engine.url):
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=_checkpoint_until, args=(engine, stop, interval), name="sqlite-checkpoints"
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _checkpoint_until(engine: Engine, stop: threading.Event, interval: float) -> None:
    try:
        connection = engine.raw_connection()
    except Exception:  # noqa: BLE001 - without the thread, SQLite checkpoints as it always does
        log.debug("no connection for background checkpoints", exc_info=True)
        return
    try:
        while not stop.wait(interval):
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.fetchall()
            cursor.close()
    except Exception:  # noqa: BLE001 - as above; the sync itself must not fail for this
        log.debug("background checkpoints stopped", exc_info=True)
    finally:
        connection.close()
