"""All Orders: the Sales Channel's workspace controls as ipywidgets.

Filters with Apply / Clear all and the active filters shown, a Columns control, saved views,
sort, pagination, Export of exactly the shown rows and columns, and an order's details in place.
Every page is one `query_orders` call plus one `count_orders` call (capped: "10,000+" beyond):
nothing is loaded into memory beyond the rows on screen, whatever the size of the order book.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import ipywidgets as widgets

from ordertools.domain.statuses import STATUS_WORDS, parse_status_filter
from ordertools.errors import OrdertoolsError
from ordertools.notebook import pages
from ordertools.notebook.base import Dashboard, Section, download_link, say
from ordertools.notebook.order_page import OrderView
from ordertools.notebook.pages import CSS
from ordertools.queries.exports import (
    DEFAULT_COLUMNS,
    HEADINGS,
    OPTIONAL_COLUMNS,
    render_csv,
    render_xlsx,
)
from ordertools.queries.filters import OrderFilters, filters_from_json
from ordertools.queries.orders import COUNT_CAP, SORTS, count_orders, query_orders
from ordertools.queries.views import DEFAULT_VIEW, delete_view, list_views, rename_view, save_view

ALL_COLUMNS = [key for key, _ in DEFAULT_COLUMNS + OPTIONAL_COLUMNS]
DEFAULT_VIEW_COLUMNS = [key for key, _ in DEFAULT_COLUMNS]
PAGE_SIZES = (20, 50, 100)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FilterForm(widgets.VBox):
    """The filter fields; `filters()` reads them into `OrderFilters` (ValueError when wrong)."""

    def __init__(self):
        labels = {"description_width": "8.5em"}  # "Purchased from" in full: 102 px at 13 px
        self.purchased_from = widgets.DatePicker(description="Purchased from")
        self.purchased_to = widgets.DatePicker(description="to")
        self.order_number = widgets.Text(description="Order number", placeholder="any part")
        self.buyer = widgets.Text(description="Buyer's name", placeholder="any part")
        self.min_total = widgets.Text(description="Total from", placeholder="e.g. 10")
        self.max_total = widgets.Text(description="to", placeholder="e.g. 100")
        self.statuses = widgets.SelectMultiple(
            options=STATUS_WORDS, description="Status", rows=len(STATUS_WORDS)
        )
        super().__init__(
            [
                widgets.HBox(
                    [
                        widgets.VBox([self.purchased_from, self.purchased_to]),
                        widgets.VBox([self.order_number, self.buyer]),
                        widgets.VBox([self.min_total, self.max_total]),
                    ]
                ),
                self.statuses,
            ]
        )
        for field in (*self.children[0].children, self.statuses):
            for control in getattr(field, "children", (field,)):
                control.style = labels

    def filters(self) -> OrderFilters:
        return OrderFilters(
            statuses=parse_status_filter(self.statuses.value),
            purchased_from=self.purchased_from.value,
            purchased_to=self.purchased_to.value,
            buyer=self.buyer.value.strip() or None,
            order_number=self.order_number.value.strip() or None,
            min_total=_amount(self.min_total.value, "Total from"),
            max_total=_amount(self.max_total.value, "Total to"),
        )

    def load(self, filters: OrderFilters) -> None:
        self.purchased_from.value = filters.purchased_from
        self.purchased_to.value = filters.purchased_to
        self.buyer.value = filters.buyer or ""
        self.order_number.value = filters.order_number or ""
        self.min_total.value = "" if filters.min_total is None else str(filters.min_total)
        self.max_total.value = "" if filters.max_total is None else str(filters.max_total)
        self.statuses.value = filters.statuses.words if filters.statuses else ()


def _amount(text: str, label: str) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(
            f"{label}: {text!r} is not an amount; type a number such as 25.50"
        ) from None
    if not value.is_finite():
        raise ValueError(f"{label}: type a number such as 25.50")
    return value


class AllOrders(Section):
    title = "All Orders"

    def __init__(self, dash: Dashboard, on_change: Callable[[], None] | None = None):
        self.dash = dash
        # After a shipment, cancellation or comment on the order shown in place.
        self.on_change = on_change or self.render
        self.applied = OrderFilters()
        self.page = 0
        self.total = 0
        self._quiet = False  # set while a saved view fills the controls: one render at the end
        self.records = []

        self.form = FilterForm()
        self.apply_button = widgets.Button(description="Apply", button_style="primary")
        self.clear_button = widgets.Button(description="Clear all")
        self.apply_button.on_click(lambda _: self.apply())
        self.clear_button.on_click(lambda _: self.clear())
        self.active = widgets.HTML()

        self.columns = {
            key: widgets.Checkbox(
                value=key in DEFAULT_VIEW_COLUMNS, description=HEADINGS[key], indent=False
            )
            for key in ALL_COLUMNS
        }
        for box in self.columns.values():
            box.layout.width = "auto"
            box.observe(lambda _: self.render(), "value")

        self.view = widgets.Dropdown(description="View")
        self.view_name = widgets.Text(placeholder="name for Save / Rename")
        self.save_button = widgets.Button(description="Save view")
        self.rename_button = widgets.Button(description="Rename")
        self.delete_button = widgets.Button(description="Delete", button_style="danger")
        self.save_button.on_click(lambda _: self._views_action(self.save_view))
        self.rename_button.on_click(lambda _: self._views_action(self.rename_view))
        self.delete_button.on_click(lambda _: self._views_action(self.delete_view))

        self.sort = widgets.Dropdown(
            options=[(label, key) for key, label in DEFAULT_COLUMNS if key in SORTS],
            description="Sort by",
        )
        self.descending = widgets.ToggleButtons(
            options=[("Newest / highest first", True), ("Oldest / lowest first", False)]
        )
        self.page_size = widgets.Dropdown(options=PAGE_SIZES, description="Per page")
        for control in (self.sort, self.descending, self.page_size):
            control.observe(lambda _: self.go_to(0), "value")

        self.prev_button = widgets.Button(description="‹ Previous")
        self.next_button = widgets.Button(description="Next ›")
        self.prev_button.on_click(lambda _: self.go_to(self.page - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page + 1))
        self.pager = widgets.HTML()

        self.export_csv = widgets.Button(description="Export CSV", icon="download")
        self.export_xlsx = widgets.Button(description="Export Excel", icon="download")
        self.export_csv.on_click(lambda _: self.export("csv"))
        self.export_xlsx.on_click(lambda _: self.export("xlsx"))
        self.download = widgets.HTML()

        self.message = widgets.HTML()
        self.table = widgets.HTML()
        self.open_choice = widgets.Dropdown(description="Open order", options=[])
        self.open_button = widgets.Button(description="Open here")
        self.open_button.on_click(lambda _: self.show_order(self.open_choice.value))
        self.detail = widgets.VBox()  # the order page (`OrderView`) of the order opened here
        self.order_view = None
        self.close_detail = widgets.Button(description="Close order", layout={"display": "none"})
        self.close_detail.on_click(lambda _: self.show_order(None))

        super().__init__(
            [
                self.form,
                widgets.HBox([self.apply_button, self.clear_button]),
                self.active,
                widgets.HTML("<b>Columns</b>"),
                widgets.HBox(list(self.columns.values()), layout={"flex_flow": "row wrap"}),
                widgets.HBox(
                    [self.view, self.view_name, self.save_button, self.rename_button]
                    + [self.delete_button]
                ),
                widgets.HBox([self.sort, self.descending]),
                self.message,
                self.table,
                widgets.HBox([self.prev_button, self.pager, self.next_button, self.page_size]),
                widgets.HBox([self.export_csv, self.export_xlsx, self.download]),
                widgets.HBox([self.open_choice, self.open_button, self.close_detail]),
                self.detail,
            ]
        )
        self._refresh_views()
        self.view.observe(lambda c: self.load_view(c["new"]), "value")
        self.render()

    # -- state ----------------------------------------------------------------------------------

    @property
    def shown_columns(self) -> list[str]:
        return [key for key, box in self.columns.items() if box.value] or ["order_number"]

    def apply(self) -> None:
        try:
            self.applied = self.form.filters()
        except ValueError as exc:
            say(self.message, exc, error=True)
            return
        self.go_to(0)

    def clear(self) -> None:
        self.form.load(OrderFilters())
        self.applied = OrderFilters()
        self.go_to(0)

    def go_to(self, page: int) -> None:
        self.page = max(page, 0)
        self.render()

    def refresh(self) -> None:
        self.render()

    def render(self) -> None:
        """Query the current page and show it."""
        if self._quiet:
            return
        size = self.page_size.value
        with self.dash.session() as session:
            store = self.dash.store(session)
            # Counted up to COUNT_CAP (or through the next page, deeper in): an exact count of a
            # million orders takes seconds; past the cap the pager says "10,000+".
            cap = max(COUNT_CAP, (self.page + 2) * size)
            self.total = count_orders(session, store, self.applied, cap=cap)
            more = self.total > cap
            last = max((self.total - 1) // size, 0)
            self.page = min(self.page, last)
            self.records = query_orders(
                session,
                store,
                self.applied,
                limit=size,
                offset=self.page * size,
                sort=self.sort.value,
                descending=self.descending.value,
            )
        self.message.value = ""
        self.download.value = ""
        self.active.value = pages.active_filters(self.applied)
        first = self.page * size + 1 if self.records else 0
        total, pages_ = (f"{cap:,}+", f"{last:,}+") if more else (self.total, last + 1)
        self.pager.value = (
            f"&nbsp;Orders {first}–{self.page * size + len(self.records)} of {total}"
            f" (page {self.page + 1} of {pages_})&nbsp;"
        )
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= last
        self._fill_table()

    def _fill_table(self) -> None:
        self.table.value = CSS + self.dash.show.orders_table(self.records, self.shown_columns)
        imported = [r.order_number for r in self.records if r.local_order_number is not None]
        self.open_choice.options = imported
        self.open_button.disabled = not imported

    # -- order detail ---------------------------------------------------------------------------

    def show_order(self, number: str | None) -> None:
        """The order's page below the table, with its comments and actions (None: close it)."""
        if self.order_view is not None:
            self.order_view.close()
        self.order_view = None
        if number is None:
            self.detail.children = []
            self.close_detail.layout.display = "none"
            return
        try:
            self.order_view = OrderView(self.dash, number, on_change=self.on_change)
            self.detail.children = [self.order_view]
        except OrdertoolsError as exc:
            self.detail.children = [widgets.HTML(f"<p><b>{pages.e(exc)}</b></p>")]
        self.close_detail.layout.display = None

    # -- export ---------------------------------------------------------------------------------

    def export(self, kind: str) -> bytes:
        """The rows and columns on screen, as a download link; returns the file's bytes."""
        columns = self.shown_columns
        if kind == "csv":
            content = render_csv(self.records, columns).encode("utf-8")
            self.download.value = download_link("orders.csv", "orders.csv", "text/csv", content)
        else:
            content = render_xlsx(self.records, columns)
            self.download.value = download_link("orders.xlsx", "orders.xlsx", XLSX, content)
        return content

    # -- saved views ----------------------------------------------------------------------------

    def _refresh_views(self, selected: str = DEFAULT_VIEW) -> None:
        with self.dash.session() as session:
            names = [v.name for v in list_views(session, self.dash.store(session))]
        self._loading_view = True
        try:
            self.view.options = [DEFAULT_VIEW, *names]
            self.view.value = selected
        finally:
            self._loading_view = False
        self._offer_view_changes(selected)

    def _offer_view_changes(self, name: str) -> None:
        """Rename and Delete only for a saved view: the Default View is always there, as is."""
        default = name == DEFAULT_VIEW
        for button in (self.rename_button, self.delete_button):
            button.disabled = default
            button.layout.display = "none" if default else None

    def _views_action(self, action) -> None:
        try:
            action()
        except OrdertoolsError as exc:
            say(self.message, exc, error=True)

    def save_view(self, name: str | None = None) -> None:
        """Save the shown columns, the applied filters and the sort as `name`."""
        name = name if name is not None else self.view_name.value or self.view.value
        with self.dash.session() as session:
            view = save_view(
                session,
                self.dash.store(session),
                name,
                columns=self.shown_columns,
                filters=self.applied,
                sort=self.sort.value,
                descending=self.descending.value,
            )
            saved = view.name
        self.view_name.value = ""
        self._refresh_views(saved)
        self.message.value = f"Saved view <b>{pages.e(saved)}</b>."

    def rename_view(self, new: str | None = None) -> None:
        new = new if new is not None else self.view_name.value
        with self.dash.session() as session:
            renamed = rename_view(session, self.dash.store(session), self.view.value, new).name
        self.view_name.value = ""
        self._refresh_views(renamed)

    def delete_view(self) -> None:
        with self.dash.session() as session:
            delete_view(session, self.dash.store(session), self.view.value)
        self._refresh_views()
        self.load_view(DEFAULT_VIEW)

    def load_view(self, name: str) -> None:
        if self._loading_view:
            return
        if name == DEFAULT_VIEW:
            columns, filters = DEFAULT_VIEW_COLUMNS, OrderFilters()
            sort, descending = "purchase_date", True
        else:
            with self.dash.session() as session:
                views = list_views(session, self.dash.store(session))
                view = next(v for v in views if v.name == name)
                settings, filters = view.columns, filters_from_json(view.filters)
            columns = settings["columns"]
            sort, descending = (
                settings.get("sort", "purchase_date"),
                settings.get("descending", True),
            )
        self._offer_view_changes(name)
        self._quiet = True
        try:
            for key, box in self.columns.items():
                box.value = key in columns
            self.form.load(filters)
            self.sort.value, self.descending.value = sort, descending
        finally:
            self._quiet = False
        self.applied = filters
        self.go_to(0)

    def snapshot(self) -> str:
        return (
            f"<p>{self.active.value}</p>"
            + self.table.value.removeprefix(CSS)
            + f"<p>{self.pager.value}</p>"
        )
