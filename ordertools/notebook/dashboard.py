"""The store dashboard as ipywidgets, for JupyterLab and Voila.

`StoreDashboard.open("acme-us")` builds every section of `notebooks/store_dashboard.ipynb`; each
is displayed in its own cell. The sections call `ordertools.queries`, `domain.stores` and
`ordertools.sync` and keep no state of their own beyond what is on screen: the database is the
one source of truth, so a setting is saved the moment it changes and a page of orders is always
one query. The small sections live here; All Orders, the shipping queue and run history have
modules of their own, all built on `notebook.base`.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ordertools.domain.stores import update_settings
from ordertools.errors import ConfigurationError, OrdertoolsError
from ordertools.fulfillment.awaiting import ship_by_counts
from ordertools.notebook import pages
from ordertools.notebook.all_orders import AllOrders
from ordertools.notebook.awaiting import AwaitingShipment
from ordertools.notebook.base import (
    Dashboard,
    Section,
    Unavailable,
    first_store,
    html_widget,
    kernel_engine,
    parameters,
    say,
)
from ordertools.notebook.pages import CSS
from ordertools.notebook.run_history import RunHistory
from ordertools.queries.exports import DEFAULT_COLUMNS
from ordertools.queries.orders import query_orders
from ordertools.queries.stock import low_stock
from ordertools.queries.store_data import last_reconciliation, last_sync, revenue, store_data
from ordertools.sync.listen import liveness
from ordertools.sync.run import sync_store

RECENT_ORDERS_LIMIT = 10
STOCK_THRESHOLD = 5  # the Stock section lists products with at most this many available
STOCK_LIMIT = 50  # ...the lowest this many of them


class StoreHeader(Section):
    title = "Store"

    def __init__(self, dash: Dashboard, on_synced: Callable[[], None]):
        self.dash = dash
        self.on_synced = on_synced
        self.info = html_widget()
        self.sync_button = widgets.Button(
            description="Sync now", icon="refresh", button_style="primary"
        )
        self.sync_button.on_click(lambda _: self.sync())
        self.progress = widgets.Output()  # the sync's tqdm bar appears here, in place
        self.message = html_widget()
        super().__init__([self.info, widgets.HBox([self.sync_button, self.message]), self.progress])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            store = self.dash.store(session)
            self.info.value = CSS + pages.store_header(
                store,
                last_sync(session, store),
                self.dash.show,
                last_reconciliation(session, store),
                liveness(session, store).words(self.dash.clock()),
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
        self.meaning = html_widget()
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
        self.message = html_widget()
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
        self.body = html_widget()
        super().__init__([self.body])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            store = self.dash.store(session)
            data = store_data(session, store)
            late = ship_by_counts(session, store, self.dash.clock())
        self.body.value = CSS + pages.store_data(data, self.dash.show, late)

    def snapshot(self) -> str:
        return self.body.value.removeprefix(CSS)


class RevenueSection(Section):
    title = "Revenue"

    def __init__(self, dash: Dashboard):
        self.dash = dash
        self.days = widgets.ToggleButtons(options=[("7 days", 7), ("30 days", 30)], value=7)
        self.chart = html_widget()
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


class StockSection(Section):
    """Products running out: available at or below a threshold, oversold first, with the orders
    holding them. Products (and so stock) are shared by every store; so are the holders."""

    title = "Stock"

    def __init__(self, dash: Dashboard, threshold: int = STOCK_THRESHOLD, limit: int = STOCK_LIMIT):
        self.dash = dash
        self.limit = limit
        self.threshold = widgets.BoundedIntText(
            value=threshold,
            min=0,
            max=1_000_000,
            description="Available at most",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="200px"),
        )
        self.table = html_widget()
        super().__init__([self.threshold, self.table])
        self.threshold.observe(lambda _: self.refresh(), "value")
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            stock = low_stock(session, low=self.threshold.value, limit=self.limit)
        self.table.value = CSS + pages.stock_table(stock, self.dash.store_name)

    def snapshot(self) -> str:
        return self.table.value.removeprefix(CSS)


class RecentOrders(Section):
    """The seed's Recent Orders: default columns, newest first, Pending hidden."""

    title = "Recent Orders"

    def __init__(self, dash: Dashboard, limit: int = RECENT_ORDERS_LIMIT):
        self.dash = dash
        self.limit = limit
        self.table = html_widget()
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
        self.dash = dash
        self.header = StoreHeader(dash, on_synced=self.refresh)
        self.settings = OrderSettings(dash)
        self.store_data = StoreDataSection(dash)
        self.revenue = RevenueSection(dash)
        # A shipment or cancellation changes counts, Recent Orders and All Orders: all refresh.
        self.awaiting = AwaitingShipment(dash, on_change=self.refresh)
        self.stock = StockSection(dash)
        self.recent_orders = RecentOrders(dash)
        self.all_orders = AllOrders(dash, on_change=self.refresh)
        self.run_history = RunHistory(dash)

    @classmethod
    def open(
        cls, store: str, time_zone: str | None = None, **options
    ) -> StoreDashboard | Unavailable:
        """The dashboard of `store` on the order book `ORDERTOOLS_DB` names (or the default).

        Under Voila, `?store=...&time_zone=...` in the page's address win over the arguments.
        A store the order book lacks (or an unknown time zone) opens an `Unavailable` page.
        """

        def rehearse() -> None:
            engine = kernel_engine()
            if (any_store := first_store(engine)) is not None:
                cls(Dashboard(engine, any_store, time_zone=time_zone, **options))

        chosen = parameters(store=store, time_zone=time_zone, rehearse=rehearse)
        try:
            dash = Dashboard(
                kernel_engine(), chosen["store"], time_zone=chosen["time_zone"], **options
            )
        except ConfigurationError as exc:  # no such store, or no such time zone: say which
            return Unavailable(exc)
        return cls(dash)

    @property
    def sections(self) -> list[Section]:
        return [
            self.header,
            self.settings,
            self.store_data,
            self.revenue,
            self.awaiting,
            self.stock,
            self.recent_orders,
            self.all_orders,
            self.run_history,
        ]

    def refresh(self) -> None:
        for section in self.sections:
            section.refresh()
