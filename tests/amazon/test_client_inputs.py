"""The client's local checks: credentials from the environment and arguments Amazon would refuse.

Nothing here talks to a server: a bad argument must fail before a request leaves.
"""

from datetime import UTC, datetime, timedelta

import pytest

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import AmazonClient
from ordertools.amazon.errors import InvalidInput
from ordertools.errors import ConfigurationError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ENV = {
    "ORDERTOOLS_LWA_CLIENT_ID": "amzn1.application-oa2-client.abc",
    "ORDERTOOLS_LWA_CLIENT_SECRET": "client-secret-value",
    "ORDERTOOLS_REFRESH_TOKEN": "Atzr|refresh-token-value",
}


class NoNetwork:
    """A session stand-in that fails the test if the client tries to send anything."""

    headers: dict = {}

    def request(self, *args, **kwargs):
        raise AssertionError(f"sent a request: {args}")


@pytest.fixture
def client():
    creds = Credentials.from_env(environ=ENV)
    return AmazonClient(creds, store_name="acme", session=NoNetwork())


def test_credentials_from_env_read_the_three_variables():
    creds = Credentials.from_env(environ=ENV)
    assert creds.client_id == ENV["ORDERTOOLS_LWA_CLIENT_ID"]
    assert creds.refresh_token.get_secret_value() == ENV["ORDERTOOLS_REFRESH_TOKEN"]


def test_a_store_may_name_its_own_refresh_token_variable():
    env = {**ENV, "ACME_TOKEN": "Atzr|acme-token"}
    creds = Credentials.from_env(refresh_token_env="ACME_TOKEN", environ=env)
    assert creds.refresh_token.get_secret_value() == "Atzr|acme-token"
    assert creds.refresh_token_env == "ACME_TOKEN"


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_variable_is_named_and_no_value_shown(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigurationError) as info:
        Credentials.from_env(environ=env)
    assert missing in str(info.value)
    assert not any(value in str(info.value) for value in ENV.values())


def test_credentials_and_client_reprs_hold_no_secret(client):
    creds = Credentials.from_env(environ=ENV)
    shown = " ".join([repr(creds), str(creds), repr(client), str(client), repr(client.tokens)])
    for secret in (ENV["ORDERTOOLS_LWA_CLIENT_SECRET"], ENV["ORDERTOOLS_REFRESH_TOKEN"]):
        assert secret not in shown


SEARCH_MISTAKES = [
    ({}, "exactly one of created_after and last_updated_after"),
    ({"created_after": T0, "last_updated_after": T0}, "exactly one"),
    ({"created_after": T0, "last_updated_before": T0}, "last_updated_before goes with"),
    ({"last_updated_after": T0, "created_before": T0}, "created_before goes with"),
    ({"created_after": datetime(2026, 3, 1)}, "timezone-aware"),
    ({"last_updated_after": T0, "last_updated_before": datetime(2026, 3, 2)}, "timezone-aware"),
    ({"created_after": T0, "created_before": T0 - timedelta(days=1)}, "earlier than"),
    ({"last_updated_after": T0, "last_updated_before": T0 - timedelta(hours=1)}, "earlier than"),
    ({"created_after": T0, "max_results_per_page": 0}, "1 to 100"),
    ({"created_after": T0, "max_results_per_page": 101}, "1 to 100"),
    ({"created_after": T0, "fulfillment_statuses": ["SHIPPED", "LOST"]}, "LOST"),
    ({"created_after": T0, "included_data": ["BUYER", "SECRETS"]}, "SECRETS"),
    ({"created_after": T0, "marketplace_ids": []}, "marketplace_ids"),
]


@pytest.mark.parametrize(("kwargs", "reason"), SEARCH_MISTAKES)
def test_search_mistakes_fail_at_the_call_with_a_clear_reason(client, kwargs, reason):
    kwargs = {"marketplace_ids": ["ATVPDKIKX0DER"], **kwargs}
    with pytest.raises(InvalidInput, match=reason) as info:
        client.search_orders(**kwargs)  # not iterated: the check is eager
    assert info.value.operation == "searchOrders" and info.value.status is None


def test_equal_bounds_are_a_valid_window(client):
    pages = client.search_orders(
        marketplace_ids=["ATVPDKIKX0DER"], last_updated_after=T0, last_updated_before=T0
    )
    assert pages is not None  # accepted; nothing sent until iterated


SHIPMENT = dict(
    marketplace_id="ATVPDKIKX0DER",
    package_reference_id="1",
    carrier_code="UPS",
    tracking_number="1Z999",
    ship_date=T0,
    items=[("12345678901234", 1)],
)
SHIPMENT_MISTAKES = [
    ({"package_reference_id": 1}, "package_reference_id"),
    ({"package_reference_id": "PKG-1"}, "package_reference_id"),
    ({"package_reference_id": "0"}, "package_reference_id"),
    ({"carrier_code": "Other"}, "carrier_name is required"),
    ({"ship_date": datetime(2026, 3, 1)}, "timezone-aware"),
    ({"items": []}, "items"),
    ({"items": [("1", 0)]}, "items"),
    ({"tracking_number": ""}, "tracking_number"),
]


@pytest.mark.parametrize(("change", "reason"), SHIPMENT_MISTAKES)
def test_shipment_mistakes_fail_before_sending(client, change, reason):
    with pytest.raises(InvalidInput, match=reason):
        client.confirm_shipment("111-2222222-3333333", **{**SHIPMENT, **change})


def test_region_or_endpoint_picks_the_host():
    creds = Credentials.from_env(environ=ENV)
    assert "sellingpartnerapi-eu" in AmazonClient(creds, region="eu").endpoint
    assert AmazonClient(creds, endpoint="http://localhost:1/").endpoint == "http://localhost:1"
    with pytest.raises(ValueError, match="unknown region"):
        AmazonClient(creds, region="mars")
