"""Orders awaiting shipment: the dashboard's shipping queue, with a Ship/Cancel form per order."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ordertools.fulfillment.awaiting import awaiting_shipment
from ordertools.fulfillment.outbox import list_outbox
from ordertools.notebook import pages
from ordertools.notebook.base import Dashboard, Section
from ordertools.notebook.order_actions import WIDE, OrderActions
from ordertools.notebook.pages import CSS

RECENT_OUTBOX = 5


class AwaitingShipment(Section):
    """Orders awaiting shipment, with Ship and Cancel for the order chosen."""

    title = "Orders awaiting shipment"

    def __init__(self, dash: Dashboard, on_change: Callable[[], None] | None = None):
        self.dash = dash
        self.on_change = on_change or self.refresh  # the dashboard passes its own refresh
        self.orders = []
        self.table = widgets.HTML()
        # As wide as its longest choice (order number and buyer), not cut at ipywidgets' 300px.
        self.choose = widgets.Dropdown(
            description="Order", style=WIDE, layout=widgets.Layout(width="max-content")
        )
        self.actions_box = widgets.VBox()
        self.actions: OrderActions | None = None
        self.message = widgets.HTML()  # survives the refresh after an action
        self.outbox = widgets.HTML()
        super().__init__(
            [
                self.table,
                self.choose,
                self.actions_box,
                self.message,
                widgets.HTML("<b>Latest changes sent to Amazon</b>"),
                self.outbox,
            ]
        )
        self._loading = False
        self.choose.observe(lambda c: self.choose_order(c["new"]), "value")
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            self.orders = awaiting_shipment(session, self.dash.store(session))
        now = self.dash.clock()
        self.table.value = CSS + pages.awaiting_table(self.orders, self.dash.show, now)
        entries = list_outbox(self.dash.engine, self.dash.store_name, limit=RECENT_OUTBOX)
        self.outbox.value = pages.outbox(entries, self.dash.show)
        chosen = self.choose.value
        still_there = any(o.order_number == chosen for o in self.orders)
        self._loading = True  # new options reset the value: one form at the end, not three
        try:
            # "", not None: a Dropdown shows None as no selection, hiding the prompt.
            self.choose.options = [("Choose an order to ship or cancel…", "")] + [
                (f"{o.order_number} · {o.buyer_name or 'no name'}", o.order_number)
                for o in self.orders
            ]
            self.choose.value = chosen if still_there else ""
        finally:
            self._loading = False
        self._show_form(self.choose.value)

    def choose_order(self, order: str) -> None:
        """Show the Ship / Cancel form of `order` ("": hide it), as choosing it does."""
        if self._loading:
            return
        self.message.value = ""
        self._show_form(order)

    def _show_form(self, order: str) -> None:
        # Built afresh after every refresh: the units left to ship may have changed.
        if self.actions is not None:
            self.actions.close()
        self.actions = OrderActions(self.dash, order, self._done) if order else None
        self.actions_box.children = [self.actions] if self.actions else []

    def _done(self) -> None:
        # The form's message goes with the form once the order leaves the list: keep it here.
        self.message.value = self.actions.message.value if self.actions else ""
        self.on_change()

    def snapshot(self) -> str:
        return self.table.value.removeprefix(CSS) + self.outbox.value
