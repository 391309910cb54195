"""Ship, cancel and comment from the dashboard: the order page and Orders awaiting shipment.

Every action is one call to `ordertools.fulfillment`, which validates it, changes the order book
and hands the change for Amazon to the outbox. These widgets only collect the input, show the
result (or, when the action is refused, the reason, in place) and ask the page to read the
database again.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from . import fulfillment, pages
from .awaiting import awaiting_shipment
from .db import LocalOrder
from .errors import OrdertoolsError
from .fulfillment import CANCEL_REASONS, CARRIERS
from .outbox import list_outbox
from .pages import CSS
from .statuses import CLOSED_LOCAL_STATUSES
from .widgets import Dashboard, Section, order_page_parts, say

RECENT_OUTBOX = 5
WIDE = {"description_width": "8em"}


def _units_left(local: LocalOrder) -> dict[str, int]:
    """SKU -> units still to ship (one SKU on several lines ships as one quantity)."""
    left: dict[str, int] = {}
    for item in local.items:
        sku = item.sku or "?"
        left[sku] = left.get(sku, 0) + item.quantity - item.quantity_shipped
    return {sku: n for sku, n in left.items() if n > 0}


class OrderActions(widgets.VBox):
    """Ship (carrier, tracking, method, units per SKU) and Cancel (a reason) for one order."""

    def __init__(
        self,
        dash: Dashboard,
        order: str,
        on_done: Callable[[], None] | None = None,
        *,
        local: LocalOrder | None = None,
    ):
        """`local`: the order's local order with its items loaded, when the caller has it."""
        self.dash, self.order, self.on_done = dash, order, on_done or (lambda: None)
        if local is None:
            with dash.session() as session:
                local = fulfillment.find_local_order(session, order, dash.store_name)
                self.left = _units_left(local)
        else:
            self.left = _units_left(local)
        self.number = local.number

        self.carrier = widgets.Dropdown(
            options=[("Choose…", "")] + [(c, c) for c in CARRIERS],
            description="Carrier",
            style=WIDE,
        )
        self.carrier_name = widgets.Text(
            description="Carrier name", placeholder="with Other", style=WIDE
        )
        self.tracking = widgets.Text(description="Tracking", style=WIDE)
        self.method = widgets.Text(
            description="Method", placeholder="optional, e.g. Ground", style=WIDE
        )
        # Units per SKU, everything left by default; lower one for a partial shipment.
        self.units = {
            sku: widgets.BoundedIntText(value=n, min=0, max=n, description=sku, style=WIDE)
            for sku, n in self.left.items()
        }
        self.ship_button = widgets.Button(description="Ship", icon="truck", button_style="primary")
        self.reason = widgets.Dropdown(
            options=[("Choose a reason…", "")] + [(r, r) for r in CANCEL_REASONS],
            description="Cancel reason",
            style=WIDE,
        )
        self.cancel_button = widgets.Button(description="Cancel order", button_style="danger")
        self.message = widgets.HTML()
        self.ship_button.on_click(lambda _: self.ship())
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__(
            [
                widgets.HTML(f"<b>Ship order {pages.e(self.number)}</b>"),
                widgets.HBox([self.carrier, self.carrier_name]),
                widgets.HBox([self.tracking, self.method]),
                widgets.HBox(list(self.units.values()), layout={"flex_flow": "row wrap"}),
                self.ship_button,
                widgets.HTML("<b>Or cancel it</b> (only while Amazon shows it Unshipped)"),
                widgets.HBox([self.reason, self.cancel_button]),
                self.message,
            ]
        )

    def items(self) -> dict[str, int] | None:
        """SKU -> units to ship; None ships everything left (fulfillment's default)."""
        chosen = {sku: box.value for sku, box in self.units.items()}
        if chosen == self.left:
            return None
        if not any(chosen.values()):
            raise fulfillment.FulfillmentRefused("choose at least one unit to ship")
        return {sku: n for sku, n in chosen.items() if n}

    def ship(self) -> fulfillment.ActionResult | None:
        return self._act(
            "Shipped",
            lambda: fulfillment.ship(
                self.dash.engine,
                self.number,
                store=self.dash.store_name,
                carrier=self.carrier.value,
                carrier_name=self.carrier_name.value or None,
                tracking=self.tracking.value,
                method=self.method.value.strip() or None,
                items=self.items(),
                client=self.dash.client,
                clock=self.dash.clock,
            ),
        )

    def cancel(self) -> fulfillment.ActionResult | None:
        return self._act(
            "Canceled",
            lambda: fulfillment.cancel(
                self.dash.engine,
                self.number,
                store=self.dash.store_name,
                reason=self.reason.value,
                client=self.dash.client,
                clock=self.dash.clock,
            ),
        )

    def _act(self, done: str, action) -> fulfillment.ActionResult | None:
        # Greyed out while Amazon is called: a second click would ship a second package.
        self.ship_button.disabled = self.cancel_button.disabled = True
        try:
            result = action()
        except OrdertoolsError as exc:  # refused: the reason, in place
            say(self.message, exc, error=True)
            return None
        finally:
            self.ship_button.disabled = self.cancel_button.disabled = False
        say(self.message, f"{done}: {result.summary()}", error=result.outbox_state == "failed")
        self.on_done()
        return result


class OrderView(Section):
    """The order page as widgets: the page, an Add comment box, and Ship / Cancel while open."""

    title = "Order"

    def __init__(self, dash: Dashboard, order: str, on_change: Callable[[], None] | None = None):
        self.dash, self.order = dash, order
        self.on_change = on_change or (lambda: None)  # e.g. the dashboard's refresh
        self.page = widgets.HTML()
        self.comment = widgets.Textarea(placeholder="A comment for the team", rows=2)
        self.comment_button = widgets.Button(description="Add comment", icon="comment")
        self.comment_button.on_click(lambda _: self.add_comment())
        self.message = widgets.HTML()
        self.actions_box = widgets.VBox()
        self.actions: OrderActions | None = None
        super().__init__([self.page, self.actions_box])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            # NotFound: no such order. No local order: view only, nothing to comment on or ship.
            self.page.value, local = order_page_parts(session, self.dash, self.order)
            is_open = local is not None and local.status not in CLOSED_LOCAL_STATUSES
            if is_open:
                _units_left(local)  # loads the items while the session is open
        children = []
        if local is not None:
            children.append(widgets.HBox([self.comment, self.comment_button, self.message]))
        if not is_open:
            self.actions = None  # shipped or canceled: nothing left to do here
        else:
            # Built afresh: the units left to ship change with every shipment.
            message = self.actions.message.value if self.actions else ""
            if self.actions is not None:
                self.actions.close()
            self.actions = OrderActions(self.dash, self.order, on_done=self._changed, local=local)
            self.actions.message.value = message
            children.append(self.actions)
        self.actions_box.children = children

    def add_comment(self) -> None:
        try:
            fulfillment.add_comment(
                self.dash.engine, self.order, self.comment.value, store=self.dash.store_name
            )
        except OrdertoolsError as exc:
            say(self.message, exc, error=True)
            return
        self.comment.value = ""
        say(self.message, "Comment added.")
        self.refresh()

    def _changed(self) -> None:
        self.refresh()
        self.on_change()

    def snapshot(self) -> str:
        return self.page.value.removeprefix(CSS)


class AwaitingShipment(Section):
    """Orders awaiting shipment, with Ship and Cancel for the order chosen."""

    title = "Orders awaiting shipment"

    def __init__(self, dash: Dashboard, on_change: Callable[[], None] | None = None):
        self.dash = dash
        self.on_change = on_change or self.refresh  # the dashboard passes its own refresh
        self.orders = []
        self.table = widgets.HTML()
        self.choose = widgets.Dropdown(description="Order", style=WIDE)
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
        self.table.value = CSS + pages.awaiting_table(self.orders, self.dash.show)
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
