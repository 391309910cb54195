"""The order book: schema, engine and migrations, on SQLite or PostgreSQL.

    from ordertools import db

    engine = db.connect()                 # ORDERTOOLS_DB or the user's SQLite file; schema at head
    with db.session(engine) as s:         # commit on success, rollback on error
        store = s.scalars(select(db.Store).where(db.Store.name == "acme")).one()
        number = db.next_local_order_number(s, store)
"""

from .engine import (
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
from .numbering import next_local_order_number
from .schema import (
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
    Product,
    StatusEvent,
    StockReservation,
    Store,
    SyncRun,
    utcnow,
)
from .types import JSONDocument, Money, UTCDateTime

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
    "Money",
    "Product",
    "StatusEvent",
    "StockReservation",
    "Store",
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
