"""The import rules as tables: explicit rows a person can read, then an exhaustive sweep.

Rows read: Amazon status, channel, what the sync saw before (None: first sighting), when the
order was placed, the toggle, the store's status for new imports → action, local status, note.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ordertools.amazon.models import KNOWN_STATUSES, parse_order
from ordertools.domain.rules import (
    IMPORT_STATUSES,
    NOTE_ALREADY_IMPORTED,
    NOTE_BEFORE_INTEGRATION,
    NOTE_CANCELED_BEFORE_IMPORT,
    NOTE_CANCELED_ON_AMAZON,
    NOTE_FBA_WAITING,
    NOTE_IMPORT_DISABLED,
    NOTE_IMPORTED,
    NOTE_NO_CHANNEL,
    NOTE_NO_STATUS,
    NOTE_PARTIALLY_SHIPPED_ON_AMAZON,
    NOTE_PENDING,
    NOTE_PENDING_AVAILABILITY,
    NOTE_SHIPPED_ON_AMAZON,
    NOTE_UNFULFILLABLE,
    Action,
    ImportDecision,
    LocalFacts,
    OrderFacts,
    StoreRules,
    decide,
    import_failed_note,
    visible_in_recent_orders,
)
from ordertools.domain.statuses import parse_status_filter
from ordertools.errors import ConfigurationError

INTEGRATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AFTER = INTEGRATED + timedelta(hours=5)
BEFORE = INTEGRATED - timedelta(seconds=1)
FBM, FBA = "MERCHANT", "AMAZON"
ON, OFF = True, False
NUMBER = "000000012"
CUSTOM = "awaiting_pick"  # a store's custom status for new imports

IMPORTED = NOTE_IMPORTED  # the sync fills in the number
MISSED_UNSHIPPED = (
    "Not imported: Import Amazon Orders was disabled when it became Unshipped; "
    "import-order imports it"
)
MISSED_SHIPPED = MISSED_UNSHIPPED.replace("Unshipped", "Shipped")
UNKNOWN_FOO = "Not imported: Amazon status FOO_BAR is unknown to ordertools"


def store(enabled: bool = True, new_status: str = "pending") -> StoreRules:
    return StoreRules(INTEGRATED, import_enabled=enabled, new_order_status=new_status)


# --- import: no local order yet ---------------------------------------------------------------

IMPORT_TABLE = [
    # status, channel, previous, placed, toggle, new status → action, local status, note
    ("UNSHIPPED", FBM, None, AFTER, ON, "pending", Action.IMPORT, "pending", IMPORTED),
    ("UNSHIPPED", FBM, "PENDING", AFTER, ON, "pending", Action.IMPORT, "pending", IMPORTED),
    ("UNSHIPPED", FBM, "PENDING", AFTER, ON, CUSTOM, Action.IMPORT, CUSTOM, IMPORTED),
    ("UNSHIPPED", FBM, "PENDING", INTEGRATED, ON, "pending", Action.IMPORT, "pending", IMPORTED),
    ("PARTIALLY_SHIPPED", FBM, None, AFTER, ON, "pending", Action.IMPORT, "processing", IMPORTED),
    ("PARTIALLY_SHIPPED", FBM, "PENDING", AFTER, ON, CUSTOM, Action.IMPORT, CUSTOM, IMPORTED),
    ("SHIPPED", FBM, None, AFTER, ON, "pending", Action.IMPORT, "complete", IMPORTED),
    ("SHIPPED", FBM, "UNSHIPPED", AFTER, ON, CUSTOM, Action.IMPORT, "complete", IMPORTED),
    ("SHIPPED", FBA, None, AFTER, ON, "pending", Action.IMPORT, "complete", IMPORTED),
    ("SHIPPED", FBA, "UNSHIPPED", AFTER, ON, CUSTOM, Action.IMPORT, "complete", IMPORTED),
    # became Unshipped while disabled, enabled since: a re-read doesn't import, a change does
    ("UNSHIPPED", FBM, "UNSHIPPED", AFTER, ON, "pending", Action.SKIP, None, MISSED_UNSHIPPED),
    ("PARTIALLY_SHIPPED", FBM, "UNSHIPPED", AFTER, ON, "pending", Action.IMPORT, "processing",
     IMPORTED),
    ("SHIPPED", FBM, "SHIPPED", AFTER, ON, "pending", Action.SKIP, None, MISSED_SHIPPED),
    ("SHIPPED", FBA, "SHIPPED", AFTER, ON, "pending", Action.SKIP, None, MISSED_SHIPPED),
    # disabled
    ("UNSHIPPED", FBM, "PENDING", AFTER, OFF, "pending", Action.SKIP, None, NOTE_IMPORT_DISABLED),
    ("SHIPPED", FBM, "UNSHIPPED", AFTER, OFF, "pending", Action.SKIP, None, NOTE_IMPORT_DISABLED),
    ("SHIPPED", FBA, None, AFTER, OFF, "pending", Action.SKIP, None, NOTE_IMPORT_DISABLED),
    ("UNSHIPPED", FBA, None, AFTER, OFF, "pending", Action.SKIP, None, NOTE_IMPORT_DISABLED),
    ("PENDING", FBM, None, AFTER, OFF, "pending", Action.SKIP, None, NOTE_PENDING),
    # statuses that never import
    ("PENDING", FBM, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_PENDING),
    ("PENDING", FBA, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_PENDING),
    ("PENDING_AVAILABILITY", FBM, None, AFTER, ON, "pending", Action.SKIP, None,
     NOTE_PENDING_AVAILABILITY),
    ("CANCELLED", FBM, "PENDING", AFTER, ON, "pending", Action.SKIP, None,
     NOTE_CANCELED_BEFORE_IMPORT),
    ("CANCELLED", FBA, "UNSHIPPED", AFTER, ON, "pending", Action.SKIP, None,
     NOTE_CANCELED_BEFORE_IMPORT),
    ("UNFULFILLABLE", FBA, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_UNFULFILLABLE),
    # FBA waits for Amazon to ship
    ("UNSHIPPED", FBA, "PENDING", AFTER, ON, "pending", Action.SKIP, None, NOTE_FBA_WAITING),
    ("PARTIALLY_SHIPPED", FBA, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_FBA_WAITING),
    # placed before integration: never, whatever the status or the toggle
    ("UNSHIPPED", FBM, None, BEFORE, ON, "pending", Action.SKIP, None, NOTE_BEFORE_INTEGRATION),
    ("SHIPPED", FBA, "UNSHIPPED", BEFORE, ON, "pending", Action.SKIP, None,
     NOTE_BEFORE_INTEGRATION),
    ("PENDING", FBM, None, BEFORE, OFF, "pending", Action.SKIP, None, NOTE_BEFORE_INTEGRATION),
    ("FOO_BAR", None, None, BEFORE, ON, "pending", Action.SKIP, None, NOTE_BEFORE_INTEGRATION),
    # data ordertools doesn't understand: a note, never an exception
    ("FOO_BAR", FBM, "UNSHIPPED", AFTER, ON, "pending", Action.SKIP, None, UNKNOWN_FOO),
    ("FOO_BAR", None, None, AFTER, OFF, "pending", Action.SKIP, None, UNKNOWN_FOO),
    (None, FBM, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_NO_STATUS),
    ("UNSHIPPED", None, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_NO_CHANNEL),
    ("SHIPPED", None, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_NO_CHANNEL),
    ("UNSHIPPED", "SELLER_FLEX", None, AFTER, ON, "pending", Action.SKIP, None,
     "Not imported: fulfillment channel SELLER_FLEX is unknown to ordertools"),
    ("PENDING", None, None, AFTER, ON, "pending", Action.SKIP, None, NOTE_PENDING),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "channel", "previous", "placed", "enabled", "new_status", "action", "local", "note"),
    IMPORT_TABLE,
)
def test_import(status, channel, previous, placed, enabled, new_status, action, local, note):
    order = OrderFacts(status, channel, placed, previous)
    assert decide(order, store(enabled, new_status)) == ImportDecision(action, note, local)


def test_import_note_gets_the_local_number():
    decision = decide(OrderFacts("UNSHIPPED", FBM, AFTER), store())
    assert decision.note_for(NUMBER) == "Imported as local order 000000012"


def test_naive_datetimes_are_utc():
    # SQLite returns naive datetimes; the order book stores UTC.
    naive_store = StoreRules(INTEGRATED.replace(tzinfo=None))
    assert naive_store.integrated_at == INTEGRATED
    assert decide(OrderFacts("UNSHIPPED", FBM, BEFORE.replace(tzinfo=None)), naive_store).note == (
        NOTE_BEFORE_INTEGRATION
    )
    assert decide(OrderFacts("UNSHIPPED", FBM, AFTER), naive_store).action is Action.IMPORT


def test_integration_compares_instants_not_wall_clocks():
    tokyo = INTEGRATED.astimezone(timezone(timedelta(hours=9)))
    just_after = OrderFacts("UNSHIPPED", FBM, tokyo + timedelta(seconds=1))
    assert decide(just_after, store()).action is Action.IMPORT


def test_facts_from_amazon_order():
    order = parse_order(
        {
            "orderId": "113-0000001-0000001",
            "createdTime": "2026-03-01T13:00:00Z",
            "lastUpdatedTime": "2026-03-01T14:00:00Z",
            "salesChannel": {"channelName": "AMAZON"},
            "orderItems": [],
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        }
    )
    facts = OrderFacts.from_amazon(order, previous_status="PENDING")
    assert facts == OrderFacts("UNSHIPPED", FBM, INTEGRATED + timedelta(hours=1), "PENDING")
    assert decide(facts, store()).action is Action.IMPORT


def test_facts_from_amazon_order_without_fulfillment_block():
    order = parse_order(
        {
            "orderId": "113-0000001-0000002",
            "createdTime": "2026-03-01T13:00:00Z",
            "lastUpdatedTime": "2026-03-01T14:00:00Z",
            "salesChannel": {"channelName": "AMAZON"},
            "orderItems": [],
        }
    )
    decision = decide(OrderFacts.from_amazon(order), store())
    assert decision == ImportDecision(Action.SKIP, NOTE_NO_STATUS)


# --- follow-through: a local order exists -----------------------------------------------------

CANCELED_NOTE = NOTE_CANCELED_ON_AMAZON.format(number=NUMBER)
SHIPPED_NOTE = NOTE_SHIPPED_ON_AMAZON.format(number=NUMBER)
PROCESS_NOTE = NOTE_PARTIALLY_SHIPPED_ON_AMAZON.format(number=NUMBER)


def unchanged(amazon: str, local_status: str) -> str:
    return f"{amazon} on Amazon; local order {NUMBER} ({local_status}) left unchanged"


FOLLOW_TABLE = [
    # local status, Amazon status, previous Amazon status → action, new local status, note
    ("pending", "CANCELLED", "UNSHIPPED", Action.CANCEL, "canceled", CANCELED_NOTE),
    ("processing", "CANCELLED", "PARTIALLY_SHIPPED", Action.CANCEL, "canceled", CANCELED_NOTE),
    (CUSTOM, "CANCELLED", "UNSHIPPED", Action.CANCEL, "canceled", CANCELED_NOTE),
    # state, not change: a cancel that failed to apply is retried by the next read
    ("pending", "CANCELLED", "CANCELLED", Action.CANCEL, "canceled", CANCELED_NOTE),
    ("pending", "SHIPPED", "UNSHIPPED", Action.COMPLETE, "complete", SHIPPED_NOTE),
    ("processing", "SHIPPED", "PARTIALLY_SHIPPED", Action.COMPLETE, "complete", SHIPPED_NOTE),
    (CUSTOM, "SHIPPED", "UNSHIPPED", Action.COMPLETE, "complete", SHIPPED_NOTE),
    ("pending", "PARTIALLY_SHIPPED", "UNSHIPPED", Action.PROCESS, "processing", PROCESS_NOTE),
    ("processing", "PARTIALLY_SHIPPED", "UNSHIPPED", Action.KEEP, None, None),
    (CUSTOM, "PARTIALLY_SHIPPED", "UNSHIPPED", Action.KEEP, None, None),  # only pending moves
    ("pending", "UNSHIPPED", "UNSHIPPED", Action.KEEP, None, None),
    ("pending", "UNSHIPPED", None, Action.KEEP, None, None),
    ("processing", "UNSHIPPED", "PENDING", Action.KEEP, None, None),
    # closed local orders are left alone; a contradiction is noted once, when Amazon changes
    ("complete", "SHIPPED", "UNSHIPPED", Action.KEEP, None, None),
    ("complete", "UNSHIPPED", "UNSHIPPED", Action.KEEP, None, None),  # confirmation in flight
    ("complete", "PARTIALLY_SHIPPED", "UNSHIPPED", Action.KEEP, None, None),
    ("complete", "CANCELLED", "SHIPPED", Action.KEEP, None, unchanged("Canceled", "complete")),
    ("complete", "CANCELLED", "CANCELLED", Action.KEEP, None, None),
    ("canceled", "CANCELLED", "UNSHIPPED", Action.KEEP, None, None),
    ("canceled", "UNSHIPPED", "UNSHIPPED", Action.KEEP, None, None),  # cancel in flight
    ("canceled", "SHIPPED", "UNSHIPPED", Action.KEEP, None, unchanged("Shipped", "canceled")),
    ("canceled", "SHIPPED", "SHIPPED", Action.KEEP, None, None),
    ("canceled", "PARTIALLY_SHIPPED", "UNSHIPPED", Action.KEEP, None,
     unchanged("Partially Shipped", "canceled")),
    # statuses the rules don't follow once imported
    ("pending", "UNFULFILLABLE", "UNSHIPPED", Action.KEEP, None,
     unchanged("Unfulfillable", "pending")),
    ("pending", "PENDING", "UNSHIPPED", Action.KEEP, None, unchanged("Pending", "pending")),
    ("processing", "FOO_BAR", "PARTIALLY_SHIPPED", Action.KEEP, None,
     unchanged("Unknown status FOO_BAR", "processing")),
    ("processing", "FOO_BAR", "FOO_BAR", Action.KEEP, None, None),
    ("pending", None, "UNSHIPPED", Action.KEEP, None, None),  # no status is no news
]  # fmt: skip


@pytest.mark.parametrize(
    ("local_status", "status", "previous", "action", "new_local_status", "note"), FOLLOW_TABLE
)
def test_follow_through(local_status, status, previous, action, new_local_status, note):
    order = OrderFacts(status, FBM, AFTER, previous)
    local = LocalFacts(NUMBER, local_status)
    assert decide(order, store(), local) == ImportDecision(action, note, new_local_status)


@pytest.mark.parametrize(
    ("order", "settings"),
    [
        (OrderFacts("CANCELLED", FBM, AFTER, "UNSHIPPED"), store(enabled=False)),
        (OrderFacts("CANCELLED", None, AFTER, "UNSHIPPED"), store()),
        (OrderFacts("CANCELLED", FBM, BEFORE, "UNSHIPPED"), store()),
    ],
    ids=["import-disabled", "no-channel", "placed-before-integration"],
)
def test_follow_through_ignores_the_import_gates(order, settings):
    """The toggle, the channel and the integration instant gate creating a local order only."""
    decision = decide(order, settings, LocalFacts(NUMBER, "pending"))
    assert decision == ImportDecision(Action.CANCEL, CANCELED_NOTE, "canceled")


# --- import-order: requested=True --------------------------------------------------------------

REQUEST_TABLE = [
    # status, channel, previous, placed, toggle → action, local status, note (the refusal reason)
    ("UNSHIPPED", FBM, "UNSHIPPED", AFTER, OFF, Action.IMPORT, "pending", IMPORTED),
    ("UNSHIPPED", FBM, "UNSHIPPED", AFTER, ON, Action.IMPORT, "pending", IMPORTED),
    ("PARTIALLY_SHIPPED", FBM, "PARTIALLY_SHIPPED", AFTER, OFF, Action.IMPORT, "processing",
     IMPORTED),
    ("SHIPPED", FBA, "SHIPPED", AFTER, OFF, Action.IMPORT, "complete", IMPORTED),
    ("SHIPPED", FBM, None, AFTER, OFF, Action.IMPORT, "complete", IMPORTED),
    ("UNSHIPPED", FBM, "UNSHIPPED", BEFORE, ON, Action.SKIP, None, NOTE_BEFORE_INTEGRATION),
    ("PENDING", FBM, "PENDING", AFTER, OFF, Action.SKIP, None, NOTE_PENDING),
    ("PENDING_AVAILABILITY", FBM, None, AFTER, ON, Action.SKIP, None, NOTE_PENDING_AVAILABILITY),
    ("CANCELLED", FBM, "PENDING", AFTER, OFF, Action.SKIP, None, NOTE_CANCELED_BEFORE_IMPORT),
    ("UNFULFILLABLE", FBA, None, AFTER, ON, Action.SKIP, None, NOTE_UNFULFILLABLE),
    ("UNSHIPPED", FBA, "UNSHIPPED", AFTER, OFF, Action.SKIP, None, NOTE_FBA_WAITING),
    ("PARTIALLY_SHIPPED", FBA, None, AFTER, ON, Action.SKIP, None, NOTE_FBA_WAITING),
    ("FOO_BAR", FBM, None, AFTER, ON, Action.SKIP, None, UNKNOWN_FOO),
    (None, FBM, None, AFTER, ON, Action.SKIP, None, NOTE_NO_STATUS),
    ("UNSHIPPED", None, None, AFTER, ON, Action.SKIP, None, NOTE_NO_CHANNEL),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "channel", "previous", "placed", "enabled", "action", "local", "note"),
    REQUEST_TABLE,
)
def test_import_order_request(status, channel, previous, placed, enabled, action, local, note):
    order = OrderFacts(status, channel, placed, previous)
    decision = decide(order, store(enabled), requested=True)
    assert decision == ImportDecision(action, note, local)


@pytest.mark.parametrize("local_status", ["pending", "complete", "canceled"])
def test_import_order_refuses_an_imported_order(local_status):
    order = OrderFacts("CANCELLED", FBM, AFTER, "UNSHIPPED")
    decision = decide(order, store(), LocalFacts(NUMBER, local_status), requested=True)
    assert decision == ImportDecision(
        Action.KEEP, NOTE_ALREADY_IMPORTED.format(number=NUMBER), None
    )
    assert decision.note == "Already imported as local order 000000012"


# --- a life story, step by step, as the sync would see it --------------------------------------


def test_disabled_then_enabled_story():
    """Unshipped while disabled: not imported on enabling, imported when it ships."""
    seen = []
    local = previous = None
    for status, enabled in [
        ("PENDING", False),
        ("UNSHIPPED", False),
        ("UNSHIPPED", True),  # the seller enables import; the order is re-read unchanged
        ("SHIPPED", True),
        ("SHIPPED", True),
    ]:
        settings = store(enabled=enabled)
        decision = decide(OrderFacts(status, FBM, AFTER, previous), settings, local)
        seen.append((decision.action, decision.note_for(NUMBER)))
        if decision.action is Action.IMPORT:
            local = LocalFacts(NUMBER, decision.local_status)
        previous = status
    assert seen == [
        (Action.SKIP, NOTE_PENDING),
        (Action.SKIP, NOTE_IMPORT_DISABLED),
        (Action.SKIP, MISSED_UNSHIPPED),
        (Action.IMPORT, "Imported as local order 000000012"),
        (Action.KEEP, None),
    ]
    assert local == LocalFacts(NUMBER, "complete")


# --- the exhaustive sweep ---------------------------------------------------------------------

STATUSES = (*sorted(KNOWN_STATUSES), "FOO_BAR", None)
CHANNELS = (FBM, FBA, None, "SELLER_FLEX")
LOCALS = (None, "pending", "processing", CUSTOM, "complete", "canceled")


def _sweep():
    for (
        status,
        channel,
        previous,
        placed,
        enabled,
        new_status,
        local_status,
        requested,
    ) in itertools.product(
        STATUSES,
        CHANNELS,
        STATUSES,  # previous status; None is the first sighting
        (BEFORE, AFTER),
        (True, False),
        ("pending", CUSTOM),
        LOCALS,
        (False, True),
    ):
        order = OrderFacts(status, channel, placed, previous)
        local = LocalFacts(NUMBER, local_status) if local_status else None
        settings = store(enabled, new_status)
        yield order, settings, local, requested, decide(order, settings, local, requested=requested)


SWEEP = list(_sweep())


def test_sweep_covers_every_combination():
    assert len(SWEEP) == 9 * 4 * 9 * 2 * 2 * 2 * 6 * 2


def test_sweep_decisions_are_well_formed():
    for order, _, local, _, decision in SWEEP:
        assert isinstance(decision.action, Action)
        if decision.note is None:
            assert decision.action is Action.KEEP, (order, local)
        else:
            assert decision.note and "\n" not in decision.note
            # Only the import note waits for a number; every other note is complete.
            assert ("{" in decision.note) == (decision.action is Action.IMPORT), decision
        expected_local = {
            Action.CANCEL: "canceled",
            Action.COMPLETE: "complete",
            Action.PROCESS: "processing",
            Action.SKIP: None,
            Action.KEEP: None,
        }
        if decision.action is not Action.IMPORT:
            assert decision.local_status == expected_local[decision.action], decision


def test_sweep_imports_exactly_when_the_rules_say():
    """The whole import rule in one line, checked against every combination."""
    for order, settings, local, requested, decision in SWEEP:
        should_import = (
            local is None
            and order.purchase_date >= INTEGRATED
            and order.status in IMPORT_STATUSES.get(order.fulfilled_by, ())
            and (requested or (settings.import_enabled and order.previous_status != order.status))
        )
        assert (decision.action is Action.IMPORT) == should_import, (order, settings, local)


def test_sweep_never_imports_before_integration():
    for order, _, local, _, decision in SWEEP:
        if order.purchase_date < INTEGRATED and local is None:
            assert decision == ImportDecision(Action.SKIP, NOTE_BEFORE_INTEGRATION), order


def test_sweep_never_imports_at_non_import_statuses():
    never = {"PENDING", "PENDING_AVAILABILITY", "CANCELLED", "UNFULFILLABLE", "FOO_BAR", None}
    for order, _, _, _, decision in SWEEP:
        if order.status in never or order.fulfilled_by not in (FBM, FBA):
            assert decision.action is not Action.IMPORT, order


def test_sweep_fba_imports_only_shipped_and_complete():
    for order, _, _, _, decision in SWEEP:
        if decision.action is Action.IMPORT and order.fulfilled_by == FBA:
            assert (order.status, decision.local_status) == ("SHIPPED", "complete")


def test_sweep_new_fbm_imports_get_the_store_status():
    for order, settings, _, _, decision in SWEEP:
        if decision.action is Action.IMPORT and order.status == "UNSHIPPED":
            assert decision.local_status == settings.new_order_status
        if decision.action is Action.IMPORT and order.status == "SHIPPED":
            assert decision.local_status == "complete"


def test_sweep_disabled_or_reread_never_imports_unless_requested():
    for order, settings, _, requested, decision in SWEEP:
        if not requested and (not settings.import_enabled or order.previous_status == order.status):
            assert decision.action is not Action.IMPORT, (order, settings)


def test_sweep_unknown_status_is_a_note_not_an_import():
    for order, _, local, _, decision in SWEEP:
        if order.status == "FOO_BAR" and local is None and order.purchase_date >= INTEGRATED:
            assert decision == ImportDecision(Action.SKIP, UNKNOWN_FOO)


def test_sweep_local_orders_are_never_recreated_and_closed_ones_never_change():
    for order, _, local, _, decision in SWEEP:
        if local is None:
            assert decision.action in (Action.SKIP, Action.IMPORT)
            continue
        assert decision.action not in (Action.SKIP, Action.IMPORT), (order, local)
        if local.status in ("complete", "canceled"):
            assert decision.action is Action.KEEP, (order, local)


def test_sweep_follow_through_converges():
    """Apply a decision and re-read the order unchanged: nothing more happens, no new note."""
    for order, settings, local, requested, decision in SWEEP:
        if requested:
            continue
        reread = OrderFacts(order.status, order.fulfilled_by, order.purchase_date, order.status)
        if decision.action is Action.SKIP:
            assert decide(reread, settings, None) == decision, order
            continue
        if decision.action is Action.IMPORT:
            local = LocalFacts(NUMBER, decision.local_status)
        elif decision.local_status:
            local = LocalFacts(local.number, decision.local_status)
        assert decide(reread, settings, local) == ImportDecision(Action.KEEP, None), (order, local)


def test_sweep_requested_refusals_give_a_reason():
    for order, _, _, requested, decision in SWEEP:
        if requested and decision.action is not Action.IMPORT:
            assert decision.action in (Action.SKIP, Action.KEEP)
            assert decision.note, order


# --- Recent Orders and failure notes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "placed", "local_status", "words", "visible"),
    [
        ("UNSHIPPED", AFTER, None, None, True),
        ("SHIPPED", AFTER, "complete", None, True),
        ("CANCELLED", AFTER, None, None, True),
        ("FOO_BAR", AFTER, None, None, True),
        ("PENDING", AFTER, None, None, False),
        ("PENDING_AVAILABILITY", AFTER, None, None, False),
        ("PENDING", AFTER, None, ["pending"], True),
        ("UNSHIPPED", AFTER, None, ["pending"], False),
        ("SHIPPED", AFTER, "complete", ["completed"], True),
        ("SHIPPED", AFTER, "complete", ["shipped"], False),
        ("UNSHIPPED", BEFORE, None, None, False),
        ("PENDING", BEFORE, None, ["pending"], False),
        ("SHIPPED", BEFORE, None, ["shipped"], False),
    ],
)
def test_visible_in_recent_orders(status, placed, local_status, words, visible):
    status_filter = parse_status_filter(words) if words else None
    order = OrderFacts(status, FBM, placed, status)
    shown = visible_in_recent_orders(
        order, store(), local_status=local_status, status_filter=status_filter
    )
    assert shown is visible


@pytest.mark.parametrize(
    ("error", "note"),
    [
        (KeyError("sku"), "Import failed: KeyError: 'sku'"),
        (RuntimeError(), "Import failed: RuntimeError"),
        (ValueError("line one\nline two"), "Import failed: ValueError: line one"),
        (
            ConfigurationError("product SKU-1 is disabled: enable it and run the sync again"),
            "Import failed: product SKU-1 is disabled: enable it and run the sync again",
        ),
        ("database is locked", "Import failed: database is locked"),
        ("", "Import failed: unknown error"),
    ],
)
def test_import_failed_note(error, note):
    assert import_failed_note(error) == note
