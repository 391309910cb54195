"""The outbox: changes for Amazon carried from the order book until Amazon shows them.

An entry moves `pending` -> `sent` -> `confirmed`, or to `failed` when Amazon refuses it. The
rules that make it safe:

* **Claim before sending.** An entry becomes `sent` (attempts + 1) in its own committed UPDATE,
  conditional on the state and attempt count read, before the request leaves. Two flushes (the
  action's own and a sync's, in another process) can't both send it; a crash after the claim
  leaves a `sent` entry, never a `pending` one that was in fact sent.
* **Read back before resending.** A `sent` entry that Amazon never answered with a success may or
  may not have taken effect. Before sending it again, getOrder (with PACKAGES) says whether the
  package / the cancellation is there; and since Amazon's reads lag its writes by about two
  minutes (the store's `api_lag`), "not there" only counts once that long has passed since the
  last attempt.
* **Confirmed means visible.** An accepted request stays `sent` until Amazon's order shows the
  new state; a cancellation's feed must also finish without an error for its order.

Transient trouble (5xx, throttling, the network, credentials) leaves the entry `sent` with its
`last_error` and a `next_attempt_at` that backs off exponentially; the next flush picks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient
from ordertools.amazon.errors import AmazonError, InvalidInput, NotFound
from ordertools.db import OutboxEntry, Store
from ordertools.db import session as db_session
from ordertools.domain import local_orders
from ordertools.errors import OrdertoolsError

BACKOFF_FIRST = 30.0  # seconds before the first retry; doubles per attempt
BACKOFF_MAX = 3600.0
OPEN_STATES = ("pending", "sent")

# How far a change for Amazon got, in words: (in a table, in a sentence after the order's
# status). The dashboard's tables and every action's one-line result take them from here.
STATE_WORDS = {
    "pending": ("queued", "queued for Amazon"),
    "sent": ("sent, waiting to see it at Amazon", "sent to Amazon, waiting to see it there"),
    "confirmed": ("confirmed by Amazon", "confirmed by Amazon"),
    "failed": ("refused by Amazon", "refused by Amazon"),
}


def state_words(state: str, *, sentence: bool = False) -> str:
    """An outbox state in words (a state this version doesn't know: the state itself)."""
    if state not in STATE_WORDS:
        return state
    in_a_table, in_a_sentence = STATE_WORDS[state]
    return in_a_sentence if sentence else in_a_table


Clock = Callable[[], datetime]


def real_now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


@dataclass
class FlushReport:
    sent: int = 0  # requests Amazon accepted
    confirmed: int = 0  # entries whose change Amazon's order now shows
    failed: int = 0  # entries Amazon refused
    waiting: int = 0  # entries left for a later flush (not visible yet, or trouble)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"outbox: {self.sent} sent, {self.confirmed} confirmed, {self.failed} failed, "
            f"{self.waiting} waiting"
        )
        return text + "".join(f"\n  {e}" for e in self.errors)


def flush_outbox(
    engine: Engine,
    store: str | None = None,
    *,
    entry_ids: Iterable[int] | None = None,
    client: AmazonClient | None = None,
    clock: Clock | None = None,
) -> FlushReport:
    """Move every due entry (of `store`, or these `entry_ids`) as far as it can go now.

    Never raises for Amazon's answers: they end up on the entries. A `client` given is used for
    every store (tests, the sync's own client); otherwise each store gets one.
    """
    clock = clock or real_now
    now = clock()
    report = FlushReport()
    with db_session(engine) as session:
        query = (
            select(OutboxEntry.id, OutboxEntry.store_id)
            .where(OutboxEntry.state.in_(OPEN_STATES))
            .where(or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now))
            .order_by(OutboxEntry.id)
        )
        if store is not None:
            query = query.join(Store).where(Store.name == store)
        if entry_ids is not None:
            query = query.where(OutboxEntry.id.in_(list(entry_ids)))
        due: dict[int, list[int]] = {}
        for entry_id, store_id in session.execute(query):
            due.setdefault(store_id, []).append(entry_id)
    for store_id, ids in due.items():
        with db_session(engine) as session:
            row = session.get(Store, store_id)
            name, lag = row.name, timedelta(seconds=row.api_lag_seconds)
            try:
                store_client = client or connect.amazon_client(row)
            except OrdertoolsError as exc:  # e.g. credentials missing: every entry waits
                report.waiting += len(ids)
                report.errors.append(f"{name}: {exc}")
                continue
        try:
            for entry_id in ids:
                _Delivery(engine, entry_id, store_client, lag, clock, report).run()
        finally:
            if client is None:
                store_client.close()
    return report


def list_outbox(
    engine: Engine,
    store: str | None = None,
    states: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Entries, newest first, as plain dicts (the CLI and the dashboard print these)."""
    with db_session(engine) as session:
        query = select(OutboxEntry, Store.name).join(Store).order_by(OutboxEntry.id.desc())
        if limit is not None:  # the dashboard shows the latest few
            query = query.limit(limit)
        if store is not None:
            query = query.where(Store.name == store)
        if states:
            query = query.where(OutboxEntry.state.in_(list(states)))
        return [
            {
                "id": e.id,
                "store": name,
                "order_number": e.order.number,
                "amazon_order_id": e.amazon_order_id,
                "kind": e.kind,
                "state": e.state,
                "attempts": e.attempts,
                "next_attempt_at": e.next_attempt_at,
                "last_error": e.last_error,
                "created_at": e.created_at,
                "confirmed_at": e.confirmed_at,
            }
            for e, name in session.execute(query)
        ]


def retry_outbox(
    engine: Engine,
    store: str | None = None,
    *,
    entry_ids: Iterable[int] | None = None,
    client: AmazonClient | None = None,
    clock: Clock | None = None,
) -> FlushReport:
    """Try now: open entries lose their wait, failed ones go back to pending; then flush."""
    with db_session(engine) as session:
        query = select(OutboxEntry.id).where(OutboxEntry.state != "confirmed")
        if store is not None:
            query = query.join(Store).where(Store.name == store)
        if entry_ids is not None:
            query = query.where(OutboxEntry.id.in_(list(entry_ids)))
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id.in_(ids), OutboxEntry.state == "failed")
                .values(state="pending")
            )
            session.execute(
                update(OutboxEntry).where(OutboxEntry.id.in_(ids)).values(next_attempt_at=None)
            )
    return flush_outbox(engine, entry_ids=ids, client=client, clock=clock)


class _Delivery:
    """One entry, one step: send it, or see whether Amazon shows it yet."""

    def __init__(self, engine, entry_id, client, lag, clock, report):
        self.engine, self.entry_id, self.client = engine, entry_id, client
        self.lag, self.clock, self.report = lag, clock, report
        with db_session(engine) as session:
            e = session.get(OutboxEntry, entry_id)
            self.kind, self.state, self.attempts = e.kind, e.state, e.attempts
            self.order_id, self.payload = e.amazon_order_id, dict(e.payload)
            self.accepted, self.last_attempt, self.remote_id = (
                e.accepted_at,
                e.last_attempt_at,
                e.remote_id,
            )

    def run(self) -> None:
        if self.state == "pending":
            self._send()
            return
        if self.kind == "cancel" and self.accepted and not self._feed_succeeded():
            return
        took = self._took_effect()
        if took is None:
            return  # Amazon could not be asked; the error is on the entry
        if took:
            self._update(state="confirmed", confirmed_at=self.clock(), last_error=None)
            self.report.confirmed += 1
        elif self.accepted or self.clock() - self.last_attempt < self.lag:
            # Accepted, or maybe accepted: Amazon's reads lag its writes; look again later.
            self._update(next_attempt_at=max(self.clock(), self.last_attempt) + self.lag)
            self.report.waiting += 1
        else:
            self._send()  # sent before, never accepted, and still not there after the lag

    # -- steps ---------------------------------------------------------------------------------

    def _send(self) -> None:
        if not self._claim():
            return
        try:
            remote_id = self._request()
        except (InvalidInput, NotFound) as refused:
            self._refused(refused)
            return
        except AmazonError as trouble:
            self._update(last_error=str(trouble))  # next_attempt_at was set by the claim
            self.report.waiting += 1
            return
        self._accepted(remote_id)

    def _refused(self, refused: AmazonError) -> None:
        """Amazon said no. Whether the change is there anyway is read from Amazon's order,
        never from the refusal's wording: an attempt whose answer was lost may have landed,
        and its retry then be refused as a duplicate."""
        took = self._took_effect()
        if took is None:
            return  # Amazon could not be asked; the entry waits with that error
        if took:
            self._update(state="confirmed", confirmed_at=self.clock(), last_error=None)
            self.report.confirmed += 1
        elif refused.after_uncertain_attempt:
            # Not visible yet may be Amazon's read lag: look again once it has passed (the
            # next flush confirms it, or resends, and a landed change is there by then).
            self._update(
                last_error=f"Amazon refused a retry ({refused}); checking its order again",
                next_attempt_at=self.clock() + self.lag,
            )
            self.report.waiting += 1
        else:
            self._fail(f"Amazon refused it: {refused}")

    def _claim(self) -> bool:
        """Mark the entry sent before the request leaves; False if another flush got it."""
        now = self.clock()
        with db_session(self.engine) as session:
            claimed = session.execute(
                update(OutboxEntry)
                .where(
                    OutboxEntry.id == self.entry_id,
                    OutboxEntry.state == self.state,
                    OutboxEntry.attempts == self.attempts,
                )
                .values(
                    state="sent",
                    attempts=self.attempts + 1,
                    last_attempt_at=now,
                    next_attempt_at=now + backoff(self.attempts + 1),
                )
            ).rowcount
        return claimed == 1

    def _request(self) -> str | None:
        p = self.payload
        if self.kind == "ship":
            self.client.confirm_shipment(
                self.order_id,
                marketplace_id=p["marketplace_id"],
                package_reference_id=p["package_reference_id"],
                carrier_code=p["carrier_code"],
                carrier_name=p.get("carrier_name"),
                tracking_number=p["tracking_number"],
                ship_date=datetime.fromisoformat(p["ship_date"]),
                shipping_method=p.get("shipping_method"),
                items=[(item_id, quantity) for item_id, quantity in p["items"]],
            )
            return None
        return self.client.cancel_order(
            self.order_id,
            marketplace_id=p["marketplace_id"],
            reason=p["reason"],
            item_ids=p["item_ids"],
        )

    def _accepted(self, remote_id: str | None) -> None:
        now = self.clock()
        values = {"accepted_at": now, "last_error": None, "next_attempt_at": now + self.lag}
        if remote_id is not None:
            values["remote_id"] = remote_id
        self._update(**values)
        self.report.sent += 1

    def _feed_succeeded(self) -> bool:
        """Whether the cancellation feed finished without an error for our order."""
        try:
            status, result = self.client.feed_result(self.remote_id)
        except AmazonError as trouble:
            self._wait(str(trouble))
            return False
        if status in ("FATAL", "CANCELLED"):
            self._fail(f"Amazon could not process the cancellation feed ({status})")
            return False
        if status != "DONE":
            self._wait(None)
            return False
        if result is not None and result.errors:
            self._fail(f"Amazon refused it: {next(iter(result.errors.values()))}")
            return False
        return True

    def _took_effect(self) -> bool | None:
        """Whether Amazon's order shows the change; None when Amazon could not be asked."""
        try:
            order = self.client.get_order(self.order_id, included_data=("FULFILLMENT", "PACKAGES"))
        except NotFound:
            return False  # not visible (yet)
        except AmazonError as trouble:
            self._wait(str(trouble))
            return None
        if self.kind == "ship":
            reference = self.payload["package_reference_id"]
            return any(p.package_reference_id == reference for p in order.packages)
        return order.status == "CANCELLED"

    # -- recording -----------------------------------------------------------------------------

    def _wait(self, error: str | None) -> None:
        self._update(last_error=error, next_attempt_at=self.clock() + backoff(self.attempts))
        self.report.waiting += 1

    def _fail(self, reason: str) -> None:
        """Amazon won't do it: the entry fails and the local order's history says so."""
        with db_session(self.engine) as session:
            entry = session.get(OutboxEntry, self.entry_id)
            entry.state, entry.last_error, entry.next_attempt_at = "failed", reason, None
            what = "shipment confirmation" if self.kind == "ship" else "cancellation"
            local_orders.add_comment(
                entry.order,
                f"Amazon did not take the {what} (outbox {entry.id}): {reason}; "
                "fix it and `ordertools outbox retry`, or finish it in Seller Central",
                source="system",
            )
        self.report.failed += 1
        self.report.errors.append(f"{self.order_id} {self.kind}: {reason}")

    def _update(self, **values: Any) -> None:
        with db_session(self.engine) as session:
            session.execute(
                update(OutboxEntry).where(OutboxEntry.id == self.entry_id).values(**values)
            )
