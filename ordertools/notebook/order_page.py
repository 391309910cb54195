"""`notebooks/order.ipynb`: one order's page, with Add comment and, while open, Ship and Cancel."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
from IPython.display import HTML

from ordertools import fulfillment
from ordertools.domain.local_orders import units_left_by_sku
from ordertools.domain.statuses import CLOSED_LOCAL_STATUSES
from ordertools.domain.stores import seller_central_url
from ordertools.errors import OrdertoolsError
from ordertools.notebook import pages
from ordertools.notebook.base import Dashboard, Section, kernel_engine, parameters, say
from ordertools.notebook.order_actions import OrderActions
from ordertools.notebook.pages import CSS, Display
from ordertools.queries.detail import delivery_address, order_detail


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
    page = pages.order_page(detail, address, dash.show, seller_central, activity, dash.clock())
    return page, local


def order_page(store: str, order: str, time_zone: str | None = None):
    """`notebooks/order.ipynb`: one order, whatever its status (Voila: `?store=..&order=..`),
    with Add comment and, while it is open, Ship and Cancel."""
    chosen = parameters(store=store, order=order, time_zone=time_zone)
    dash = Dashboard(kernel_engine(), chosen["store"], show=Display.for_user(chosen["time_zone"]))
    try:
        return OrderView(dash, chosen["order"])
    except OrdertoolsError as exc:
        return HTML(f"<p><b>{pages.e(exc)}</b></p>")


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
            # NotInOrderBook: no such order. No local order: view only, nothing to comment on
            # or ship.
            self.page.value, local = order_page_parts(session, self.dash, self.order)
            is_open = local is not None and local.status not in CLOSED_LOCAL_STATUSES
            if is_open:
                units_left_by_sku(local)  # loads the items while the session is open
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
