"""Many sellers behind one emulator port, as one application sees Amazon.

Amazon meters usage plans per selling partner and application, so an app reads many stores at
once. Here each seller is a whole `EmulatorApp` over its own World, with its own refresh token,
marketplace, usage-plan buckets, faults and stats; they share the application (the config's
client id and secret), the clock and LWA (`Auth`). `SellersApp` in front picks the seller:

- the LWA token endpoint by the form's `refresh_token` (an unknown one goes to the default
  seller, whose LWA refuses it);
- SP-API calls by the refresh token their access token was issued for, so a seller's token can
  only ever reach that seller's orders;
- grantless operations (the Notifications API's destinations) and the admin API: the default
  seller, seller 0 (the config's refresh token and seller id, the scenario's orders);
- `/_sellers/N/...`: seller N's admin API and document URLs (pre-signed URLs carry no token,
  so their path says whose document it is).

Notifications reach only the default seller's subscriptions: the others' would need
destinations the application shares across sellers, which nothing here needs yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from ordertools.amazon.emulator.admin import Admin
from ordertools.amazon.emulator.app import EmulatorApp, serve
from ordertools.amazon.emulator.auth import Auth, AuthFailure, grant_parameters
from ordertools.amazon.emulator.clock import real_clock
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.faults import Faults, Stats
from ordertools.amazon.emulator.scenario import ScenarioStore, apply_scenario
from ordertools.amazon.emulator.world import SEED, World
from ordertools.amazon.models import utc_iso
from ordertools.amazon.regions import marketplace

# Sellers' marketplaces, in turn: every region and a few currencies (JPY has no fraction).
MARKETPLACE_CYCLE = (
    "ATVPDKIKX0DER",  # US, na
    "A1PA6795UKMFR9",  # DE, eu
    "A1VC38T7YXB528",  # JP, fe
    "A1F83G8C2ARO7P",  # UK, eu
    "A2EUQ1WTGCTBG2",  # CA, na
    "A13V1IB3VIYZZH",  # FR, eu
    "A39IBJ37TRP1C6",  # AU, fe
    "APJ6JRA9NG5V4",  # IT, eu
)
ORDER_DAYS = 1.0  # generated orders are placed in the day before the emulator starts
INTEGRATED_BEFORE = timedelta(days=2)  # a seller's store: integrated before all of them
SELLER_PATH = "/_sellers/"
_PER_SELLER = frozenset({"document", "report_document"})  # besides the admin API


def refresh_token_of(index: int) -> str:
    """Seller `index`'s refresh token (not seller 0's: that is the config's); a published demo
    value, like the emulator's client secret."""
    return f"Atzr|emulator-seller-{index:04d}"


@dataclass(eq=False)
class Seller:
    """One selling partner in one marketplace: its orders (`world`), `faults`, `stats` and
    usage-plan buckets (`app.buckets`) are its own."""

    index: int
    seller_id: str
    marketplace_id: str
    region: str
    refresh_token: str
    app: EmulatorApp
    store: ScenarioStore  # the store to add for it (name, marketplace, integrated_at)

    @property
    def world(self) -> World:
        return self.app.world

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def stats(self) -> Stats:
        return self.app.stats

    @property
    def credentials(self) -> dict[str, str]:
        config = self.app.config
        return {
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "refresh_token": self.refresh_token,
        }

    def access_token(self) -> str:
        """A valid access token for this seller without the LWA round trip."""
        return self.app.auth.issue(owner=self.refresh_token)

    def refuse(self) -> None:
        """LWA refuses its refresh token from now on (400 invalid_grant): a revoked grant."""
        self.faults.refuse_grant()

    def throttle(self, operation: str = "searchOrders") -> None:
        """`operation` always answers it 429 QuotaExceeded from now on."""
        self.faults.throttle(operation)

    def malform(self, operation: str = "searchOrders") -> None:
        """`operation` answers it 200 with a body the model does not describe from now on."""
        self.faults.malform(operation)

    def add_orders(self, n: int, **order: Any) -> list[str]:
        """`n` orders placed now in its marketplace (World.add_order arguments in `order`);
        a search sees them after the config's visibility_delay."""
        return [self.world.add_order(marketplace_id=self.marketplace_id, **order) for _ in range(n)]

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seller_id": self.seller_id,
            "marketplace_id": self.marketplace_id,
            "region": self.region,
            "refresh_token": self.refresh_token,
            "store": self.store.name,
            "integrated_at": self.store.integrated_at,
        }


def make_seller(
    index: int,
    config: EmulatorConfig,
    auth: Auth,
    roster: Callable[[], list[dict[str, Any]]],
    *,
    orders: int = 0,
    seed: int = 0,
    scenario: dict[str, Any] | None = None,
) -> Seller:
    """Seller `index` with `orders` generated orders. Seller 0 is the default seller: the
    config's refresh token and seller id, and the `scenario`'s orders and suggested stores."""
    default = index == 0
    clock = config.clock or real_clock
    marketplace_id = MARKETPLACE_CYCLE[index % len(MARKETPLACE_CYCLE)]
    known = marketplace(marketplace_id)
    refresh_token = config.refresh_token if default else refresh_token_of(index)
    # The default seller draws the ids the one-seller emulator always did.
    world = World(clock, config.visibility_delay, seed=SEED if default else _mix(seed, index))
    suggested = apply_scenario(world, scenario or {})
    if orders:
        world.generate(
            orders, seed=_mix(seed, index), marketplace_ids=[marketplace_id], days=ORDER_DAYS
        )
    name = f"seller-{index:04d}-{known.country.lower()}"
    store = ScenarioStore(
        name, marketplace_id, known.region, utc_iso(world.now() - INTEGRATED_BEFORE)
    )
    if not default:
        auth.accept(refresh_token)
    stats, faults = Stats(), Faults(auth, None if default else refresh_token)
    admin = Admin(world, faults, stats, clock, suggested if default else [store], roster)
    # The default seller's documents keep the one-seller emulator's URLs.
    documents_path = "" if default else f"{SELLER_PATH}{index}"
    app = EmulatorApp(world, config, auth, faults, stats, admin, documents_path=documents_path)
    seller_id = config.seller_id if default else f"A2EMUSELLER{index:04d}"
    return Seller(index, seller_id, marketplace_id, known.region, refresh_token, app, store)


def _mix(seed: int, index: int) -> int:
    """A seed of seller `index`'s own, so no two sellers draw the same order ids."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SellersApp:
    """The WSGI app the emulator serves: each request goes to its seller's EmulatorApp."""

    def __init__(self, sellers: list[Seller], auth: Auth):
        self.sellers = sellers
        self.default = sellers[0]
        self._auth = auth
        self._by_refresh_token = {seller.refresh_token: seller for seller in sellers}

    def seller_for(self, refresh_token: str) -> Seller | None:
        return self._by_refresh_token.get(refresh_token)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(SELLER_PATH):
            return serve(environ, start_response, self.dispatch)
        index, _, rest = path.removeprefix(SELLER_PATH).partition("/")
        seller = self._seller_at(index)
        environ["PATH_INFO"] = "/" + rest
        return serve(environ, start_response, partial(self._dispatch_to, seller))

    def dispatch(self, endpoint: str, request: Request, values: dict) -> Response:
        return self._seller(endpoint, request).app.dispatch(endpoint, request, values)

    def _seller(self, endpoint: str, request: Request) -> Seller:
        if endpoint == "token":
            try:
                refresh_token = grant_parameters(request).get("refresh_token")
            except AuthFailure:  # an unreadable body: the default seller's LWA says so
                return self.default
        elif endpoint.startswith("admin.") or endpoint in _PER_SELLER:
            return self.default
        else:
            refresh_token = self._auth.owner(request.headers.get("x-amz-access-token"))
        if not isinstance(refresh_token, str):  # none, a grantless token, or JSON's odd types
            return self.default
        return self._by_refresh_token.get(refresh_token, self.default)

    def _seller_at(self, index: str) -> Seller | None:
        if index.isascii() and index.isdigit() and int(index) < len(self.sellers):
            return self.sellers[int(index)]
        return None

    @staticmethod
    def _dispatch_to(
        seller: Seller | None, endpoint: str, request: Request, values: dict
    ) -> Response:
        """Under /_sellers/N/: only seller N's admin API and documents; Amazon's own routes
        pick the seller by token, never by path."""
        if seller is None or not (endpoint.startswith("admin.") or endpoint in _PER_SELLER):
            raise NotFound()
        return seller.app.dispatch(endpoint, request, values)
