"""`notebooks/order.ipynb`: one order's page, with Add comment and, while open, Ship and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import ipywidgets as widgets

from ordertools import fulfillment
from ordertools.domain.local_orders import units_left_by_sku
from ordertools.domain.statuses import CLOSED_LOCAL_STATUSES
from ordertools.domain.stores import seller_central_url
from ordertools.errors import OrdertoolsError
from ordertools.notebook import pages
from ordertools.notebook.base import (
    DASHBOARD_PAGE,
    Dashboard,
    Section,
    Unavailable,
    kernel_engine,
    parameters,
    say,
)
from ordertools.notebook.order_actions import OrderActions
from ordertools.notebook.pages import CSS
from ordertools.queries.detail import delivery_address, order_detail
from ordertools.sync.importing import import_order


def _link_html(words: str, href: str) -> str:
    """A link within the served notebooks: same tab, as going back is."""
    return f'<p>← <a href="{pages.e(href)}">{pages.e(words)}</a></p>'


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
    try:
        dash = Dashboard(kernel_engine(), chosen["store"], time_zone=chosen["time_zone"])
    except OrdertoolsError as exc:  # no such store (or time zone)
        return Unavailable(exc)
    try:
        return OrderView(dash, chosen["order"], back_link=True)
    except OrdertoolsError as exc:  # no such order in this store
        return Unavailable(exc, way=_back(dash))


def _back(dash: Dashboard) -> tuple[str, str]:
    """Words and relative link back to the store's dashboard (the time zone goes along)."""
    query = {"store": dash.store_name}
    if dash.time_zone:
        query["time_zone"] = dash.time_zone
    return f"Back to the dashboard of {dash.store_name}", f"{DASHBOARD_PAGE}?{urlencode(query)}"


class OrderView(Section):
    """The order page as widgets: the page, an Add comment box, and Ship / Cancel while open."""

    title = "Order"

    def __init__(
        self,
        dash: Dashboard,
        order: str,
        on_change: Callable[[], None] | None = None,
        *,
        back_link: bool = False,  # on a page of its own: a link back to the store's dashboard
    ):
        self.dash, self.order = dash, order
        self.on_change = on_change or (lambda: None)  # e.g. the dashboard's refresh
        self.back = widgets.HTML(_link_html(*_back(dash)) if back_link else "")
        self.page = widgets.HTML()
        # A view-only order (received while import was disabled) can be imported from here.
        self.import_button = widgets.Button(
            description="Import as local order", icon="download", button_style="primary"
        )
        self.import_button.on_click(lambda _: self.import_now())
        self.import_message = widgets.HTML()
        self.comment = widgets.Textarea(placeholder="A comment for the team", rows=2)
        self.comment_button = widgets.Button(description="Add comment", icon="comment")
        self.comment_button.on_click(lambda _: self.add_comment())
        self.message = widgets.HTML()
        self.actions_box = widgets.VBox()
        self.actions: OrderActions | None = None
        super().__init__([self.back, self.page, self.actions_box])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            # NotInOrderBook: no such order. No local order: view only, nothing to comment on
            # or ship.
            self.page.value, local = order_page_parts(session, self.dash, self.order)
            is_open = local is not None and local.status not in CLOSED_LOCAL_STATUSES
            if is_open:
                units_left_by_sku(local)  # loads the items while the session is open
            importable = local is None and self.dash.store(session).import_enabled
        children = []
        if importable:  # the import rules still decide: a refusal says why, here
            children.append(widgets.HBox([self.import_button, self.import_message]))
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

    def import_now(self) -> None:
        """Import this view-only order as a local order now (`ordertools import-order`)."""
        try:
            number = import_order(self.dash.engine, self.dash.store_name, self.order, wait=5)
        except OrdertoolsError as exc:
            say(self.import_message, exc, error=True)
            return
        self.refresh()
        say(self.message, f"Imported as local order {number}.")
        self.on_change()

    def _changed(self) -> None:
        self.refresh()
        self.on_change()

    def snapshot(self) -> str:
        return self.page.value.removeprefix(CSS)
