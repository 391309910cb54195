"""Ship-by dates: which orders awaiting shipment are overdue or due soon.

Amazon promises each order's buyer a ship-by date (the end of its shipByWindow). A seller who
ships later has a late shipment, which counts against the account's health, so the dashboard,
`ordertools orders --due-within` and the sync notebook name the orders at risk. "Due" means
the date falls within a horizon (24 hours unless asked otherwise) and has not passed yet;
"overdue" means it has passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_HORIZON = timedelta(hours=24)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$", re.IGNORECASE)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


class Urgency(StrEnum):
    OVERDUE = "overdue"
    DUE = "due"  # within the horizon, not passed


@dataclass(frozen=True)
class ShipByCounts:
    """Orders awaiting shipment that are overdue, and those due within `horizon`."""

    overdue: int
    due: int
    horizon: timedelta


def urgency(ship_by: datetime | None, now: datetime, horizon: timedelta) -> Urgency | None:
    if ship_by is None:
        return None
    if ship_by <= now:
        return Urgency.OVERDUE
    if ship_by <= now + horizon:
        return Urgency.DUE
    return None


def in_words(ship_by: datetime | None, now: datetime, horizon: timedelta) -> str:
    """ "overdue by 5 h", "due in 3 h", or "" for an order with time to spare (or no date)."""
    match urgency(ship_by, now, horizon):
        case Urgency.OVERDUE:
            return f"overdue by {duration_words(now - ship_by)}"
        case Urgency.DUE:
            return f"due in {duration_words(ship_by - now)}"
    return ""


def duration_words(span: timedelta) -> str:
    """A span as people say it: "40 min", "5 h", "2 d 3 h"."""
    minutes = max(1, round(span.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = round(minutes / 60)
    if hours < 48:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def parse_horizon(text: str) -> timedelta:
    """ "12h", "90m", "2d" as a timedelta; ValueError saying what is accepted."""
    found = _DURATION.match(text or "")
    if not found or float(found.group(1)) <= 0:
        raise ValueError(
            f"{text!r} is not a duration: give a number and a unit, e.g. 12h, 90m or 2d"
        )
    return timedelta(**{_UNIT[found.group(2).lower()]: float(found.group(1))})
