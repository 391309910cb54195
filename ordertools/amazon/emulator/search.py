"""searchOrders as documented: parameter rules, filters, includedData, and paging snapshots.

Paging follows the model's description: the first request fixes the set of matching orders (a
server-side snapshot of ids, sorted by lastUpdatedTime then orderId); each `nextToken` points
into that snapshot, and later pages serve those orders' *current* visible data. Amazon asks
for the same filter parameters with every page (only maxResultsPerPage and includedData may
change), so a token used with other filters is refused, as it is after 24 hours.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from werkzeug.datastructures import MultiDict

from ordertools.amazon.emulator.times import parse_iso
from ordertools.amazon.emulator.world import VisibleOrder
from ordertools.amazon.models import KNOWN_STATUSES

STATUSES = KNOWN_STATUSES  # the statuses fulfillmentStatuses accepts: the documented ones
FULFILLED_BY = frozenset({"MERCHANT", "AMAZON"})
# Which optional blocks each includedData dataset brings, on the order and on each item.
ORDER_BLOCKS = {
    "BUYER": "buyer",
    "RECIPIENT": "recipient",
    "PROCEEDS": "proceeds",
    "PAYMENT": "payment",
    "TAX": "tax",
    "FULFILLMENT": "fulfillment",
    "PACKAGES": "packages",
    "FULFILLMENT_ORDERS": "fulfillmentOrders",
}
ITEM_BLOCKS = {
    "PROCEEDS": "proceeds",
    "EXPENSE": "expense",
    "PROMOTION": "promotion",
    "CANCELLATION": "cancellation",
    "FULFILLMENT": "fulfillment",
    "TAX": "tax",
}
INCLUDED_DATA = frozenset(ORDER_BLOCKS) | frozenset(ITEM_BLOCKS)
MAX_PAGE = 100
MAX_MARKETPLACES = 50
# Amazon's DateTime (developer-docs.amazon.com/sp-api/docs/iso-8601): date, a required T, time
# to the second, an optional fraction, and a required zone. Python would read more than this
# (a space for the T, no zone), which Amazon refuses.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([.,]\d+)?(Z|[+-]\d{2}(:\d{2})?)")


class InvalidInput(Exception):
    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.message = message
        self.details = details


def list_param(args: MultiDict, name: str, allowed: frozenset[str] | None = None) -> list[str]:
    """An array parameter: comma-separated (Swagger's csv default) or repeated."""
    values = [v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip()]
    unknown = sorted(set(values) - allowed) if allowed is not None else []
    if unknown:
        raise InvalidInput(
            f"Invalid value for {name}: {', '.join(unknown)}.",
            f"Allowed values: {', '.join(sorted(allowed))}.",
        )
    return values


def included_data(args: MultiDict) -> frozenset[str]:
    return frozenset(list_param(args, "includedData", INCLUDED_DATA))


@dataclass(frozen=True)
class SearchFilter:
    """The parameters that choose orders; equal filters may share a pagination snapshot."""

    created_after: datetime | None
    created_before: datetime | None
    updated_after: datetime | None
    updated_before: datetime | None
    statuses: frozenset[str]
    marketplace_ids: frozenset[str]
    fulfilled_by: frozenset[str]

    def matches(self, order: VisibleOrder) -> bool:
        if self.created_after and not self.created_after <= order.created:
            return False
        if self.created_before and not order.created <= self.created_before:
            return False
        if self.updated_after and not self.updated_after <= order.updated:
            return False
        if self.updated_before and not order.updated <= self.updated_before:
            return False
        return (
            (not self.statuses or order.status in self.statuses)
            and (not self.marketplace_ids or order.marketplace_id in self.marketplace_ids)
            and (not self.fulfilled_by or order.fulfilled_by in self.fulfilled_by)
        )


def _date(args: MultiDict, name: str) -> datetime | None:
    raw = args.get(name)
    if raw is None:
        return None
    if _DATE_TIME.fullmatch(raw):
        with contextlib.suppress(ValueError):  # the right shape, but e.g. month 13
            return parse_iso(raw)
    raise InvalidInput(f"Invalid {name}: {raw!r}.", "Use ISO 8601, e.g. 2025-01-01T00:00:00Z.")


def _window(args: MultiDict, kind: str, now: datetime, min_before_age: float):
    after, before = _date(args, f"{kind}After"), _date(args, f"{kind}Before")
    if before is not None:
        if after is not None and before < after:
            raise InvalidInput(f"{kind}Before must be equal to or after {kind}After.")
        if before > now - timedelta(seconds=min_before_age):
            raise InvalidInput(
                f"{kind}Before must be at least {min_before_age:g} seconds before the request.",
                f"{kind}Before={args.get(f'{kind}Before')}",
            )
    return after, before


def parse_filter(args: MultiDict, now: datetime, min_before_age: float) -> SearchFilter:
    """The searchOrders filter, or InvalidInput naming the rule the request breaks."""
    _token_needs_filters(args)
    created = [n for n in ("createdAfter", "createdBefore") if n in args]
    updated = [n for n in ("lastUpdatedAfter", "lastUpdatedBefore") if n in args]
    if created and updated:
        raise InvalidInput(
            "createdAfter/createdBefore cannot be combined with lastUpdatedAfter/Before.",
            ", ".join(created + updated),
        )
    if ("createdAfter" in args) == ("lastUpdatedAfter" in args):
        raise InvalidInput("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
    created_after, created_before = _window(args, "created", now, min_before_age)
    updated_after, updated_before = _window(args, "lastUpdated", now, min_before_age)
    marketplace_ids = list_param(args, "marketplaceIds")
    if len(marketplace_ids) > MAX_MARKETPLACES:
        raise InvalidInput(f"marketplaceIds accepts at most {MAX_MARKETPLACES} values.")
    return SearchFilter(
        created_after,
        created_before,
        updated_after,
        updated_before,
        frozenset(list_param(args, "fulfillmentStatuses", STATUSES)),
        frozenset(marketplace_ids),
        frozenset(list_param(args, "fulfilledBy", FULFILLED_BY)),
    )


def _token_needs_filters(args: MultiDict) -> None:
    """A paginationToken comes beside the first request's filters, never instead of them: the
    first request had a createdAfter or lastUpdatedAfter, so a token without one lacks them."""
    if args.get("paginationToken") and not {"createdAfter", "lastUpdatedAfter"} & set(args):
        raise InvalidInput(
            "The original filters must be repeated with the paginationToken.",
            "Send the first request's createdAfter or lastUpdatedAfter and its other filters "
            "with the token; only maxResultsPerPage and includedData may change.",
        )


def page_size(args: MultiDict) -> int:
    raw = args.get("maxResultsPerPage", str(MAX_PAGE))
    if not raw.strip().lstrip("-").isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"maxResultsPerPage must be between 1 and {MAX_PAGE}.", f"Got {raw!r}.")
    return int(raw)


def render(body: dict[str, Any], included: frozenset[str]) -> dict[str, Any]:
    """The order as served: optional blocks only for the datasets asked for, empties left out."""
    hidden = {key for dataset, key in ORDER_BLOCKS.items() if dataset not in included}
    order = {k: v for k, v in body.items() if k not in hidden and v not in ({}, [])}
    if isinstance(body.get("orderItems"), list):
        item_hidden = {key for dataset, key in ITEM_BLOCKS.items() if dataset not in included}
        order["orderItems"] = [
            {k: v for k, v in item.items() if k not in item_hidden}
            if isinstance(item, dict)
            else item
            for item in body["orderItems"]
        ]
    return order


@dataclass
class _Snapshot:
    search: SearchFilter
    order_ids: list[str]
    taken: datetime


class Snapshots:
    """Server-side result sets behind pagination tokens."""

    def __init__(self, ttl: float):
        self._ttl = timedelta(seconds=ttl)
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[_Snapshot, int]] = {}

    def start(self, search: SearchFilter, order_ids: list[str], now: datetime) -> _Snapshot:
        return _Snapshot(search, order_ids, now)

    def token_for(self, snapshot: _Snapshot, offset: int, now: datetime) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (snapshot, offset)
            # Every page issues a token: sweep the expired ones now and then, not on every
            # request, or paging a long run would rescan all of them each time.
            if len(self._tokens) % 256 == 0:
                self._forget_expired(now)
        return token

    def resume(self, token: str, search: SearchFilter, now: datetime) -> tuple[_Snapshot, int]:
        with self._lock:
            found = self._tokens.get(token)
            if found is not None and now - found[0].taken > self._ttl:
                del self._tokens[token]
                found = None
        if found is None:
            raise InvalidInput("Invalid paginationToken.", "The token is unknown or has expired.")
        if found[0].search != search:
            raise InvalidInput(
                "The paginationToken was issued for different parameters.",
                "Send the same filters as the first request; only maxResultsPerPage and "
                "includedData may change.",
            )
        return found

    def _forget_expired(self, now: datetime) -> None:
        for token, (snapshot, _) in list(self._tokens.items()):
            if now - snapshot.taken > self._ttl:
                del self._tokens[token]
