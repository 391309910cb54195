"""The emulator's sense of "now", which tests and demos may freeze or push forward.

Order visibility, token expiry and the `...Before` rules all read the world clock, so a test can
play out "an update becomes visible two minutes later" by advancing it instead of sleeping.
Rate limiting deliberately does not: usage plans meter real throughput.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock tests control: frozen at `start`, or (ticking=True) real time shifted by jumps.

    A ticking clock is the safe choice when code under test also reads the real time (a sync
    computing its window): the emulator's now is then never behind the caller's.
    """

    def __init__(self, start: datetime | None = None, *, ticking: bool = False):
        start = start or real_clock()
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time (UTC)")
        self._lock = threading.Lock()
        self._start = start.astimezone(UTC)
        self._ticking = ticking
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            if not self._ticking:
                return self._start
            return self._start + timedelta(seconds=time.monotonic() - self._origin)

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Jump forward (`advance(130)`, `advance(minutes=5)`); returns the new now."""
        with self._lock:
            self._start += timedelta(seconds=seconds, **delta)
        return self()
