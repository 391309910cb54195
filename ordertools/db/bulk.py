"""Many rows in one statement, without SQLAlchemy's per-row bookkeeping.

A first sync writes a few hundred thousand rows (orders, items, local orders, their history,
the ledger). Through `session.execute(insert(table), rows)` about half of that time was
SQLAlchemy building and processing each row's parameters (bench/sync_bench.py --profile).
Here the statement is compiled once per dialect and column list, and each value goes through
the column type's own bind processor, so what is stored is exactly what SQLAlchemy would store
(the same datetime text on SQLite, the same JSONB on PostgreSQL; tests/db/test_bulk.py). The
rows then take each backend's bulk path: one multi-row INSERT per chunk on SQLite, COPY on
PostgreSQL; updates go to the driver's executemany (prepared and pipelined by psycopg).

What this gives up: ORM events (none are used on these tables), and RETURNING on PostgreSQL
(`bulk_insert_ids` reads the new ids back there with one indexed SELECT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` in the session's transaction."""
    if rows:
        _execute(session, table, "insert", tuple(rows[0]), (), rows)


def bulk_insert_ids(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str, **scope: Any
) -> dict[Any, int]:
    """`bulk_insert`, returning the new rows' ids by their `key` value.

    `key` must be unique in the table among rows matching `scope` (column=value), e.g.
    `key="amazon_order_id", store_id=3`. SQLite hands the ids back from the INSERT itself
    (RETURNING); COPY cannot, so PostgreSQL reads them back with one indexed SELECT.
    """
    if not rows:
        return {}
    returned = _execute(session, table, "insert", tuple(rows[0]), (), rows, (key, "id"))
    if returned is not None:
        return dict(returned)
    column = table.c[key]
    query = select(column, table.c.id).where(column.in_([row[key] for row in rows]))
    for name, value in scope.items():
        query = query.where(table.c[name] == value)
    return dict(session.execute(query).all())


def bulk_update(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: str = "id"
) -> None:
    """UPDATE `table` SET the rows' other keys WHERE `key` matches, one row per dict."""
    if rows:
        values = tuple(name for name in rows[0] if name != key)
        _execute(session, table, "update", values, (key,), rows)


def _execute(session, table, kind, values, where, rows, returning=()) -> list | None:
    connection = session.connection()
    sql, order, processors, defaults = _compiled(connection.dialect, table, kind, values, where)
    if defaults:
        # Columns the rows leave out whose Python-side default (or onupdate) SQLAlchemy would
        # fill in, e.g. `updated_at`: one value for the statement, as SQLAlchemy computes it.
        filled = {name: _default(default) for name, default in defaults.items()}
        rows = [row | filled for row in rows]
    params = _bound(rows, order, [processors[name] for name in order])
    backend = connection.dialect.name
    if kind == "insert" and backend == "sqlite":
        return _insert_sqlite(connection, sql, params, returning)
    if kind == "insert" and backend == "postgresql":
        _copy_postgresql(connection, table, order, params)
    elif backend == "postgresql":
        params = [dict(zip(order, one, strict=True)) for one in params]  # %(name)s placeholders
        _executemany_prepared(connection, sql, params)
    else:
        connection.exec_driver_sql(sql, params)
    return None


def _bound(rows, order: tuple[str, ...], processors: list[Processor]) -> list[tuple]:
    """The rows as the driver's parameter tuples, each value through its bind processor.

    Column by column: a page's rows share their timestamps (created_at, observed_at, ... are
    one `now`), so a column holding one value throughout is converted once; converting a
    datetime is most of the per-value cost on SQLite.
    """
    take = itemgetter(*order)
    params = [take(row) for row in rows] if len(order) > 1 else [(take(row),) for row in rows]
    converting = [(i, process) for i, process in enumerate(processors) if process is not None]
    if not converting:
        return params
    columns = list(zip(*params, strict=True))
    for i, process in converting:
        column = columns[i]
        first = column[0]
        if all(value is first for value in column):
            columns[i] = (process(first),) * len(column)
        else:
            columns[i] = list(map(process, column))
    return list(zip(*columns, strict=True))


def _copy_postgresql(connection, table: Table, columns: tuple[str, ...], params) -> None:
    """COPY the rows in: PostgreSQL's bulk path, a third of pipelined INSERTs' time.

    The values are already what the driver binds (the processors ran), so COPY writes exactly
    what an INSERT would have; it runs on the session's connection, in its transaction.
    """
    quote = connection.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in columns)
    command = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(command) as copy:
        for row in params:
            copy.write_row(row)


def _executemany_prepared(connection, sql: str, params: list) -> None:
    """psycopg's pipelined executemany, with the statement prepared on the server."""
    with server_prepared(connection):
        connection.exec_driver_sql(sql, params)


@contextmanager
def server_prepared(connection) -> Iterator[None]:
    """On PostgreSQL, statements run meanwhile are prepared on the server.

    The engine turns server-side prepared statements off (a plan made on empty tables went
    stale, see db/engine.py); an INSERT, an UPDATE by primary key or an upsert on a unique key
    has no plan to go stale, and unprepared, the server parsed and planned every row of an
    executemany again: 130 us a row. Elsewhere this does nothing.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    driver = connection.connection.dbapi_connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = 0
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


# SQLite's default limit on one statement's parameters (SQLITE_MAX_VARIABLE_NUMBER, 3.32+).
SQLITE_MAX_PARAMETERS = 32766


def _insert_sqlite(connection, sql: str, params: list[tuple], returning=()) -> list | None:
    """One multi-row INSERT per chunk instead of executemany's statement per row.

    Per row, SQLite costs about the same either way, but a trigger into an FTS5 table (the
    order search, migration 0006) pays a fixed price per statement: for a page of 100 orders,
    one statement costs a fifth of 100. With `returning`, the rows' values of those columns.
    """
    head, _, group = sql.rpartition(" VALUES ")
    tail = f" RETURNING {', '.join(returning)}" if returning else ""
    chunk = max(1, SQLITE_MAX_PARAMETERS // len(params[0]))
    returned = []
    for start in range(0, len(params), chunk):
        part = params[start : start + chunk]
        flat = tuple(chain.from_iterable(part))
        result = connection.exec_driver_sql(
            f"{head} VALUES {', '.join([group] * len(part))}{tail}", flat
        )
        if returning:
            returned += result.all()
    return returned if returning else None


def _default(default) -> Any:
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a no-argument callable to take a context
    raise TypeError(f"bulk writes support scalar and callable defaults, not {default!r}")


@lru_cache(maxsize=64)
def _compiled(
    dialect: Dialect, table: Table, kind: str, values: tuple[str, ...], where: tuple[str, ...]
) -> tuple[str, tuple[str, ...], dict[str, Processor], dict[str, Any]]:
    """The statement's SQL, its parameter names in order, each one's bind processor, and the
    Python-side defaults SQLAlchemy added for columns the rows leave out."""
    # Bind names are prefixed so they never collide with the columns SQLAlchemy binds itself.
    if kind == "insert":
        statement = insert(table).values({name: bindparam(f"p_{name}") for name in values})
    else:
        statement = update(table).values({name: bindparam(f"p_{name}") for name in values})
        for name in where:
            statement = statement.where(table.c[name] == bindparam(f"p_{name}"))
    compiled = statement.compile(dialect=dialect)
    binds = compiled.positiontup if dialect.positional else list(compiled.binds)
    order = tuple(name.removeprefix("p_") for name in binds)
    defaults = {}
    for bind in binds:
        if not bind.startswith("p_"):
            column = table.c[bind]
            defaults[bind] = column.default if kind == "insert" else column.onupdate
    processors = {
        name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
    }
    sql = compiled.string
    if not dialect.positional:
        # pyformat: the driver's names are the bind names without our prefix.
        for name in order:
            sql = sql.replace(f"%(p_{name})s", f"%({name})s")
    return sql, order, processors, defaults
