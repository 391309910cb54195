"""Local order numbers: `000000001`, `000000002`, ... per store, never handed out twice."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ordertools.db.schema import Store

NUMBER_FORMAT = "%09d"


# On the table, not the mapped class: a Core UPDATE skips the ORM's bulk-update bookkeeping,
# and a sync runs this once per page.
_STORES = Store.__table__
_TAKE = (
    update(_STORES)
    .where(_STORES.c.id == bindparam("store_id"))
    .values(last_order_number=_STORES.c.last_order_number + bindparam("count"))
    .returning(_STORES.c.last_order_number)
)


def take_local_order_numbers(session: Session, store: Store, count: int) -> list[str]:
    """Take the store's next `count` local order numbers, inside the caller's transaction.

    One `UPDATE ... RETURNING` does the increment in the database, so concurrent syncs (threads
    or processes) each get their own numbers: PostgreSQL's row lock and SQLite's write lock hold
    the others until this transaction ends. If it rolls back, the numbers are not used up.
    """
    if count == 0:
        return []
    last = session.connection().execute(_TAKE, {"store_id": store.id, "count": count}).scalar_one()
    # The in-memory store may be stale (another process counted too); show the database's value.
    # (A sync's pages pass the store as a plain row, read for the page: nothing to refresh.)
    if isinstance(store, Store):
        set_committed_value(store, "last_order_number", last)
    return [NUMBER_FORMAT % n for n in range(last - count + 1, last + 1)]


def next_local_order_number(session: Session, store: Store) -> str:
    """Take the store's next local order number (see `take_local_order_numbers`)."""
    return take_local_order_numbers(session, store, 1)[0]
