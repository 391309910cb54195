"""The Notifications API v1, and the ORDER_CHANGE messages it sends to real SQS queues.

Destinations belong to the app (grantless: the client-credentials token, `GRANTLESS`); a
destination is an SQS queue's ARN, one destination per ARN (a second answers 409 Conflict, as
Amazon does). Subscriptions belong to the seller: one per notification type (a second answers
409 StateConflict, naming the first), optionally with an eventFilter of marketplaces and order
change types. A destination with subscriptions can't be deleted (403 "Destination has
subscriptions", Amazon's answer). Request bodies are checked as notifications.json declares
them; answers wrap what was asked for in `payload`.

Delivery: the world tells its listeners of every new version of an order (a new order, a status
change, a shipment, a cancellation). When the seller has an ORDER_CHANGE subscription whose
filter takes the order's marketplace, a message valid against OrderChangeNotification.json is
made at once (the order as it then is: status as a v0 word, no PII), and `notification_delay`
seconds later (real time) a background thread sends it with boto3 `send_message` to the
destination's queue: the URL from the ARN (GetQueueUrl with the queue's name and owner
account), at `config.sqs_endpoint` or the endpoint the environment names (AWS_ENDPOINT_URL_SQS,
moto's server in the tests and the demo), with the environment's AWS credentials. The thread
also applies scheduled changes as their time comes, so a scenario's timeline is notified when
it happens, not when a reader next looks.

Faults (faults.py): drop, repeat and reorder a share of the messages, or pause them all.
Counters under `stats["notifications"]`: queued, sent (each copy), dropped, repeated, reordered
(held back), failed (SQS refused or could not be reached; logged, not retried).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from werkzeug.wrappers import Request

from ordertools.amazon.auth import NOTIFICATIONS_SCOPE
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.faults import Faults, Stats
from ordertools.amazon.emulator.search import InvalidInput
from ordertools.amazon.emulator.world import World
from ordertools.amazon.notifications import (
    ORDER_CHANGE,
    ORDER_CHANGE_PAYLOAD_VERSION,
    ORDER_STATUS_CHANGE,
    parse_queue_arn,
    queue_url,
    sqs_client,
)
from ordertools.amazon.reports import status_word

log = logging.getLogger(__name__)

# The operations that take the app's grantless token, and its scope (the model says which).
GRANTLESS = dict.fromkeys(
    (
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "getSubscriptionById",
        "deleteSubscriptionById",
    ),
    NOTIFICATIONS_SCOPE,
)
# Amazon's documented notification types: any may be subscribed to; ORDER_CHANGE is delivered.
NOTIFICATION_TYPES = frozenset(
    {
        "ACCOUNT_STATUS_CHANGED",
        "ANY_OFFER_CHANGED",
        "B2B_ANY_OFFER_CHANGED",
        "BRANDED_ITEM_CONTENT_CHANGE",
        "DATA_KIOSK_QUERY_PROCESSING_FINISHED",
        "DETAIL_PAGE_TRAFFIC_EVENT",
        "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE",
        "FBA_INVENTORY_AVAILABILITY_CHANGES",
        "FBA_OUTBOUND_SHIPMENT_STATUS",
        "FEE_PROMOTION",
        "FEED_PROCESSING_FINISHED",
        "FULFILLMENT_ORDER_STATUS",
        "ITEM_INVENTORY_EVENT_CHANGE",
        "ITEM_PRODUCT_TYPE_CHANGE",
        "ITEM_SALES_EVENT_CHANGE",
        "LISTINGS_ITEM_ISSUES_CHANGE",
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
        "LISTINGS_ITEM_STATUS_CHANGE",
        "ORDER_CHANGE",
        "PRICING_HEALTH",
        "PRODUCT_TYPE_DEFINITIONS_CHANGE",
        "REPORT_PROCESSING_FINISHED",
        "TRANSACTION_UPDATE",
    }
)
# The model's enums (EventFilter, OrderChangeTypeEnum, AggregationTimePeriod) and limits.
EVENT_FILTER_TYPES = frozenset(
    {"ANY_OFFER_CHANGED", "ORDER_CHANGE", "SHIPMENT_TRACKING_MILESTONE_CHANGED"}
)
ORDER_CHANGE_TYPES = frozenset({"BuyerRequestedChange", "DeliveryTipChange", "OrderStatusChange"})
AGGREGATION_PERIODS = frozenset({"FiveMinutes", "TenMinutes"})
_SQS_ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")  # SqsResource.arn
MAX_NAME, MAX_ARN = 256, 1000

TICK = 0.05  # seconds between the delivery thread's looks (scheduled changes, a pause)
REORDER_HOLD = 2.0  # seconds a held-back message waits for a next one at most
_UNPARSABLE = "Request has missing or invalid parameters and cannot be parsed."
# One slow or absent SQS endpoint must not hold the delivery thread for minutes (botocore's
# defaults: a 60 s connect timeout, retried).
_SQS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})


class Refused(Exception):
    """An answer other than 400 (those are `InvalidInput`): status, Amazon's code and texts."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(order=True)
class _Message:
    due: float  # time.monotonic() when it goes out
    seq: int
    queue_arn: str = field(compare=False)
    body: dict[str, Any] = field(compare=False)
    text: str | None = field(default=None, compare=False)  # as sent (repeats send it again)
    held: bool = field(default=False, compare=False)  # the reorder fault held it back once


class Notifications:
    def __init__(self, world: World, config: EmulatorConfig, faults: Faults, stats: Stats):
        self.world, self.config, self.faults, self.stats = world, config, faults, stats
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self.destinations: dict[str, dict[str, Any]] = {}  # id -> Destination (the model's)
        self.subscriptions: dict[str, dict[str, Any]] = {}  # notification type -> Subscription
        self._pending: list[_Message] = []  # a heap by due time
        self._held: list[_Message] = []  # the reorder fault's; the thread's own
        self._seq = itertools.count()
        self._clients: dict[str, Any] = {}  # region -> boto3 SQS client
        self._urls: dict[str, str] = {}  # queue ARN -> URL
        self._thread: threading.Thread | None = None
        self._closed = False
        world.listeners.append(self._order_changed)

    def handlers(self) -> dict[str, Callable[..., Any]]:
        """operationId -> handler(request, **path values) -> the 200 answer's body."""
        return {
            "createDestination": self.create_destination,
            "getDestinations": self.get_destinations,
            "getDestination": self.get_destination,
            "deleteDestination": self.delete_destination,
            "createSubscription": self.create_subscription,
            "getSubscription": self.get_subscription,
            "getSubscriptionById": self.get_subscription_by_id,
            "deleteSubscriptionById": self.delete_subscription_by_id,
        }

    # --- destinations (grantless) ---------------------------------------------------------

    def create_destination(self, request: Request) -> dict[str, Any]:
        body = _object(request)
        name, specification = body.get("name"), body.get("resourceSpecification")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise InvalidInput(_UNPARSABLE, f"name must be a string of 1 to {MAX_NAME} characters.")
        if not isinstance(specification, dict):
            raise InvalidInput(_UNPARSABLE, "resourceSpecification is required.")
        if "eventBridge" in specification:
            raise InvalidInput(
                _UNPARSABLE, "The emulator delivers to SQS only: give resourceSpecification.sqs."
            )
        sqs = specification.get("sqs")
        arn = sqs.get("arn") if isinstance(sqs, dict) else None
        if not isinstance(arn, str) or not _SQS_ARN.match(arn) or len(arn) > MAX_ARN:
            raise InvalidInput(
                _UNPARSABLE, "resourceSpecification.sqs.arn must be an SQS queue ARN."
            )
        with self._lock:
            if any(d["resource"]["sqs"]["arn"] == arn for d in self.destinations.values()):
                raise Refused(
                    409,
                    "Conflict",
                    "The requested resource conflict with a resource in the server.",
                    f"A destination with arn {arn} already exists for the application "
                    f"{self.config.application_id}",
                )
            destination = {
                "destinationId": str(uuid.uuid4()),
                "name": name,
                "resource": {"sqs": {"arn": arn}},
            }
            self.destinations[destination["destinationId"]] = destination
            return {"payload": copy.deepcopy(destination)}

    def get_destinations(self, request: Request) -> dict[str, Any]:
        with self._lock:
            return {"payload": copy.deepcopy(list(self.destinations.values()))}

    def get_destination(self, request: Request, destination_id: str) -> dict[str, Any]:
        with self._lock:
            return {"payload": copy.deepcopy(self._destination(destination_id))}

    def delete_destination(self, request: Request, destination_id: str) -> dict[str, Any]:
        with self._lock:
            self._destination(destination_id)
            if any(s["destinationId"] == destination_id for s in self.subscriptions.values()):
                raise Refused(
                    403,
                    "Unauthorized",
                    "The requested action is forbidden.",
                    "Destination has subscriptions",
                )
            del self.destinations[destination_id]
        return {}

    def _destination(self, destination_id: str) -> dict[str, Any]:
        destination = self.destinations.get(destination_id)
        if destination is None:
            raise Refused(
                404,
                "NotFound",
                "The requested resource was not found.",
                f"No destination with id {destination_id}",
            )
        return destination

    # --- subscriptions (the seller's; by id: grantless) -------------------------------------

    def create_subscription(self, request: Request, notification_type: str) -> dict[str, Any]:
        kind = _notification_type(notification_type)
        body = _object(request)
        version, destination_id = body.get("payloadVersion"), body.get("destinationId")
        if not isinstance(version, str) or not version:
            raise InvalidInput(_UNPARSABLE, "payloadVersion is required and must be a string.")
        if kind == ORDER_CHANGE and version != ORDER_CHANGE_PAYLOAD_VERSION:
            raise InvalidInput(
                _UNPARSABLE,
                f"payloadVersion {version} is not supported for {kind}; use "
                f"{ORDER_CHANGE_PAYLOAD_VERSION}.",
            )
        if not isinstance(destination_id, str) or not destination_id:
            raise InvalidInput(_UNPARSABLE, "destinationId is required and must be a string.")
        directive = _processing_directive(body.get("processingDirective"), kind)
        with self._lock:
            if destination_id not in self.destinations:
                raise InvalidInput(
                    _UNPARSABLE,
                    f"No destination with id '{destination_id}' for applicationId "
                    f"'{self.config.application_id}'",
                )
            existing = self.subscriptions.get(kind)
            if existing is not None:
                raise Refused(
                    409,
                    "StateConflict",
                    "The resource specified conflicts with the current state.",
                    f"Subscription already exist for notification type {kind}: "
                    f"subscriptionId {existing['subscriptionId']}",
                )
            subscription = {
                "subscriptionId": str(uuid.uuid4()),
                "payloadVersion": version,
                "destinationId": destination_id,
            }
            if directive is not None:
                subscription["processingDirective"] = directive
            self.subscriptions[kind] = subscription
            if kind == ORDER_CHANGE:
                self._start()
            return {"payload": copy.deepcopy(subscription)}

    def get_subscription(self, request: Request, notification_type: str) -> dict[str, Any]:
        kind = _notification_type(notification_type)
        version = request.args.get("payloadVersion")
        with self._lock:
            subscription = self.subscriptions.get(kind)
            if subscription is None or version not in (None, subscription["payloadVersion"]):
                raise _no_subscription(kind)
            return {"payload": copy.deepcopy(subscription)}

    def get_subscription_by_id(
        self, request: Request, notification_type: str, subscription_id: str
    ) -> dict[str, Any]:
        with self._lock:
            return {
                "payload": copy.deepcopy(self._subscription(notification_type, subscription_id))
            }

    def delete_subscription_by_id(
        self, request: Request, notification_type: str, subscription_id: str
    ) -> dict[str, Any]:
        with self._lock:
            self._subscription(notification_type, subscription_id)
            del self.subscriptions[notification_type]
        return {}

    def _subscription(self, notification_type: str, subscription_id: str) -> dict[str, Any]:
        kind = _notification_type(notification_type)
        subscription = self.subscriptions.get(kind)
        if subscription is None or subscription["subscriptionId"] != subscription_id:
            raise _no_subscription(kind, subscription_id)
        return subscription

    # --- delivery ---------------------------------------------------------------------------

    def _order_changed(self, order_id: str, at: datetime, body: dict[str, Any]) -> None:
        """The world's listener (inside its lock): queue a message if one is subscribed to."""
        with self._wake:
            subscription = self.subscriptions.get(ORDER_CHANGE)
            if subscription is None or self._closed:
                return
            message = order_change_message(
                body,
                at,
                now=self.config.now(),
                seller_id=self.config.seller_id,
                application_id=self.config.application_id,
                subscription_id=subscription["subscriptionId"],
            )
            if message is None or not _filter_takes(subscription, message):
                return
            destination = self.destinations[subscription["destinationId"]]
            due = time.monotonic() + max(0.0, self.config.notification_delay)
            arn = destination["resource"]["sqs"]["arn"]
            heapq.heappush(self._pending, _Message(due, next(self._seq), arn, message))
            self._start()
            self._wake.notify()
        self.stats.count("notifications", queued=1)

    def _start(self) -> None:
        """Start the delivery thread (under the lock), once."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name="sp-api-emulator-notifications", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop delivering (the emulator stops): messages not sent yet are never sent. A change
        after that (a restarted emulator) starts delivering again."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        with self._wake:
            self._pending.clear()
            self._held.clear()
            self._thread, self._closed = None, False

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    return
                now = time.monotonic()
                due = []
                if not self.faults.notifications_paused:
                    while self._pending and self._pending[0].due <= now:
                        due.append(heapq.heappop(self._pending))
                if not due:
                    self._wake.wait(TICK)
                subscribed = ORDER_CHANGE in self.subscriptions
            if subscribed:
                try:
                    self.world.catch_up()  # scheduled changes whose time came: notified now
                except Exception:  # the world's trouble is a reader's to see, not this thread's
                    log.exception("the world could not apply its scheduled changes")
            for message in due:
                self._deliver(message)
            for message in [m for m in self._held if m.due <= time.monotonic()]:
                self._held.remove(message)  # no next one came in time
                self._send(message)

    def _deliver(self, message: _Message) -> None:
        if self.faults.notification_fault("drop"):
            self.stats.count("notifications", dropped=1)
            return
        if not message.held and not self._held and self.faults.notification_fault("reorder"):
            message.held, message.due = True, time.monotonic() + REORDER_HOLD
            self._held.append(message)
            self.stats.count("notifications", reordered=1)
            return
        self._send(message)
        if self.faults.notification_fault("repeat"):
            self._send(message)
            self.stats.count("notifications", repeated=1)
        while self._held:  # held back: they go right after this one
            self._send(self._held.pop(0))

    def _send(self, message: _Message) -> None:
        if message.text is None:
            metadata = message.body["NotificationMetadata"]
            metadata["PublishTime"] = _instant(self.config.now())
            message.text = json.dumps(message.body, ensure_ascii=False)
        arn = message.queue_arn
        try:
            region = parse_queue_arn(arn)[0]
            if region not in self._clients:
                self._clients[region] = sqs_client(
                    region=region, endpoint_url=self.config.sqs_endpoint, config=_SQS_CONFIG
                )
            sqs = self._clients[region]
            if arn not in self._urls:
                self._urls[arn] = queue_url(sqs, arn)
            sqs.send_message(QueueUrl=self._urls[arn], MessageBody=message.text)
        except Exception as exc:  # SQS refused or is unreachable: count it and go on
            self._urls.pop(arn, None)
            self.stats.count("notifications", failed=1)
            log.warning("ORDER_CHANGE not delivered to %s: %s", arn, exc)
            return
        self.stats.count("notifications", sent=1)


def order_change_message(
    body: dict[str, Any],
    at: datetime,
    *,
    now: datetime,
    seller_id: str,
    application_id: str,
    subscription_id: str,
) -> dict[str, Any] | None:
    """The ORDER_CHANGE message for a version of an order (OrderChangeNotification.json), or
    None when the order lacks what one needs (the world holds malformed orders on purpose).
    PublishTime is set when it is sent."""
    fulfillment = body.get("fulfillment") or {}
    marketplace_id = (body.get("salesChannel") or {}).get("marketplaceId")
    order_id, status = body.get("orderId"), fulfillment.get("fulfillmentStatus")
    if not all(isinstance(v, str) and v for v in (marketplace_id, order_id, status)):
        return None
    items = [item for item in body.get("orderItems") or [] if isinstance(item, dict)]
    lines = [_item(item) for item in items]
    shipped = sum(line["QuantityShipped"] for line in lines)
    address = (body.get("recipient") or {}).get("deliveryAddress") or {}
    window = fulfillment.get("shipByWindow") or {}
    summary: dict[str, Any] = {
        "MarketplaceId": marketplace_id,
        "OrderStatus": status_word(status),
        "PurchaseDate": body.get("createdTime"),
        "DestinationPostalCode": address.get("postalCode"),
        "FulfillmentType": "AFN" if fulfillment.get("fulfilledBy") == "AMAZON" else "MFN",
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": sum(line["Quantity"] for line in lines) - shipped,
        "OrderItems": lines,
    }
    for name, key in (
        ("EarliestShipDate", "earliestDateTime"),
        ("LatestShipDate", "latestDateTime"),
    ):
        if isinstance(window.get(key), str):
            summary[name] = window[key]
    return {
        "NotificationVersion": "1.0",
        "NotificationType": ORDER_CHANGE,
        "PayloadVersion": ORDER_CHANGE_PAYLOAD_VERSION,
        "EventTime": _instant(now),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order_id,
                "OrderChangeType": ORDER_STATUS_CHANGE,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": _instant(at),
                    "ChangeReason": f"Order status is {status_word(status)}",
                },
                "Summary": summary,
            }
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": _instant(now),
            "NotificationId": str(uuid.uuid4()),
        },
    }


def _item(item: dict[str, Any]) -> dict[str, Any]:
    quantity = item.get("quantityOrdered")
    quantity = quantity if isinstance(quantity, int) else 0
    shipped = (item.get("fulfillment") or {}).get("quantityFulfilled")
    shipped = shipped if isinstance(shipped, int) else 0
    return {
        "OrderItemId": str(item.get("orderItemId") or ""),
        "SellerSKU": str((item.get("product") or {}).get("sellerSku") or ""),
        "SupplySourceId": None,
        "OrderItemStatus": "Shipped" if quantity and shipped >= quantity else "Unshipped",
        "Quantity": quantity,
        "QuantityShipped": shipped,
    }


def _filter_takes(subscription: dict[str, Any], message: dict[str, Any]) -> bool:
    """Whether the subscription's eventFilter lets this message through."""
    event_filter = (subscription.get("processingDirective") or {}).get("eventFilter") or {}
    change = message["Payload"]["OrderChangeNotification"]
    marketplaces = event_filter.get("marketplaceIds")
    if marketplaces and change["Summary"]["MarketplaceId"] not in marketplaces:
        return False
    change_types = event_filter.get("orderChangeTypes")
    return not change_types or change["OrderChangeType"] in change_types


def _processing_directive(directive: Any, kind: str) -> dict[str, Any] | None:
    """A createSubscription processingDirective after the model's rules (a copy), or 400."""
    if directive is None:
        return None
    if not isinstance(directive, dict):
        raise InvalidInput(_UNPARSABLE, "processingDirective must be an object.")
    event_filter, expression = directive.get("eventFilter"), directive.get("filterExpression")
    if event_filter is not None and expression is not None:
        raise InvalidInput(_UNPARSABLE, "eventFilter and filterExpression are mutually exclusive.")
    if expression is not None:
        raise InvalidInput(_UNPARSABLE, "The emulator does not evaluate filterExpression.")
    if event_filter is None:
        return copy.deepcopy(directive)
    if not isinstance(event_filter, dict):
        raise InvalidInput(_UNPARSABLE, "processingDirective.eventFilter must be an object.")
    filter_type = event_filter.get("eventFilterType")
    if filter_type not in EVENT_FILTER_TYPES:
        allowed = ", ".join(sorted(EVENT_FILTER_TYPES))
        raise InvalidInput(_UNPARSABLE, f"eventFilter.eventFilterType must be one of {allowed}.")
    if filter_type != kind:
        raise InvalidInput(
            _UNPARSABLE,
            f"eventFilterType {filter_type} does not apply to notification type {kind}.",
        )
    marketplaces = event_filter.get("marketplaceIds")
    if marketplaces is not None and not _strings(marketplaces):
        raise InvalidInput(_UNPARSABLE, "eventFilter.marketplaceIds must be a list of strings.")
    change_types = event_filter.get("orderChangeTypes")
    if change_types is not None and not (
        _strings(change_types) and set(change_types) <= ORDER_CHANGE_TYPES
    ):
        allowed = ", ".join(sorted(ORDER_CHANGE_TYPES))
        raise InvalidInput(_UNPARSABLE, f"eventFilter.orderChangeTypes: use some of {allowed}.")
    aggregation = event_filter.get("aggregationSettings")
    if aggregation is not None and (
        not isinstance(aggregation, dict)
        or aggregation.get("aggregationTimePeriod") not in AGGREGATION_PERIODS
    ):
        raise InvalidInput(
            _UNPARSABLE,
            "eventFilter.aggregationSettings.aggregationTimePeriod: FiveMinutes or TenMinutes.",
        )
    return copy.deepcopy(directive)


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) and v for v in values)


def _object(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(_UNPARSABLE, "The request body must be a JSON object.")
    return body


def _notification_type(notification_type: str) -> str:
    if notification_type not in NOTIFICATION_TYPES:
        raise InvalidInput(
            _UNPARSABLE, f'Invalid value "{notification_type}" for path parameter notificationType'
        )
    return notification_type


def _no_subscription(kind: str, subscription_id: str | None = None) -> Refused:
    which = f" with id {subscription_id}" if subscription_id else ""
    return Refused(
        404,
        "NotFound",
        "The requested resource was not found.",
        f"No subscription{which} for notification type {kind}",
    )


def _instant(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, as Amazon writes a notification's times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
