"""The emulator with many sellers on one port, read by the real client: each seller's orders,
usage plans and troubles are its own. And the latency that every LWA and SP-API answer waits.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner
from spapi_spec import ORDERS, assert_response_valid

from ordertools.amazon.auth import DEMO_REFRESH_TOKEN, Credentials
from ordertools.amazon.client import FAST_RETRIES, AmazonClient
from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
from ordertools.amazon.emulator.config import parse_latency
from ordertools.amazon.errors import (
    CredentialsRefused,
    NotFound,
    ServerFailure,
    Throttled,
)
from ordertools.cli import main

SEARCH = "/orders/2026-01-01/orders"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)
UNBOUND = {op: (1000.0, 1000) for op in ("searchOrders", "getOrder", "confirmShipment")}


@pytest.fixture
def sellers_factory():
    started: list[Emulator] = []

    def start(n: int = 4, orders: int = 3, **config) -> Emulator:
        settings = {
            "plans": UNBOUND,
            "visibility_delay": 0.0,
            "min_before_age": 0.0,
            "report_delay": 0.0,
            "report_lag": 0.0,
            "clock": ManualClock(ticking=True),
            **config,
        }
        emulator = Emulator(
            config=EmulatorConfig(**settings), sellers=n, orders_per_seller=orders, seed=5
        )
        started.append(emulator.start())
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emu(sellers_factory) -> Emulator:
    return sellers_factory()


def client_for(emu: Emulator, seller, **kwargs) -> AmazonClient:
    kwargs.setdefault("plans", UNBOUND)
    return AmazonClient(
        Credentials(**seller.credentials),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name=seller.store.name,
        retry=FAST_RETRIES,
        **kwargs,
    )


def order_ids(client: AmazonClient, marketplace_id: str) -> set[str]:
    pages = client.search_orders(marketplace_ids=[marketplace_id], created_after=SINCE)
    return {order.order_id for page in pages for order in page.orders}


def search(emu: Emulator, token: str, marketplace_id: str) -> requests.Response:
    params = {"marketplaceIds": marketplace_id, "createdAfter": "2000-01-01T00:00:00Z"}
    headers = {"x-amz-access-token": token}
    return requests.get(emu.base_url + SEARCH, params=params, headers=headers, timeout=10)


# -- who the sellers are ------------------------------------------------------------------------


def test_each_seller_has_its_own_token_marketplace_and_orders(emu):
    first, *others = emu.sellers
    assert first.refresh_token == DEMO_REFRESH_TOKEN and first.world is emu.world
    assert len({s.refresh_token for s in emu.sellers}) == len({s.seller_id for s in emu.sellers})
    assert others[0].refresh_token == "Atzr|emulator-seller-0001"
    assert [(s.marketplace_id, s.region) for s in emu.sellers] == [
        ("ATVPDKIKX0DER", "na"),
        ("A1PA6795UKMFR9", "eu"),
        ("A1VC38T7YXB528", "fe"),
        ("A1F83G8C2ARO7P", "eu"),
    ]
    seen: set[str] = set()
    for seller in emu.sellers:
        with client_for(emu, seller) as client:
            ids = order_ids(client, seller.marketplace_id)
        assert ids == {o["orderId"] for o in seller.world.orders()} and len(ids) == 3
        assert not ids & seen  # no two sellers share an order
        seen |= ids
        assert emu.seller_for(seller.refresh_token) is seller


def test_a_sellers_token_reads_only_its_own_orders(emu):
    _, one, two, _ = emu.sellers
    theirs = next(iter(o["orderId"] for o in two.world.orders()))
    with client_for(emu, one) as client:
        # Asking for the other seller's marketplace finds nothing of theirs, nor does getOrder.
        assert order_ids(client, two.marketplace_id) == set()
        with pytest.raises(NotFound):
            client.get_order(theirs)
    assert one.stats["getOrder"]["requests"] == 1 and two.stats["getOrder"]["requests"] == 0


def test_new_orders_for_every_seller_between_two_rounds(emu):
    before = {s.index: len(s.world) for s in emu.sellers}
    assert emu.add_orders_to_every_seller(2) == 2 * len(emu.sellers)
    for seller in emu.sellers:
        assert len(seller.world) == before[seller.index] + 2
        with client_for(emu, seller) as client:
            assert len(order_ids(client, seller.marketplace_id)) == before[seller.index] + 2


def test_each_sellers_answers_match_the_model(emu):
    japan = emu.sellers[2]
    answer = search(emu, japan.access_token(), japan.marketplace_id)
    assert answer.status_code == 200 and len(answer.json()["orders"]) == 3
    assert_response_valid(ORDERS, "searchOrders", 200, answer.json())
    assert {o["salesChannel"]["marketplaceId"] for o in answer.json()["orders"]} == {
        japan.marketplace_id
    }


# -- usage plans and troubles: one seller's never reach another ---------------------------------


def test_usage_plan_buckets_are_per_seller(sellers_factory):
    emu = sellers_factory(plans={"searchOrders": (0.001, 2)})
    one, two = emu.sellers[1], emu.sellers[2]
    token = one.access_token()
    statuses = [search(emu, token, one.marketplace_id).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert_response_valid(ORDERS, "searchOrders", 429, search(emu, token, "x").json())
    assert search(emu, two.access_token(), two.marketplace_id).status_code == 200
    assert one.stats["searchOrders"]["throttled"] == 2
    assert two.stats["searchOrders"]["throttled"] == 0


@pytest.mark.parametrize(
    ("trouble", "error", "says"),
    [
        ("refuse", CredentialsRefused, "Amazon refused the refresh token for store seller-0001"),
        ("throttle", Throttled, "Amazon throttled searchOrders for store seller-0001"),
        (
            "malform",
            ServerFailure,
            "Amazon answered searchOrders for store seller-0001-de without the payload the model",
        ),
    ],
)
def test_a_troubled_seller_raises_the_clients_typed_error_alone(emu, trouble, error, says):
    troubled, fine = emu.sellers[1], emu.sellers[3]
    getattr(troubled, trouble)()
    with client_for(emu, troubled) as client, pytest.raises(error, match=says):
        order_ids(client, troubled.marketplace_id)
    with client_for(emu, fine) as client:
        assert len(order_ids(client, fine.marketplace_id)) == 3
    troubled.faults.clear()
    with client_for(emu, troubled) as client:
        assert len(order_ids(client, troubled.marketplace_id)) == 3


def test_a_refused_seller_stops_a_client_that_already_had_a_token(emu):
    seller = emu.sellers[2]
    with client_for(emu, seller) as client:
        assert len(order_ids(client, seller.marketplace_id)) == 3
        seller.refuse()  # a revoked authorization: its access tokens stop working too
        with pytest.raises(CredentialsRefused, match="invalid_grant"):
            order_ids(client, seller.marketplace_id)


def test_each_sellers_reports_and_their_documents_are_its_own(emu):
    seller = emu.sellers[3]
    now = emu.clock()
    with client_for(emu, seller) as client:
        rows = list(client.order_report(seller.marketplace_id, now - timedelta(days=3), now))
    assert {row.order_id for row in rows} == {o["orderId"] for o in seller.world.orders()}
    assert emu.stats["reportDocument"]["downloads"] == 0
    assert seller.stats["reportDocument"]["downloads"] == 1


# -- the admin API ------------------------------------------------------------------------------


def test_the_admin_api_lists_the_sellers_and_acts_on_each(emu):
    listed = requests.get(emu.base_url + "/_emulator/sellers", timeout=10).json()["sellers"]
    assert [s["refresh_token"] for s in listed] == [s.refresh_token for s in emu.sellers]
    assert listed[2]["marketplace_id"] == "A1VC38T7YXB528" and listed[2]["region"] == "fe"
    added = requests.post(
        emu.base_url + "/_sellers/2/_emulator/orders", json={"status": "PENDING"}, timeout=10
    )
    assert added.status_code == 201 and len(emu.sellers[2].world) == 4 and len(emu.world) == 3
    armed = requests.post(emu.base_url + "/_sellers/1/_emulator/faults/throttle", timeout=10)
    assert armed.status_code == 200 and "searchOrders" in emu.sellers[1].faults.throttled
    # Amazon's routes pick the seller by token, never by path; no seller 9.
    for path in (f"/_sellers/1{SEARCH}", "/_sellers/9/_emulator/stats", "/_sellers/x/"):
        assert requests.get(emu.base_url + path, timeout=10).status_code == 404


def test_the_one_seller_emulator_is_its_default_seller(emulator):
    listed = requests.get(emulator.base_url + "/_emulator/sellers", timeout=10).json()["sellers"]
    assert [s["refresh_token"] for s in listed] == [DEMO_REFRESH_TOKEN]
    assert emulator.sellers[0].world is emulator.world
    assert emulator.sellers[0].credentials == emulator.credentials


# -- latency ------------------------------------------------------------------------------------


def test_every_token_and_sp_api_answer_waits_the_latency(sellers_factory):
    emu = sellers_factory(n=2, orders=1, latency=0.2)
    seller = emu.sellers[1]
    started = time.monotonic()
    form = {"grant_type": "refresh_token", **seller.credentials}
    token = requests.post(emu.token_url, data=form, timeout=10).json()["access_token"]
    token_done = time.monotonic()
    assert search(emu, token, seller.marketplace_id).status_code == 200
    assert token_done - started >= 0.2
    assert time.monotonic() - token_done >= 0.2


@pytest.mark.parametrize(
    ("text", "seconds"), [("50ms", 0.05), ("0.05s", 0.05), ("0.05", 0.05), (" 2S ", 2.0)]
)
def test_latency_reads_milliseconds_seconds_or_a_number(text, seconds):
    assert parse_latency(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "-1ms", "nan", "", "5m"])
def test_a_bad_latency_is_one_line_that_says_what_works(text):
    result = CliRunner().invoke(main, ["emulator", "--latency", text])
    assert result.exit_code == 2
    assert "50ms, 0.05s or 0.05" in result.output and "Traceback" not in result.output
