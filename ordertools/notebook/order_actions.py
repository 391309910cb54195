"""Ship, cancel and comment from the dashboard: the order page and Orders awaiting shipment.

Every action is one call to `ordertools.fulfillment`, which validates it, changes the order book
and hands the change for Amazon to the outbox. These widgets only collect the input, show the
result (or, when the action is refused, the reason, in place) and ask the page to read the
database again.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from ordertools import fulfillment
from ordertools.db import LocalOrder
from ordertools.domain.local_orders import units_left_by_sku
from ordertools.errors import OrdertoolsError
from ordertools.fulfillment.actions import CANCEL_REASONS, CARRIERS
from ordertools.notebook import pages
from ordertools.notebook.base import Dashboard, say

WIDE = {"description_width": "8em"}


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
                self.left = units_left_by_sku(local)
        else:
            self.left = units_left_by_sku(local)
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
