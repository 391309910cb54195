"""The per-store sync lock, held by real separate processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time

import pytest
from fixtures_db import new_store

from ordertools import db
from ordertools.db.locks import StoreBusy, store_lock

FORK = multiprocessing.get_context("fork")


def _hold(url: str, store_id: int, locked, release, seconds: float) -> None:
    """Child process: take the lock, say so, keep it until told (or `seconds` pass)."""
    engine = db.connect(url, migrate=False)
    with store_lock(engine, store_id):
        locked.set()
        release.wait(seconds)


class LockHolder:
    """A child process holding a store's lock."""

    def __init__(self, url: str, store_id: int, seconds: float = 30):
        self.locked, self.release = FORK.Event(), FORK.Event()
        self.process = FORK.Process(
            target=_hold, args=(url, store_id, self.locked, self.release, seconds)
        )
        self.process.start()
        assert self.locked.wait(20), "the holder never got the lock"

    def stop(self) -> None:
        self.release.set()
        self.process.join(10)
        assert self.process.exitcode == 0


def test_a_second_sync_of_the_store_is_refused_and_says_who_holds_it(db_url, engine, store):
    holder = LockHolder(db_url, store.id)
    try:
        with pytest.raises(StoreBusy) as caught, store_lock(engine, store.id):
            pass
        message = str(caught.value)
        assert message.startswith(
            f"store acme is already syncing (pid {holder.process.pid} on host "
            f"{socket.gethostname()} since "
        )
        assert message.endswith(" UTC); try again later")
        with store_lock(engine, store.id + 1):  # other stores sync meanwhile
            pass
    finally:
        holder.stop()
    with store_lock(engine, store.id):
        pass


def test_a_waiting_sync_runs_when_the_holder_finishes(db_url, engine, store):
    holder = LockHolder(db_url, store.id, seconds=0.5)
    started = time.monotonic()
    with store_lock(engine, store.id, wait=20):
        pass
    assert time.monotonic() - started < 10
    holder.stop()


def test_waiting_gives_up_after_the_timeout(db_url, engine, store):
    holder = LockHolder(db_url, store.id)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"after waiting 0\.\d s"):
            with store_lock(engine, store.id, wait=0.6):
                pass
        assert 0.5 < time.monotonic() - started < 5
    finally:
        holder.stop()


def test_the_lock_is_released_when_the_holder_is_killed(db_url, engine, store):
    holder = LockHolder(db_url, store.id)
    with pytest.raises(StoreBusy), store_lock(engine, store.id):
        pass
    holder.process.kill()  # SIGKILL: no finally blocks, no atexit
    holder.process.join(10)
    assert holder.process.exitcode == -9
    with store_lock(engine, store.id, wait=10):  # the server notices the dead session quickly
        pass


def test_one_process_cannot_hold_a_store_twice(engine, store):
    with store_lock(engine, store.id):
        with pytest.raises(StoreBusy, match=rf"\(pid {os.getpid()} on host"):
            with store_lock(engine, store.id):
                pass
    with store_lock(engine, store.id):
        pass


def test_in_memory_sqlite_locks_within_the_process():
    engine = db.connect("sqlite://")
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(engine, 1):
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    with pytest.raises(StoreBusy, match="store #1 is already syncing"), store_lock(engine, 1):
        pass
    done.set()
    thread.join()
    with store_lock(engine, 1):
        pass


def test_an_sqlite_uri_order_book_locks_beside_its_file(tmp_path):
    """`sqlite:///file:...?uri=true` names the same file as the plain URL: the lock goes beside
    that file (not a path made of the URI's text), and a second holder is refused."""
    path = tmp_path / "book.db"
    engine = db.connect(f"sqlite:///file:{path}?uri=true")
    with db.session(engine) as s:
        added = new_store()
        s.add(added)
        s.flush()
        store_id = added.id
    with store_lock(engine, store_id):
        assert (tmp_path / f"book.db.store-{store_id}.lock").exists()
        with pytest.raises(StoreBusy):
            with store_lock(engine, store_id):
                pass
    engine.dispose()


def test_another_order_book_on_the_same_server_never_holds_this_ones_stores(pg_url):
    """Advisory keys are per database: two order books on one PostgreSQL server each have a
    store #1, and a sync of one never blocks, or is named as the holder of, the other's."""
    from fixtures_db import _admin_url
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(_admin_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    other_name = pg_url.rsplit("/", 1)[1] + "_b"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{other_name}"'))
    try:
        other_url = pg_url.rsplit("/", 1)[0] + "/" + other_name
        books = [db.connect(url) for url in (pg_url, other_url)]
        for book in books:
            with db.session(book) as s:
                s.add(new_store())
        holder = LockHolder(other_url, 1)  # another process syncs the other book's store #1
        try:
            with store_lock(books[0], 1):  # this book's store #1 is free
                with pytest.raises(StoreBusy, match=rf"\(pid {os.getpid()} on host"):
                    with store_lock(books[0], 1):
                        pass
        finally:
            holder.stop()
        for book in books:
            book.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{other_name}" WITH (FORCE)'))
