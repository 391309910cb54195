"""What one sync of one store did: counts, failures and the orders it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ordertools import stops
from ordertools.errors import OrdertoolsError

# How many per-order lines a report keeps for display; the counts always cover everything.
REPORT_CHANGES_LIMIT = 500


@dataclass
class OrderChange:
    """One order this run stored or changed, for the run's output."""

    amazon_order_id: str
    status: str  # the shown word
    action: str
    note: str | None
    local_order_number: str | None = None


@dataclass
class SyncReport:
    """What one sync of one store did."""

    store: str
    run_id: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    outcome: str = "running"
    error: str | None = None
    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    imported: int = 0
    canceled: int = 0
    completed: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (order id, reason)
    changes: list[OrderChange] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    waited: float = 0.0  # seconds spent waiting on Amazon (rate limit, retries)
    opens_at: datetime | None = None  # when the window is still empty: when it will open
    # With ORDER_CHANGE notifications: whether they are live ("last message 12 s ago, ..."),
    # and what this poll found that no notification had delivered (its new and updated orders:
    # an order a notification brought is already stored, so the poll finds it unchanged).
    notifications: str | None = None

    COUNTS = ("new", "updated", "imported", "canceled", "completed", "skipped", "failed")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def mark(self) -> tuple:
        """What the counts are now, for `back_to` (a page written again)."""
        return (self.counts(), self.unchanged, len(self.failures), len(self.changes))

    def back_to(self, mark: tuple) -> None:
        counts, self.unchanged, failures, changes = mark
        for name, value in counts.items():
            setattr(self, name, value)
        del self.failures[failures:], self.changes[changes:]

    def note_change(self, change: OrderChange) -> None:
        if self.keeps_changes:
            self.changes.append(change)

    @property
    def keeps_changes(self) -> bool:
        """Whether another per-order line would be kept (a first sync's 20,000 would not)."""
        return len(self.changes) < REPORT_CHANGES_LIMIT

    def _waited(self) -> str:
        """How long Amazon's pace held the sync up, when it did (a second or more)."""
        if self.waited < 1:
            return ""
        minutes, seconds = divmod(round(self.waited), 60)
        return f", {minutes}:{seconds:02d} waiting on Amazon"

    def line(self) -> str:
        """One line for a round over many stores: how it ended and what changed."""
        if self.outcome != "success":
            return f"Store {self.store}: sync {self.outcome} ({self.error})"
        counts = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        return f"Store {self.store}: sync success; {counts or 'nothing new'}"

    def summary(self) -> str:
        """The one-screen summary printed at the end of a run."""
        start, end = self.window_start, self.window_end
        if start is None or end is None:
            window = "-"
        elif end <= start:
            # A store integrated moments ago: Amazon's data lags, so the first window opens later.
            window = (
                f"nothing to read yet (Amazon's data lags; next window opens {_fmt(self.opens_at)})"
            )
        else:
            window = f"{_fmt(start)} .. {_fmt(end)}"
        lines = [
            f"Store {self.store}: sync {self.outcome}" + (f" ({self.error})" if self.error else ""),
            f"  window   {window}",
            f"  pages    {self.pages} ({self.requests} searchOrders calls,"
            f" {self.throttled} throttled{self._waited()})",
            "  orders   " + ", ".join(f"{n} {k}" for k, n in self.counts().items()),
        ]
        if self.notifications is not None:
            missed = self.new + self.updated
            lines.append(
                f"  notify   {self.notifications}; this poll found {missed} "
                f"order{'' if missed == 1 else 's'} no notification had delivered"
            )
        for order_id, reason in self.failures[:10]:
            lines.append(f"  failed   {order_id}: {reason}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more failures")
        return "\n".join(lines)


class SyncFailed(OrdertoolsError):
    """`sync_all` finished every store, and at least one failed."""

    NAMED = 5  # failures the one-line message names; the summary lists them all

    def __init__(self, reports: list[SyncReport]):
        failed = sorted((r for r in reports if r.outcome == "failed"), key=lambda r: r.store)
        named = "; ".join(f"{r.store}: {r.error}" for r in failed[: self.NAMED])
        more = len(failed) - self.NAMED
        super().__init__(
            f"{len(failed)} of {len(reports)} stores failed to sync: {named}"
            + (f"; and {more} more (see the summary)" if more > 0 else "")
        )
        self.reports = reports


def failed_because(exc: BaseException, stopped: str) -> tuple[str, KeyboardInterrupt | None]:
    """Why a run (a sync, a reconciliation) failed, as its record says it, and the stop
    behind the error if there is one: Ctrl-C or SIGTERM, however it surfaced, reads `stopped`;
    our errors read as a sentence; anything else is named by its type.

    A wait that ended for a stop raises the client's error: the caller raises the stop itself
    then, so no caller mistakes it for one store's failure and goes on.
    """
    stop = stops.as_stop(exc)
    if stop is not None:
        return stopped, stop
    if isinstance(exc, OrdertoolsError):
        return str(exc), None
    return f"{type(exc).__name__}: {exc}", None


def utc_text(moment: datetime | None) -> str:
    """An instant as the summaries print it: 2026-11-20 12:00:00Z."""
    return _fmt(moment)


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"
