"""The Sales Channel's Order Settings table, row by row, for both Reserve Quantity settings.

magento/merchdocs `src/sales-channels/asc/order-settings.md`, "Order Creation without Multi
Source Inventory": which orders get a local order and which reserve quantity. Each row here runs
the import rules (`decide`, as the sync does) and then the stock rule (`reservation`) on what the
import produced, and counts the units held for an order of 2 units: ordertools holds only what
is still to ship, where the Sales Channel held everything (a Shipped order: 0, not 2).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ordertools.domain import rules as R
from ordertools.domain.rules import LocalFacts, OrderFacts, StoreRules, decide, reservation

INTEGRATED = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = datetime(2026, 11, 5, tzinfo=UTC)
UNITS = 2
# Units Amazon has shipped by the time it shows each status, for an order of UNITS.
SHIPPED_BY_STATUS = {R.PARTIALLY_SHIPPED: 1, R.SHIPPED: UNITS}

# fulfilled by, Amazon status, local order created, units held (Reserve = Yes), (Reserve = No)
TABLE = [
    ("AMAZON", R.PENDING, False, 0, 0),
    ("AMAZON", R.PENDING_AVAILABILITY, False, 0, 0),
    ("AMAZON", R.CANCELLED, False, 0, 0),
    ("AMAZON", R.UNFULFILLABLE, False, 0, 0),  # the table's "Error"
    ("AMAZON", R.UNSHIPPED, False, 0, 0),
    ("AMAZON", R.PARTIALLY_SHIPPED, False, 0, 0),
    ("AMAZON", R.SHIPPED, True, 0, 0),
    ("MERCHANT", R.PENDING, False, UNITS, 0),
    ("MERCHANT", R.PENDING_AVAILABILITY, False, 0, 0),
    ("MERCHANT", R.CANCELLED, False, 0, 0),
    ("MERCHANT", R.UNFULFILLABLE, False, 0, 0),
    ("MERCHANT", R.UNSHIPPED, True, UNITS, 0),
    ("MERCHANT", R.PARTIALLY_SHIPPED, True, UNITS - 1, 0),  # only the unshipped unit
    ("MERCHANT", R.SHIPPED, True, 0, 0),  # reserved, and all of it has shipped
]


def held_after_first_sighting(channel: str, status: str, reserve: bool) -> tuple[bool, int]:
    """What the sync does on first seeing the order: (local order created, units held)."""
    store = StoreRules(INTEGRATED)
    facts = OrderFacts(status, channel, AFTER)
    decision = decide(facts, store)
    local = LocalFacts("000000001", decision.local_status) if decision.action == "import" else None
    hold = reservation(facts, store, local, reserve_quantity=reserve)
    left = UNITS - SHIPPED_BY_STATUS.get(status, 0)
    return local is not None, left if hold.holds else 0


@pytest.mark.parametrize(("channel", "status", "created", "held_yes", "held_no"), TABLE)
def test_the_order_settings_table(channel, status, created, held_yes, held_no):
    assert held_after_first_sighting(channel, status, reserve=True) == (created, held_yes)
    assert held_after_first_sighting(channel, status, reserve=False) == (created, held_no)


def test_the_reasons_read_as_sentences():
    store = StoreRules(INTEGRATED)
    pending = OrderFacts(R.PENDING, "MERCHANT", AFTER)
    assert reservation(pending, store, None, reserve_quantity=True).reason == R.RESERVE_PENDING
    fba = OrderFacts(R.PENDING, "AMAZON", AFTER)
    assert reservation(fba, store, None, reserve_quantity=True).reason == R.NO_RESERVE_FBA
    off = reservation(pending, store, None, reserve_quantity=False)
    assert off.reason == "The store did not reserve quantity when this order arrived"
    local = LocalFacts("000000007", "canceled")
    closed = OrderFacts(R.CANCELLED, "MERCHANT", AFTER, R.UNSHIPPED)
    assert reservation(closed, store, local, reserve_quantity=True).reason == (
        "Local order 000000007 is canceled"
    )


def test_a_pending_order_that_will_never_import_holds_nothing():
    before = OrderFacts(R.PENDING, "MERCHANT", datetime(2026, 10, 1, tzinfo=UTC))
    disabled = StoreRules(INTEGRATED, import_enabled=False)
    pending = OrderFacts(R.PENDING, "MERCHANT", AFTER)
    assert not reservation(before, StoreRules(INTEGRATED), None, reserve_quantity=True).holds
    assert not reservation(pending, disabled, None, reserve_quantity=True).holds


def test_a_local_order_holds_until_it_closes_whatever_amazon_says():
    store = StoreRules(INTEGRATED)
    unshipped = OrderFacts(R.UNSHIPPED, "MERCHANT", AFTER, R.UNSHIPPED)
    for status, holds in [("pending", True), ("processing", True), ("packing", True)]:
        local = LocalFacts("1", status)  # "packing": a store's custom status is still open
        assert reservation(unshipped, store, local, reserve_quantity=True).holds is holds
    for status in ("complete", "canceled"):
        assert not reservation(
            unshipped, store, LocalFacts("1", status), reserve_quantity=True
        ).holds


def test_an_unshipped_order_without_a_local_order_holds_nothing():
    # Import was disabled when it changed, or its import failed: nothing of ours will ship it.
    facts = OrderFacts(R.UNSHIPPED, "MERCHANT", AFTER, R.PENDING)
    hold = reservation(facts, StoreRules(INTEGRATED), None, reserve_quantity=True)
    assert not hold.holds and hold.reason == "Not held: Unshipped on Amazon without a local order"


def test_odd_data_never_raises():
    store = StoreRules(INTEGRATED)
    for facts in (
        OrderFacts(None, "MERCHANT", AFTER),
        OrderFacts("BRAND_NEW", "MERCHANT", AFTER),
        OrderFacts(R.PENDING, None, AFTER),
        OrderFacts(R.PENDING, "DROPSHIP", AFTER),
    ):
        assert not reservation(facts, store, None, reserve_quantity=True).holds
