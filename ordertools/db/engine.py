"""Opening the order book: the URL, the engine, the schema version, sessions.

`connect()` is the one door: it tunes the backend, checks that the database answers, and brings
the schema to the newest migration, so users never run a migration by hand. Two processes that
open a fresh database at once are serialized (an exclusive SQLite transaction, a PostgreSQL
advisory lock), so the second finds the schema already built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from ordertools.errors import ConfigurationError
from ordertools.migrations import HEAD as SCHEMA_HEAD

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

ENV_VAR = "ORDERTOOLS_DB"
SQLITE_CHECKPOINT_PAGES = 8000  # of 4 kB
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
# pg_advisory_xact_lock key held while migrating; "ordt" as an int, unlikely to meet another app's.
_MIGRATION_LOCK_KEY = 0x6F726474


def default_url() -> str:
    """`ORDERTOOLS_DB` if set, else an SQLite file in the user's data directory."""
    url = os.environ.get(ENV_VAR, "").strip()
    if url:
        return url
    data_dir = Path(platformdirs.user_data_dir("ordertools"))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'ordertools.db'}"


def connect(url: str | URL | None = None, *, migrate: bool = True) -> Engine:
    """An engine on the order book at `url` (default: `default_url()`), schema at head.

    SQLite runs in WAL mode (readers never block the writer) with a 30 s busy timeout and
    foreign keys on; PostgreSQL goes through psycopg 3 with pre-ping. `migrate=False` skips the
    schema upgrade (tests of the migrations themselves). A bad URL or a database that does not
    answer raises `ConfigurationError` naming the URL, password masked.
    """
    raw = url if url is not None else default_url()
    try:
        parsed = _normalize(make_url(raw))
    except ArgumentError:
        raise ConfigurationError(
            f"{_mask(str(raw))!r} is not a database URL; set {ENV_VAR} to e.g. "
            "sqlite:///path/orders.db or postgresql://user@host/dbname"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database URL {shown}: ordertools works with sqlite:// and postgresql://"
        )
    try:
        engine = (
            _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else _pg_engine(parsed)
        )
    except (NoSuchModuleError, ImportError) as exc:  # e.g. a driver that is not installed
        raise ConfigurationError(f"cannot use {shown}: {exc}") from None

    try:
        if migrate:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        if parsed.password:
            reason = reason.replace(str(parsed.password), "***")
        raise ConfigurationError(f"cannot open the order book at {shown}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def _normalize(url: URL) -> URL:
    """Plain `postgresql://` (and Heroku-style `postgres://`) means psycopg 3 here."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _mask(raw: str) -> str:
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", raw)


UNICODE_LOWER = "unicode_lower"  # SQL name of Python's str.lower on SQLite connections


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def _json_dumps(document) -> str:
    # orjson: a sync stores every order's JSON as received; the stdlib encoder was a sixth of
    # the sync's time. `default=str` keeps a stray Decimal or date storable.
    return orjson.dumps(document, default=str).decode()


def _pg_engine(url: URL) -> Engine:
    # Fail in seconds, not minutes, when the server is down (unless the URL says otherwise).
    timeout = {} if "connect_timeout" in url.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    # No server-side prepared statements: psycopg prepares a query after five runs, and a plan
    # made while a sync's tables were still small (a first sync) stays a full scan for good.
    args = {**timeout, "prepare_threshold": None}
    return create_engine(url, pool_pre_ping=True, connect_args=args, json_serializer=_json_dumps)


def _sqlite_engine(url: URL) -> Engine:
    if is_memory_sqlite(url):
        # One shared connection, or every session would see its own empty database.
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=_json_dumps,
        )
    else:
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=_json_dumps,
        )

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # persistent; "memory" for :memory:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; only the last commit at risk
        # Checkpoint every ~32 MB of WAL, not SQLite's 4 MB: a sync commits a page of orders at
        # a time, each commit touching a few hundred index pages, and a checkpoint (with its
        # fsync) every few commits was a fifth of a first sync. The file is cut back to 64 MB.
        # While a sync runs, a thread of its own checkpoints instead (db/checkpoints.py).
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        cursor.close()
        # SQLite's lower() folds ASCII letters only: searches for other letters use this one.
        dbapi_connection.create_function(UNICODE_LOWER, 1, _unicode_lower, deterministic=True)

    return engine


# -- schema version -------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini needed in the working directory."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "ordertools:migrations")
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def current_revision(engine: Engine) -> str | None:
    """The schema's migration revision, None for an empty database."""
    # Alembic's own table, read directly: importing Alembic costs more than the query.
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the schema up to `revision`; only a version check when already there."""
    current = current_revision(engine)
    if revision == "head" and current == SCHEMA_HEAD:
        return  # the usual case: no lock, so opening never waits behind a busy writer
    if current is not None and current not in {s.revision for s in _scripts().walk_revisions()}:
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigurationError(
            f"the order book at {where} has schema revision {current}, newer than this "
            "ordertools knows: upgrade ordertools"
        )
    with engine.begin() as conn:
        _lock_for_migration(conn)
        # Alembic reads the version again under the lock: if another process migrated while we
        # waited, this is a no-op.
        from alembic import command

        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the schema down to `revision` ("base": drop every table)."""
    with engine.begin() as conn:
        _lock_for_migration(conn)
        from alembic import command

        command.downgrade(alembic_config(conn), revision)


def _lock_for_migration(conn: Connection) -> None:
    """Hold other migrators off until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    else:
        # pysqlite opens transactions lazily; take the write lock now, before reading the version.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# -- sessions -------------------------------------------------------------------------------


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits when the block ends, rolls back if it raises.

        with db.session(engine) as s:
            s.add(store)

    Objects stay readable after the block (`expire_on_commit=False`), which is what notebooks
    and the CLI want when they display what they just wrote.
    """
    with Session(engine, expire_on_commit=False) as s, s.begin():
        yield s
