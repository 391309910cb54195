"""The store cards: `notebooks/stores.ipynb`, the landing page of `ordertools serve`.

One card per store, in name order: its name, its marketplace with a link to its Seller Central,
whether Amazon orders import, how its last sync went, how many orders wait to be shipped, and
**View Store**, which opens its dashboard. Everything is read through the same queries as the
dashboard's own sections (so a card's counts are the dashboard's), and every piece of store or
Amazon text is escaped.

**View Store** is a relative link (`store_dashboard.ipynb?store=NAME`): the pages are siblings
under Voila's `voila/render/`, so it works under any `--base-url` or proxy prefix, and it opens
in the same tab, as moving from page to page does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import ipywidgets as widgets
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ordertools import db
from ordertools.domain.ship_by import ShipByCounts
from ordertools.domain.stores import list_stores
from ordertools.fulfillment.awaiting import ship_by_counts
from ordertools.notebook.base import (
    DASHBOARD_PAGE,
    Section,
    html_widget,
    kernel_engine,
    parameters,
)
from ordertools.notebook.pages import (
    CSS,
    Display,
    e,
    facts,
    marketplace_words,
    ship_by_summary,
)
from ordertools.queries.links import link
from ordertools.queries.store_data import last_sync, store_data

ADD_STORE = "ordertools store add NAME --marketplace ID"
ADD_STORE_EXAMPLE = "ordertools store add acme-us --marketplace ATVPDKIKX0DER"
EMPTY = (
    '<p class="ordertools-no-stores">No stores yet. Add one with '
    f"<code>{e(ADD_STORE)}</code> (for example <code>{e(ADD_STORE_EXAMPLE)}</code>), then "
    "reload this page.</p>"
)
OUTCOMES = {"success": "succeeded", "failed": "failed", "running": "running"}

CARD_CSS = """<style>
.ordertools-cards {display: flex; flex-wrap: wrap; gap: 16px; align-items: stretch;}
.ordertools-card {border: 1px solid #ccc; border-radius: 6px; padding: 12px 16px; width: 390px;
  box-sizing: border-box;
  display: flex; flex-direction: column; background: #fff;}
.ordertools-card h3 {margin: 0 0 8px 0; font-size: 17px;}
.ordertools-card .ordertools-facts {margin-bottom: 12px; width: 100%;}
.ordertools-card .ordertools-facts th, .ordertools-card .ordertools-facts td {line-height: 1.5;}
.ordertools-card .ordertools-facts th {white-space: nowrap;}
.ordertools-card .ordertools-facts a {color: #0066c0; white-space: nowrap;}
.ordertools-card .ordertools-failed {color: #b00; font-weight: bold;}
a.ordertools-view-store {margin-top: auto; align-self: flex-start; padding: 5px 14px;
  border-radius: 4px; background: #2196f3; color: #fff; text-decoration: none;
  font-weight: bold;}
a.ordertools-view-store:hover {background: #1976d2;}
</style>"""


@dataclass(frozen=True)
class LastSync:
    started_at: datetime
    outcome: str  # "success", "failed" or "running"
    error: str | None


@dataclass(frozen=True)
class StoreCard:
    """What one card shows; the text is raw (escaped when rendered)."""

    name: str
    marketplace: str  # "Amazon.com (US)"; the marketplace id when ordertools does not know it
    seller_central: str  # the Seller Central home page, https://<domain>/
    import_enabled: bool
    last_sync: LastSync | None  # None: never synced
    awaiting_shipment: int  # Unshipped and Partially Shipped orders since the integration
    ship_by: ShipByCounts | None = None  # of those, the ones overdue or due soon


def store_cards(session: Session, now: datetime | None = None) -> list[StoreCard]:
    """One card per store, in name order; ship-by dates judged at `now` (default: now)."""
    now = now or datetime.now(UTC)
    cards = []
    for store in list_stores(session):
        run = last_sync(session, store)
        cards.append(
            StoreCard(
                name=store.name,
                marketplace=marketplace_words(store.marketplace_id),
                seller_central=f"https://{store.seller_central_domain}/",
                import_enabled=store.import_enabled,
                last_sync=run and LastSync(run.started_at, run.outcome, run.error),
                awaiting_shipment=store_data(session, store).awaiting_shipment,
                ship_by=ship_by_counts(session, store, now),
            )
        )
    return cards


def dashboard_href(store: str, time_zone: str | None = None) -> str:
    """The store's dashboard, relative to this page; a chosen time zone goes along."""
    query = {"store": store, **({"time_zone": time_zone} if time_zone else {})}
    return f"{DASHBOARD_PAGE}?{urlencode(query)}"


def _synced(run: LastSync | None, show: Display) -> str:
    if run is None:
        return "never"
    outcome = e(OUTCOMES.get(run.outcome, run.outcome))
    if run.outcome == "failed":
        outcome = f'<span class="ordertools-failed">{outcome}</span>'
    why = f" ({e(run.error)})" if run.error else ""
    return f"{show.wall_clock(run.started_at)}: {outcome}{why}"


def card_html(card: StoreCard, show: Display, time_zone: str | None = None) -> str:
    n = card.awaiting_shipment
    rows = [
        (
            "Marketplace",
            f"{e(card.marketplace)} · {link('Seller Central', card.seller_central)}",
        ),
        ("Import Amazon Orders", f"<b>{'Enabled' if card.import_enabled else 'Disabled'}</b>"),
        ("Last sync", _synced(card.last_sync, show)),
        ("Awaiting shipment", f"{n} order{'' if n == 1 else 's'}"),
    ]
    if card.ship_by is not None:
        rows.append(("Ship-by dates", ship_by_summary(card.ship_by, hint=False)))
    href = e(dashboard_href(card.name, time_zone))
    return (
        f'<div class="ordertools-card" data-store="{e(card.name)}">'
        f"<h3>{e(card.name)}</h3>{facts(rows)}"
        f'<a class="ordertools-view-store" href="{href}">View Store</a></div>'
    )


def cards_html(cards: list[StoreCard], show: Display, time_zone: str | None = None) -> str:
    if not cards:
        return EMPTY
    body = "".join(card_html(card, show, time_zone) for card in cards)
    # One zone for every card (the reader's, or ?time_zone=): the stores' own zones differ.
    zone = f'<p class="ordertools-muted">Dates and times in {e(show.tz_name)}.</p>'
    return f'{zone}<div class="ordertools-cards">{body}</div>'


class StoreCards(Section):
    """The store cards, read again with **Refresh** (`load` builds them for the page: a
    widget's own `open` is ipywidgets' to create its model)."""

    title = "Stores"

    def __init__(self, engine: Engine, show: Display | None = None, time_zone: str | None = None):
        self.engine = engine
        self.show = show or Display.for_user(time_zone)
        self.time_zone = time_zone  # passed on to the dashboards the cards open
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.body = html_widget()
        super().__init__([self.refresh_button, self.body])
        self.refresh()

    @classmethod
    def load(cls, time_zone: str | None = None) -> StoreCards:
        """The cards of the order book `ORDERTOOLS_DB` names (or the default); under Voila,
        `?time_zone=...` in the page's address wins over the argument."""
        chosen = parameters(time_zone=time_zone)["time_zone"]
        return cls(kernel_engine(), Display.for_user(chosen), chosen)

    def cards(self) -> list[StoreCard]:
        with db.session(self.engine) as session:
            return store_cards(session)

    def refresh(self) -> None:
        self.body.value = CSS + CARD_CSS + cards_html(self.cards(), self.show, self.time_zone)

    def snapshot(self) -> str:
        return self.body.value.removeprefix(CSS)
