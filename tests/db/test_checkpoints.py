"""While a sync writes, a background thread copies SQLite's log into the database file.

What a user would notice without it: a commit that now and then stalls on the disk (a checkpoint
run inside it). What is checked here: the pages written reach the database file itself while
the writer never checkpoints, and nothing written is lost or left unreadable.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from ordertools import db
from ordertools.db.checkpoints import background_checkpoints


def _write_pages(engine, pages: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, b BLOB)")
    for _ in range(pages):
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # the writer never checkpoints
            conn.exec_driver_sql("INSERT INTO filler (b) VALUES (randomblob(20000))")


def _file_size(engine) -> int:
    return Path(engine.url.database).stat().st_size


def test_the_log_reaches_the_database_file_while_the_block_runs(sqlite_url):
    engine = db.connect(sqlite_url)
    before = _file_size(engine)
    with background_checkpoints(engine, interval=0.01):
        assert "sqlite-checkpoints" in {t.name for t in threading.enumerate()}
        _write_pages(engine, 30)
        deadline = time.monotonic() + 10
        while _file_size(engine) < before + 30 * 20000 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert _file_size(engine) >= before + 30 * 20000  # 600 kB copied in, not left in the log
    assert "sqlite-checkpoints" not in {t.name for t in threading.enumerate()}  # stopped
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM filler")).scalar() == 30
    engine.dispose()


def test_without_the_thread_the_log_keeps_the_pages(sqlite_url):
    # The control for the test above: with no checkpoints the file does not grow.
    engine = db.connect(sqlite_url)
    before = _file_size(engine)
    _write_pages(engine, 30)
    time.sleep(0.2)
    assert _file_size(engine) < before + 30 * 20000
    engine.dispose()


def test_a_memory_database_gets_no_thread_on_its_one_shared_connection():
    engine = db.connect("sqlite://")
    with background_checkpoints(engine, interval=0.01):
        assert "sqlite-checkpoints" not in {t.name for t in threading.enumerate()}
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1
    engine.dispose()
