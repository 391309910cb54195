"""The All Orders filters, and the JSON a saved view keeps them in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ordertools.domain.statuses import (
    StatusFilter,
    parse_status_filter,
)


@dataclass(frozen=True)
class OrderFilters:
    """The All Orders filters; all optional, combined with AND."""

    statuses: StatusFilter | None = None
    purchased_from: date | datetime | None = None  # a date means its first instant, UTC
    purchased_to: date | datetime | None = None  # a date means the whole day, inclusive
    buyer: str | None = None  # substring of the buyer's name, any case
    order_number: str | None = None  # substring of Amazon's number, or the local number
    min_total: Decimal | None = None
    max_total: Decimal | None = None

    def active(self) -> dict[str, str]:
        """The filters in force, as words for an "active filters" line."""
        shown = {}
        if self.statuses is not None:
            shown["status"] = ", ".join(self.statuses.words)
        for name in (
            "purchased_from",
            "purchased_to",
            "buyer",
            "order_number",
            "min_total",
            "max_total",
        ):
            value = getattr(self, name)
            if value not in (None, ""):
                shown[name.replace("_", " ")] = str(value)
        return shown


def filters_to_json(filters: OrderFilters) -> dict:
    """The filters as JSON a saved view keeps (words, ISO dates, decimal strings)."""
    data: dict = {}
    if filters.statuses is not None:
        data["statuses"] = list(filters.statuses.words)
    for name in ("purchased_from", "purchased_to"):
        value = getattr(filters, name)
        if value is not None:
            data[name] = value.isoformat()
    for name in ("buyer", "order_number"):
        if getattr(filters, name):
            data[name] = getattr(filters, name)
    for name in ("min_total", "max_total"):
        if getattr(filters, name) is not None:
            data[name] = str(getattr(filters, name))
    return data


def filters_from_json(data: dict) -> OrderFilters:
    def moment(value):
        if value is None:
            return None
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)

    def amount(value):
        return None if value is None else Decimal(value)

    return OrderFilters(
        statuses=parse_status_filter(data.get("statuses") or ()),
        purchased_from=moment(data.get("purchased_from")),
        purchased_to=moment(data.get("purchased_to")),
        buyer=data.get("buyer"),
        order_number=data.get("order_number"),
        min_total=amount(data.get("min_total")),
        max_total=amount(data.get("max_total")),
    )
