"""The store dashboard as ipywidgets, for JupyterLab and Voila.

`StoreDashboard.open("acme-us")` builds every section of `notebooks/store_dashboard.ipynb`; each
is displayed in its own cell. The sections call `dashboard`, `stores` and `sync` and keep no state
of their own beyond what is on screen: the database is the one source of truth, so a setting is
saved the moment it changes and a page of orders is always one query.

Each section also carries a static HTML snapshot in its output (`Section._repr_mimebundle_`):
readers without a widget manager (GitHub, nbconvert) see the tables, and nbval, which skips
widget views, compares them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import ipywidgets as widgets
from IPython.display import HTML
from sqlalchemy.engine import Engine

from . import db, fulfillment, pages
from .amazon.client import AmazonClient
from .dashboard import (
    delivery_address,
    last_sync,
    order_detail,
    query_orders,
    revenue,
    store_data,
)
from .errors import OrdertoolsError
from .formats import DEFAULT_COLUMNS
from .notebooks import parameters
from .pages import CSS, Display
from .stores import get_store, seller_central_url, update_settings
from .sync import sync_store

RECENT_ORDERS_LIMIT = 10


class Dashboard:
    """What every section shares: the order book, the store's name, how to show dates."""

    def __init__(
        self,
        engine: Engine,
        store: str,
        *,
        show: Display | None = None,
        clock: Callable[[], datetime] | None = None,
        client: AmazonClient | None = None,
        progress: bool = True,
    ):
        self.engine = engine
        self.store_name = store
        self.show = show or Display.for_user()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.client = client  # None: the store's own endpoint and credentials
        self.progress = progress
        with self.session() as session:
            get_store(session, store)  # fail now, with the list of stores, on a wrong name

    def session(self):
        return db.session(self.engine)

    def store(self, session):
        return get_store(session, self.store_name)


class Section(widgets.VBox):
    """A dashboard section whose output also holds a static HTML snapshot of it."""

    title = ""

    def snapshot(self) -> str:
        raise NotImplementedError

    def refresh(self) -> None:
        """Read the database again."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{self.title} (interactive in JupyterLab or Voila)"
        bundle["text/html"] = CSS + self.snapshot()
        return bundle


def _html(value: str = "") -> widgets.HTML:
    return widgets.HTML(value)


def say(html: widgets.HTML, text: object, *, error: bool = False) -> None:
    """Show a one-line message (escaped) in a section's message area: red for an error."""
    style = "color:#b00" if error else "color:#060"
    html.value = f'<span style="{style}">{pages.e(text)}</span>'


class StoreHeader(Section):
    title = "Store"

    def __init__(self, dash: Dashboard, on_synced: Callable[[], None]):
        self.dash = dash
        self.on_synced = on_synced
        self.info = _html()
        self.sync_button = widgets.Button(
            description="Sync now", icon="refresh", button_style="primary"
        )
        self.sync_button.on_click(lambda _: self.sync())
        self.progress = widgets.Output()  # the sync's tqdm bar appears here, in place
        self.message = _html()
        super().__init__([self.info, widgets.HBox([self.sync_button, self.message]), self.progress])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            store = self.dash.store(session)
            self.info.value = CSS + pages.store_header(
                store, last_sync(session, store), self.dash.show
            )

    def sync(self) -> None:
        self.sync_button.disabled = True
        self.message.value = "Syncing…"
        try:
            with self.progress:
                report = sync_store(
                    self.dash.engine,
                    self.dash.store_name,
                    client=self.dash.client,
                    clock=self.dash.clock,
                    progress=self.dash.progress,
                    wait=False,
                )
            self.message.value = pages.e(
                "Synced: " + ", ".join(f"{n} {k}" for k, n in report.counts().items())
            )
        except OrdertoolsError as exc:
            say(self.message, exc, error=True)
        finally:
            self.sync_button.disabled = False
            self.progress.clear_output()
        self.on_synced()

    def snapshot(self) -> str:
        return self.info.value.removeprefix(CSS)


IMPORT_MEANING = {
    True: "Enabled: each Amazon order becomes a local order once Amazon has verified payment "
    "(FBA orders once Amazon has shipped them).",
    False: "Disabled: no local orders are created; new orders still show in Recent Orders, view "
    "only, and their number links to Seller Central.",
}


class OrderSettings(Section):
    """Import Amazon Orders and the other Order Settings, each saved the moment it changes."""

    title = "Order Settings"

    def __init__(self, dash: Dashboard):
        self.dash = dash
        wide = {"description_width": "initial"}
        self.import_toggle = widgets.ToggleButtons(
            options=[("Enabled", True), ("Disabled", False)],
            description="Import Amazon Orders",
            style=wide,
        )
        self.meaning = _html()
        self.customer_creation = widgets.Dropdown(
            options=[("Guest orders", "guest"), ("Create customer accounts", "create")],
            description="Customer creation",
            style=wide,
        )
        self.order_number_source = widgets.Dropdown(
            options=[("Local numbers", "local"), ("Amazon's order number", "amazon")],
            description="Order number",
            style=wide,
        )
        self.reserve_quantity = widgets.Checkbox(description="Reserve quantity", indent=False)
        self.new_order_status = widgets.Text(
            description="Status for new imports", style=wide, continuous_update=False
        )
        self.message = _html()
        self.others = {
            "customer_creation": self.customer_creation,
            "order_number_source": self.order_number_source,
            "reserve_quantity": self.reserve_quantity,
            "new_order_status": self.new_order_status,
        }
        super().__init__(
            [
                widgets.HBox([self.import_toggle]),
                self.meaning,
                widgets.HBox([self.customer_creation, self.order_number_source]),
                widgets.HBox([self.reserve_quantity, self.new_order_status]),
                self.message,
            ]
        )
        self._loading = False
        self.refresh()
        self.import_toggle.observe(lambda c: self._save("import_enabled", c), "value")
        for name, control in self.others.items():
            control.observe(lambda c, name=name: self._save(name, c), "value")

    def refresh(self) -> None:
        self._loading = True
        try:
            with self.dash.session() as session:
                store = self.dash.store(session)
                self.import_toggle.value = store.import_enabled
                for name, control in self.others.items():
                    control.value = getattr(store, name)
        finally:
            self._loading = False
        self._show_state()

    def _show_state(self) -> None:
        enabled = self.import_toggle.value
        self.meaning.value = f"<i>{pages.e(IMPORT_MEANING[enabled])}</i>"
        for control in self.others.values():  # greyed out while import is disabled
            control.disabled = not enabled

    def _save(self, name: str, change) -> None:
        if self._loading:
            return
        try:
            with self.dash.session() as session:
                update_settings(session, self.dash.store_name, **{name: change["new"]})
        except OrdertoolsError as exc:
            say(self.message, exc, error=True)
            self.refresh()
            return
        self.message.value = '<span class="ordertools-muted">Saved.</span>'
        self._show_state()

    def snapshot(self) -> str:
        values = {name: control.value for name, control in self.others.items()}
        state = "Enabled" if self.import_toggle.value else "Disabled"
        rows = [("Import Amazon Orders", f"<b>{state}</b>: {pages.e(self.meaning_text())}")]
        rows += [(name.replace("_", " ").capitalize(), pages.e(v)) for name, v in values.items()]
        return pages.facts(rows)

    def meaning_text(self) -> str:
        return IMPORT_MEANING[self.import_toggle.value]


class StoreDataSection(Section):
    title = "Store Data"

    def __init__(self, dash: Dashboard):
        self.dash = dash
        self.body = _html()
        super().__init__([self.body])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            data = store_data(session, self.dash.store(session))
        self.body.value = CSS + pages.store_data(data, self.dash.show)

    def snapshot(self) -> str:
        return self.body.value.removeprefix(CSS)


class RevenueSection(Section):
    title = "Revenue"

    def __init__(self, dash: Dashboard):
        self.dash = dash
        self.days = widgets.ToggleButtons(options=[("7 days", 7), ("30 days", 30)], value=7)
        self.chart = _html()
        super().__init__([self.days, self.chart])
        self.days.observe(lambda _: self.refresh(), "value")
        self.refresh()

    def series(self):
        with self.dash.session() as session:
            return revenue(
                session,
                self.dash.store(session),
                days=self.days.value,
                now=self.dash.clock(),
                tz=self.dash.show.tz,
            )

    def refresh(self) -> None:
        self.chart.value = pages.revenue_chart(self.series(), self.dash.show)

    def snapshot(self) -> str:
        # The chart moves with today's date; the snapshot says what the live chart shows.
        return f"<p>Sales per day over the last {self.days.value} days, one chart per currency.</p>"


class RecentOrders(Section):
    """The seed's Recent Orders: default columns, newest first, Pending hidden."""

    title = "Recent Orders"

    def __init__(self, dash: Dashboard, limit: int = RECENT_ORDERS_LIMIT):
        self.dash = dash
        self.limit = limit
        self.table = _html()
        super().__init__([self.table])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            records = query_orders(session, self.dash.store(session), limit=self.limit)
        columns = [key for key, _ in DEFAULT_COLUMNS]
        self.table.value = CSS + self.dash.show.orders_table(records, columns)

    def snapshot(self) -> str:
        return self.table.value.removeprefix(CSS)


class StoreDashboard:
    """Every section of the store dashboard, built on one store."""

    def __init__(self, dash: Dashboard):
        # The bigger sections have modules of their own, built on this one.
        from .all_orders import AllOrders
        from .order_actions import AwaitingShipment
        from .run_history import RunHistory

        self.dash = dash
        self.header = StoreHeader(dash, on_synced=self.refresh)
        self.settings = OrderSettings(dash)
        self.store_data = StoreDataSection(dash)
        self.revenue = RevenueSection(dash)
        # A shipment or cancellation changes counts, Recent Orders and All Orders: all refresh.
        self.awaiting = AwaitingShipment(dash, on_change=self.refresh)
        self.recent_orders = RecentOrders(dash)
        self.all_orders = AllOrders(dash, on_change=self.refresh)
        self.run_history = RunHistory(dash)

    @classmethod
    def open(cls, store: str, time_zone: str | None = None, **options) -> StoreDashboard:
        """The dashboard of `store` on the order book `ORDERTOOLS_DB` names (or the default).

        Under Voila, `?store=...&time_zone=...` in the page's address win over the arguments.
        """
        chosen = parameters(store=store, time_zone=time_zone)
        dash = Dashboard(
            _engine(), chosen["store"], show=Display.for_user(chosen["time_zone"]), **options
        )
        return cls(dash)

    @property
    def sections(self) -> list[Section]:
        return [
            self.header,
            self.settings,
            self.store_data,
            self.revenue,
            self.awaiting,
            self.recent_orders,
            self.all_orders,
            self.run_history,
        ]

    def refresh(self) -> None:
        for section in self.sections:
            section.refresh()


_ENGINES: dict[str, Engine] = {}


def _engine() -> Engine:
    """One engine per order book per kernel: every section and the order page share it."""
    url = db.default_url()
    if url not in _ENGINES:
        _ENGINES[url] = db.connect(url)
    return _ENGINES[url]


def order_page_html(dash: Dashboard, order: str) -> str:
    with dash.session() as session:
        return order_page_parts(session, dash, order)[0]


def order_page_parts(session, dash: Dashboard, order: str):
    """The order page's HTML and the local order (None for a view-only order), from one
    session: the order page reads its local order once per refresh."""
    store = dash.store(session)
    detail = order_detail(session, store, order)
    address = delivery_address(session, store, detail["order_number"])
    seller_central = seller_central_url(store, detail["order_number"])
    local = activity = None
    if detail["local_order"] is not None:  # shipments and what was sent to Amazon
        local = fulfillment.find_local_order(session, detail["order_number"], store.name)
        activity = fulfillment.order_activity(session, local)
    return pages.order_page(detail, address, dash.show, seller_central, activity), local


def order_page(store: str, order: str, time_zone: str | None = None):
    """`notebooks/order.ipynb`: one order, whatever its status (Voila: `?store=..&order=..`),
    with Add comment and, while it is open, Ship and Cancel."""
    from .order_actions import OrderView  # built on this module's Section

    chosen = parameters(store=store, order=order, time_zone=time_zone)
    dash = Dashboard(_engine(), chosen["store"], show=Display.for_user(chosen["time_zone"]))
    try:
        return OrderView(dash, chosen["order"])
    except OrdertoolsError as exc:
        return HTML(f"<p><b>{pages.e(exc)}</b></p>")


def download_link(label: str, filename: str, mime: str, content: bytes) -> str:
    """A link that saves `content` as `filename`: no server round trip, works under Voila."""
    data = base64.b64encode(content).decode()
    return (
        f'<a download="{pages.e(filename)}" href="data:{mime};base64,{data}" '
        f'class="ordertools-download">{pages.e(label)}</a>'
    )
