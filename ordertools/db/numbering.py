"""Local order numbers: `000000001`, `000000002`, ... per store, never handed out twice."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .schema import Store

NUMBER_FORMAT = "%09d"


def next_local_order_number(session: Session, store: Store) -> str:
    """Take the store's next local order number, inside the caller's transaction.

    One `UPDATE ... RETURNING` does the increment in the database, so concurrent syncs (threads
    or processes) each get their own number: PostgreSQL's row lock and SQLite's write lock hold
    the others until this transaction ends. If it rolls back, the number is not used up.
    """
    number = session.execute(
        update(Store)
        .where(Store.id == store.id)
        .values(last_order_number=Store.last_order_number + 1)
        .returning(Store.last_order_number),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    # The in-memory store may be stale (another process counted too); show the database's value.
    set_committed_value(store, "last_order_number", number)
    return NUMBER_FORMAT % number
