"""The sync's writer connection: its statement journals stay in memory, and only for the run.

What a user would notice without it: a first sync slowed by tens of thousands of writes to a
temporary file (SQLite's statement journal spilling to disk). What is checked here: a
transaction that changes many pages inside a savepoint opens no temporary file on the writer
connection but does on any other (the control), and the connection goes back to the pool as
it came (big sorts elsewhere must still spill to disk, not to memory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ordertools import db
from ordertools.db.writer import writer_connection


def _open_temp_files() -> list[str]:
    """SQLite's temporary files this process has open (named etilqs_*, unlinked at once)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "/etilqs_" in target:
            found.append(target)
    return found


def _many_pages_in_a_savepoint(session: Session) -> list[str]:
    """Change a few hundred pages inside a savepoint; returns the temp files open meanwhile."""
    session.execute(text("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, b BLOB)"))
    session.execute(text("INSERT INTO filler (b) SELECT randomblob(3000) FROM generate_rows"))
    with session.begin_nested():
        session.execute(text("UPDATE filler SET b = randomblob(3000)"))
        return _open_temp_files()


def _prepare(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE VIEW IF NOT EXISTS generate_rows AS WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) SELECT i FROM n"
        )


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")
def test_the_writer_keeps_statement_journals_off_the_disk(sqlite_url):
    engine = db.connect(sqlite_url)
    _prepare(engine)
    with writer_connection(engine) as connection:
        with Session(connection) as session, session.begin():
            assert _many_pages_in_a_savepoint(session) == []
        with connection.begin():  # committed: the rows are there
            assert connection.execute(text("SELECT count(*) FROM filler")).scalar() == 400
    engine.dispose()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open files")
def test_any_other_connection_spills_them_to_a_temporary_file(sqlite_url):
    # The control for the test above: the same work on a pooled connection.
    engine = db.connect(sqlite_url)
    _prepare(engine)
    with Session(engine) as session, session.begin():
        assert len(_many_pages_in_a_savepoint(session)) >= 1
    engine.dispose()


def test_the_connection_goes_back_to_the_pool_as_it_came(sqlite_url):
    engine = db.connect(sqlite_url)
    with writer_connection(engine) as connection:
        held = connection.connection.driver_connection
        assert held.execute("PRAGMA temp_store").fetchone()[0] == 2  # memory
    with engine.connect() as connection:
        assert connection.connection.driver_connection is held  # the pool's one connection
        assert connection.exec_driver_sql("PRAGMA temp_store").scalar() == 0  # the default
    engine.dispose()
