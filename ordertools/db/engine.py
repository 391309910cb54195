"""Opening the order book: the URL, the engine, the schema version, sessions.

`connect()` is the one door: it tunes the backend, checks that the database answers, and brings
the schema to the newest migration, so users never run a migration by hand. Two processes that
open a fresh database at once are serialized (an exclusive SQLite transaction, a PostgreSQL
advisory lock), so the second finds the schema already built.

An SQLite file this process cannot change (its file or its folder is not writable) is opened
read-only: every command that only reads works, and one that writes fails with one line saying
the order book is read-only (`is_read_only_failure`, `read_only_message`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

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
# Engine execution option that marks an order book opened read-only (see `is_read_only`).
_READ_ONLY_OPTION = "ordertools_read_only"
# PostgreSQL's SQLSTATE for a write in a read-only transaction (a standby, or
# default_transaction_read_only): the server's way of saying what SQLITE_READONLY says.
_PG_READ_ONLY_SQLSTATE = "25006"


def default_url() -> str:
    """`ORDERTOOLS_DB` if set, else an SQLite file in the user's data directory."""
    url = os.environ.get(ENV_VAR, "").strip()
    if url:
        return url
    data_dir = Path(platformdirs.user_data_dir("ordertools"))
    try:
        # The default folder is ours to create: a first run must just work.
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the order book's folder {data_dir} ({exc.strerror or exc}): "
            f"create it, or point {ENV_VAR} elsewhere"
        ) from None
    return f"sqlite:///{data_dir / 'ordertools.db'}"


def connect(
    url: str | URL | None = None, *, migrate: bool = True, connections: int | None = None
) -> Engine:
    """An engine on the order book at `url` (default: `default_url()`), schema at head.

    SQLite runs in WAL mode (readers never block the writer) with a 30 s busy timeout and
    foreign keys on; PostgreSQL goes through psycopg 3 with pre-ping. `migrate=False` skips the
    schema upgrade (tests of the migrations themselves). A bad URL, a missing folder or a
    database that does not answer raises `ConfigurationError` naming the URL, password masked.
    An SQLite file this process cannot change opens read-only (`is_read_only`).
    `connections`: how many connections the engine's pool keeps for threads working at once
    (`sync --all --jobs N`); SQLAlchemy's default (5, and 10 more at a pinch) otherwise.
    """
    raw = url if url is not None else default_url()
    try:
        parsed = _normalize(make_url(raw))
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise ConfigurationError(_not_openable(_shown_unparsable(str(raw)))) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(_not_openable(repr(shown)))
    read_only_uri = None
    if parsed.get_backend_name() == "sqlite" and (path := sqlite_file(parsed)) is not None:
        # SQLite would only say "unable to open database file"; name the folder instead.
        folder = path.absolute().parent
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigurationError(
                f"the order book's folder {folder} {problem}: create it, or point {ENV_VAR} "
                "elsewhere"
            )
        read_only_uri = _read_only_uri(path)
    pool = {} if connections is None else {"pool_size": connections, "max_overflow": 10}
    try:
        engine = (
            _sqlite_engine(parsed, read_only_uri, pool)
            if parsed.get_backend_name() == "sqlite"
            else _pg_engine(parsed, pool)
        )
    # A driver or dialect that is not installed, or URL arguments the driver cannot take
    # (sqlite://host/..., ?timeout=soon).
    except (NoSuchModuleError, ImportError, ArgumentError, ValueError, TypeError):
        raise ConfigurationError(_not_openable(repr(shown))) from None

    try:
        if migrate:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except DBAPIError as exc:
        engine.dispose()
        if is_read_only_failure(exc):
            # At head, opening only reads; so this one has no schema yet, or an older one.
            raise ConfigurationError(
                f"the order book {shown} is read-only, and its schema must be created or "
                "upgraded first: open it once where it is writable"
            ) from None
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


def _not_openable(shown: str) -> str:
    return (
        f"{ENV_VAR} (or --db) {shown} is not a database URL this machine can open: "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def _shown_unparsable(raw: str) -> str:
    """Text that is not a URL, as an error may show it: its scheme at most.

    Unparsed, there is no telling where a password sits in it, so nothing after the scheme
    is shown.
    """
    scheme = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*)://", raw)
    return f"'{scheme[1]}://...'" if scheme else "(a value with no scheme://)"


def sqlite_file(url: URL) -> Path | None:
    """The file an SQLite URL names (None in memory, or a URI this cannot follow)."""
    if is_memory_sqlite(url):
        return None
    database = url.database or ""
    uri = str(url.query.get("uri", "")).lower() in ("1", "true", "yes", "on", "t", "y")
    if uri and database.startswith("file:"):  # sqlite:///file:/path/orders.db?mode=ro&uri=true
        parts = urlsplit(database)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parts.path))
    return Path(database)


def _read_only_uri(path: Path) -> str | None:
    """An SQLite URI opening `path` read-only, when this process cannot change it; else None.

    Opened as usual, such a file cannot even be read: SQLite creates `-wal`/`-shm` files beside
    a WAL database before its first read, and fails (SQLITE_READONLY_DIRECTORY) when the folder
    refuses them. Where the folder takes them, they would stay behind (a read-only reader
    cannot clean up), read-only like the file, and later turn the owner's writes away too.
    """
    folder = path.absolute().parent
    if not path.exists() or (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
        return None  # a new file is SQLite's to create (or to refuse)
    uri = f"file:{quote(str(path.absolute()), safe='/')}?mode=ro"
    if not Path(f"{path}-wal").exists():
        # `immutable`: read the file alone, no -wal/-shm, no locks. No -wal beside it means no
        # writer has the database open, so every commit is in the file; a writer starting
        # while a command reads could go unseen, a small price for the file being readable.
        # With a -wal (a writer at work), plain mode=ro reads it, and immutable would miss it.
        uri += "&immutable=1"
    return uri


def is_read_only(engine: Engine) -> bool:
    """Whether `connect()` opened this order book read-only (a file this process cannot change,
    or a URL asking for mode=ro)."""
    return bool(engine.get_execution_options().get(_READ_ONLY_OPTION))


def is_beside_order_book(engine: Engine, filename: object) -> bool:
    """Whether `filename` is the SQLite order book's file or one kept beside it (its -wal and
    -shm, a sync's lock file): a refusal to write one of these is the order book's."""
    path = sqlite_file(engine.url) if engine.url.get_backend_name() == "sqlite" else None
    if path is None or not isinstance(filename, str | os.PathLike):
        return False
    book, other = path.absolute(), Path(filename).absolute()
    return other.parent == book.parent and other.name.startswith(book.name)


def is_read_only_failure(exc: BaseException) -> bool:
    """Whether a database error says the order book refuses writes (SQLite's "attempt to write
    a readonly database", PostgreSQL's read-only transaction)."""
    orig = getattr(exc, "orig", None)
    if (getattr(orig, "sqlite_errorname", None) or "").startswith("SQLITE_READONLY"):
        return True
    return getattr(orig, "sqlstate", None) == _PG_READ_ONLY_SQLSTATE


def read_only_message(url: URL | None = None) -> str:
    """The one line for a write to a read-only order book: what is wrong, what to do."""
    where = f" {url.render_as_string(hide_password=True)}" if url is not None else ""
    if url is not None and url.get_backend_name() == "postgresql":
        fix = "connect to the primary server as a user that may write"
    else:
        fix = f"make its file and folder writable for this user, or point {ENV_VAR} elsewhere"
    return f"the order book{where} is read-only and this command changes it: {fix}"


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


def _pg_engine(url: URL, pool: dict) -> Engine:
    # Fail in seconds, not minutes, when the server is down (unless the URL says otherwise).
    timeout = {} if "connect_timeout" in url.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    # No server-side prepared statements: psycopg prepares a query after five runs, and a plan
    # made while a sync's tables were still small (a first sync) stays a full scan for good.
    args = {**timeout, "prepare_threshold": None}
    return create_engine(
        url, pool_pre_ping=True, connect_args=args, json_serializer=_json_dumps, **pool
    )


def _sqlite_engine(url: URL, read_only_uri: str | None = None, pool: dict | None = None) -> Engine:
    """`read_only_uri` (from `_read_only_uri`) opens the file read-only; `engine.url` stays the
    user's URL, so messages and the lock files beside the database keep its real path."""
    read_only = read_only_uri is not None or url.query.get("mode") == "ro"
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
            execution_options={_READ_ONLY_OPTION: read_only},
            **(pool or {}),
        )
    if read_only_uri is not None:

        @event.listens_for(engine, "do_connect")
        def _open_read_only(_dialect, _record, cargs, cparams) -> None:
            cargs[:] = [read_only_uri]
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        if not read_only:  # a read-only file keeps the journal mode it has
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
