"""The status words people see and type, and how they map onto Amazon's codes.

Amazon's order status is shown in the Amazon Sales Channel's words (Pending, Pending
Availability, Unshipped, Partially Shipped, Shipped, Canceled, Unfulfillable), except that an
order Amazon shows as Shipped whose local order is complete reads "Completed". So "Shipped" and
"Completed" split one Amazon code by the local order's status, and a status filter is a filter on
the *shown* word: `--status shipped` lists the rows that say Shipped, `--status completed` the rows
that say Completed, and both together every SHIPPED order.

People type these words, or Amazon's codes, in any case and with spaces, underscores or hyphens
alike; "Cancelled" (Amazon's spelling) and "Canceled" (the shown word) are the same status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ordertools.amazon.models import FulfillmentStatus


class LocalStatus(StrEnum):
    """The local order statuses the rules set; a store may also use custom ones (plain strings)."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    CANCELED = "canceled"


# A local order in one of these is closed: Amazon's later changes no longer move it.
CLOSED_LOCAL_STATUSES = frozenset({LocalStatus.COMPLETE.value, LocalStatus.CANCELED.value})

# Display order is the order of an order's life, so filters and legends list them that way.
AMAZON_WORDS: dict[str, str] = {
    FulfillmentStatus.PENDING.value: "Pending",
    FulfillmentStatus.PENDING_AVAILABILITY.value: "Pending Availability",
    FulfillmentStatus.UNSHIPPED.value: "Unshipped",
    FulfillmentStatus.PARTIALLY_SHIPPED.value: "Partially Shipped",
    FulfillmentStatus.SHIPPED.value: "Shipped",
    FulfillmentStatus.CANCELLED.value: "Canceled",
    FulfillmentStatus.UNFULFILLABLE.value: "Unfulfillable",
}
COMPLETED = "Completed"
STATUS_WORDS: tuple[str, ...] = (*AMAZON_WORDS.values(), COMPLETED)

# Tracked but kept out of Recent Orders until Amazon verifies them; a status filter shows them.
HIDDEN_FROM_RECENT_ORDERS = frozenset(
    {FulfillmentStatus.PENDING.value, FulfillmentStatus.PENDING_AVAILABILITY.value}
)

# Amazon's fulfillment channel codes, as ops staff say them (the CLI's `show`, the order page).
FULFILLED_BY_WORDS = {"MERCHANT": "Merchant (FBM: you ship)", "AMAZON": "Amazon (FBA)"}

_SHIPPED = FulfillmentStatus.SHIPPED.value
NO_STATUS = "Unknown"  # shown when Amazon sent no status at all


def _key(word: str) -> str:
    """Make "Partially-Shipped", "PARTIALLY_SHIPPED" and " partially  shipped " one key."""
    return " ".join(part for part in re.split(r"[\s_-]+", word.lower()) if part)


def local_status_words(status: str) -> str:
    """A local order's status as the Sales Channel shows it: `complete` reads "Complete"."""
    return status.replace("_", " ").capitalize() if status else status


def display_status(amazon_status: str | None, local_status: str | None = None) -> str:
    """The word shown for an order: Amazon's status in the Sales Channel's words, or Completed.

    A status Amazon added after this code was written is shown title-cased ("FOO_BAR" → "Foo Bar")
    rather than hidden, so a new status is visible the day it appears.
    """
    if amazon_status == _SHIPPED and local_status == LocalStatus.COMPLETE:
        return COMPLETED
    if amazon_status is None:
        return NO_STATUS
    return AMAZON_WORDS.get(amazon_status) or _key(amazon_status).title()


@dataclass(frozen=True)
class StatusFilter:
    """Which orders a status filter selects, in a form a query can use directly.

    In SQL terms a row matches when `amazon_status IN amazon_statuses`, or, for Amazon's SHIPPED,
    when `shipped` and the local order is missing or not complete, or `completed` and it is
    complete. `matches()` is that same test in Python and always agrees with `display_status`.
    """

    amazon_statuses: frozenset[str] = frozenset()  # matched whatever the local order; never SHIPPED
    shipped: bool = False  # SHIPPED with no local order, or one not complete: shown "Shipped"
    completed: bool = False  # SHIPPED with a complete local order: shown "Completed"

    def matches(self, amazon_status: str | None, local_status: str | None = None) -> bool:
        if amazon_status == _SHIPPED:
            return self.completed if local_status == LocalStatus.COMPLETE else self.shipped
        return amazon_status in self.amazon_statuses

    @property
    def words(self) -> tuple[str, ...]:
        """The shown words selected, in display order (for a filter widget or a heading)."""
        chosen = {AMAZON_WORDS[code] for code in self.amazon_statuses}
        if self.shipped:
            chosen.add(AMAZON_WORDS[_SHIPPED])
        if self.completed:
            chosen.add(COMPLETED)
        return tuple(word for word in STATUS_WORDS if word in chosen)

    @property
    def includes_hidden(self) -> bool:
        """True when the filter asks for statuses Recent Orders hides by default."""
        return bool(self.amazon_statuses & HIDDEN_FROM_RECENT_ORDERS)


# Every accepted spelling, by key: the shown words, Amazon's codes, and a few obvious aliases.
_WORD_BY_KEY: dict[str, str] = {
    **{_key(word): word for word in STATUS_WORDS},
    **{_key(code): word for code, word in AMAZON_WORDS.items()},  # "cancelled" comes from here
    "complete": COMPLETED,  # the local status people know from the order book
}
_CODE_BY_WORD = {word: code for code, word in AMAZON_WORDS.items()}


def parse_status_filter(words: Iterable[str]) -> StatusFilter | None:
    """Turn `--status` values (shown words or Amazon's codes) into a `StatusFilter`.

    No words means no filter (None). An unknown word raises `ValueError` naming it and listing
    the valid words, so a typo never silently selects nothing.
    """
    words = list(words)
    if not words:
        return None
    unknown = [word for word in words if _key(word) not in _WORD_BY_KEY]
    if unknown:
        raise ValueError(
            f"unknown status {', '.join(repr(w) for w in unknown)}: use one of "
            f"{', '.join(STATUS_WORDS)} (any case), or Amazon's codes such as PARTIALLY_SHIPPED"
        )
    chosen = {_WORD_BY_KEY[_key(word)] for word in words}
    codes = {_CODE_BY_WORD[word] for word in chosen if word in _CODE_BY_WORD}
    return StatusFilter(
        amazon_statuses=frozenset(codes - {_SHIPPED}),
        shipped=_SHIPPED in codes,
        completed=COMPLETED in chosen,
    )


AWAITING_SHIPMENT = ("UNSHIPPED", "PARTIALLY_SHIPPED")
