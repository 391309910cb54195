"""Fixtures for the sync engine's tests: a store wired to a running emulator, on both backends.

`shop` is store "acme" (amazon.com, integrated a day ago) in a fresh order book (`engine`, so
every test runs on SQLite and on PostgreSQL), pointed at an emulator that shows updates only
`API_LAG` seconds after they happen, as Amazon does; the store asks for data that old. The
emulator's clock (a ticking `ManualClock`) is also the sync's clock: `shop.later()` moves both
past the lag instead of sleeping. Credentials come from the environment, as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fixtures_emulator import FAST_PLANS
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import FAST_RETRIES, AmazonClient
from ordertools.amazon.emulator import Emulator, ManualClock, World
from ordertools.db import (
    AmazonOrderRow,
    LocalOrder,
    Product,
    Store,
)
from ordertools.db import session as db_session
from ordertools.domain.local_orders import reserved_quantity
from ordertools.domain.statuses import parse_status_filter
from ordertools.domain.stores import add_store
from ordertools.queries.detail import order_detail
from ordertools.queries.filters import OrderFilters
from ordertools.queries.orders import OrderRecord, query_orders
from ordertools.sync.report import SyncReport
from ordertools.sync.run import sync_store

API_LAG = 120  # the store's api_lag and the emulator's visibility delay, seconds
MARKET = "ATVPDKIKX0DER"
MUG = "MUG-CER-350"


class PagedClient(AmazonClient):
    """A client that asks searchOrders for small pages, so a few orders make several pages."""

    def __init__(self, *args, page_size: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_size = page_size

    def search_orders(self, **query):
        return super().search_orders(**{**query, "max_results_per_page": self.page_size})


def paged_client(base_url: str, token_url: str, page_size: int, store: str = "acme"):
    return PagedClient(
        Credentials.from_env(),
        endpoint=base_url,
        token_url=token_url,
        store_name=store,
        plans=FAST_PLANS,
        retry=FAST_RETRIES,
        page_size=page_size,
    )


def before_page(emu: Emulator, hook: Callable[[int], None]) -> None:
    """Run `hook(n)` in the emulator when a searchOrders page n >= 2 is asked for, before it is
    answered (and before any armed fault applies): Amazon changing under a sync that is paging.

    Server side on purpose: however far ahead a client fetches, page n is served after the hook.
    A retried request for the same page does not run it again.
    """
    dispatch, numbers = emu.app.dispatch, {}

    def hooked(endpoint, request, values):
        token = request.args.get("paginationToken") if endpoint == "searchOrders" else None
        if token and token not in numbers:
            numbers[token] = len(numbers) + 2
            hook(numbers[token])
        return dispatch(endpoint, request, values)

    emu.app.dispatch = hooked


def orders_placed(world: World, n: int, *, minutes_ago: int = 50, **fields) -> list[str]:
    """n orders placed `minutes_ago` and after, 10 s apart (already visible), oldest first."""
    return [world.add_order(created=f"-{minutes_ago * 60 - 10 * i}s", **fields) for i in range(n)]


@dataclass
class Shop:
    engine: Engine
    emu: Emulator
    clock: ManualClock
    integrated_at: datetime
    name: str = "acme"
    step: int = API_LAG + 10

    @property
    def world(self) -> World:
        return self.emu.world

    def later(self, seconds: float | None = None) -> None:
        """Let time pass: by default just past the lag, so what changed so far is visible."""
        self.clock.advance(self.step if seconds is None else seconds)

    def sync(self, page_size: int | None = None, **options) -> SyncReport:
        """Sync the store; with `page_size`, through a client asking for pages that small."""
        if page_size is None:
            return sync_store(self.engine, self.name, clock=self.clock, progress=False, **options)
        with paged_client(self.emu.base_url, self.emu.token_url, page_size, self.name) as client:
            return sync_store(
                self.engine, self.name, client=client, clock=self.clock, progress=False, **options
            )

    # -- what a user sees ------------------------------------------------------------------------

    def _store(self, s) -> Store:
        return s.scalar(select(Store).where(Store.name == self.name))

    def detail(self, order_id: str) -> dict:
        with db_session(self.engine) as s:
            return order_detail(s, self._store(s), order_id)

    def recent_records(self, *statuses: str) -> list[OrderRecord]:
        filters = OrderFilters(statuses=parse_status_filter(statuses))
        with db_session(self.engine) as s:
            return query_orders(s, self._store(s), filters, limit=None)

    def recent(self, *statuses: str) -> list[str]:
        """Amazon order numbers listed in Recent Orders (with a status filter if given)."""
        return sorted(r.order_number for r in self.recent_records(*statuses))

    def row(self, order_id: str) -> AmazonOrderRow:
        with db_session(self.engine) as s:
            row = s.scalar(
                select(AmazonOrderRow)
                .join(Store)
                .where(Store.name == self.name, AmazonOrderRow.amazon_order_id == order_id)
            )
            if row is not None:
                row.items  # noqa: B018 - loaded while the session is open
            return row

    def local(self, order_id: str) -> LocalOrder | None:
        with db_session(self.engine) as s:
            local = s.scalar(
                select(LocalOrder)
                .join(Store)
                .where(Store.name == self.name, LocalOrder.amazon_order_id == order_id)
            )
            if local is not None:
                local.items  # noqa: B018 - loaded while the session is open
            return local

    def numbers(self) -> list[str]:
        with db_session(self.engine) as s:
            return sorted(
                s.scalars(
                    select(LocalOrder.number).join(Store).where(Store.name == self.name)
                ).all()
            )

    def count(self, table) -> int:
        with db_session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(table))

    def cursor(self) -> datetime | None:
        with db_session(self.engine) as s:
            return self._store(s).cursor

    def add_product(self, sku: str, quantity: int) -> None:
        with db_session(self.engine) as s:
            s.add(Product(sku=sku, name=sku, manage_stock=True, quantity=quantity))

    def product(self, sku: str) -> Product:
        with db_session(self.engine) as s:
            return s.scalar(select(Product).where(Product.sku == sku))

    def reserved(self, sku: str) -> int:
        with db_session(self.engine) as s:
            return reserved_quantity(s, s.scalar(select(Product).where(Product.sku == sku)))


def _emulator_env(monkeypatch, emu: Emulator) -> None:
    credentials = emu.credentials
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_ID", credentials["client_id"])
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", credentials["client_secret"])
    monkeypatch.setenv("ORDERTOOLS_REFRESH_TOKEN", credentials["refresh_token"])


def add_emulated_store(engine: Engine, emu: Emulator, name: str, integrated_at: datetime) -> None:
    with db_session(engine) as s:
        add_store(
            s,
            name,
            marketplace_id=MARKET,
            endpoint=emu.base_url,
            token_url=emu.token_url,
            integrated_at=integrated_at,
            api_lag_seconds=API_LAG,
        )


@pytest.fixture
def sync_emulator(emulator_factory, monkeypatch) -> Emulator:
    """The emulator with Amazon's visibility delay (= the store's api_lag), fast usage plans."""
    emu = emulator_factory(visibility_delay=API_LAG, min_before_age=API_LAG)
    _emulator_env(monkeypatch, emu)
    return emu


@pytest.fixture
def shop(engine, sync_emulator, emulator_clock) -> Shop:
    integrated_at = (emulator_clock() - timedelta(days=1)).replace(microsecond=0)
    add_emulated_store(engine, sync_emulator, "acme", integrated_at)
    return Shop(engine, sync_emulator, emulator_clock, integrated_at)


# -- fulfillment: orders to ship, a client that gives up fast ----------------------------------

TEA = "TEA-GRN-100"


def fast_client(shop: Shop) -> AmazonClient:
    """A client of the store with the tests' fast usage plans and retries."""
    return AmazonClient(
        Credentials.from_env(),
        endpoint=shop.emu.base_url,
        token_url=shop.emu.token_url,
        store_name=shop.name,
        plans=FAST_PLANS,
        retry=FAST_RETRIES,
    )


def imported(shop: Shop, *, mugs: int = 2, teas: int = 1, **fields) -> str:
    """An Unshipped FBM order of mugs and tea, synced into the order book; its Amazon id."""
    items = [{"sku": MUG, "title": "Mug", "quantity": mugs, "price": "14.99"}]
    if teas:
        items.append({"sku": TEA, "title": "Tea", "quantity": teas, "price": "9.49"})
    order_id = shop.world.add_order(items=items, **fields)
    shop.later()
    shop.sync()
    return order_id
