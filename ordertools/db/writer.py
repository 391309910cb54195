"""One connection for a long run of write transactions (a sync's pages).

A sync commits one transaction per page of orders, all on one connection held for the window,
so that what is tuned for the run stays on that connection. On SQLite it keeps its statement
journals in memory. SQLite writes the
original of every page a statement changes to a statement journal while the transaction has
other changes (a multi-row INSERT, whose UNIQUE check may abort it halfway) or a savepoint is
open (the sync imports a page's local orders in one). Past 64 KiB that journal spills to a
temporary file: 40,000 page writes, each a system call, in a first sync of 20,000 orders
(strace), an eighth of the time spent applying the pages (bench/sync_bench.py). In memory it
holds what one page's statements change, a few MB at most. Only this connection, and only for
the run: `temp_store` also decides where big sorts spill, which for other work must stay on
disk, so it is put back when the block ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)


@contextmanager
def writer_connection(engine: Engine) -> Iterator[Connection]:
    """A connection held for the block, outside any transaction: bind a `Session` to it per
    transaction (`Session(connection)` begins and commits its own)."""
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection
            return
        driver = connection.connection.driver_connection
        # On the driver: through SQLAlchemy the PRAGMA would begin a transaction the block's
        # sessions would then only join, never commit.
        driver.execute("PRAGMA temp_store=MEMORY")
        try:
            yield connection
        finally:
            try:
                driver.execute("PRAGMA temp_store=DEFAULT")
            except Exception:  # noqa: BLE001 - a broken connection is discarded by the pool
                log.debug("could not restore temp_store", exc_info=True)
