"""Amazon's notifications: ORDER_CHANGE messages on the user's SQS queue, read as typed changes.

The Notifications API v1 (`AmazonClient.create_destination`, `create_subscription`, ...) tells
Amazon where to send: a *destination* is the app's SQS queue (grantless: it belongs to the app,
not to a seller), a *subscription* is one seller's ORDER_CHANGE events (in some marketplaces)
sent there. Amazon then puts one JSON message per order change on the queue, as
`OrderChangeNotification.json` describes it; `parse_order_change` reads one into an
`OrderChange`, or raises `MalformedNotification` with a one-line reason.

What the messages are like, and what follows:

- No PII: an order id, its status as a v0 word ("Unshipped"), marketplace, fulfillment type and
  ship dates. `OrderChange.order_status` is the Orders 2026-01-01 code the rest of ordertools
  uses ("UNSHIPPED"), by `reports.status_code`.
- Delivery is at least once and in no particular order: the same `NotificationId` may come
  twice, an older change after a newer one. De-duplicate on `notification_id`, compare
  `last_updated` before applying, and keep polling (Amazon asks subscribers to).
- The queue is the user's: it must let Amazon's principal send to it (`queue_policy`), and
  `sqs_client()` reads it with the standard AWS environment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import orjson

from ordertools.amazon.errors import MalformedNotification
from ordertools.amazon.models import AwareDatetime
from ordertools.amazon.models import _reason as validation_reason
from ordertools.amazon.reports import status_code
from ordertools.errors import ConfigurationError

ORDER_CHANGE = "ORDER_CHANGE"
ORDER_CHANGE_PAYLOAD_VERSION = "1.0"
# The order change types ORDER_CHANGE carries (OrderChangeTypeEnum in notifications.json).
ORDER_STATUS_CHANGE = "OrderStatusChange"
BUYER_REQUESTED_CHANGE = "BuyerRequestedChange"

# The account the Selling Partner API sends notifications from: a queue's policy must let it
# send (Amazon's Notifications use case guide, "Grant Selling Partner API permission").
AMAZON_NOTIFICATIONS_PRINCIPAL = "arn:aws:iam::437568002678:root"

# SqsResource.arn's pattern is `^arn:aws:sqs:\S+:\S+:\S+`; a queue ARN is region:account:name.
_QUEUE_ARN = re.compile(r"arn:aws:sqs:([^:\s]+):([^:\s]+):([^:\s]+)")
_FULFILLED_BY = {"AFN": "AMAZON", "MFN": "MERCHANT"}


@dataclass(frozen=True)
class Destination:
    """Where Amazon sends notifications; `queue_arn` is None for an EventBridge destination."""

    destination_id: str
    name: str
    queue_arn: str | None


@dataclass(frozen=True)
class Subscription:
    """One seller's subscription to a notification type. `marketplace_ids` is its eventFilter's
    marketplaces; empty when it has none (every marketplace)."""

    subscription_id: str
    destination_id: str
    payload_version: str
    marketplace_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderChange:
    """One ORDER_CHANGE message: which order changed, and what it now is (no PII).

    `order_status` is the Orders 2026-01-01 code ("UNSHIPPED"), an undocumented word kept in
    the same style; `fulfillment_type` Amazon's "MFN" or "AFN" (`fulfilled_by` says it the way
    `AmazonOrder` does). `last_updated` is when the order changed (the trigger's
    TimeOfOrderChange, else the message's EventTime).
    """

    notification_id: str
    published_at: datetime
    seller_id: str
    marketplace_id: str
    amazon_order_id: str
    change_type: str  # OrderStatusChange, BuyerRequestedChange (or DeliveryTipChange)
    order_status: str
    fulfillment_type: str
    last_updated: datetime
    earliest_ship_date: datetime | None = None
    latest_ship_date: datetime | None = None

    @property
    def fulfilled_by(self) -> str | None:
        """Who ships, as `AmazonOrder.fulfilled_by` says it: MERCHANT (MFN), AMAZON (AFN), or
        None for a fulfillment type Amazon has not documented."""
        return _FULFILLED_BY.get(self.fulfillment_type)


# -- the message's shape (OrderChangeNotification.json): required fields have no default -----------


class _Schema(msgspec.Struct, rename="pascal", frozen=True, kw_only=True):
    """The message's PascalCase names, read-only, unknown fields ignored."""


class _Item(_Schema):
    order_item_id: str
    seller_sku: str = msgspec.field(name="SellerSKU")
    supply_source_id: str | None
    quantity: int


class _Summary(_Schema):
    marketplace_id: str
    order_status: str
    purchase_date: str | None
    destination_postal_code: str | None
    fulfillment_type: str
    order_type: str
    order_items: list[_Item]
    earliest_ship_date: AwareDatetime | None = None
    latest_ship_date: AwareDatetime | None = None


class _Trigger(_Schema):
    time_of_order_change: AwareDatetime | None
    change_reason: str


class _OrderChangeNotification(_Schema):
    notification_level: str
    seller_id: str
    amazon_order_id: str
    order_change_type: str
    order_change_trigger: _Trigger
    summary: _Summary


class _Payload(_Schema):
    order_change_notification: _OrderChangeNotification


class _Metadata(_Schema):
    application_id: str
    subscription_id: str
    publish_time: AwareDatetime
    notification_id: str


class _Notification(_Schema):
    notification_version: str
    notification_type: str
    payload_version: str
    event_time: AwareDatetime
    payload: _Payload
    notification_metadata: _Metadata


_decode_notification = msgspec.json.Decoder(_Notification).decode


def parse_order_change(body: str | bytes) -> OrderChange:
    """One ORDER_CHANGE message (an SQS message body), or `MalformedNotification`."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    try:
        message = _decode_notification(raw)
    except msgspec.ValidationError as exc:
        notification_id, kind = _peek(raw)
        # Another type's payload has another shape: say which type it is, not what it lacks.
        reason = _not_order_change(kind) if isinstance(kind, str) else validation_reason(exc)
        raise MalformedNotification(reason, notification_id) from None
    except msgspec.DecodeError as exc:
        raise MalformedNotification(f"not JSON ({exc})".replace("\n", " ")) from None
    notification_id = message.notification_metadata.notification_id
    if message.notification_type != ORDER_CHANGE:
        raise MalformedNotification(_not_order_change(message.notification_type), notification_id)
    change = message.payload.order_change_notification
    summary = change.summary
    return OrderChange(
        notification_id=notification_id,
        published_at=message.notification_metadata.publish_time,
        seller_id=change.seller_id,
        marketplace_id=summary.marketplace_id,
        amazon_order_id=change.amazon_order_id,
        change_type=change.order_change_type,
        order_status=status_code(summary.order_status),
        fulfillment_type=summary.fulfillment_type,
        last_updated=change.order_change_trigger.time_of_order_change or message.event_time,
        earliest_ship_date=summary.earliest_ship_date,
        latest_ship_date=summary.latest_ship_date,
    )


def _not_order_change(kind: str) -> str:
    return f"NotificationType is {kind!r}, not {ORDER_CHANGE}"


def _peek(raw: bytes) -> tuple[str | None, Any]:
    """(NotificationId, NotificationType) of a message that did not validate, where it has
    them; the type only when it is some other notification type (None otherwise)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    metadata = document.get("NotificationMetadata")
    found = metadata.get("NotificationId") if isinstance(metadata, dict) else None
    kind = document.get("NotificationType")
    return (
        found if isinstance(found, str) and found else None,
        kind if isinstance(kind, str) and kind != ORDER_CHANGE else None,
    )


# -- the Notifications API's payloads --------------------------------------------------------------


def destination_from(payload: Any) -> Destination:
    """A Destination from Amazon's JSON; ValueError when it is not one."""
    if not isinstance(payload, dict):
        raise ValueError(f"a destination must be an object, got {type(payload).__name__}")
    destination_id, name = payload.get("destinationId"), payload.get("name")
    if not isinstance(destination_id, str) or not destination_id or not isinstance(name, str):
        raise ValueError("a destination needs a destinationId and a name")
    sqs = (payload.get("resource") or {}).get("sqs")
    arn = sqs.get("arn") if isinstance(sqs, dict) else None
    return Destination(destination_id, name, arn if isinstance(arn, str) and arn else None)


def subscription_from(payload: Any) -> Subscription:
    """A Subscription from Amazon's JSON; ValueError when it is not one."""
    if not isinstance(payload, dict):
        raise ValueError(f"a subscription must be an object, got {type(payload).__name__}")
    fields = [payload.get(k) for k in ("subscriptionId", "destinationId", "payloadVersion")]
    if not all(isinstance(value, str) and value for value in fields):
        raise ValueError("a subscription needs a subscriptionId, destinationId and payloadVersion")
    event_filter = (payload.get("processingDirective") or {}).get("eventFilter") or {}
    marketplaces = event_filter.get("marketplaceIds") if isinstance(event_filter, dict) else None
    marketplace_ids = tuple(m for m in marketplaces or () if isinstance(m, str))
    return Subscription(*fields, marketplace_ids=marketplace_ids)


# -- the queue -------------------------------------------------------------------------------------


def parse_queue_arn(queue_arn: str) -> tuple[str, str, str]:
    """(region, account id, queue name) of an SQS queue ARN; ValueError for anything else."""
    match = _QUEUE_ARN.fullmatch(queue_arn) if isinstance(queue_arn, str) else None
    if match is None:
        raise ValueError(
            f"{queue_arn!r} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME); find it "
            "in the queue's details in the AWS console"
        )
    region, account, name = match.groups()
    return region, account, name


def queue_policy(queue_arn: str) -> str:
    """The queue policy (JSON) that lets Amazon's Selling Partner API send to the queue, as
    Amazon's guide asks; set it as the queue's `Policy` attribute."""
    parse_queue_arn(queue_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SellingPartnerApiSendsNotifications",
                    "Effect": "Allow",
                    "Principal": {"AWS": AMAZON_NOTIFICATIONS_PRINCIPAL},
                    "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                    "Resource": queue_arn,
                }
            ],
        }
    )


def sqs_client(
    *, region: str | None = None, endpoint_url: str | None = None, **options: Any
) -> Any:
    """A boto3 SQS client from the standard AWS environment.

    Credentials: boto3's own chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, a
    role). Region: `region`, else AWS_REGION, else AWS_DEFAULT_REGION (boto3 itself reads only
    the last). Endpoint: `endpoint_url`, else boto3 reads AWS_ENDPOINT_URL_SQS (a local server
    such as moto's) or AWS_ENDPOINT_URL itself, else AWS's. `options` go to boto3's `client()`
    (`config=botocore.config.Config(...)` for timeouts and retries). boto3 clients are
    thread-safe; each call makes a new session, so threads may each make their own.
    """
    import boto3  # a third of a second to import: only code that talks to SQS pays for it

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigurationError(
            "missing environment variable AWS_REGION: set it to the SQS queue's region "
            "(e.g. us-east-1)"
        )
    session = boto3.session.Session()
    return session.client("sqs", region_name=region, endpoint_url=endpoint_url, **options)


def queue_url(sqs: Any, queue_arn: str) -> str:
    """The URL of the queue an ARN names (GetQueueUrl with the owner's account id)."""
    _, account, name = parse_queue_arn(queue_arn)
    return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
