"""`notifications setup|status|remove`: a store's ORDER_CHANGE subscription at Amazon.

Amazon sends ORDER_CHANGE notifications to a *destination* (the application's SQS queue;
destinations are the application's, shared by its sellers, created with a grantless token) for
each seller that has a *subscription* (one per notification type and seller), filtered to the
store's marketplace. Setting up creates (or reuses) both and records them on the store, so the
listener knows which queue to read and the dashboard whether notifications should arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient
from ordertools.amazon.errors import NotFound, SubscriptionExists
from ordertools.amazon.notifications import (
    AMAZON_NOTIFICATIONS_PRINCIPAL,
    ORDER_CHANGE,
    Destination,
    Subscription,
    parse_queue_arn,
)
from ordertools.db import Notification, Store, utcnow
from ordertools.db import session as db_session
from ordertools.domain.stores import get_store
from ordertools.errors import ConfigurationError
from ordertools.sync.listen import liveness


@dataclass(frozen=True)
class NotificationSetup:
    store: str
    queue_arn: str | None
    destination_id: str | None
    subscription_id: str | None
    created: tuple[str, ...] = ()  # what this call created at Amazon ("destination", ...)

    def lines(self) -> list[str]:
        if self.subscription_id is None:
            return [f"Store {self.store}: no ORDER_CHANGE notifications set up."]
        made = f" (created: {', '.join(self.created)})" if self.created else " (reused)"
        return [
            f"Store {self.store}: ORDER_CHANGE notifications go to {self.queue_arn}{made}.",
            f"  destination {self.destination_id}, subscription {self.subscription_id}",
            f"  The queue's policy must let {AMAZON_NOTIFICATIONS_PRINCIPAL} send to it "
            "(sqs:SendMessage).",
            f"  Then run: ordertools listen {self.store}",
        ]


def _client(store: Store, client: AmazonClient | None) -> tuple[AmazonClient, bool]:
    return (client, False) if client is not None else (connect.amazon_client(store), True)


def setup_notifications(
    engine: Engine, name: str, queue_arn: str, *, client: AmazonClient | None = None
) -> NotificationSetup:
    """Create or reuse the destination for `queue_arn` and the store's ORDER_CHANGE
    subscription (for its marketplace), and record them on the store."""
    try:
        _, account, queue = parse_queue_arn(queue_arn)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    with db_session(engine) as session:
        store = get_store(session, name)
        store_id, marketplace_id = store.id, store.marketplace_id
        amazon, owned = _client(store, client)
    created: list[str] = []
    try:
        destination = _destination(
            amazon, queue_arn, f"ordertools-{account}-{queue}"[:256], created
        )
        subscription = _subscription(amazon, destination, marketplace_id, created)
    finally:
        if owned:
            amazon.close()
    with db_session(engine) as session:
        # The seller's other stores share the subscription; a remade one replaces theirs too.
        sharing = [session.get(Store, store_id)]
        sharing += session.scalars(
            select(Store).where(
                Store.notification_destination_id == destination.destination_id,
                Store.marketplace_id.in_(subscription.marketplace_ids),
                Store.id != store_id,
            )
        ).all()
        for store in sharing:
            store.notification_queue_arn = queue_arn
            store.notification_destination_id = destination.destination_id
            store.notification_subscription_id = subscription.subscription_id
    return NotificationSetup(
        name, queue_arn, destination.destination_id, subscription.subscription_id, tuple(created)
    )


def _destination(amazon: AmazonClient, queue_arn: str, name: str, created: list) -> Destination:
    for destination in amazon.destinations():
        if destination.queue_arn == queue_arn:
            return destination
    created.append("destination")
    return amazon.create_destination(name, queue_arn)


def _subscription(amazon, destination: Destination, marketplace_id: str, created: list):
    existing = amazon.subscription(ORDER_CHANGE)
    if existing is not None:
        if existing.destination_id != destination.destination_id:
            raise ConfigurationError(
                f"the seller already has an ORDER_CHANGE subscription sending to destination "
                f"{existing.destination_id}: run `ordertools notifications remove` first"
            )
        if not existing.marketplace_ids or marketplace_id in existing.marketplace_ids:
            return existing
        # The seller's one ORDER_CHANGE subscription filters other marketplaces (another store
        # of the same seller): Amazon cannot change a filter, so it is made again for both.
        amazon.delete_subscription(ORDER_CHANGE, existing.subscription_id)
        created.append("subscription (for more marketplaces)")
        return _create(amazon, destination, [*existing.marketplace_ids, marketplace_id])
    subscription = _create(amazon, destination, [marketplace_id])
    created.append("subscription")
    return subscription


def _create(amazon, destination: Destination, marketplace_ids: list[str]) -> Subscription:
    try:
        return amazon.create_subscription(ORDER_CHANGE, destination.destination_id, marketplace_ids)
    except SubscriptionExists as exists:  # made meanwhile (another process): take that one
        found = amazon.subscription(ORDER_CHANGE)
        if found is None:
            raise ConfigurationError(str(exists)) from None
        return found


@dataclass(frozen=True)
class NotificationStatus:
    setup: NotificationSetup
    at_amazon: Subscription | None  # what Amazon says now (None: no subscription there)
    live: str  # "last message 12 s ago, 1.1 s after Amazon sent it"
    received: int
    malformed: int

    def lines(self) -> list[str]:
        lines = self.setup.lines()[:2]
        if self.setup.subscription_id is None:
            return lines
        if self.at_amazon is None:
            lines.append(
                "  Amazon has no ORDER_CHANGE subscription for this seller: set it up again"
            )
        elif self.at_amazon.subscription_id != self.setup.subscription_id:
            lines.append(
                f"  Amazon's subscription is {self.at_amazon.subscription_id}: set it up again"
            )
        else:
            markets = ", ".join(self.at_amazon.marketplace_ids) or "every marketplace"
            lines.append(f"  at Amazon: subscribed, for {markets}")
        lines.append(
            f"  listener: {self.live}; {self.received} messages received, "
            f"{self.malformed} malformed"
        )
        return lines


def notification_status(
    engine: Engine, name: str, *, client: AmazonClient | None = None
) -> NotificationStatus:
    with db_session(engine) as session:
        store = get_store(session, name)
        setup = NotificationSetup(
            store.name,
            store.notification_queue_arn,
            store.notification_destination_id,
            store.notification_subscription_id,
        )
        live = liveness(session, store).words(utcnow())
        received = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.store_id == store.id)
        )
        malformed = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.store_id.is_(None), Notification.error.is_not(None))
        )
        at_amazon = None
        if setup.subscription_id is not None:
            amazon, owned = _client(store, client)
            try:
                at_amazon = amazon.subscription(ORDER_CHANGE)
            finally:
                if owned:
                    amazon.close()
    return NotificationStatus(setup, at_amazon, live, received, malformed)


def remove_notifications(
    engine: Engine, name: str, *, client: AmazonClient | None = None
) -> list[str]:
    """Delete the store's subscription (and the destination, when no other store uses it)."""
    with db_session(engine) as session:
        store = get_store(session, name)
        store_id, subscription_id = store.id, store.notification_subscription_id
        destination_id = store.notification_destination_id
        others = session.scalar(
            select(func.count())
            .select_from(Store)
            .where(Store.notification_destination_id == destination_id, Store.id != store_id)
        )
        # The seller's other stores on the same subscription keep theirs: it is made again
        # for their marketplaces only.
        sharing = {
            s.id: s.marketplace_id
            for s in session.scalars(
                select(Store).where(
                    Store.notification_subscription_id == subscription_id, Store.id != store_id
                )
            )
        }
        amazon, owned = _client(store, client)
    said, remade = [], None
    try:
        if subscription_id is not None:
            try:
                amazon.delete_subscription(ORDER_CHANGE, subscription_id)
                said.append(f"subscription {subscription_id} deleted")
            except NotFound:
                said.append(f"subscription {subscription_id} was already gone at Amazon")
            if sharing and destination_id is not None:
                remade = amazon.create_subscription(
                    ORDER_CHANGE, destination_id, sorted(set(sharing.values()))
                )
                said.append(
                    f"subscription {remade.subscription_id} made for the seller's other stores"
                )
        if destination_id is not None and not others and not sharing:
            try:
                amazon.delete_destination(destination_id)
                said.append(f"destination {destination_id} deleted")
            except NotFound:
                said.append(f"destination {destination_id} was already gone at Amazon")
    finally:
        if owned:
            amazon.close()
    with db_session(engine) as session:
        store = session.get(Store, store_id)
        store.notification_queue_arn = None
        store.notification_destination_id = None
        store.notification_subscription_id = None
        for other_id in sharing if remade is not None else ():
            session.get(Store, other_id).notification_subscription_id = remade.subscription_id
    return said or ["no notifications were set up"]
