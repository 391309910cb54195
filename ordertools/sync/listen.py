"""The listener: Amazon's ORDER_CHANGE notifications from an SQS queue into the order book.

Amazon sends a message to the seller's queue moments after an order changes. The listener
long-polls the queue, reads each changed order with getOrder and applies it through the sync's
own write path (`PageApplier`: the same import rules, the same ledger) under the store's lock,
so an order imports within seconds instead of at the next scheduled sync, and a sync and a
listener of one store take turns. Polling stays the safety net: the sync's window and cursor
are untouched, so whatever a notification missed the next sync still finds.

Why nothing is lost or doubled:
- A message is deleted from SQS only after what it caused is committed; a listener killed at
  any point leaves it in the queue, which delivers it again after its visibility timeout.
- Every message received is recorded (`Notification`) in the same transaction as its order, by
  Amazon's NotificationId, so a repeat (Amazon and SQS both deliver at least once) is dropped.
- Stale and out-of-order messages never move an order backwards: getOrder reads the order as
  it is now, and the write path keeps a stored version unless Amazon's is newer.
- A malformed message is recorded with its reason, then deleted: it never stops the listener.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ordertools import stops
from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient
from ordertools.amazon.errors import MalformedNotification, MalformedOrder, NotFound
from ordertools.amazon.models import SearchPage
from ordertools.amazon.notifications import OrderChange, parse_order_change, sqs_client
from ordertools.amazon.notifications import queue_url as queue_url_of
from ordertools.db import Notification, Store, utcnow
from ordertools.db import session as db_session
from ordertools.db.locks import store_lock
from ordertools.domain.instants import utc
from ordertools.domain.stores import get_store, list_stores
from ordertools.errors import ConfigurationError, OrdertoolsError
from ordertools.sync.applier import PageApplier
from ordertools.sync.report import SyncReport

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 20  # SQS's longest wait for a message
VISIBILITY_TIMEOUT = 120  # a message not deleted by then is delivered again
LOCK_WAIT = 30  # seconds to wait for a sync of the store before leaving the batch for later
BATCH = 10  # messages per receive: SQS's most
# getOrder may show an order's change a little after Amazon notified it: a message whose order
# Amazon still shows older comes back after a growing pause, up to this many deliveries; then
# it is recorded as such and deleted, and the next sync brings the change.
MAX_DELIVERIES = 12
RETRY_PAUSE_MAX = 60  # seconds


@dataclass
class ListenReport:
    """What a listener did so far, summed over batches."""

    received: int = 0
    applied: int = 0  # messages whose order was read and applied
    repeats: int = 0  # dropped: already applied (same NotificationId)
    malformed: int = 0
    unmatched: int = 0  # no listened store sells in the message's marketplace
    left: int = 0  # left in the queue for later (store busy, Amazon failing)
    imported: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.received} messages: {self.applied} applied ({self.imported} imported, "
            f"{self.updated} updated), {self.repeats} repeats, {self.malformed} malformed, "
            f"{self.unmatched} for no listened store, {self.left} left for later"
        )


@dataclass
class _Message:
    receipt: str
    message_id: str
    body: str
    deliveries: int = 1
    change: OrderChange | None = None
    error: str | None = None


class Listener:
    """Consumes one queue for some stores (or every store)."""

    def __init__(
        self,
        engine: Engine,
        names: Iterable[str] | None = None,
        *,
        queue_url: str | None = None,
        sqs=None,
        clients: dict[str, AmazonClient] | None = None,
        wait_seconds: int = LONG_POLL_SECONDS,
        visibility_timeout: int = VISIBILITY_TIMEOUT,
        lock_wait: float = LOCK_WAIT,
        echo: Callable[[str], None] | None = None,
    ):
        self.engine = engine
        self.stores, queue_arns = self._stores(names)
        arn = None if queue_url else _one_queue(queue_arns)  # before AWS: what to set up first
        self.sqs = sqs or sqs_client()
        self.queue_url = queue_url or queue_url_of(self.sqs, arn)
        self.clients = dict(clients or {})
        self._owned: list[AmazonClient] = []
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.lock_wait = lock_wait
        self.echo = echo or (lambda line: log.info("%s", line))
        self.report = ListenReport()

    # -- setting up ------------------------------------------------------------------------------

    def _stores(self, names: Iterable[str] | None) -> tuple[dict[str, tuple[int, str]], set[str]]:
        """Listened stores (name -> (id, marketplace id)), and the queues they were set up with."""
        with db_session(self.engine) as session:
            chosen = (
                list_stores(session)
                if names is None
                else [get_store(session, name) for name in names]
            )
            stores = {s.name: (s.id, s.marketplace_id) for s in chosen}
            arns = {s.notification_queue_arn for s in chosen if s.notification_queue_arn}
        if not stores:
            raise ConfigurationError("no store to listen for: add one with `ordertools store add`")
        return stores, arns

    def close(self) -> None:
        for client in self._owned:
            client.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running ---------------------------------------------------------------------------------

    def run(self, *, until: Callable[[], bool] | None = None) -> ListenReport:
        """Poll until Ctrl-C/SIGTERM (or `until()` says so); each batch logged in one line."""
        with stops.cooperatively():
            while not stops.requested() and not (until and until()):
                self.poll_once()
        return self.report

    def poll_once(self) -> int:
        """One long poll and what it brought; returns the number of messages received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=self.wait_seconds,
            VisibilityTimeout=self.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = [
            _Message(
                m["ReceiptHandle"],
                m["MessageId"],
                m.get("Body", ""),
                int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in answer.get("Messages", [])
        ]
        if messages:
            self._handle(messages)
        return len(messages)

    def _handle(self, messages: list[_Message]) -> None:
        self.report.received += len(messages)
        for message in messages:
            try:
                message.change = parse_order_change(message.body)
            except MalformedNotification as bad:
                message.error = str(bad)
        done: list[_Message] = []
        done += self._record_unusable(messages)
        by_store: dict[str, list[_Message]] = {}
        for message in messages:
            if message.change is not None:
                store = self._store_for(message.change)
                if store is None:
                    message.error = (
                        f"no listened store sells in marketplace {message.change.marketplace_id}"
                    )
                    done += self._record_unusable([message], unmatched=True)
                else:
                    by_store.setdefault(store, []).append(message)
        for store, batch in by_store.items():
            done += self._apply(store, batch)
        self._delete(done)

    def _store_for(self, change: OrderChange) -> str | None:
        # A store is one seller in one marketplace; the queue is the seller's (or shared by
        # the application's sellers), so the marketplace picks the store.
        for name, (_, marketplace_id) in self.stores.items():
            if marketplace_id == change.marketplace_id:
                return name
        return None

    # -- recording -------------------------------------------------------------------------------

    def _record_unusable(self, messages: list[_Message], *, unmatched: bool = False):
        """Malformed (or unmatched) messages: recorded with the reason, then deleted."""
        unusable = [m for m in messages if m.error is not None]
        if not unusable:
            return []
        now = utcnow()
        with db_session(self.engine) as session:
            for m in unusable:
                key = m.change.notification_id if m.change else _key(m)
                if session.scalar(
                    select(Notification.id).where(Notification.notification_id == key)
                ):
                    continue  # recorded on an earlier delivery
                session.add(
                    Notification(
                        notification_id=key,
                        amazon_order_id=m.change.amazon_order_id if m.change else None,
                        received_at=now,
                        error=m.error,
                    )
                )
        for m in unusable:
            if unmatched:
                self.report.unmatched += 1
            else:
                self.report.malformed += 1
            self.report.errors.append(m.error)
            self.echo(f"skipped message {m.message_id}: {m.error}")
        return unusable

    def _apply(self, name: str, batch: list[_Message]) -> list[_Message]:
        """Read the batch's orders and apply them under the store's lock; returns the messages
        done with (applied, or repeats), which may now be deleted."""
        store_id, _ = self.stores[name]
        ids = [m.change.notification_id for m in batch]
        with db_session(self.engine) as session:
            seen = set(
                session.scalars(
                    select(Notification.notification_id).where(
                        Notification.notification_id.in_(ids)
                    )
                )
            )
        repeats, fresh = [], []
        for m in batch:  # a repeat may come in the same receive as the first copy
            (repeats if m.change.notification_id in seen else fresh).append(m)
            seen.add(m.change.notification_id)
        self.report.repeats += len(repeats)
        if not fresh:
            return repeats
        try:
            page = self._read(name, store_id, {m.change.amazon_order_id for m in fresh})
            fresh, behind = self._caught_up(fresh, page)
            applied = SyncReport(store=name)
            with store_lock(self.engine, store_id, wait=self.lock_wait):
                with db_session(self.engine) as session:
                    store = session.get(Store, store_id)
                    PageApplier(session, store, applied).apply(page)
                    now = utcnow()
                    for m in fresh:  # one transaction with the orders: a repeat finds it
                        session.add(
                            Notification(
                                notification_id=m.change.notification_id,
                                store_id=store_id,
                                amazon_order_id=m.change.amazon_order_id,
                                order_status=m.change.order_status,
                                published_at=m.change.published_at,
                                received_at=now,
                                applied_at=now,
                            )
                        )
        except OrdertoolsError as exc:  # StoreBusy, Amazon failing: the queue keeps them
            if stops.as_stop(exc) is not None:
                raise
            # Left in the queue: SQS delivers the messages again after the visibility timeout.
            self.report.left += len(fresh)
            self.report.errors.append(f"{name}: {exc}")
            self.echo(f"{name}: {len(fresh)} messages left for later: {exc}")
            return repeats
        self.report.applied += len(fresh)
        self.report.imported += applied.imported
        self.report.updated += applied.new + applied.updated
        self._retry_later(behind)
        self.echo(
            f"{name}: {len(fresh)} notifications, {len(page.orders)} orders read: "
            f"{applied.imported} imported, {applied.new} new, {applied.updated} updated"
            + (f", {len(repeats)} repeats dropped" if repeats else "")
            + (f", {len(behind)} not at Amazon's getOrder yet" if behind else "")
        )
        return repeats + fresh

    def _caught_up(self, messages: list[_Message], page: SearchPage):
        """(messages whose order getOrder shows as new as the message, or that waited their
        last; the others, to try again soon)."""
        shown = {o.order_id: o.last_updated_time for o in page.orders}
        done, behind = [], []
        for m in messages:
            at = shown.get(m.change.amazon_order_id)
            notified = m.change.last_updated.replace(microsecond=0)  # Amazon's times: seconds
            if at is not None and at >= notified or m.deliveries >= MAX_DELIVERIES:
                done.append(m)
            else:
                behind.append(m)
        return done, behind

    def _retry_later(self, messages: list[_Message]) -> None:
        """Back in the queue after a pause that doubles with each delivery."""
        self.report.left += len(messages)
        for m in messages:
            pause = min(2 ** (m.deliveries - 1), RETRY_PAUSE_MAX)
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=m.receipt, VisibilityTimeout=pause
            )

    def _read(self, name: str, store_id: int, order_ids: set[str]) -> SearchPage:
        """The orders as Amazon has them now (getOrder, paced by its usage plan)."""
        client = self._client(name, store_id)
        page = SearchPage(orders=[])
        for order_id in sorted(order_ids):
            try:
                page.orders.append(client.get_order(order_id))
            except MalformedOrder as bad:
                page.malformed.append(bad)
            except NotFound:
                log.warning(
                    "store %s: Amazon has no order %s (from a notification)", name, order_id
                )
        return page

    def _client(self, name: str, store_id: int) -> AmazonClient:
        if name not in self.clients:
            with db_session(self.engine) as session:
                store = session.get(Store, store_id)
                client = connect.amazon_client(store)
            self.clients[name] = client
            self._owned.append(client)
        return self.clients[name]

    def _delete(self, messages: list[_Message]) -> None:
        for first in range(0, len(messages), BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": m.receipt}
                for n, m in enumerate(messages[first : first + BATCH])
            ]
            if entries:
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)


def _one_queue(arns: set[str]) -> str:
    """The queue the stores' `notifications setup` named (one for all of them)."""
    if not arns:
        raise ConfigurationError(
            "no queue to listen to: run `ordertools notifications setup NAME --queue-arn ARN` "
            "first, or give --queue-url"
        )
    if len(arns) > 1:
        raise ConfigurationError(
            "the stores send their notifications to different queues: run one listener per "
            "queue, each with --queue-url and its stores"
        )
    return next(iter(arns))


def _key(message: _Message) -> str:
    """A malformed message's record key: its body's digest (the same bad message delivered
    twice is recorded once), as it may carry no NotificationId."""
    return "malformed:" + hashlib.sha256(message.body.encode()).hexdigest()[:40]


# -- liveness: what the sync report and the dashboard say ----------------------------------------


@dataclass(frozen=True)
class Liveness:
    set_up: bool
    last_received: datetime | None
    lag_seconds: float | None  # Amazon's publishing to our receiving, for the last message

    def words(self, now: datetime) -> str:
        if self.last_received is None:
            return "set up; no message received yet" if self.set_up else "not set up"
        ago = max((now - utc(self.last_received)).total_seconds(), 0)
        lag = (
            f", {self.lag_seconds:.1f} s after Amazon sent it"
            if self.lag_seconds is not None
            else ""
        )
        return f"last message {_ago(ago)} ago{lag}"


def liveness(session, store: Store) -> Liveness:
    last = session.execute(
        select(Notification.received_at, Notification.published_at)
        .where(Notification.store_id == store.id, Notification.error.is_(None))
        .order_by(Notification.received_at.desc(), Notification.id.desc())
        .limit(1)
    ).first()
    set_up = store.notification_subscription_id is not None
    if last is None:
        return Liveness(set_up, None, None)
    received, published = (utc(t) if t else None for t in last)
    lag = (received - published).total_seconds() if received and published else None
    return Liveness(set_up, received, lag)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
