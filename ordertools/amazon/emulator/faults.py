"""Trouble on demand: failures, slow answers, dropped connections, expired tokens, and
Amazon's habit of repeating an order across two pages. Plus the counters tests assert on.

Faults are armed for the next n matching requests. `operation` None matches every SP-API
operation (searchOrders, getOrder, confirmShipment, the feeds' and the reports'); name "token"
to hit the LWA endpoint.

Reports have faults of their own: the next report ends FATAL or CANCELLED
(`fail_next_report`), or repeats rows (`repeat_report_rows`). And one fault is a mode rather
than a count: `lose_updates(share)` makes searchOrders miss a fixed share of order versions for
good, as if Amazon's index had missed them, while getOrder and the reports still show the truth.

Three modes play a seller Amazon no longer serves well, each until `clear`: `refuse_grant`
(LWA refuses the seller's refresh token: a revoked authorization), `throttle` (an operation
always answers 429 QuotaExceeded: a quota used up elsewhere) and `malform` (an operation answers
200 with a body that is not the model's).

Notifications have modes too, each for a share of the messages drawn from a seeded random
sequence: `drop_notifications` (never sent), `repeat_notifications` (sent twice, the same
NotificationId, as Amazon's at-least-once delivery does), `reorder_notifications` (held back and
sent after the next one); and `pause_notifications` holds every message until
`resume_notifications`.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from ordertools.amazon.emulator.auth import Auth
from ordertools.amazon.models import utc_iso

REPORT_FAILURES = ("FATAL", "CANCELLED")

_SERVER_ERRORS = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}


@dataclass
class _Armed:
    kind: str  # "fail", "delay", "drop", "lose", "duplicate", "report_fail", "report_repeat"
    remaining: int
    operation: str | None
    status: int = 0
    seconds: float = 0.0
    outcome: str = ""  # report_fail: the processingStatus the report ends with
    rows: int = 0  # report_repeat: how many rows the report repeats


# What a malformed answer holds: valid JSON, but no `orders` (nor `order`) as the model has it.
MALFORMED_BODY = {"payload": "garbage"}


class Faults:
    """One seller's faults. `owner` is its refresh token; None for the emulator's default
    seller, which also serves the grantless operations (so its expire_tokens expires the app's
    grantless tokens too)."""

    def __init__(self, auth: Auth, owner: str | None = None):
        self._auth = auth
        self._owner = owner
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._refused = False
        self.throttled: set[str] = set()  # operations that always answer 429
        self.malformed: set[str] = set()  # operations that answer MALFORMED_BODY
        self._lost: tuple[float, int] = (0.0, 0)  # lose_updates: (share, seed)
        # drop/repeat/reorder_notifications: kind -> (share, its own random sequence)
        self._notification_modes: dict[str, tuple[float, random.Random]] = {}
        self.notifications_paused = False

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

    def fail_next_report(self, status: str = "FATAL", n: int = 1) -> None:
        """The next n reports created end with processingStatus `status` (FATAL or CANCELLED)
        instead of DONE, and have no document."""
        if status not in REPORT_FAILURES:
            raise ValueError(
                f"fail_next_report supports {', '.join(REPORT_FAILURES)}, not {status}"
            )
        self._arm(_Armed("report_fail", n, "createReport", outcome=status))

    def repeat_report_rows(self, n: int = 3) -> None:
        """The next report created repeats n of its rows (spread over it) after its last row,
        as Amazon's reports are known to repeat rows."""
        if n < 1:
            raise ValueError("n must be at least 1")
        self._arm(_Armed("report_repeat", 1, "createReport", rows=n))

    def lose_updates(self, share: float, seed: int = 0) -> None:
        """From now on searchOrders never serves `share` (0 to 1) of all order versions: a
        version is lost when a hash of its order id and lastUpdatedTime (and `seed`) falls
        under `share`, so the same versions stay lost, in every window and every page. A lost
        version's order is served as its newest version that is not lost (or not at all);
        getOrder and the reports are unaffected. `lose_updates(0)` ends it."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be from 0 to 1, not {share}")
        self._lost = (float(share), int(seed))

    @property
    def losing_updates(self) -> bool:
        return self._lost[0] > 0.0

    def lost_version(self, order_id: str, updated: datetime) -> bool:
        """Whether searchOrders misses this version of the order (see `lose_updates`)."""
        share, seed = self._lost
        if share <= 0.0:
            return False
        key = f"{seed}|{order_id}|{utc_iso(updated)}".encode()
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < share

    def drop_notifications(self, share: float = 1.0, seed: int = 0) -> None:
        """From now on `share` (0 to 1) of the notification messages are never sent."""
        self._notification_mode("drop", share, seed)

    def repeat_notifications(self, share: float = 1.0, seed: int = 0) -> None:
        """From now on `share` of the messages are sent twice (the same message, the same
        NotificationId): subscribers must de-duplicate."""
        self._notification_mode("repeat", share, seed)

    def reorder_notifications(self, share: float = 1.0, seed: int = 0) -> None:
        """From now on `share` of the messages are held back and sent right after the next
        one (at most a few seconds later when no next one comes)."""
        self._notification_mode("reorder", share, seed)

    def pause_notifications(self) -> None:
        """Hold every notification message (they keep their order) until resumed."""
        self.notifications_paused = True

    def resume_notifications(self) -> None:
        self.notifications_paused = False

    def notification_fault(self, kind: str) -> bool:
        """Whether the next message suffers `kind` (drop, repeat, reorder): one draw from
        that mode's sequence, so the same seed picks the same messages."""
        with self._lock:
            mode = self._notification_modes.get(kind)
            return mode is not None and mode[1].random() < mode[0]

    def _notification_mode(self, kind: str, share: float, seed: int) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be from 0 to 1, not {share}")
        with self._lock:
            if share > 0.0:
                self._notification_modes[kind] = (float(share), random.Random(seed))
            else:
                self._notification_modes.pop(kind, None)

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (the next call answers 403)."""
        self._auth.expire_all(owners={self._owner} if self._owner else {self._refresh_token, None})

    def refuse_grant(self) -> None:
        """From now on LWA answers the seller's refresh token 400 invalid_grant and its access
        tokens stop working, as Amazon does once the seller revoked the app's authorization."""
        self._refused = True
        self._auth.refuse(self._refresh_token)

    def throttle(self, operation: str = "searchOrders") -> None:
        """From now on `operation` always answers 429 QuotaExceeded, whatever its bucket holds:
        a seller whose quota is used up elsewhere (other processes of the same app)."""
        self.throttled.add(operation)

    def malform(self, operation: str = "searchOrders") -> None:
        """From now on `operation` answers 200 with `MALFORMED_BODY`, which the model does not
        describe (no `orders` list): what a client must report, not trip over."""
        self.malformed.add(operation)

    def clear(self) -> None:
        """Disarm every fault, every mode included (a refused grant is accepted again)."""
        with self._lock:
            self._armed.clear()
            self._lost = (0.0, 0)
            self._notification_modes.clear()
            self.notifications_paused = False
            self.throttled.clear()
            self.malformed.clear()
            refused, self._refused = self._refused, False
        if refused:
            self._auth.accept(self._refresh_token)

    @property
    def _refresh_token(self) -> str:
        return self._owner or self._auth.default_refresh_token

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
