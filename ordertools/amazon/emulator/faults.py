"""Trouble on demand: failures, slow answers, dropped connections, expired tokens, and
Amazon's habit of repeating an order across two pages. Plus the counters tests assert on.

Faults are armed for the next n matching requests. `operation` None matches every SP-API
operation (searchOrders, getOrder, confirmShipment); name "token" to hit the LWA endpoint.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

from ordertools.amazon.emulator.auth import Auth

_SERVER_ERRORS = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}


@dataclass
class _Armed:
    kind: str  # "fail", "delay", "drop", "lose", "duplicate"
    remaining: int
    operation: str | None
    status: int = 0
    seconds: float = 0.0


class Faults:
    def __init__(self, auth: Auth):
        self._auth = auth
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def fail_next(self, n: int = 1, status: int = 500, operation: str | None = None) -> None:
        """The next n requests answer `status` (500 InternalFailure or 503 ServiceUnavailable)."""
        if status not in _SERVER_ERRORS:
            raise ValueError(f"fail_next supports {sorted(_SERVER_ERRORS)}, not {status}")
        self._arm(_Armed("fail", n, operation, status=status))

    def delay_next(self, n: int = 1, seconds: float = 1.0, operation: str | None = None) -> None:
        """The next n requests wait `seconds` before being answered (to trip client timeouts)."""
        self._arm(_Armed("delay", n, operation, seconds=seconds))

    def drop_next(self, n: int = 1, operation: str | None = None) -> None:
        """The next n requests get no answer: the connection is reset."""
        self._arm(_Armed("drop", n, operation))

    def lose_next_answer(self, n: int = 1, operation: str | None = None) -> None:
        """The next n requests are carried out, then their answer is lost: the connection is
        reset after the change was made (what a client retrying blindly would duplicate)."""
        self._arm(_Armed("lose", n, operation))

    def duplicate_next_page(self, n: int = 1) -> None:
        """The next n searchOrders pages that have a successor repeat their last order there."""
        self._arm(_Armed("duplicate", n, "searchOrders"))

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the next call answers 403)."""
        self._auth.expire_all()

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, kind: str, operation: str) -> _Armed | None:
        """Use up one armed fault of `kind` matching `operation`, if any."""
        with self._lock:
            for armed in self._armed:
                if armed.kind != kind or not _matches(armed.operation, operation):
                    continue
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
                return armed
        return None

    def _arm(self, armed: _Armed) -> None:
        if armed.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._armed.append(armed)


def _matches(wanted: str | None, operation: str) -> bool:
    return operation == wanted if wanted else operation != "token"


def server_error(status: int) -> dict:
    code, message = _SERVER_ERRORS[status]
    return {"errors": [{"code": code, "message": message}]}


class Stats:
    """Counters per operation: requests, ok, throttled, errors, faults, pages, orders."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: defaultdict[str, Counter] = defaultdict(Counter)

    def count(self, operation: str, **increments: int) -> None:
        with self._lock:
            self._counts[operation].update(increments)

    def __getitem__(self, operation: str) -> Counter:
        with self._lock:
            return Counter(self._counts[operation])

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {op: dict(counts) for op, counts in self._counts.items()}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
