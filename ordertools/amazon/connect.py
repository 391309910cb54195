"""The one place a store becomes an SP-API client: its endpoint, region and credentials.

The sync, the outbox and the dashboard's Sync now all build their clients here, so a test or a
script that needs other client options (faster retries, say) has one name to wrap.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from ordertools.amazon.auth import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    Credentials,
)
from ordertools.amazon.client import AmazonClient
from ordertools.errors import ConfigurationError


class StoreAccount(Protocol):
    """What a client needs of a store (`ordertools.db.Store` has it): where, and whose token."""

    name: str
    region: str
    endpoint: str
    token_url: str
    refresh_token_env: str


def credentials_for(store: StoreAccount) -> Credentials:
    """Credentials from the environment, never from the database.

    A store whose endpoint and token URL are on this machine talks to the emulator; when the
    variables are unset it gets the emulator's published demo credentials (not secrets), so the
    demo needs no setup. Anything else without the variables is an error naming them.
    """
    try:
        return Credentials.from_env(store.refresh_token_env)
    except ConfigurationError:
        if not (is_loopback(store.endpoint) and is_loopback(store.token_url)):
            raise
    return Credentials(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        refresh_token=DEMO_REFRESH_TOKEN,
        refresh_token_env=store.refresh_token_env,
    )


def is_loopback(url: str) -> bool:
    """Whether `url` is on this machine (the emulator's place)."""
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def amazon_client(store: StoreAccount, **options) -> AmazonClient:
    """A client for the store (see `credentials_for` for where its credentials come from)."""
    return AmazonClient(
        credentials_for(store),
        region=store.region,
        endpoint=store.endpoint,
        token_url=store.token_url,
        store_name=store.name,
        **options,
    )
