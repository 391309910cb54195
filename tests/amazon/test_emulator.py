"""The emulator over HTTP, held against Amazon's own models (tests/spapi_spec.py)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
import requests
from spapi_spec import (
    ORDERS,
    ORDERS_V0,
    assert_response_valid,
    assert_valid,
    parameter,
    response_headers,
    validate_query,
)

from ordertools.amazon.client import INCLUDED_DATA
from ordertools.amazon.emulator import ManualClock
from ordertools.amazon.models import parse_search_page, utc_iso

SEARCH = "/orders/2026-01-01/orders"
CLIENT_DATA = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES"
LONG_AGO = "2020-01-01T00:00:00Z"


class Api:
    """Just enough of a client: a session holding a valid access token."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.session = requests.Session()
        self.session.headers["x-amz-access-token"] = emulator.access_token()

    def search(self, **params):
        params.setdefault("createdAfter", LONG_AGO)
        return self.session.get(self.emulator.base_url + SEARCH, params=params, timeout=10)

    def get_order(self, order_id, included=CLIENT_DATA):
        url = f"{self.emulator.base_url}{SEARCH}/{order_id}"
        return self.session.get(url, params={"includedData": included}, timeout=10)

    def confirm(self, order_id, body):
        url = f"{self.emulator.base_url}/orders/v0/orders/{order_id}/shipmentConfirmation"
        return self.session.post(url, json=body, timeout=10)

    def admin(self, method, path, **kwargs):
        return requests.request(
            method, self.emulator.base_url + "/_emulator" + path, timeout=10, **kwargs
        )


@pytest.fixture
def api(emulator):
    return Api(emulator)


def shipment(order, quantity=1, reference="1", marketplace="ATVPDKIKX0DER"):
    item = order["orderItems"][0]["orderItemId"]
    return {
        "marketplaceId": marketplace,
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-01-05T10:00:00Z",
            "orderItems": [{"orderItemId": item, "quantity": quantity}],
        },
    }


# --- Login with Amazon ---------------------------------------------------------------------


def test_token_exchange_and_refusals(emulator):
    form = {"grant_type": "refresh_token", **emulator.credentials}
    ok = requests.post(emulator.token_url, data=form, timeout=10)
    assert ok.status_code == 200
    body = ok.json()
    assert body["access_token"].startswith("Atza|") and body["token_type"] == "bearer"
    assert (
        body["expires_in"] == 3600
        and body["refresh_token"] == emulator.credentials["refresh_token"]
    )

    bad_client = requests.post(emulator.token_url, data={**form, "client_secret": "x"}, timeout=10)
    assert bad_client.status_code == 401
    assert bad_client.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }
    bad_grant = requests.post(emulator.token_url, data={**form, "refresh_token": "x"}, timeout=10)
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"


def test_token_exchange_takes_a_json_body_as_amazons_sdks_send(emulator):
    """A third-party client posting JSON (as Amazon's SDKs do) gets the same answers."""
    grant = {"grant_type": "refresh_token", **emulator.credentials}
    ok = requests.post(emulator.token_url, json=grant, timeout=10)
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
    search = requests.get(
        emulator.base_url + SEARCH,
        params={"createdAfter": LONG_AGO},
        headers={"x-amz-access-token": ok.json()["access_token"]},
        timeout=10,
    )
    assert search.status_code == 200

    bad_client = requests.post(emulator.token_url, json={**grant, "client_id": "x"}, timeout=10)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_grant = requests.post(emulator.token_url, json={**grant, "grant_type": "x"}, timeout=10)
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "unsupported_grant_type"
    not_an_object = requests.post(emulator.token_url, json=[grant], timeout=10)
    assert not_an_object.status_code == 400
    assert not_an_object.json()["error"] == "invalid_request"


def test_access_token_required_and_expires(emulator_factory):
    emulator = emulator_factory(token_lifetime=60)
    api = Api(emulator)
    assert api.search().status_code == 200

    missing = requests.get(
        emulator.base_url + SEARCH, params={"createdAfter": LONG_AGO}, timeout=10
    )
    assert missing.status_code == 403
    assert_response_valid(ORDERS, "searchOrders", 403, missing.json())
    assert "revoked, malformed or invalid" in missing.json()["errors"][0]["details"]

    emulator.clock.advance(61)
    expired = api.search()
    assert expired.status_code == 403
    assert expired.json()["errors"][0] == {
        "code": "Unauthorized",
        "message": "Access to requested resource is denied.",
        "details": "The access token you provided has expired.",
    }
    assert "x-amzn-RateLimit-Limit" not in expired.headers


def test_expire_tokens_fault(emulator, api):
    emulator.faults.expire_tokens()
    assert "expired" in api.search().json()["errors"][0]["details"]


# --- searchOrders ----------------------------------------------------------------------------


def test_included_datasets_are_the_models_own():
    """The datasets below are ordertools' list; it must be exactly what the model allows."""
    spec = parameter(ORDERS, "searchOrders", "includedData")["items"]["enum"]
    assert set(spec) == INCLUDED_DATA


# Parametrized from ordertools' own list, not the models: collecting this module must not need
# ../shared (without it, the tests that read the models skip one by one).
@pytest.mark.parametrize("dataset", sorted(INCLUDED_DATA))
def test_search_pages_validate_for_every_included_dataset(emulator_factory, dataset):
    emulator = emulator_factory(scenario="demo")
    answer = Api(emulator).search(includedData=dataset, maxResultsPerPage=100)
    assert answer.status_code == 200
    assert_response_valid(ORDERS, "searchOrders", 200, answer.json())
    assert answer.json()["orders"]


def test_search_without_included_data_serves_only_required_fields(emulator_factory):
    emulator = emulator_factory(scenario="demo")
    orders = Api(emulator).search().json()["orders"]
    for order in orders:
        assert set(order) <= {
            "orderId",
            "createdTime",
            "lastUpdatedTime",
            "salesChannel",
            "orderItems",
            "programs",
        }
        for item in order["orderItems"]:
            assert set(item) == {"orderItemId", "quantityOrdered", "product"}


def test_client_datasets_follow_fulfillment_channel(emulator_factory):
    emulator = emulator_factory(scenario="demo")
    body = Api(emulator).search(includedData=CLIENT_DATA).json()
    assert_response_valid(ORDERS, "searchOrders", 200, body)
    page = parse_search_page(body)
    assert not page.malformed and len(page.orders) == len(body["orders"])
    fba = [o for o in page.orders if o.is_fba]
    fbm = [o for o in page.orders if not o.is_fba]
    assert fba and all(o.buyer_email is None and o.delivery_address is None for o in fba)
    assert all(not o.packages for o in fba)
    assert fbm and all(o.buyer_email and o.delivery_address for o in fbm)
    assert all(o.grand_total and o.status for o in page.orders)


def test_search_filters(emulator, api):
    world = emulator.world
    de = world.add_order(marketplace_id="A1PA6795UKMFR9", status="PENDING", created="-2h")
    fba = world.add_order(fulfilled_by="AMAZON", status="SHIPPED", created="-3h")
    old = world.add_order(created="-10d")

    def ids(**params):
        return {o["orderId"] for o in api.search(**params).json()["orders"]}

    assert ids(marketplaceIds="A1PA6795UKMFR9") == {de}
    assert ids(fulfillmentStatuses="PENDING,SHIPPED") == {de, fba}
    assert ids(fulfilledBy="AMAZON") == {fba}
    assert ids(createdAfter=utc_iso(emulator.clock() - timedelta(days=1))) == {de, fba}
    since = utc_iso(emulator.clock() - timedelta(days=11))
    before = utc_iso(emulator.clock() - timedelta(days=9))
    assert ids(createdAfter=since, createdBefore=before) == {old}
    body = api.search(createdAfter=since, createdBefore=before).json()
    assert body["createdBefore"] == before


def test_search_results_sorted_by_last_update(emulator, api):
    emulator.world.generate(60, seed=3)
    orders = api.search(lastUpdatedAfter=LONG_AGO, createdAfter=None).json()["orders"]
    keys = [(o["lastUpdatedTime"], o["orderId"]) for o in orders]
    assert keys == sorted(keys) and len(keys) == 60


BAD_SEARCHES = [
    ({"createdAfter": None}, "Exactly one"),
    ({"lastUpdatedAfter": LONG_AGO}, "cannot be combined"),
    ({"createdBefore": LONG_AGO, "lastUpdatedBefore": LONG_AGO}, "cannot be combined"),
    ({"createdAfter": "2021-01-01T00:00:00Z", "createdBefore": LONG_AGO}, "equal to or after"),
    ({"createdAfter": "yesterday"}, "Invalid createdAfter"),
    ({"createdAfter": "2020-01-01 00:00:00Z"}, "Invalid createdAfter"),  # a space for the T
    ({"createdAfter": "2020-01-01T00:00:00"}, "Invalid createdAfter"),  # no time zone
    ({"createdAfter": "2020-01-01"}, "Invalid createdAfter"),  # no time
    ({"createdBefore": "2020-01-02 00:00:00+00:00"}, "Invalid createdBefore"),
    ({"createdAfter": None, "lastUpdatedAfter": "2020-01-01T00:00"}, "Invalid lastUpdatedAfter"),
    ({"createdAfter": None, "lastUpdatedAfter": "2020-13-01T00:00:00Z"}, "Invalid lastUpdated"),
    ({"maxResultsPerPage": "0"}, "between 1 and 100"),
    ({"maxResultsPerPage": "101"}, "between 1 and 100"),
    ({"maxResultsPerPage": "ten"}, "between 1 and 100"),
    ({"fulfillmentStatuses": "SHIPPED,LOST"}, "fulfillmentStatuses"),
    ({"fulfilledBy": "SELLER"}, "fulfilledBy"),
    ({"includedData": "BUYER,EVERYTHING"}, "includedData"),
    ({"marketplaceIds": ",".join(f"M{i}" for i in range(51))}, "at most 50"),
    ({"paginationToken": "nonsense"}, "paginationToken"),
]


@pytest.mark.parametrize(("params", "reason"), BAD_SEARCHES)
def test_search_parameter_rules(api, params, reason):
    answer = api.search(**params)
    assert answer.status_code == 400
    assert_response_valid(ORDERS, "searchOrders", 400, answer.json())
    error = answer.json()["errors"][0]
    assert error["code"] == "InvalidInput" and reason in error["message"]


@pytest.mark.parametrize(
    "moment",
    [
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.000Z",
        "2020-01-01T00:00:00+00:00",
        "2019-12-31T19:00:00-05:00",
        "2016-03-16T14:32:16.50-07",  # the example of Amazon's date-time page
        "2016-03-16T14:32:16,5Z",  # which allows a comma as the decimal mark
    ],
)
def test_search_takes_amazons_date_time_forms(emulator, api, moment):
    order_id = emulator.world.add_order(created="-1h")
    answer = api.search(createdAfter=moment)
    assert answer.status_code == 200, answer.text
    assert [o["orderId"] for o in answer.json()["orders"]] == [order_id]


def test_search_refuses_dates_the_model_refuses(api):
    for moment in ("2020-01-01 00:00:00Z", "2020-01-01T00:00:00"):
        assert validate_query(ORDERS, "searchOrders", {"createdAfter": moment})
        assert api.search(createdAfter=moment).json()["errors"][0]["code"] == "InvalidInput"


def test_before_must_be_old_enough(emulator_factory):
    emulator = emulator_factory(min_before_age=120)
    api = Api(emulator)
    recent = utc_iso(emulator.clock() - timedelta(seconds=60))
    assert api.search(createdBefore=recent).status_code == 400
    old_enough = utc_iso(emulator.clock() - timedelta(seconds=180))
    assert api.search(createdBefore=old_enough).status_code == 200


# --- paging ----------------------------------------------------------------------------------


def test_paging_serves_a_snapshot_with_current_data(emulator, api):
    ids = emulator.world.generate(25, seed=5)
    first = api.search(maxResultsPerPage=10).json()
    snapshot_tail = None
    emulator.world.add_order(created="-1m")  # after the snapshot: not in this result set
    pages, token = [first], first["pagination"]["nextToken"]
    changed = None
    while token:
        if changed is None:  # change an order the next pages still have to serve
            snapshot_tail = [o["orderId"] for o in first["orders"]]
            changed = next(i for i in sorted(ids) if i not in snapshot_tail)
            emulator.world.set_status(changed, "CANCELLED")
        page = api.search(
            maxResultsPerPage=10, paginationToken=token, includedData="FULFILLMENT"
        ).json()
        assert_response_valid(ORDERS, "searchOrders", 200, page)
        pages.append(page)
        token = page.get("pagination", {}).get("nextToken")
    served = [o["orderId"] for p in pages for o in p["orders"]]
    assert sorted(served) == sorted(ids)  # 25, each once, the new order not among them
    assert [len(p["orders"]) for p in pages] == [10, 10, 5]
    current = next(o for p in pages[1:] for o in p["orders"] if o["orderId"] == changed)
    assert current["fulfillment"]["fulfillmentStatus"] == "CANCELLED"


def test_pagination_token_needs_same_filters_and_expires(emulator, api):
    emulator.world.generate(5, seed=2)
    token = api.search(maxResultsPerPage=2).json()["pagination"]["nextToken"]
    other = api.search(maxResultsPerPage=2, paginationToken=token, fulfilledBy="AMAZON")
    assert (
        other.status_code == 400 and "different parameters" in other.json()["errors"][0]["message"]
    )
    emulator.clock.advance(hours=25)
    api.session.headers["x-amz-access-token"] = emulator.access_token()  # the old one expired too
    expired = api.search(maxResultsPerPage=2, paginationToken=token)
    assert expired.status_code == 400 and "expired" in expired.json()["errors"][0]["details"]


def test_pagination_token_alone_asks_for_the_original_filters(emulator, api):
    emulator.world.generate(5, seed=2)
    token = api.search(maxResultsPerPage=2).json()["pagination"]["nextToken"]
    alone = api.session.get(
        emulator.base_url + SEARCH, params={"paginationToken": token}, timeout=10
    )
    assert alone.status_code == 400
    assert_response_valid(ORDERS, "searchOrders", 400, alone.json())
    error = alone.json()["errors"][0]
    assert error["code"] == "InvalidInput"
    assert "original filters must be repeated" in error["message"]
    # As the client sends it: the same filters beside the token.
    repeated = api.search(maxResultsPerPage=2, paginationToken=token)
    assert repeated.status_code == 200 and len(repeated.json()["orders"]) == 2


def test_duplicate_fault_repeats_an_order_across_pages(emulator, api):
    emulator.world.generate(6, seed=4)
    emulator.faults.duplicate_next_page()
    first = api.search(maxResultsPerPage=3).json()
    second = api.search(
        maxResultsPerPage=3, paginationToken=first["pagination"]["nextToken"]
    ).json()
    assert first["orders"][-1]["orderId"] == second["orders"][0]["orderId"]


# --- visibility delay ------------------------------------------------------------------------


def test_updates_become_visible_after_the_delay(emulator_factory):
    clock = ManualClock()  # frozen: only advance() moves it
    emulator = emulator_factory(clock=clock, visibility_delay=120)
    api = Api(emulator)
    order_id = emulator.world.add_order(status="PENDING")
    assert api.search().json()["orders"] == []
    assert api.get_order(order_id).status_code == 404

    clock.advance(120)
    assert api.get_order(order_id).json()["order"]["fulfillment"]["fulfillmentStatus"] == "PENDING"
    emulator.world.set_status(order_id, "UNSHIPPED")
    clock.advance(119)
    assert api.get_order(order_id).json()["order"]["fulfillment"]["fulfillmentStatus"] == "PENDING"
    clock.advance(1)
    order = api.get_order(order_id).json()["order"]
    assert order["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert order["lastUpdatedTime"] == utc_iso(clock() - timedelta(seconds=120))


# --- getOrder and confirmShipment ------------------------------------------------------------


def test_get_order_and_not_found(emulator, api):
    order_id = emulator.world.add_order()
    found = api.get_order(order_id)
    assert found.status_code == 200
    assert_response_valid(ORDERS, "getOrder", 200, found.json())
    missing = api.get_order("999-0000000-0000000")
    assert missing.status_code == 404
    assert_response_valid(ORDERS, "getOrder", 404, missing.json())


def test_confirm_shipment_ships_items_and_adds_a_package(emulator, api):
    order_id = emulator.world.add_order(
        items=[{"sku": "A", "price": "5.00", "quantity": 2}], created="-1h"
    )
    order = api.get_order(order_id).json()["order"]
    first = shipment(order, quantity=1, reference="1")
    assert_valid(ORDERS_V0, "ConfirmShipmentRequest", first)
    emulator.clock.advance(5)
    answer = api.confirm(order_id, first)
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["x-amzn-RateLimit-Limit"]
    partly = api.get_order(order_id).json()["order"]
    assert_response_valid(ORDERS, "getOrder", 200, {"order": partly})
    assert partly["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert partly["lastUpdatedTime"] > order["lastUpdatedTime"]
    assert partly["packages"][0]["trackingNumber"] == "1Z999AA10123456784"
    assert partly["orderItems"][0]["fulfillment"] == {
        "quantityFulfilled": 1,
        "quantityUnfulfilled": 1,
    }

    assert api.confirm(order_id, shipment(order, reference="2")).status_code == 204
    shipped = api.get_order(order_id).json()["order"]
    assert shipped["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert len(shipped["packages"]) == 2


def test_confirm_shipment_refusals(emulator, api):
    order_id = emulator.world.add_order()
    order = emulator.world.get(order_id)
    numeric_reference = shipment(order)
    numeric_reference["packageDetail"]["packageReferenceId"] = 1
    unknown_item = shipment(order)
    unknown_item["packageDetail"]["orderItems"][0]["orderItemId"] = "1"
    cases = [
        (order_id, numeric_reference, 400),
        (order_id, unknown_item, 400),
        (order_id, shipment(order, quantity=5), 400),
        (order_id, shipment(order, marketplace="A1PA6795UKMFR9"), 400),
        ("999-0000000-0000000", shipment(order), 404),
    ]
    for target, body, status in cases:
        answer = api.confirm(target, body)
        assert answer.status_code == status, body
        assert_response_valid(ORDERS_V0, "confirmShipment", status, answer.json())
    fba = emulator.world.add_order(fulfilled_by="AMAZON")
    assert api.confirm(fba, shipment(emulator.world.get(fba))).status_code == 400


# --- usage plans and faults ------------------------------------------------------------------


def test_throttling_and_rate_limit_header(emulator_factory):
    emulator = emulator_factory(plans={"getOrder": (0.001, 2)})
    api = Api(emulator)
    order_id = emulator.world.add_order()
    answers = [api.get_order(order_id) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "0.001"
    assert "x-amzn-RateLimit-Limit" in response_headers(ORDERS, "getOrder", 200)
    assert answers[2].json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
            }
        ]
    }
    assert_response_valid(ORDERS, "getOrder", 429, answers[2].json())
    assert "x-amzn-RateLimit-Limit" not in answers[2].headers
    assert all(a.headers["x-amzn-RequestId"] for a in answers)
    assert emulator.stats["getOrder"]["throttled"] == 1
    assert api.search().status_code == 200  # each operation has its own bucket


def test_rate_limit_header_on_400_and_404_too(emulator, api):
    for operation in ("searchOrders", "getOrder"):
        for status in (200, 400, 404):
            assert "x-amzn-RateLimit-Limit" in response_headers(ORDERS, operation, status)
    assert "x-amzn-RateLimit-Limit" in response_headers(ORDERS_V0, "confirmShipment", 404)
    order = emulator.world.get(emulator.world.add_order())
    answers = {
        "bad search": api.search(maxResultsPerPage="0"),
        "unknown order": api.get_order("999-0000000-0000000"),
        "bad confirmation": api.confirm(order["orderId"], {"marketplaceId": "ATVPDKIKX0DER"}),
        "unknown confirmation": api.confirm("999-0000000-0000000", shipment(order)),
    }
    assert [a.status_code for a in answers.values()] == [400, 404, 400, 404]
    for name, answer in answers.items():
        assert answer.headers.get("x-amzn-RateLimit-Limit") == "1000", name


def test_fail_delay_and_drop_faults(emulator, api):
    emulator.faults.fail_next(2, status=503, operation="searchOrders")
    assert api.get_order("1").status_code == 404  # another operation: unaffected
    failed = [api.search() for _ in range(3)]
    assert [a.status_code for a in failed] == [503, 503, 200]
    assert_response_valid(ORDERS, "searchOrders", 503, failed[0].json())

    emulator.faults.delay_next(1, seconds=0.3)
    started = time.monotonic()
    assert api.search().status_code == 200
    assert time.monotonic() - started >= 0.3

    emulator.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        api.search()
    assert api.search().status_code == 200
    assert emulator.stats["searchOrders"]["faults"] == 3


def test_concurrent_callers(emulator, api):
    order_id = emulator.world.add_order()
    statuses = []

    def call():
        session = requests.Session()
        session.headers["x-amz-access-token"] = emulator.access_token()
        for _ in range(10):
            url = f"{emulator.base_url}{SEARCH}/{order_id}"
            statuses.append(session.get(url, timeout=10).status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
        emulator.world.set_status(order_id, "SHIPPED")
    for thread in threads:
        thread.join()
    assert statuses == [200] * 60
    assert emulator.stats["getOrder"]["requests"] == 60


# --- connections -----------------------------------------------------------------------------


def connections_made(session: requests.Session) -> int:
    """How many connections the session's pools have opened so far (urllib3 counts them)."""
    pools = session.get_adapter("http://").poolmanager.pools
    return sum(pools[key].num_connections for key in pools.keys())


def test_one_session_reuses_one_connection(emulator, api):
    order_id = emulator.world.add_order()
    order = emulator.world.get(order_id)
    grant = {"grant_type": "refresh_token", **emulator.credentials}
    answers = [
        api.search(),
        api.get_order(order_id),
        api.get_order("999-0000000-0000000"),
        api.search(maxResultsPerPage="0"),
        # A body the app never reads (405): the next request must still be read correctly.
        api.session.put(emulator.base_url + SEARCH, data=b"x" * 100_000, timeout=10),
        api.confirm(order_id, shipment(order)),
        api.session.post(emulator.token_url, data=grant, timeout=10),
        api.search(),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 400, 405, 204, 200, 200]
    assert connections_made(api.session) == 1
    for answer in answers:
        assert answer.headers.get("Connection", "").lower() != "close"
        assert "Transfer-Encoding" not in answer.headers
        if answer.status_code != 204:  # a 204 has no body, so no length either
            assert int(answer.headers["Content-Length"]) == len(answer.content)


def test_pipelined_requests_are_all_answered_and_close_is_honoured(emulator):
    """Two requests sent at once, the second asking to close: two answers, then the emulator
    closes. (werkzeug's own handler answers the first, then reads the second away unanswered.)"""
    request = b"GET /_emulator/stats HTTP/1.1\r\nHost: emulator\r\n"
    with socket.create_connection((emulator.host, emulator.port), timeout=5) as sock:
        sock.sendall(request + b"\r\n" + request + b"Connection: close\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b""))  # until the emulator closes
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.lower().count(b"connection: close") == 1


def test_clients_are_served_while_others_keep_connections(emulator, api):
    order_id = emulator.world.add_order()
    assert api.get_order(order_id).status_code == 200  # api now holds an idle connection
    emulator.faults.delay_next(1, seconds=5.0, operation="searchOrders")
    slow = threading.Thread(target=lambda: Api(emulator).search())
    slow.start()
    time.sleep(0.1)  # the slow search is being held now
    others = [Api(emulator) for _ in range(3)]
    assert all(other.get_order(order_id).status_code == 200 for other in others)
    assert api.get_order(order_id).status_code == 200
    assert slow.is_alive()  # all answered while the slow one is still held: not queued
    slow.join()
    assert connections_made(api.session) == 1


def test_stopping_ends_kept_connections(emulator, api):
    assert api.search().status_code == 200
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        api.search()


# --- admin API -------------------------------------------------------------------------------


def test_admin_api_plays_out_pending_to_unshipped(emulator, api):
    added = api.admin("POST", "/orders", json={"status": "PENDING", "buyer_name": "Zoë Müller"})
    assert added.status_code == 201
    order_id = added.json()["orderId"]
    assert api.get_order(order_id).json()["order"]["buyer"]["buyerName"] == "Zoë Müller"

    moved = api.admin("POST", f"/orders/{order_id}/status", json={"status": "UNSHIPPED"})
    assert moved.json()["order"]["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    shown = api.admin("GET", f"/orders/{order_id}").json()
    assert shown["versions"] == 2 and shown["visible"]
    assert [o["orderId"] for o in api.admin("GET", "/orders").json()["orders"]] == [order_id]

    assert api.admin("POST", "/faults/fail_next", json={"n": 1, "status": 500}).status_code == 200
    assert api.search().status_code == 500
    assert api.admin("GET", "/stats").json()["searchOrders"]["faults"] == 1
    api.admin("DELETE", "/stats")
    assert emulator.stats.snapshot() == {}
    assert api.admin("POST", "/faults/nonsense").status_code == 404
    assert api.admin("POST", "/orders", json={"colour": "red"}).status_code == 400
    assert (
        api.admin(
            "POST", "/orders/999-0000000-0000000/status", json={"status": "SHIPPED"}
        ).status_code
        == 404
    )

    before = emulator.clock()
    api.admin("POST", "/clock/advance", json={"seconds": 3600})
    assert emulator.clock() - before >= timedelta(hours=1)


def test_the_admin_api_arms_the_report_and_notification_faults(emulator, api):
    """A demo driving the emulator from another process arms every fault over HTTP."""
    lost = api.admin("POST", "/faults/lose_updates", json={"share": 1.0})
    assert lost.status_code == 200 and lost.json() == {"armed": "lose_updates", "share": 1.0}
    order_id = api.admin("POST", "/orders", json={"created": "-1h"}).json()["orderId"]
    assert api.search().json()["orders"] == []  # searchOrders lost the update...
    assert api.get_order(order_id).status_code == 200  # ...which getOrder still shows
    for kind in ("drop_notifications", "repeat_notifications", "reorder_notifications"):
        armed = api.admin("POST", f"/faults/{kind}", json={"share": 0.5, "seed": 2})
        assert armed.status_code == 200, armed.text
    assert api.admin("POST", "/faults/pause_notifications").status_code == 200
    assert api.admin("POST", "/faults/clear").status_code == 200
    assert [o["orderId"] for o in api.search().json()["orders"]] == [order_id]
    unknown = api.admin("POST", "/faults/lose_everything")
    assert unknown.status_code == 404 and "lose_updates" in unknown.json()["error"]
