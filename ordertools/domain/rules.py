"""The Amazon Sales Channel's import rules as one pure function: facts in, decision out.

The sync calls `decide()` for every Amazon order it observes and applies the `ImportDecision`;
nothing here reads the clock, the database or the network. Two kinds of rule live here:

* **Import** (no local order yet). Amazon gives a new order PENDING and moves it to UNSHIPPED
  once payment is verified; that *change* triggers the import. So an order imports when its
  status changed since the sync last saw it (a first sighting counts as a change), it was placed
  at or after the store's integration instant, Import Amazon Orders is enabled, and its status
  imports for its channel: FBM at UNSHIPPED, PARTIALLY_SHIPPED or SHIPPED; FBA only at SHIPPED.
  A re-read with the same status never imports: that is how "enabling applies from then on"
  works for an order that became Unshipped while import was disabled. `requested=True`
  (`import-order`) stands in for the change and the toggle, and for nothing else.
* **Follow-through** (a local order exists). The local order follows Amazon whatever the toggle
  (disabling import stops *new* local orders; a canceled Amazon order must still release its
  stock): CANCELLED cancels it, SHIPPED completes it, PARTIALLY_SHIPPED moves `pending` to
  `processing`. These depend on state, not on the change, so a re-read converges and an apply that
  failed is retried by the next read. A closed local order (complete or canceled) is never changed
  by Amazon; when Amazon's new status contradicts it, the note says so.

Where the end state could depend on whether the sync saw an intermediate status, it doesn't: an
FBM order first seen at PARTIALLY_SHIPPED lands where UNSHIPPED-then-PARTIALLY_SHIPPED would
(`processing`, when new imports are `pending`), and first seen at SHIPPED it is created complete.

Notes are the Order Notes column, one per order, the latest wins. `ImportDecision.note` is the new
note, or None for "leave the current note alone" (a re-read that changes nothing). The import note
names the local order's number, which only the sync knows: it writes `decision.note_for(number)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ordertools.amazon.models import KNOWN_STATUSES, AmazonOrder, FulfillmentStatus
from ordertools.domain.instants import utc
from ordertools.domain.statuses import (
    CLOSED_LOCAL_STATUSES,
    HIDDEN_FROM_RECENT_ORDERS,
    LocalStatus,
    StatusFilter,
    display_status,
)
from ordertools.errors import OrdertoolsError

PENDING = FulfillmentStatus.PENDING.value
PENDING_AVAILABILITY = FulfillmentStatus.PENDING_AVAILABILITY.value
UNSHIPPED = FulfillmentStatus.UNSHIPPED.value
PARTIALLY_SHIPPED = FulfillmentStatus.PARTIALLY_SHIPPED.value
SHIPPED = FulfillmentStatus.SHIPPED.value
CANCELLED = FulfillmentStatus.CANCELLED.value
UNFULFILLABLE = FulfillmentStatus.UNFULFILLABLE.value


class Action(StrEnum):
    """What the sync does with one observed order. Values are what the ledger stores."""

    SKIP = "skip"  # no local order and none created: the order is view only
    IMPORT = "import"  # create a local order with `local_status`
    CANCEL = "cancel"  # cancel the local order; the sync releases its stock reservation
    COMPLETE = "complete"  # ship and complete the local order (shipped from Seller Central)
    PROCESS = "process"  # move the local order from pending to processing
    KEEP = "keep"  # a local order exists and stays as it is


class FulfilledBy(StrEnum):
    """Amazon's fulfillment channel (`fulfillment.fulfilledBy`)."""

    MERCHANT = "MERCHANT"  # FBM: the seller ships
    AMAZON = "AMAZON"  # FBA: Amazon ships from its warehouses; no local stock is reserved


# The statuses at which an order without a local order gets one, per channel.
IMPORT_STATUSES: dict[str, frozenset[str]] = {
    FulfilledBy.MERCHANT.value: frozenset({UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED}),
    FulfilledBy.AMAZON.value: frozenset({SHIPPED}),
}

# Order Notes. {number} is the local order's number; {status}, {channel} are Amazon's codes.
NOTE_IMPORTED = "Imported as local order {number}"
NOTE_BEFORE_INTEGRATION = "Not imported: placed before store integration"
NOTE_PENDING = "Waiting for Amazon to verify payment (Pending)"
NOTE_PENDING_AVAILABILITY = "Waiting for the release date (Pending Availability)"
NOTE_IMPORT_DISABLED = "Not imported: Import Amazon Orders is disabled"
NOTE_MISSED_WHILE_DISABLED = (
    "Not imported: Import Amazon Orders was disabled when it became {word}; import-order imports it"
)
NOTE_FBA_WAITING = "FBA order: imported once Amazon ships it"
NOTE_CANCELED_BEFORE_IMPORT = "Canceled by Amazon before import"
NOTE_UNFULFILLABLE = "Not imported: Amazon marked the order Unfulfillable"
NOTE_NO_STATUS = "Not imported: Amazon sent no status"
NOTE_UNKNOWN_STATUS = "Not imported: Amazon status {status} is unknown to ordertools"
NOTE_NO_CHANNEL = "Not imported: Amazon did not say who fulfills the order (FBA or FBM)"
NOTE_UNKNOWN_CHANNEL = "Not imported: fulfillment channel {channel} is unknown to ordertools"
NOTE_CANCELED_ON_AMAZON = "Canceled on Amazon: local order {number} canceled"
NOTE_SHIPPED_ON_AMAZON = "Shipped on Amazon: local order {number} complete"
NOTE_PARTIALLY_SHIPPED_ON_AMAZON = "Partially shipped on Amazon: local order {number} processing"
NOTE_LEFT_UNCHANGED = "{amazon} on Amazon; local order {number} ({local_status}) left unchanged"
NOTE_ALREADY_IMPORTED = "Already imported as local order {number}"
NOTE_IMPORT_FAILED = "Import failed: {error}"

# Notes for statuses that never import, checked before the channel: they read the same for both.
_WAITING_NOTES = {
    PENDING: NOTE_PENDING,
    PENDING_AVAILABILITY: NOTE_PENDING_AVAILABILITY,
    CANCELLED: NOTE_CANCELED_BEFORE_IMPORT,
    UNFULFILLABLE: NOTE_UNFULFILLABLE,
}


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know about one Amazon order as just observed.

    `previous_status` is the status the sync last observed *and applied* for this order, None the
    first time it is seen. (If applying an import fails, the sync keeps the old value so the next
    read counts as a change again and retries.)
    """

    status: str | None
    fulfilled_by: str | None
    purchase_date: datetime
    previous_status: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "purchase_date", utc(self.purchase_date))

    @classmethod
    def from_amazon(cls, order: AmazonOrder, previous_status: str | None = None) -> OrderFacts:
        return cls(order.status, order.fulfilled_by, order.created_time, previous_status)

    @property
    def status_changed(self) -> bool:
        """A first sighting counts as a change: the sync never saw the order at another status."""
        return self.previous_status is None or self.previous_status != self.status


@dataclass(frozen=True)
class StoreRules:
    """The store settings the rules depend on."""

    integrated_at: datetime
    import_enabled: bool = True
    new_order_status: str = LocalStatus.PENDING.value  # for new FBM imports; or a custom status

    def __post_init__(self) -> None:
        object.__setattr__(self, "integrated_at", utc(self.integrated_at))

    @classmethod
    def of(cls, store) -> StoreRules:
        """The rules' view of a store (any object with these three settings, e.g. `db.Store`)."""
        return cls(store.integrated_at, store.import_enabled, store.new_order_status)

    def placed_before_integration(self, order: OrderFacts) -> bool:
        # An order placed exactly at the integration instant belongs to the integrated store.
        return order.purchase_date < self.integrated_at


@dataclass(frozen=True)
class LocalFacts:
    """The local order already made for the Amazon order."""

    number: str
    status: str  # a LocalStatus value or a store's custom status


@dataclass(frozen=True)
class ImportDecision:
    """What to do: the action, the new Order Note (None: keep the current one), and the local
    order's status to create it with (IMPORT) or move it to (CANCEL, COMPLETE, PROCESS)."""

    action: Action
    note: str | None
    local_status: str | None = None

    def note_for(self, local_number: str) -> str | None:
        """The note with the new local order's number filled in (only IMPORT notes need it)."""
        return self.note.replace("{number}", local_number) if self.note else None


def import_failed_note(error: BaseException | str) -> str:
    """The note the sync sets when applying a decision raised: one line, never a traceback.

    Our own errors already read as a sentence; anything else is named by its type, because
    `str(KeyError("sku"))` alone says nothing.
    """
    text = str(error).strip()
    if isinstance(error, BaseException) and not isinstance(error, OrdertoolsError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return NOTE_IMPORT_FAILED.format(error=text.splitlines()[0] if text else "unknown error")


def decide(
    order: OrderFacts,
    store: StoreRules,
    local: LocalFacts | None = None,
    *,
    requested: bool = False,
) -> ImportDecision:
    """Decide what the sync does with one observed Amazon order. Never raises on odd data.

    `requested=True` is `import-order`: import this view-only order now, whatever the toggle and
    whether its status changed. It still obeys the integration, status and channel rules; any
    action but IMPORT is then a refusal whose `note` is the reason (and should not be written as
    the order's note). A requested order that already has a local order is refused as such.
    """
    if local is not None:
        if requested:
            return ImportDecision(Action.KEEP, NOTE_ALREADY_IMPORTED.format(number=local.number))
        return _follow_through(order, local)

    reason = _why_not_import(order, store, requested=requested)
    if reason is not None:
        return ImportDecision(Action.SKIP, reason)
    return ImportDecision(Action.IMPORT, NOTE_IMPORTED, _new_local_status(order, store))


def _why_not_import(order: OrderFacts, store: StoreRules, *, requested: bool) -> str | None:
    """The note for an order without a local order that doesn't import now; None if it does."""
    if store.placed_before_integration(order):
        return NOTE_BEFORE_INTEGRATION
    if order.status is None:
        return NOTE_NO_STATUS
    if order.status not in KNOWN_STATUSES:
        return NOTE_UNKNOWN_STATUS.format(status=order.status)
    if order.status in _WAITING_NOTES:
        return _WAITING_NOTES[order.status]
    if order.fulfilled_by is None:
        return NOTE_NO_CHANNEL
    if order.fulfilled_by not in IMPORT_STATUSES:
        return NOTE_UNKNOWN_CHANNEL.format(channel=order.fulfilled_by)
    # The order could import; what's left is whether now. The toggle comes before FBA's wait
    # because "imported once Amazon ships it" would not be true while import is disabled.
    if not (requested or store.import_enabled):
        return NOTE_IMPORT_DISABLED
    if order.status not in IMPORT_STATUSES[order.fulfilled_by]:
        return NOTE_FBA_WAITING  # FBM imports at every status that got this far
    if not (requested or order.status_changed):
        return NOTE_MISSED_WHILE_DISABLED.format(word=display_status(order.status))
    return None


def _new_local_status(order: OrderFacts, store: StoreRules) -> str:
    if order.status == SHIPPED:  # FBA always; FBM shipped from Seller Central before we saw it
        return LocalStatus.COMPLETE.value
    if order.status == PARTIALLY_SHIPPED and store.new_order_status == LocalStatus.PENDING:
        # Where import-at-Unshipped followed by the partial shipment would have put it.
        return LocalStatus.PROCESSING.value
    return store.new_order_status


def _follow_through(order: OrderFacts, local: LocalFacts) -> ImportDecision:
    number = local.number
    if local.status not in CLOSED_LOCAL_STATUSES:
        if order.status == CANCELLED:
            note = NOTE_CANCELED_ON_AMAZON.format(number=number)
            return ImportDecision(Action.CANCEL, note, LocalStatus.CANCELED.value)
        if order.status == SHIPPED:
            note = NOTE_SHIPPED_ON_AMAZON.format(number=number)
            return ImportDecision(Action.COMPLETE, note, LocalStatus.COMPLETE.value)
        if order.status == PARTIALLY_SHIPPED and local.status == LocalStatus.PENDING:
            note = NOTE_PARTIALLY_SHIPPED_ON_AMAZON.format(number=number)
            return ImportDecision(Action.PROCESS, note, LocalStatus.PROCESSING.value)
    # No status at all is no news (Amazon left the block out), not a contradiction to note.
    if (
        order.status is not None
        and order.status_changed
        and not _agrees(order.status, local.status)
    ):
        note = NOTE_LEFT_UNCHANGED.format(
            amazon=_amazon_label(order.status), number=number, local_status=local.status
        )
        return ImportDecision(Action.KEEP, note)
    return ImportDecision(Action.KEEP, None)


def _agrees(status: str, local_status: str) -> bool:
    """Whether Amazon's status can stand beside the local order without a note.

    The local order may run ahead of Amazon (shipped or canceled here, not yet confirmed there),
    so Unshipped agrees with anything. What contradicts it: Amazon shipping an order canceled
    here, canceling one completed here, or moving to a status the rules don't follow.
    """
    if status == UNSHIPPED:
        return True
    if status in (PARTIALLY_SHIPPED, SHIPPED):
        return local_status != LocalStatus.CANCELED
    if status == CANCELLED:
        return local_status == LocalStatus.CANCELED
    return False


def _amazon_label(status: str) -> str:
    if status not in KNOWN_STATUSES:
        return f"Unknown status {status}"
    return display_status(status)


def visible_in_recent_orders(
    order: OrderFacts,
    store: StoreRules,
    *,
    local_status: str | None = None,
    status_filter: StatusFilter | None = None,
) -> bool:
    """Whether Recent Orders lists the order: never when placed before integration; otherwise
    what the status filter selects, or, without one, everything but Pending and Pending
    Availability (tracked, shown once Amazon verifies them)."""
    if store.placed_before_integration(order):
        return False
    if status_filter is not None:
        return status_filter.matches(order.status, local_status)
    return order.status not in HIDDEN_FROM_RECENT_ORDERS


# -- stock: which orders hold their units (Order Settings, Pending Orders: Reserve Quantity) -----

RESERVE_PENDING = "Held while Amazon verifies payment (Pending)"
RESERVE_LOCAL = "Held for local order {number} until it ships"
NO_RESERVE_FBA = "FBA order: Amazon ships from its own stock"
NO_RESERVE_SETTING = "The store did not reserve quantity when this order arrived"
NO_RESERVE_CLOSED = "Local order {number} is {status}"
NO_RESERVE_NOT_IMPORTING = "Not held: the order will not be imported ({why})"
NO_RESERVE_NO_LOCAL = "Not held: {word} on Amazon without a local order"
# Said wherever the setting changes (CLI, dashboard).
RESERVE_QUANTITY_NEW_ORDERS_ONLY = (
    "Reserve Quantity applies to new orders only: orders already received keep holding stock, "
    "or not, as they did."
)


@dataclass(frozen=True)
class Reservation:
    """Whether an order holds stock for its units still to ship, and why (or why not)."""

    holds: bool
    reason: str


def reservation(
    order: OrderFacts, store: StoreRules, local: LocalFacts | None, *, reserve_quantity: bool
) -> Reservation:
    """The Sales Channel's Order Settings table, with one improvement: what is held is only
    what is still to ship (the caller counts the units; shipped units have left the stock).

    `reserve_quantity` is the store's Reserve Quantity *when the order was first seen*: the
    setting applies to new orders only, so toggling it never starts or drops an order's hold.

    | fulfilled by | Amazon status                           | local order | holds           |
    |--------------|-----------------------------------------|-------------|-----------------|
    | FBA          | any                                     | any         | never           |
    | FBM          | Pending                                 | not yet     | when reserving  |
    | FBM          | Pending Availability, Canceled, Unfulf. | no          | never           |
    | FBM          | Unshipped, Partially Shipped, Shipped   | yes, open   | when reserving  |

    A Pending order holds stock only while it would import once verified (placed after the
    integration, import enabled): one that will never be a local order has no claim on stock.
    A local order holds until it is complete or canceled, whatever Amazon's status, since the
    local order is what ships; and an Unshipped order without a local order (import disabled
    when it changed, or its import failed) holds nothing. Every decision depends only on the
    present state, so re-deciding after a crash or a repeated read gives the same holds.
    """
    if order.fulfilled_by != FulfilledBy.MERCHANT:
        return Reservation(False, NO_RESERVE_FBA)
    if not reserve_quantity:
        return Reservation(False, NO_RESERVE_SETTING)
    if local is not None:
        if local.status in CLOSED_LOCAL_STATUSES:
            return Reservation(
                False, NO_RESERVE_CLOSED.format(number=local.number, status=local.status)
            )
        return Reservation(True, RESERVE_LOCAL.format(number=local.number))
    if order.status == PENDING:
        if store.placed_before_integration(order):
            return Reservation(
                False, NO_RESERVE_NOT_IMPORTING.format(why="placed before integration")
            )
        if not store.import_enabled:
            return Reservation(False, NO_RESERVE_NOT_IMPORTING.format(why="import is disabled"))
        return Reservation(True, RESERVE_PENDING)
    if order.status == CANCELLED:
        return Reservation(False, NOTE_CANCELED_BEFORE_IMPORT)
    word = _amazon_label(order.status) if order.status else "No status"
    return Reservation(False, NO_RESERVE_NO_LOCAL.format(word=word))
