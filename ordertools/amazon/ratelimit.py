"""Token buckets, the model of Amazon's usage plans.

Amazon meters each operation with a bucket: it holds at most `burst` tokens, refills at `rate`
tokens per second, and a request spends one. The client keeps one bucket per operation and waits
for a token instead of provoking a 429; the emulator keeps the same buckets to decide when to
answer 429. One implementation serves both sides so their arithmetic can't drift apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Amazon's documented default usage plans: operation -> (requests per second, burst).
DEFAULT_PLANS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    # Feeds API 2021-06-30: how a seller cancels an order (see amazon/feeds.py).
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    # Reports API 2021-06-30: the order reports a reconciliation reads (see amazon/reports.py).
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    # Notifications API v1: ORDER_CHANGE messages to the user's SQS queue (amazon/notifications.py).
    "createDestination": (1.0, 5),
    "getDestinations": (1.0, 5),
    "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5),
    "createSubscription": (1.0, 5),
    "getSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
}


class TokenBucket:
    """A thread-safe token bucket; starts full, as a fresh usage plan does."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1, got {rate}/{burst}")
        self._clock = clock
        self._lock = threading.Lock()
        self.rate = float(rate)
        self.burst = int(burst)
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> float:
        """Spend a token if one is there: returns 0.0, else the seconds until one will be."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def drain(self) -> None:
        """Empty the bucket: after a 429 the server's bucket is empty whatever ours believed."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def rerate(self, rate: float) -> None:
        """Adopt the rate Amazon announced in `x-amzn-RateLimit-Limit`, keeping the tokens."""
        if rate > 0 and rate != self.rate:
            with self._lock:
                self._refill()
                self.rate = float(rate)
