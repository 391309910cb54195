"""The sync engine: Amazon's changed orders into the order book, under the import rules.

`run` reads a store's window page by page under the store's lock; `applier` writes each page
(the one write path for Amazon's orders); `report` says what a run did; `importing` imports one
view-only order on request.

May import: `ordertools.fulfillment` (a sync flushes the outbox), `ordertools.domain`,
`ordertools.db`, `ordertools.amazon` (never its emulator), `ordertools.errors`. Imported by the
notebooks, the CLI and the demo.
"""

from ordertools.sync.importing import ImportRefused, import_order
from ordertools.sync.report import OrderChange, SyncFailed, SyncReport
from ordertools.sync.rounds import sync_all
from ordertools.sync.run import sync_store

__all__ = [
    "ImportRefused",
    "OrderChange",
    "SyncFailed",
    "SyncReport",
    "import_order",
    "sync_all",
    "sync_store",
]
