"""Fulfillment from the order book back to Amazon: ship, cancel, comments, the outbox.

`actions` changes a local order and queues the change for Amazon in one transaction; `outbox`
carries it to Amazon until Amazon's order shows it; `awaiting` is the shipping queue. The CLI,
the dashboard and scripts all call the names below and never talk to Amazon on their own.

May import: `ordertools.domain`, `ordertools.db`, `ordertools.amazon`, `ordertools.errors`.
Imported by the sync (which flushes the outbox), the notebooks and the CLI.
"""

from ordertools.fulfillment.actions import (
    CANCEL_REASONS,
    CARRIERS,
    ActionResult,
    FulfillmentRefused,
    add_comment,
    cancel,
    find_local_order,
    order_activity,
    ship,
)
from ordertools.fulfillment.awaiting import AwaitingOrder, awaiting_shipment
from ordertools.fulfillment.outbox import FlushReport, flush_outbox, list_outbox, retry_outbox

__all__ = [
    "CANCEL_REASONS",
    "CARRIERS",
    "ActionResult",
    "AwaitingOrder",
    "FlushReport",
    "FulfillmentRefused",
    "add_comment",
    "awaiting_shipment",
    "cancel",
    "find_local_order",
    "flush_outbox",
    "list_outbox",
    "order_activity",
    "retry_outbox",
    "ship",
]
