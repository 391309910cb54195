"""The SP-API client against the emulator: paging, pacing, retries, tokens, errors, contract.

Every test runs a real HTTP exchange with the emulator on a free port; retries use
`FAST_RETRIES` (millisecond backoff) and the usage plans are set per test, so the file runs in
seconds. Secrets are checked everywhere at once: `secret_audit` collects every exception the
tests provoke and the DEBUG log, and asserts none of them shows one.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from spapi_spec import ORDERS, ORDERS_V0, assert_valid, validate_query

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import FAST_RETRIES, PAGES_AHEAD, AmazonClient, RetryPolicy
from ordertools.amazon.errors import (
    AccessDenied,
    CredentialsRefused,
    InvalidInput,
    NotFound,
    ServerFailure,
    Throttled,
)
from ordertools.amazon.models import AmazonOrder

MARKETPLACE = "ATVPDKIKX0DER"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)
UNBOUND = {op: (1000.0, 1000) for op in ("searchOrders", "getOrder", "confirmShipment")}
QUICK = dict(plans=UNBOUND, visibility_delay=0.0, min_before_age=0.0)


class RecordingSession(requests.Session):
    """A session that keeps every prepared request and the timeout it was sent with."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, object]] = []

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs.get("timeout")))
        return super().send(request, **kwargs)

    def queries(self, path_part: str) -> list[dict[str, str]]:
        return [
            dict(parse_qsl(urlsplit(r.url).query))
            for r, _ in self.sent
            if path_part in urlsplit(r.url).path
        ]


class SecretAudit:
    """Collects what the tests show a person (exceptions, reprs) to check for secrets."""

    def __init__(self):
        self.secrets: set[str] = set()
        self.shown: list[str] = []

    def exception(self, exc: BaseException) -> BaseException:
        self.shown += [str(exc), repr(exc), str(exc.__cause__ or ""), repr(exc.__cause__ or "")]
        return exc


@pytest.fixture
def secret_audit(caplog):
    """Every test that uses it ends by checking its exceptions and DEBUG log hold no secret."""
    caplog.set_level(logging.DEBUG)
    audit = SecretAudit()
    yield audit
    shown = "\n".join(audit.shown + [caplog.text])
    leaked = [s for s in audit.secrets if s and s in shown]
    assert not leaked, "a secret reached an exception, a repr or the log"


@pytest.fixture
def emu(emulator_factory):
    return emulator_factory(**QUICK)


def make_client(emu, audit=None, **kwargs) -> AmazonClient:
    kwargs.setdefault("plans", UNBOUND)
    kwargs.setdefault("retry", FAST_RETRIES)
    client = AmazonClient(
        Credentials(**emu.credentials),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name="acme",
        **kwargs,
    )
    if audit is not None:
        audit.secrets |= set(client.tokens.secrets())
        audit.shown += [repr(client), str(client), repr(client.tokens)]
    return client


def raised(audit: SecretAudit, kind: type[BaseException], call, *args, **kwargs):
    """Run `call`, expect `kind`, hand the exception to the audit, return it."""
    with pytest.raises(kind) as info:
        result = call(*args, **kwargs)
        if hasattr(result, "__next__"):
            list(result)
    return audit.exception(info.value)


def all_orders(client: AmazonClient, **kwargs) -> list[AmazonOrder]:
    kwargs.setdefault("created_after", SINCE)
    pages = client.search_orders(marketplace_ids=[MARKETPLACE], **kwargs)
    return [order for page in pages for order in page.orders]


def requests_to(emu, operation: str) -> int:
    return emu.stats[operation]["requests"]


def throttled_by(emu, operation: str) -> int:
    return emu.stats[operation]["throttled"]


# -- paging -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefetch", [{}, {"prefetch": False}, {"prefetch_first": False}], ids=["ahead", "no", "2nd"]
)
@pytest.mark.parametrize("n", [0, 100, 250])
def test_paging_sees_every_order_once_in_ceil_n_over_100_calls(emu, n, prefetch):
    emu.world.generate(n, seed=1)
    client = make_client(emu, **prefetch)
    orders = all_orders(client)
    ids = [o.order_id for o in orders]
    assert len(ids) == len(set(ids)) == n
    assert client.stats["searchOrders"].requests == max(1, math.ceil(n / 100))
    assert requests_to(emu, "searchOrders") == max(1, math.ceil(n / 100))


@pytest.mark.parametrize("first", [True, False], ids=["first-ahead", "first-here"])
def test_a_caller_slower_than_amazon_keeps_only_a_few_pages_waiting(emu, first):
    # A sync writing its first page must not have the client pull the whole window into memory.
    emu.world.generate(100 * (PAGES_AHEAD + 10), seed=17)
    client = make_client(emu, prefetch_first=first)
    pages = client.search_orders(marketplace_ids=[MARKETPLACE], created_after=SINCE)
    first = next(pages)
    time.sleep(1.0)  # ample time to fetch all 20 pages, were the client not held back
    waiting = requests_to(emu, "searchOrders")
    rest = [order for page in pages for order in page.orders]
    client.close()
    assert waiting <= 1 + PAGES_AHEAD
    assert len(first.orders) + len(rest) == 100 * (PAGES_AHEAD + 10)
    assert requests_to(emu, "searchOrders") == PAGES_AHEAD + 10


def test_stopping_after_the_first_page_costs_at_most_the_page_in_flight(emu):
    emu.world.generate(500, seed=16)
    client = make_client(emu)
    pages = client.search_orders(marketplace_ids=[MARKETPLACE], created_after=SINCE)
    first = next(pages)
    pages.close()
    client.close()
    assert len(first.orders) == 100
    assert requests_to(emu, "searchOrders") <= 2


def test_next_pages_repeat_the_filters_beside_the_token(emu):
    emu.world.generate(120, seed=2)
    session = RecordingSession()
    client = make_client(emu, session=session)
    all_orders(client, max_results_per_page=50, fulfillment_statuses=None)
    first, *later = session.queries("/orders/2026-01-01/orders")
    assert len(later) == 2 and "paginationToken" not in first
    for query in later:
        # Amazon: all other parameters must have the same values as the first request.
        assert {k: v for k, v in query.items() if k != "paginationToken"} == first
        assert query["paginationToken"]


def test_an_order_amazon_repeats_on_the_next_page_is_yielded_once(emu):
    emu.world.generate(250, seed=15)
    emu.faults.duplicate_next_page(2)
    orders = all_orders(make_client(emu))
    assert len(orders) == len({o.order_id for o in orders}) == 250


# -- contract -----------------------------------------------------------------------------------


def test_every_request_obeys_the_spec(emu):
    emu.world.generate(30, seed=3)
    session = RecordingSession()
    client = make_client(emu, session=session)
    now = datetime.now(UTC)
    all_orders(client, max_results_per_page=20)
    all_orders(
        client,
        created_after=None,
        last_updated_after=SINCE,
        last_updated_before=now,
        fulfillment_statuses=["UNSHIPPED", "SHIPPED"],
    )
    all_orders(client, created_before=now, included_data=["BUYER"])
    shippable = client.get_order(emu.world.add_order(status="UNSHIPPED", created="-1h"))
    client.confirm_shipment(
        shippable.order_id,
        marketplace_id=MARKETPLACE,
        package_reference_id="1",
        carrier_code="Other",
        carrier_name="Local Courier",
        tracking_number="TRACK-1",
        ship_date=now,
        items=[(shippable.order_items[0].order_item_id, 1)],
    )

    sp_api = [(r, t) for r, t in session.sent if "/orders/" in r.url]
    assert sp_api, "nothing recorded"
    for _request, timeout in session.sent:
        assert isinstance(timeout, tuple) and len(timeout) == 2, "every request has a timeout"
    for request, _ in sp_api:
        path = urlsplit(request.url).path
        query = dict(parse_qsl(urlsplit(request.url).query))
        assert request.headers.get("x-amz-access-token")
        if path == "/orders/2026-01-01/orders":
            assert request.method == "GET"
            assert validate_query(ORDERS, "searchOrders", query) == []
            created = {"createdAfter", "createdBefore"} & set(query)
            updated = {"lastUpdatedAfter", "lastUpdatedBefore"} & set(query)
            assert ("createdAfter" in query) != ("lastUpdatedAfter" in query)
            assert not (created and updated), "created* and lastUpdated* never mix"
        elif path.startswith("/orders/2026-01-01/orders/"):
            assert request.method == "GET"
            assert validate_query(ORDERS, "getOrder", query) == []
        elif path.endswith("/shipmentConfirmation"):
            assert request.method == "POST" and path.startswith("/orders/v0/orders/")
            assert request.headers["Content-Type"].startswith("application/json")
            import json

            body = json.loads(request.body)
            assert_valid(ORDERS_V0, "ConfirmShipmentRequest", body)
            assert isinstance(body["packageDetail"]["packageReferenceId"], str)
            if body["packageDetail"]["carrierCode"] == "Other":
                assert body["packageDetail"]["carrierName"]
        else:
            pytest.fail(f"unexpected request {request.method} {path}")


def test_lwa_exchange_is_the_documented_form_post(emu):
    session = RecordingSession()
    client = make_client(emu, session=session)
    all_orders(client)
    token_requests = [r for r, _ in session.sent if r.url == emu.token_url]
    assert len(token_requests) == 1
    form = dict(parse_qsl(token_requests[0].body))
    assert form["grant_type"] == "refresh_token"
    assert set(form) == {"grant_type", "refresh_token", "client_id", "client_secret"}
    assert token_requests[0].method == "POST"


# -- typed results ------------------------------------------------------------------------------


def test_get_order_returns_a_typed_order_and_404_is_not_found(emu, secret_audit):
    emu.world.generate(3, seed=4)
    client = make_client(emu, secret_audit)
    some = all_orders(client)[0]
    order = client.get_order(some.order_id)
    assert isinstance(order, AmazonOrder) and order.order_id == some.order_id
    missing = raised(secret_audit, NotFound, client.get_order, "999-0000000-0000000")
    assert missing.status == 404 and missing.operation == "getOrder"


def test_confirm_shipment_returns_none_on_204(emu):
    order_id = emu.world.add_order(status="UNSHIPPED", created="-1h")
    client = make_client(emu)
    order = client.get_order(order_id)
    result = client.confirm_shipment(
        order.order_id,
        marketplace_id=MARKETPLACE,
        package_reference_id="1",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=datetime.now(UTC) - timedelta(minutes=5),
        items=[(item.order_item_id, item.quantity_ordered) for item in order.order_items],
    )
    assert result is None


# -- pacing -------------------------------------------------------------------------------------


def test_respecting_the_bucket_provokes_no_429(emulator_factory):
    plan = {"searchOrders": (10.0, 2)}
    emu = emulator_factory(**{**QUICK, "plans": {**UNBOUND, **plan}})
    emu.world.generate(500, seed=6)
    client = make_client(emu, plans={**UNBOUND, **plan})
    started = time.monotonic()
    assert len(all_orders(client)) == 500
    stats = client.stats["searchOrders"]
    assert throttled_by(emu, "searchOrders") == 0 and stats.throttled == 0
    # 5 calls, burst 2, 10/s: the last three each wait for a token, 0.3 s in all.
    assert time.monotonic() - started >= 0.29 and stats.token_wait > 0


def test_the_bucket_adopts_the_rate_amazon_announces(emulator_factory):
    emu = emulator_factory(**{**QUICK, "plans": {**UNBOUND, "searchOrders": (7.5, 1000)}})
    client = make_client(emu, plans=None)  # Amazon's default: 0.0056/s
    assert client.buckets["searchOrders"].rate == pytest.approx(0.0056)
    all_orders(client)
    assert client.buckets["searchOrders"].rate == pytest.approx(7.5)


# -- 429s, 5xx, timeouts ------------------------------------------------------------------------


def test_a_429_storm_is_ridden_out_with_a_drained_bucket(emulator_factory):
    # The emulator allows bursts of 1 at 20/s; the client believes in bursts of 1000 and learns.
    emu = emulator_factory(**{**QUICK, "plans": {**UNBOUND, "searchOrders": (20.0, 1)}})
    emu.world.generate(400, seed=7)
    client = make_client(emu)
    assert len(all_orders(client)) == 400
    stats = client.stats["searchOrders"]
    assert stats.throttled >= 1 and stats.retries == stats.throttled
    assert throttled_by(emu, "searchOrders") == stats.throttled


def test_429s_beyond_the_bound_give_up_with_throttled(emulator_factory, secret_audit):
    # The emulator refills one token in 1000 s. The client's clock is fake and its sleeps
    # advance it, so its own bucket lets every retry through at once and the emulator says 429.
    emu = emulator_factory(**{**QUICK, "plans": {**UNBOUND, "searchOrders": (0.001, 1)}})
    emu.world.generate(10, seed=8)
    fake_now = [0.0]
    policy = RetryPolicy(throttle_retries=2, initial=0.001, max=0.01, jitter=0.001)
    client = make_client(
        emu,
        secret_audit,
        retry=policy,
        clock=lambda: fake_now[0],
        sleep=lambda seconds: fake_now.__setitem__(0, fake_now[0] + seconds),
    )
    all_orders(client)  # spends the emulator's only token; the client learns the rate
    assert client.buckets["searchOrders"].rate == pytest.approx(0.001)
    exc = raised(secret_audit, Throttled, all_orders, client)
    assert exc.status == 429 and exc.code == "QuotaExceeded"
    assert "gave up after 3 attempts" in str(exc)
    stats = client.stats["searchOrders"]
    assert stats.throttled == 3 and stats.retries == 2
    assert throttled_by(emu, "searchOrders") == 3
    assert stats.token_wait >= 2 * 1000 * 0.99  # each retry waited for the drained bucket


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_storm_within_bounds_recovers(emu, status):
    emu.world.generate(10, seed=9)
    emu.faults.fail_next(3, status=status, operation="searchOrders")
    client = make_client(emu)  # FAST_RETRIES allows 3 failures
    assert len(all_orders(client)) == 10
    assert client.stats["searchOrders"].retries == 3


def test_5xx_beyond_the_bound_give_up_with_server_failure(emu, secret_audit):
    emu.faults.fail_next(10, status=503, operation="searchOrders")
    client = make_client(emu, secret_audit)
    exc = raised(secret_audit, ServerFailure, all_orders, client)
    assert exc.status == 503 and "gave up after 4 attempts" in str(exc)


def test_a_slow_answer_times_out_and_is_retried(emu, secret_audit):
    emu.world.generate(5, seed=10)
    fast_timeout = RetryPolicy(initial=0.001, max=0.01, jitter=0.001, timeout=(2.0, 0.3))
    client = make_client(emu, secret_audit, retry=fast_timeout)
    all_orders(client)  # token fetched, connection open
    emu.faults.delay_next(1, 1.0)
    assert len(all_orders(client)) == 5
    assert client.stats["searchOrders"].failures == 1

    emu.faults.delay_next(10, 1.0)
    exc = raised(secret_audit, ServerFailure, all_orders, client)
    assert "read timeout" in str(exc) and exc.status is None


def test_a_dropped_connection_is_retried(emu):
    emu.world.generate(5, seed=11)
    client = make_client(emu)
    all_orders(client)
    emu.faults.drop_next(2)
    assert len(all_orders(client)) == 5
    assert client.stats["searchOrders"].failures == 2


# -- tokens and credentials ---------------------------------------------------------------------


def test_the_access_token_is_cached(emu):
    client = make_client(emu)
    for _ in range(3):
        all_orders(client)
    assert client.tokens.exchanges == 1


def test_an_expired_token_is_refreshed_once_and_the_call_retried(emu):
    emu.world.generate(5, seed=12)
    client = make_client(emu)
    all_orders(client)
    emu.faults.expire_tokens()
    assert len(all_orders(client)) == 5
    assert client.tokens.exchanges == 2
    assert requests_to(emu, "token") == 2
    assert client.stats["searchOrders"].requests == 3  # the 403, then the same call again


def test_the_cache_renews_before_expires_in_runs_out(emulator_factory):
    emu = emulator_factory(**{**QUICK, "token_lifetime": 100})
    now = [0.0]
    client = make_client(emu, clock=lambda: now[0])
    all_orders(client)
    now[0] = 85.0  # inside the 100 s lifetime, before the 10 s safety margin
    all_orders(client)
    assert client.tokens.exchanges == 1
    now[0] = 91.0  # within the margin: renew before Amazon would refuse it
    all_orders(client)
    assert client.tokens.exchanges == 2


def test_a_refused_refresh_token_says_what_to_do(emu, secret_audit):
    creds = {**emu.credentials, "refresh_token": "Atzr|revoked-token"}
    secret_audit.secrets.add("Atzr|revoked-token")
    client = AmazonClient(
        Credentials(**creds, refresh_token_env="ACME_REFRESH_TOKEN"),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name="acme",
        retry=FAST_RETRIES,
    )
    exc = raised(secret_audit, CredentialsRefused, all_orders, client)
    assert str(exc) == (
        "Amazon refused the refresh token for store acme (invalid_grant): "
        "re-authorize the app and set ACME_REFRESH_TOKEN"
    )
    assert exc.code == "invalid_grant"


def test_a_refused_client_secret_says_what_to_do(emu, secret_audit):
    creds = {**emu.credentials, "client_secret": "wrong-secret"}
    secret_audit.secrets.add("wrong-secret")
    client = AmazonClient(
        Credentials(**creds), endpoint=emu.base_url, token_url=emu.token_url, store_name="acme"
    )
    exc = raised(secret_audit, CredentialsRefused, all_orders, client)
    assert exc.code == "invalid_client"
    assert "for store acme (invalid_client)" in str(exc)
    assert "ORDERTOOLS_LWA_CLIENT_SECRET" in str(exc)


# -- Amazon's refusals --------------------------------------------------------------------------


def test_a_400_carries_amazons_message(emulator_factory, secret_audit):
    emu = emulator_factory(**{**QUICK, "min_before_age": 120.0})
    client = make_client(emu, secret_audit)
    exc = raised(
        secret_audit,
        InvalidInput,
        all_orders,
        client,
        created_after=None,
        last_updated_after=SINCE,
        last_updated_before=datetime.now(UTC),
    )
    assert exc.status == 400 and exc.code
    assert "Amazon rejected searchOrders for store acme (400" in str(exc)


class ForgedTokenSession(requests.Session):
    """Sends a token Amazon never issued, however often the client renews the real one."""

    def send(self, request, **kwargs):
        if "x-amz-access-token" in request.headers:
            request.headers["x-amz-access-token"] = "Atza|forged"
        return super().send(request, **kwargs)


def test_a_403_that_renewing_cannot_cure_is_access_denied(emu, secret_audit):
    client = make_client(emu, secret_audit, session=ForgedTokenSession())
    exc = raised(secret_audit, AccessDenied, all_orders, client)
    assert exc.status == 403 and exc.code == "Unauthorized"
    assert "Amazon denied searchOrders for store acme" in str(exc)
    assert client.tokens.exchanges == 2  # renewed once, then gave up
    assert requests_to(emu, "searchOrders") == 2


# -- malformed orders ---------------------------------------------------------------------------


def test_a_malformed_order_is_reported_beside_its_page(emu):
    emu.world.generate(5, seed=13)
    broken = emu.world.add_order(omit=["createdTime"])
    client = make_client(emu)
    pages = list(client.search_orders(marketplace_ids=[MARKETPLACE], created_after=SINCE))
    assert sum(len(p.orders) for p in pages) == 5
    (bad,) = [m for p in pages for m in p.malformed]
    assert bad.order_id == broken and "createdTime" in bad.reason


def test_secrets_never_reach_the_debug_log(emu, secret_audit):
    emu.world.generate(5, seed=14)
    client = make_client(emu, secret_audit)
    all_orders(client)
    emu.faults.expire_tokens()
    all_orders(client)
    secret_audit.secrets |= set(client.tokens.secrets())  # the renewed access token too
    assert secret_audit.secrets
