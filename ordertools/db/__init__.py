"""The order book: schema, engine and migrations, on SQLite or PostgreSQL.

Usage: `engine = db.connect()` opens `ORDERTOOLS_DB` (or the user's SQLite file) with the schema
at head; `with db.session(engine) as s:` is a unit of work (commit on success, rollback on
error); `db.next_local_order_number(s, store)` hands out the store's next local number there.
`ordertools.db.locks.store_lock(engine, store_id)` keeps two syncs of one store apart.

May import only `ordertools.migrations` and `ordertools.errors`; everything else stands on it.
"""

from ordertools.db.engine import (
    ENV_VAR,
    alembic_config,
    connect,
    current_revision,
    default_url,
    downgrade,
    is_memory_sqlite,
    session,
    upgrade,
)
from ordertools.db.notebook_runs import RUN_OUTCOMES, NotebookRun
from ordertools.db.numbering import next_local_order_number
from ordertools.db.outbox import OUTBOX_KINDS, OUTBOX_STATES, OutboxEntry, Shipment
from ordertools.db.schema import (
    HISTORY_SOURCES,
    LOCAL_ORDER_STATUSES,
    SYNC_OUTCOMES,
    AmazonOrderItem,
    AmazonOrderRow,
    Base,
    Customer,
    LocalOrder,
    LocalOrderHistory,
    LocalOrderItem,
    Notification,
    Product,
    Reconciliation,
    StatusEvent,
    StockReservation,
    Store,
    SyncRound,
    SyncRun,
    utcnow,
)
from ordertools.db.types import JSONDocument, Money, UTCDateTime
from ordertools.db.views import SavedView

__all__ = [
    "ENV_VAR",
    "HISTORY_SOURCES",
    "LOCAL_ORDER_STATUSES",
    "SYNC_OUTCOMES",
    "AmazonOrderItem",
    "AmazonOrderRow",
    "Base",
    "Customer",
    "JSONDocument",
    "LocalOrder",
    "LocalOrderHistory",
    "LocalOrderItem",
    "OUTBOX_KINDS",
    "OUTBOX_STATES",
    "OutboxEntry",
    "Money",
    "NotebookRun",
    "Notification",
    "Product",
    "RUN_OUTCOMES",
    "Reconciliation",
    "SavedView",
    "Shipment",
    "StatusEvent",
    "StockReservation",
    "Store",
    "SyncRound",
    "SyncRun",
    "UTCDateTime",
    "alembic_config",
    "connect",
    "current_revision",
    "default_url",
    "downgrade",
    "is_memory_sqlite",
    "next_local_order_number",
    "session",
    "upgrade",
    "utcnow",
]
