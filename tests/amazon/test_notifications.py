"""The Notifications API and ORDER_CHANGE messages: the grantless token, the client's
destination and subscription calls, the message parser, and the emulator delivering to a real
SQS queue (moto's server over HTTP, `fixtures_sqs`).

The emulator's answers are held against Amazon's notifications.json, and the messages it sends
against OrderChangeNotification.json. Delivery waits a fraction of a second
(`notification_delay`), so the file runs in seconds.
"""

from __future__ import annotations

import copy
import json
import random
import time
from datetime import UTC, datetime

import pytest
import requests
from jsonschema import Draft7Validator
from spapi_spec import assert_response_valid, assert_valid, load_model, operation, response_headers

from ordertools.amazon.auth import NOTIFICATIONS_SCOPE, Credentials
from ordertools.amazon.client import FAST_RETRIES, AmazonClient
from ordertools.amazon.errors import (
    AccessDenied,
    Conflict,
    CredentialsRefused,
    InvalidInput,
    MalformedNotification,
    NotFound,
    SubscriptionExists,
)
from ordertools.amazon.notifications import (
    ORDER_CHANGE,
    Destination,
    OrderChange,
    Subscription,
    parse_order_change,
    parse_queue_arn,
    queue_policy,
    sqs_client,
)
from ordertools.amazon.ratelimit import DEFAULT_PLANS
from ordertools.errors import ConfigurationError, OrdertoolsError

NOTIFICATIONS = "notifications"
MESSAGE_SCHEMA = "OrderChangeNotification"
US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
NOTIFICATION_OPS = (
    "createDestination",
    "getDestinations",
    "getDestination",
    "deleteDestination",
    "createSubscription",
    "getSubscription",
    "getSubscriptionById",
    "deleteSubscriptionById",
)
UNBOUND = {op: (1000.0, 1000) for op in ("searchOrders", "getOrder", *NOTIFICATION_OPS)}
DELAY = 0.3  # seconds from a change to its message
QUICK = dict(plans=UNBOUND, notification_delay=DELAY)


@pytest.fixture
def emu(emulator_factory):
    return emulator_factory(**QUICK)


def make_client(emu, **kwargs) -> AmazonClient:
    kwargs.setdefault("plans", UNBOUND)
    kwargs.setdefault("retry", FAST_RETRIES)
    return AmazonClient(
        Credentials(**emu.credentials),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name="acme",
        **kwargs,
    )


def subscribe(client, queue, marketplace_ids=(US,)) -> Subscription:
    destination = client.create_destination("ordertools", queue.arn)
    return client.create_subscription(ORDER_CHANGE, destination.destination_id, marketplace_ids)


def received(queue, n: int, timeout: float = 10.0) -> list[str]:
    """The bodies of the next `n` messages on the queue (fewer if they don't come in time)."""
    sqs, bodies = sqs_client(), []
    deadline = time.monotonic() + timeout
    while len(bodies) < n and (left := deadline - time.monotonic()) > 0:
        wait = 1 if left >= 1 else 0  # SQS long-polls whole seconds; the last bit, short polls
        answer = sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        )
        if not wait and not answer.get("Messages"):
            time.sleep(0.05)
        for message in answer.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def assert_valid_message(body: str) -> None:
    errors = sorted(
        Draft7Validator(load_model(MESSAGE_SCHEMA)).iter_errors(json.loads(body)), key=str
    )
    assert not errors, "\n".join(e.message for e in errors[:10])


def example() -> dict:
    return copy.deepcopy(load_model(MESSAGE_SCHEMA)["examples"][0])


class Api:
    """Raw calls with a chosen token: the app's grantless one or a seller's."""

    def __init__(self, emu, *, grantless: bool = True):
        self.emu = emu
        self.session = requests.Session()
        scope = NOTIFICATIONS_SCOPE if grantless else None
        self.session.headers["x-amz-access-token"] = emu.auth.issue(scope=scope)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.emu.base_url + path, timeout=10, **kwargs)


# -- the grantless token --------------------------------------------------------------------------


def test_the_grantless_token_comes_from_the_client_credentials_grant(emu):
    form = {**emu.credentials, "grant_type": "client_credentials", "scope": NOTIFICATIONS_SCOPE}
    del form["refresh_token"]
    answer = requests.post(emu.token_url, data=form, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["access_token"].startswith("Atc|") and body["scope"] == NOTIFICATIONS_SCOPE
    assert body["expires_in"] == 3600 and "refresh_token" not in body
    refused = requests.post(
        emu.token_url, data={**form, "scope": "sellingpartnerapi::x"}, timeout=10
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_scope")


def test_the_client_asks_for_a_grantless_token_once_and_a_seller_token_only_when_needed(emu, queue):
    session = requests.Session()
    forms, original = [], session.request

    def recording(method, url, **kwargs):
        if url == emu.token_url:
            forms.append(dict(kwargs["data"]))
        return original(method, url, **kwargs)

    session.request = recording
    client = make_client(emu, session=session)
    destination = client.create_destination("ordertools", queue.arn)
    assert client.destinations() == [destination]
    assert client.tokens.exchanges == 0  # the destinations never needed the seller's token
    grantless = client.grantless_tokens[NOTIFICATIONS_SCOPE]
    assert grantless.exchanges == 1  # cached for the second call
    [form] = forms
    assert form["grant_type"] == "client_credentials" and form["scope"] == NOTIFICATIONS_SCOPE
    assert "refresh_token" not in form
    client.create_subscription(ORDER_CHANGE, destination.destination_id, [US])
    assert [f["grant_type"] for f in forms] == ["client_credentials", "refresh_token"]
    assert "Secret" not in repr(grantless) and NOTIFICATIONS_SCOPE in repr(grantless)


def test_each_kind_of_token_works_only_for_its_own_operations(emu, queue):
    body = {"name": "q", "resourceSpecification": {"sqs": {"arn": queue.arn}}}
    seller = Api(emu, grantless=False).call("POST", "/notifications/v1/destinations", json=body)
    assert seller.status_code == 403
    assert_response_valid(NOTIFICATIONS, "createDestination", 403, seller.json())
    assert "grantless" in seller.json()["errors"][0]["details"]
    app = Api(emu).call(
        "POST", f"/notifications/v1/subscriptions/{ORDER_CHANGE}", json={"payloadVersion": "1.0"}
    )
    assert app.status_code == 403
    assert_response_valid(NOTIFICATIONS, "createSubscription", 403, app.json())
    assert emu.stats["createDestination"]["ok"] == 0


def test_a_refused_grantless_token_request_is_one_line_that_says_what_to_do(emu, queue):
    credentials = Credentials(**{**emu.credentials, "client_secret": "an-old-secret"})
    client = AmazonClient(credentials, endpoint=emu.base_url, token_url=emu.token_url)
    with pytest.raises(CredentialsRefused, match="grantless scope") as refused:
        client.destinations()
    assert "invalid_client" in str(refused.value) and "\n" not in str(refused.value)
    assert "an-old-secret" not in str(refused.value)


# -- destinations and subscriptions through the client --------------------------------------------


def test_destinations_and_subscriptions_round_trip(emu, queue):
    client = make_client(emu)
    destination = client.create_destination("ordertools", queue.arn)
    assert destination == Destination(destination.destination_id, "ordertools", queue.arn)
    assert client.destinations() == [destination]
    assert client.subscription(ORDER_CHANGE) is None
    subscription = client.create_subscription(ORDER_CHANGE, destination.destination_id, [US, DE])
    assert subscription == Subscription(
        subscription.subscription_id, destination.destination_id, "1.0", (US, DE)
    )
    assert client.subscription(ORDER_CHANGE) == subscription
    with pytest.raises(Conflict, match="delete them first"):
        client.delete_destination(destination.destination_id)
    client.delete_subscription(ORDER_CHANGE, subscription.subscription_id)
    assert client.subscription(ORDER_CHANGE) is None
    with pytest.raises(NotFound):
        client.delete_subscription(ORDER_CHANGE, subscription.subscription_id)
    client.delete_destination(destination.destination_id)
    assert client.destinations() == []
    with pytest.raises(NotFound):
        client.delete_destination(destination.destination_id)


def test_a_subscription_without_a_filter_takes_every_marketplace(emu, queue):
    client = make_client(emu)
    destination = client.create_destination("ordertools", queue.arn)
    subscription = client.create_subscription(ORDER_CHANGE, destination.destination_id)
    assert subscription.marketplace_ids == ()


def test_a_second_subscription_is_a_conflict_that_names_the_first(emu, queue):
    client = make_client(emu)
    first = subscribe(client, queue)
    with pytest.raises(SubscriptionExists, match="reuse it") as exists:
        client.create_subscription(ORDER_CHANGE, first.destination_id, [US])
    assert exists.value.subscription_id == first.subscription_id
    assert exists.value.status == 409 and exists.value.code == "StateConflict"
    assert isinstance(exists.value, Conflict) and "\n" not in str(exists.value)


def test_a_conflict_that_names_no_subscription_says_where_to_read_it(emu, queue):
    class NoDetails(requests.Session):
        def request(self, method, url, **kwargs):
            response = super().request(method, url, **kwargs)
            if response.status_code == 409:
                response._content = json.dumps(
                    {"errors": [{"code": "StateConflict", "message": "conflicts"}]}
                ).encode()
            return response

    client = make_client(emu, session=NoDetails())
    first = subscribe(client, queue)
    with pytest.raises(SubscriptionExists, match=r"subscription\(\)") as exists:
        client.create_subscription(ORDER_CHANGE, first.destination_id, [US])
    assert exists.value.subscription_id is None


def test_one_destination_per_queue(emu, queue):
    client = make_client(emu)
    client.create_destination("first", queue.arn)
    with pytest.raises(Conflict, match="already exists"):
        client.create_destination("second", queue.arn)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.create_destination("q", "arn:aws:sns:us-east-1:1:topic"), "not an SQS"),
        (lambda c: c.create_destination("", "arn:aws:sqs:us-east-1:1:q"), "name must be"),
        (lambda c: c.create_subscription("order change", "d-1"), "notification type"),
        (lambda c: c.create_subscription(ORDER_CHANGE, "d-1", []), "marketplace_ids"),
        (lambda c: c.create_subscription("REPORT_PROCESSING_FINISHED", "d-1", [US]), "no market"),
        (lambda c: c.delete_subscription(ORDER_CHANGE, " "), "subscription id"),
    ],
)
def test_the_inputs_are_checked_before_anything_is_sent(emu, call, match):
    with pytest.raises(InvalidInput, match=match):
        call(make_client(emu))
    assert emu.stats.snapshot() == {}


def test_the_request_bodies_are_the_models(emu, queue):
    session, sent, original = requests.Session(), {}, requests.Session.request

    def recording(method, url, **kwargs):
        if kwargs.get("json") is not None:
            sent[url.rsplit("/", 1)[-1]] = kwargs["json"]
        return original(session, method, url, **kwargs)

    session.request = recording
    subscribe(make_client(emu, session=session), queue, [US])
    assert_valid(NOTIFICATIONS, "CreateDestinationRequest", sent["destinations"])
    assert_valid(NOTIFICATIONS, "CreateSubscriptionRequest", sent[ORDER_CHANGE])
    assert sent[ORDER_CHANGE]["processingDirective"] == {
        "eventFilter": {"eventFilterType": ORDER_CHANGE, "marketplaceIds": [US]}
    }


def test_an_unknown_destination_is_refused_as_amazon_does(emu):
    client = make_client(emu)
    with pytest.raises(InvalidInput, match="No destination with id 'nope'"):
        client.create_subscription(ORDER_CHANGE, "nope", [US])


# -- the emulator's answers against the model -----------------------------------------------------


def test_emulator_answers_are_valid_against_the_model(emu, queue):
    app, seller = Api(emu), Api(emu, grantless=False)
    base = "/notifications/v1"
    spec = {"name": "q", "resourceSpecification": {"sqs": {"arn": queue.arn}}}
    answers = {"createDestination": app.call("POST", f"{base}/destinations", json=spec)}
    destination_id = answers["createDestination"].json()["payload"]["destinationId"]
    answers["getDestinations"] = app.call("GET", f"{base}/destinations")
    answers["getDestination"] = app.call("GET", f"{base}/destinations/{destination_id}")
    subscription = {"payloadVersion": "1.0", "destinationId": destination_id}
    path = f"{base}/subscriptions/{ORDER_CHANGE}"
    answers["createSubscription"] = seller.call("POST", path, json=subscription)
    subscription_id = answers["createSubscription"].json()["payload"]["subscriptionId"]
    answers["getSubscription"] = seller.call("GET", path)
    answers["getSubscriptionById"] = app.call("GET", f"{path}/{subscription_id}")
    answers["deleteSubscriptionById"] = app.call("DELETE", f"{path}/{subscription_id}")
    answers["deleteDestination"] = app.call("DELETE", f"{base}/destinations/{destination_id}")
    for op, answer in answers.items():
        method, template, _ = operation(NOTIFICATIONS, op)
        assert answer.request.method == method, f"{op} is {method} {template}"
        assert answer.status_code == 200, (op, answer.text)
        assert_response_valid(NOTIFICATIONS, op, 200, answer.json())
        assert "x-amzn-RateLimit-Limit" in response_headers(NOTIFICATIONS, op, 200)
        assert answer.headers["x-amzn-RateLimit-Limit"] and answer.headers["x-amzn-RequestId"]
    assert set(answers) == set(NOTIFICATION_OPS)


def test_the_emulator_refuses_what_amazon_refuses(emu, queue):
    app, seller = Api(emu), Api(emu, grantless=False)
    base = "/notifications/v1"
    refusals = [
        ("createDestination", app.call("POST", f"{base}/destinations", json={"name": "q"}), 400),
        (
            "createDestination",
            app.call(
                "POST",
                f"{base}/destinations",
                json={"name": "q", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:x"}}},
            ),
            400,
        ),
        ("getDestination", app.call("GET", f"{base}/destinations/nope"), 404),
        ("deleteDestination", app.call("DELETE", f"{base}/destinations/nope"), 404),
        ("getSubscription", seller.call("GET", f"{base}/subscriptions/{ORDER_CHANGE}"), 404),
        ("getSubscription", seller.call("GET", f"{base}/subscriptions/NO_SUCH_TYPE"), 400),
        (
            "createSubscription",
            seller.call(
                "POST",
                f"{base}/subscriptions/{ORDER_CHANGE}",
                json={"payloadVersion": "2.0", "destinationId": "d"},
            ),
            400,
        ),
        (
            "createSubscription",
            seller.call(
                "POST",
                f"{base}/subscriptions/{ORDER_CHANGE}",
                json={
                    "payloadVersion": "1.0",
                    "destinationId": "d",
                    "processingDirective": {
                        "eventFilter": {"eventFilterType": "ANY_OFFER_CHANGED"}
                    },
                },
            ),
            400,
        ),
        (
            "getSubscriptionById",
            app.call("GET", f"{base}/subscriptions/{ORDER_CHANGE}/nope"),
            404,
        ),
    ]
    for op, answer, status in refusals:
        assert answer.status_code == status, (op, answer.text)
        assert_response_valid(NOTIFICATIONS, op, status, answer.json())
    spec = {"name": "q", "resourceSpecification": {"sqs": {"arn": queue.arn}}}
    app.call("POST", f"{base}/destinations", json=spec)
    again = app.call("POST", f"{base}/destinations", json=spec)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "Conflict"
    assert_response_valid(NOTIFICATIONS, "createDestination", 409, again.json())


def test_notifications_follow_amazons_default_usage_plans():
    for op in NOTIFICATION_OPS:
        description = operation(NOTIFICATIONS, op)[2]["description"]
        assert "| 1 | 5 |" in description, op  # the model's usage plan table
        assert DEFAULT_PLANS[op] == (1.0, 5)


def test_the_emulator_answers_429_beyond_a_usage_plan(emulator_factory):
    emu = emulator_factory(plans={"getDestinations": (0.001, 2)})
    app = Api(emu)
    answers = [app.call("GET", "/notifications/v1/destinations") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert_response_valid(NOTIFICATIONS, "getDestinations", 429, answers[2].json())


# -- ORDER_CHANGE messages ------------------------------------------------------------------------


def test_the_models_example_parses():
    change = parse_order_change(json.dumps(example()))
    assert change == OrderChange(
        notification_id="d0e9e693-c3ad-4373-979f-ed4ec98dd746",
        published_at=datetime(2020, 7, 13, 19, 42, 4, 284000, tzinfo=UTC),
        seller_id="A3TH9S8BH6GOGM",
        marketplace_id=US,
        amazon_order_id="903-8868176-2219830",
        change_type="BuyerRequestedChange",
        order_status="UNSHIPPED",
        fulfillment_type="MFN",
        last_updated=datetime(2022, 11, 29, 19, 42, 4, 284000, tzinfo=UTC),
        earliest_ship_date=datetime(2022, 11, 7, 19, 42, 4, 284000, tzinfo=UTC),
        latest_ship_date=datetime(2022, 12, 7, 19, 42, 4, 284000, tzinfo=UTC),
    )
    assert change.fulfilled_by == "MERCHANT"
    assert parse_order_change(json.dumps(example()).encode()) == change


def test_without_a_trigger_time_the_event_time_is_the_last_update():
    message = example()
    summary = message["Payload"]["OrderChangeNotification"]["Summary"]
    message["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = None
    del summary["EarliestShipDate"], summary["LatestShipDate"]
    summary["OrderStatus"] = "Canceled"
    change = parse_order_change(json.dumps(message))
    assert change.last_updated == datetime(2020, 1, 11, 0, 9, 53, 109000, tzinfo=UTC)
    assert change.order_status == "CANCELLED"
    assert change.earliest_ship_date is change.latest_ship_date is None


def _without(*path):
    def change(message):
        *parents, last = path
        for key in parents:
            message = message[key]
        del message[last]

    return change


def _set(value, *path):
    def change(message):
        *parents, last = path
        for key in parents:
            message = message[key]
        message[last] = value

    return change


CHANGE = ("Payload", "OrderChangeNotification")


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_without(*CHANGE, "SellerId"), "missing required field `SellerId`"),
        (_without(*CHANGE, "Summary", "OrderStatus"), "missing required field `OrderStatus`"),
        (_without("NotificationMetadata", "NotificationId"), "`NotificationId`"),
        (_without("Payload", "OrderChangeNotification"), "`OrderChangeNotification`"),
        (_set("1", *CHANGE, "Summary", "OrderItems", 0, "Quantity"), "Quantity: expected `int`"),
        (_set(7, *CHANGE, "AmazonOrderId"), "AmazonOrderId: expected `str`"),
        (_set("2020-01-11T00:09:53", "EventTime"), "EventTime: expected `datetime` with a time"),
        (_set("yesterday", "NotificationMetadata", "PublishTime"), "PublishTime: invalid RFC3339"),
        (_set("ANY_OFFER_CHANGED", "NotificationType"), "'ANY_OFFER_CHANGED', not ORDER_CHANGE"),
    ],
)
def test_a_malformed_message_says_why_in_one_line(spoil, reason):
    message = example()
    spoil(message)
    with pytest.raises(MalformedNotification) as malformed:
        parse_order_change(json.dumps(message))
    assert reason in malformed.value.reason and "\n" not in str(malformed.value)
    assert isinstance(malformed.value, OrdertoolsError)
    has_id = "NotificationId" in message["NotificationMetadata"]
    assert malformed.value.notification_id == (
        "d0e9e693-c3ad-4373-979f-ed4ec98dd746" if has_id else None
    )


@pytest.mark.parametrize("body", [b"", "{", "not json\nat all", "[]", "null", b"\xff"])
def test_a_body_that_is_no_message_at_all_is_malformed(body):
    with pytest.raises(MalformedNotification) as malformed:
        parse_order_change(body)
    assert "\n" not in str(malformed.value) and malformed.value.notification_id is None


# -- the queue ------------------------------------------------------------------------------------


def test_sqs_client_reads_the_standard_aws_environment(sqs_env, monkeypatch):
    sqs = sqs_client()
    assert sqs.meta.region_name == "us-east-1" and sqs.meta.endpoint_url == sqs_env
    assert sqs_client(region="eu-west-1").meta.region_name == "eu-west-1"
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        sqs_client()


def test_a_queue_arn_and_its_policy():
    arn = "arn:aws:sqs:us-east-1:123456789012:orders"
    assert parse_queue_arn(arn) == ("us-east-1", "123456789012", "orders")
    [statement] = json.loads(queue_policy(arn))["Statement"]
    assert statement["Resource"] == arn and "sqs:SendMessage" in statement["Action"]
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        parse_queue_arn("arn:aws:sqs:us-east-1:123456789012")


# -- delivery -------------------------------------------------------------------------------------


def test_a_status_change_arrives_on_the_queue_after_the_delay(emu, queue):
    order_id = emu.world.add_order(status="PENDING", marketplace_id=US, buyer_name="Zoë Müller")
    subscription = subscribe(make_client(emu), queue)
    started = time.monotonic()
    emu.world.set_status(order_id, "UNSHIPPED")
    [body] = received(queue, 1)
    waited = time.monotonic() - started
    assert waited >= DELAY  # not before the configured delay (how soon after: the bench)
    assert_valid_message(body)
    change = parse_order_change(body)
    assert (change.amazon_order_id, change.order_status) == (order_id, "UNSHIPPED")
    assert (change.seller_id, change.marketplace_id) == (emu.config.seller_id, US)
    assert change.change_type == "OrderStatusChange" and change.fulfilled_by == "MERCHANT"
    assert change.last_updated == datetime.fromisoformat(
        emu.world.get(order_id)["lastUpdatedTime"].replace("Z", "+00:00")
    )
    assert change.latest_ship_date is not None
    message = json.loads(body)
    assert message["NotificationMetadata"]["SubscriptionId"] == subscription.subscription_id
    assert message["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == "Unshipped"
    assert "Zoë" not in body and "@" not in body and "Evergreen" not in body  # no PII
    assert emu.stats["notifications"]["sent"] == 1


def test_new_orders_shipments_and_cancellations_are_notified(emu, queue):
    client = make_client(emu)
    subscribe(client, queue)
    shipped = emu.world.add_order(status="UNSHIPPED", marketplace_id=US)
    canceled = emu.world.add_order(status="UNSHIPPED", marketplace_id=US)
    order = emu.world.get(shipped)
    client.confirm_shipment(
        shipped,
        marketplace_id=US,
        package_reference_id="1",
        carrier_code="UPS",
        tracking_number="1Z999",
        ship_date=emu.clock(),
        items=[(i["orderItemId"], i["quantityOrdered"]) for i in order["orderItems"]],
    )
    emu.world.cancel_order(
        canceled, [i["orderItemId"] for i in emu.world.get(canceled)["orderItems"]], "NoInventory"
    )
    bodies = received(queue, 4)
    for body in bodies:
        assert_valid_message(body)
    changes = [parse_order_change(body) for body in bodies]
    assert sorted((c.amazon_order_id, c.order_status) for c in changes) == sorted(
        [
            (shipped, "UNSHIPPED"),
            (canceled, "UNSHIPPED"),
            (shipped, "SHIPPED"),
            (canceled, "CANCELLED"),
        ]
    )


def test_fba_orders_are_afn_and_orders_too_malformed_to_describe_are_skipped(emu, queue):
    subscribe(make_client(emu), queue, marketplace_ids=None)
    emu.world.add_raw({"orderId": "111-0000000-0000001", "orderItems": "not a list"})
    fba = emu.world.add_order(status="SHIPPED", fulfilled_by="AMAZON", marketplace_id=US)
    [body] = received(queue, 1)
    assert_valid_message(body)
    change = parse_order_change(body)
    assert (change.amazon_order_id, change.fulfilled_by) == (fba, "AMAZON")
    assert emu.stats["notifications"]["queued"] == 1


def test_the_event_filter_takes_only_its_marketplaces(emu, queue):
    subscribe(make_client(emu), queue, [DE])
    emu.world.add_order(status="PENDING", marketplace_id=US)
    german = emu.world.add_order(status="PENDING", marketplace_id=DE)
    [body] = received(queue, 1)
    assert parse_order_change(body).amazon_order_id == german
    assert received(queue, 1, timeout=0.5) == []  # the US order's would have come first
    assert emu.stats["notifications"]["queued"] == 1


def test_a_scheduled_change_is_notified_when_its_time_comes(emu, queue):
    order_id = emu.world.add_order(status="PENDING", marketplace_id=US)
    subscribe(make_client(emu), queue)
    emu.world.set_status(order_id, "UNSHIPPED", at="+1s")
    [body] = received(queue, 1)  # nobody reads the world meanwhile: the delivery applies it
    assert parse_order_change(body).order_status == "UNSHIPPED"


def test_nothing_is_sent_without_a_subscription_or_after_it_is_deleted(emu, queue):
    client = make_client(emu)
    emu.world.add_order(status="PENDING", marketplace_id=US)
    subscription = subscribe(client, queue)
    client.delete_subscription(ORDER_CHANGE, subscription.subscription_id)
    emu.world.add_order(status="PENDING", marketplace_id=US)
    assert received(queue, 1, timeout=DELAY + 0.7) == []
    assert emu.stats["notifications"]["queued"] == 0


def test_an_unreachable_queue_is_counted_and_delivery_goes_on(emu, queue, sqs_env):
    client = make_client(emu)
    destination = client.create_destination("gone", "arn:aws:sqs:us-east-1:123456789012:gone")
    subscription = client.create_subscription(ORDER_CHANGE, destination.destination_id, [US])
    emu.world.add_order(status="PENDING", marketplace_id=US)
    deadline = time.monotonic() + 10
    while emu.stats["notifications"]["failed"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.stats["notifications"]["failed"] == 1
    client.delete_subscription(ORDER_CHANGE, subscription.subscription_id)
    subscribe(client, queue)
    emu.world.add_order(status="PENDING", marketplace_id=US)
    assert len(received(queue, 1)) == 1


# -- delivery faults ------------------------------------------------------------------------------


def test_dropped_notifications_never_arrive(emu, queue):
    subscribe(make_client(emu), queue)
    emu.faults.drop_notifications(1.0)
    emu.world.add_order(status="PENDING", marketplace_id=US)
    assert received(queue, 1, timeout=DELAY + 0.7) == []
    assert emu.stats["notifications"]["dropped"] == 1
    emu.faults.clear()
    emu.world.add_order(status="PENDING", marketplace_id=US)
    assert len(received(queue, 1)) == 1


def test_a_share_of_drops_is_drawn_from_its_seed(emu, queue):
    draws = random.Random(7)
    expected = sum(draws.random() < 0.5 for _ in range(20))
    subscribe(make_client(emu), queue)
    emu.faults.drop_notifications(0.5, seed=7)
    for _ in range(20):
        emu.world.add_order(status="PENDING", marketplace_id=US)
    deadline = time.monotonic() + 10
    counts = emu.stats["notifications"]
    while counts["sent"] + counts["dropped"] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
        counts = emu.stats["notifications"]
    assert counts["dropped"] == expected and 0 < expected < 20
    assert counts["sent"] + counts["dropped"] == 20
    assert len(received(queue, counts["sent"])) == counts["sent"]
    assert received(queue, 1, timeout=0.5) == []


def test_repeated_notifications_arrive_twice_with_one_notification_id(emu, queue):
    subscribe(make_client(emu), queue)
    emu.faults.repeat_notifications(1.0)
    order_id = emu.world.add_order(status="PENDING", marketplace_id=US)
    first, second = received(queue, 2)
    assert first == second and parse_order_change(first).amazon_order_id == order_id
    assert emu.stats["notifications"]["repeated"] == 1
    assert emu.stats["notifications"]["sent"] == 2


def test_reordered_notifications_arrive_after_the_next_one(emu, queue):
    subscribe(make_client(emu), queue)
    emu.faults.reorder_notifications(1.0)
    first = emu.world.add_order(status="PENDING", marketplace_id=US)
    second = emu.world.add_order(status="PENDING", marketplace_id=US)
    bodies = received(queue, 2)
    assert [parse_order_change(b).amazon_order_id for b in bodies] == [second, first]
    assert emu.stats["notifications"]["reordered"] == 1


def test_paused_notifications_wait_for_resume(emu, queue):
    subscribe(make_client(emu), queue)
    emu.faults.pause_notifications()
    order_id = emu.world.add_order(status="PENDING", marketplace_id=US)
    assert received(queue, 1, timeout=DELAY + 0.7) == []
    emu.faults.resume_notifications()
    [body] = received(queue, 1)
    assert parse_order_change(body).amazon_order_id == order_id


def test_the_seller_token_is_refused_by_the_client_path_too(emu, queue):
    """A client whose grantless token is a seller's (a misconfigured proxy, say) is denied."""
    client = make_client(emu)
    client.grantless_tokens[NOTIFICATIONS_SCOPE] = client.tokens
    with pytest.raises(AccessDenied, match="grantless"):
        client.create_destination("ordertools", queue.arn)
