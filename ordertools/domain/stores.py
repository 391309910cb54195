"""Stores: one Amazon seller account in one marketplace, integrated at a recorded instant.

The functions here are what the CLI, the notebooks and the scheduler call; they validate what a
user typed and answer with `ConfigurationError` one-liners that say what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertools.amazon import regions
from ordertools.db import Store
from ordertools.errors import ConfigurationError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Order Settings as in the Sales Channel's Order Settings page: name -> allowed values
# (None: free text, validated by its own rule).
SETTING_CHOICES = {
    "import_enabled": (True, False),
    "customer_creation": ("guest", "create"),
    "order_number_source": ("local", "amazon"),
    "reserve_quantity": (True, False),
    "new_order_status": None,
}
STATUS_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# The Order Settings as people read them, in the store dashboard's words: name -> (label,
# {value: word}); the free-text status reads as typed.
SETTING_WORDS: dict[str, tuple[str, dict | None]] = {
    "import_enabled": ("Import Amazon Orders", {True: "Enabled", False: "Disabled"}),
    "customer_creation": (
        "Customer creation",
        {"guest": "Guest orders", "create": "Create customer accounts"},
    ),
    "order_number_source": (
        "Order number",
        {"local": "Local numbers", "amazon": "Amazon's order number"},
    ),
    "reserve_quantity": ("Reserve quantity", {True: "Yes", False: "No"}),
    "new_order_status": ("Status for new imports", None),
}


def setting_words(name: str, value) -> tuple[str, str]:
    """One Order Setting as (label, value) in words: ("Customer creation", "Guest orders")."""
    label, words = SETTING_WORDS[name]
    return label, str(words.get(value, value) if words else value)


def get_store(session: Session, name: str) -> Store:
    store = session.scalar(select(Store).where(Store.name == name))
    if store is None:
        known = ", ".join(session.scalars(select(Store.name).order_by(Store.name))) or "none yet"
        raise ConfigurationError(
            f"no store named {name!r} (stores: {known}); add one with `ordertools store add`"
        )
    return store


def list_stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.name)))


def first_store_name(session: Session) -> str | None:
    """The first of `list_stores`, read alone (None: no store yet)."""
    return session.scalar(select(Store.name).order_by(Store.name).limit(1))


def add_store(
    session: Session,
    name: str,
    *,
    marketplace_id: str,
    region: str | None = None,
    endpoint: str | None = None,
    token_url: str | None = None,
    integrated_at: datetime | None = None,
    api_lag_seconds: int | None = None,
    refresh_token_env: str | None = None,
    seller_central_domain: str | None = None,
    local_order_url_template: str | None = None,
) -> Store:
    """Integrate a store. The integration instant defaults to now: older orders never import."""
    if not NAME_PATTERN.match(name):
        raise ConfigurationError(
            f"store name {name!r} is not usable: use letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    if session.scalar(select(Store.id).where(Store.name == name)) is not None:
        raise ConfigurationError(f"store {name!r} exists already; pick another name")
    market = regions.marketplace(marketplace_id)
    if market is None and not (region and seller_central_domain):
        raise ConfigurationError(
            f"marketplace {marketplace_id!r} is not one ordertools knows: check the id, or pass "
            "--region and --seller-central-domain for a new marketplace"
        )
    region = region or market.region
    if region not in regions.ENDPOINTS:
        raise ConfigurationError(f"region {region!r} is unknown: use na, eu or fe")
    for label, url in (("--endpoint", endpoint), ("--token-url", token_url)):
        if url and not re.match(r"^https?://[^\s/]+", url):
            raise ConfigurationError(f"{label} {url!r} is not a URL: give http(s)://host[:port]")
    if api_lag_seconds is not None and api_lag_seconds < 0:
        raise ConfigurationError("--api-lag must be zero or more seconds")
    if refresh_token_env is not None and not re.match(
        r"^[A-Za-z_][A-Za-z0-9_]*$", refresh_token_env
    ):
        raise ConfigurationError(
            # Never echo the value: a user who got this wrong may have pasted the token itself.
            "--refresh-token-env takes the name of an environment variable (letters, digits, '_'),"
            " e.g. ACME_REFRESH_TOKEN, never the token itself"
        )
    integrated_at = integrated_at or datetime.now(UTC)
    if integrated_at.tzinfo is None:
        raise ConfigurationError("--integrated-at needs a time zone, e.g. 2026-11-01T00:00:00Z")
    store = Store(
        name=name,
        marketplace_id=marketplace_id,
        region=region,
        endpoint=(endpoint or regions.endpoint_for(region)).rstrip("/"),
        token_url=token_url or regions.LWA_TOKEN_URL,
        seller_central_domain=seller_central_domain or market.seller_central,
        integrated_at=integrated_at.astimezone(UTC),
        local_order_url_template=local_order_url_template,
    )
    if api_lag_seconds is not None:
        store.api_lag_seconds = api_lag_seconds
    if refresh_token_env is not None:
        store.refresh_token_env = refresh_token_env
    session.add(store)
    session.flush()
    return store


def remove_store(session: Session, name: str) -> None:
    session.delete(get_store(session, name))


def update_settings(session: Session, name: str, **settings) -> Store:
    """Change Order Settings; unknown names or values are refused before anything changes."""
    store = get_store(session, name)
    for key, value in settings.items():
        if key not in SETTING_CHOICES:
            raise ConfigurationError(f"unknown setting {key!r}: use {', '.join(SETTING_CHOICES)}")
        choices = SETTING_CHOICES[key]
        if choices is not None and value not in choices:
            raise ConfigurationError(f"{key} takes {' or '.join(map(str, choices))}, not {value!r}")
        if key == "new_order_status" and not STATUS_PATTERN.match(value):
            raise ConfigurationError(
                f"order status {value!r} is not usable: lower-case letters, digits and '_'"
            )
    for key, value in settings.items():
        setattr(store, key, value)
    return store


MARKETPLACE_DEFAULT = "marketplace"  # `settings --locale marketplace`: back to the default


@dataclass(frozen=True)
class Reading:
    """How a store's money and dates read, and whether each is its marketplace's own."""

    locale: str
    time_zone: str
    locale_is_marketplaces: bool
    time_zone_is_marketplaces: bool


def reading(store: Store) -> Reading:
    """The store's locale and time zone: its own choice, else its marketplace's, else en_US
    and UTC for a marketplace ordertools does not know."""
    known = regions.marketplace(store.marketplace_id)
    locale = store.locale or (known.locale if known else "en_US")
    zone = store.time_zone or (known.time_zone if known else "UTC")
    return Reading(locale, zone, store.locale is None, store.time_zone is None)


def parse_locale(text: str, or_else: str = "") -> str:
    """`text` as Babel names the locale ("de-de" -> "de_DE"); ConfigurationError otherwise."""
    try:
        return str(Locale.parse(text))
    except (ValueError, UnknownLocaleError):
        raise ConfigurationError(
            f"unknown locale {text!r}: use a language and country such as de_DE, en_GB "
            f"or ja_JP{or_else}"
        ) from None


def set_reading(
    session: Session, name: str, *, locale: str | None = None, time_zone: str | None = None
) -> Store:
    """Choose how the store's money (`locale`, e.g. de_DE) and dates (`time_zone`, e.g.
    Europe/Berlin) read; "marketplace" goes back to the marketplace's own. Checked first."""
    store = get_store(session, name)
    if locale is not None and locale != MARKETPLACE_DEFAULT:
        locale = parse_locale(locale, f", or {MARKETPLACE_DEFAULT!r} for the marketplace's own")
    if time_zone is not None and time_zone != MARKETPLACE_DEFAULT:
        try:
            ZoneInfo(time_zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigurationError(
                f"unknown time zone {time_zone!r}: use an IANA name such as Europe/Berlin or "
                f"UTC, or {MARKETPLACE_DEFAULT!r} for the marketplace's own"
            ) from None
    if locale is not None:
        store.locale = None if locale == MARKETPLACE_DEFAULT else locale
    if time_zone is not None:
        store.time_zone = None if time_zone == MARKETPLACE_DEFAULT else time_zone
    return store


def seller_central_url(store: Store, amazon_order_id: str) -> str:
    return regions.seller_central_order_url(store.seller_central_domain, amazon_order_id)
