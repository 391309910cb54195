"""The store dashboard's widgets, driven from Python on the demo order book.

Every test builds the demo scenario as of a fixed instant (`build_demo_order_book`: the emulator
frozen there, each store synced with the same clock), on SQLite and on PostgreSQL, then does what
a person does on the page: flips a setting, fills filters, pages, exports, clicks an order.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select

from ordertools import db
from ordertools.amazon.client import FAST_RETRIES
from ordertools.amazon.connect import amazon_client
from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
from ordertools.db import AmazonOrderRow, Product, Store
from ordertools.demo import build_demo_order_book, prepare_stores
from ordertools.domain.statuses import parse_status_filter
from ordertools.domain.stock import orders_holding, settle
from ordertools.errors import ConfigurationError, NotInOrderBook
from ordertools.notebook.all_orders import AllOrders
from ordertools.notebook.base import Dashboard, parameters
from ordertools.notebook.dashboard import StoreDashboard
from ordertools.notebook.order_page import order_page_html
from ordertools.notebook.pages import Display
from ordertools.queries.detail import order_detail
from ordertools.queries.filters import OrderFilters, filters_from_json
from ordertools.queries.links import VOILA_URL_ENV
from ordertools.queries.orders import query_orders
from ordertools.queries.stock import holders, stock_levels
from ordertools.queries.store_data import store_data
from ordertools.queries.views import DEFAULT_VIEW, delete_view, list_views, rename_view, save_view
from ordertools.runs.notebooks import notebook_path

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STORE = "acme-us"
XSS_BUYER = '<script>alert("x")</script> Smith'


@pytest.fixture
def book(engine):
    build_demo_order_book(engine, AT)
    return engine


def make(engine, store: str = STORE) -> StoreDashboard:
    show = Display(tz=datetime.now(UTC).tzinfo)
    return StoreDashboard(Dashboard(engine, store, show=show, clock=lambda: AT, progress=False))


def stored(engine, store: str = STORE) -> Store:
    with db.session(engine) as session:
        return session.scalar(select(Store).where(Store.name == store))


def all_html(board: StoreDashboard) -> str:
    return "\n".join(section._repr_mimebundle_()["text/html"] for section in board.sections)


# -- Recent Orders --------------------------------------------------------------------------------


def test_recent_orders_show_the_seed_columns_newest_first_with_real_links(book):
    board = make(book)
    html = board.recent_orders.snapshot()
    zone = board.dash.show.tz_name  # the dates' zone, named in their heading
    headings = [
        f"Purchase Date ({zone})", "Order Number", "Status", "Buyer&#x27;s Name", "Grand Total"
    ]  # fmt: skip
    assert [html.index(f"<th>{h}</th>") for h in headings] == sorted(
        html.index(f"<th>{h}</th>") for h in headings
    )
    records = board.recent_orders.dash  # the same query the table came from
    with db.session(book) as session:
        records = query_orders(session, stored(book), limit=10)
    assert [r.purchase_date for r in records] == sorted(
        (r.purchase_date for r in records), reverse=True
    )
    assert "Pending" not in {r.status for r in records}
    view_only = next(r for r in records if r.local_order_number is None)
    imported = next(r for r in records if r.local_order_number is not None)
    assert (
        f'href="https://sellercentral.amazon.com/orders-v3/order/{view_only.order_number}"' in html
    )
    assert (
        'href="http://localhost:8866/voila/render/order.ipynb?store=acme-us&amp;order='
        f'{imported.order_number}"' in html
    )
    assert 'target="_blank" rel="noopener noreferrer"' in html


def test_a_store_template_and_the_voila_address_move_the_local_links(book, monkeypatch):
    monkeypatch.setenv(VOILA_URL_ENV, "http://127.0.0.1:9999/")
    assert "http://127.0.0.1:9999/voila/render/order.ipynb?store=acme-us" in (
        make(book).recent_orders.snapshot()
    )
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        store.local_order_url_template = "https://shop.example/admin/order/{number}"
    assert (
        'href="https://shop.example/admin/order/000000001"' in make(book).recent_orders.snapshot()
    )
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        store.local_order_url_template = "javascript:alert(1)//{number}"
    assert "javascript:" not in make(book).recent_orders.snapshot()


def test_order_links_open_on_a_server_reached_by_its_host_name(book, monkeypatch):
    # `ordertools serve --host 0.0.0.0` renders links to http://<host name>:8866/...
    monkeypatch.setenv(VOILA_URL_ENV, "http://ops-box.internal:8866")
    table = make(book).recent_orders.snapshot()
    assert 'href="http://ops-box.internal:8866/voila/render/order.ipynb?store=acme-us' in table
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        store.local_order_url_template = "http://elsewhere.example/{number}"
    assert 'href="http://elsewhere.example' not in make(book).recent_orders.snapshot()


def test_amazon_text_is_escaped_everywhere(book):
    for store in ("acme-us", "acme-de"):
        board = make(book, store)
        board.all_orders.columns["notes"].value = True
        pages_html = [all_html(board)]
        for record in board.all_orders.records:
            pages_html.append(order_page_html(board.dash, record.order_number))
        html = "\n".join(pages_html)
        assert "<script>" not in html and "<b>Bold</b>" not in html
    us = all_html(make(book))
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Smith" in us
    with db.session(book) as session:
        xss_order = session.scalar(
            select(AmazonOrderRow.amazon_order_id).where(AmazonOrderRow.buyer_name == XSS_BUYER)
        )
    page = order_page_html(make(book).dash, xss_order)
    assert XSS_BUYER not in page and "&lt;script&gt;" in page


# -- Store header, settings, store data, revenue --------------------------------------------------


def test_the_header_names_the_store_and_its_last_sync(book):
    html = make(book).header.snapshot()
    assert "acme-us" in html and "ATVPDKIKX0DER" in html and "sellercentral.amazon.com" in html
    assert "success" in html and '<time class="wall-clock">' in html


def test_the_header_shows_the_last_reconciliation_and_its_outcome(book):
    html = make(book).header.snapshot()
    assert "Last reconciliation" in html
    assert "never: <code>ordertools reconcile acme-us</code> proves the order book complete" in html
    with db.session(book) as session:
        store_id = stored(book).id
        window = {"window_start": AT - timedelta(days=7), "window_end": AT}
        session.add(
            db.Reconciliation(
                store_id=store_id,
                outcome="success",
                compared=40,
                missing=2,
                stale=1,
                repaired=3,
                left=1,
                started_at=AT - timedelta(hours=2),
                **window,
            )
        )
    html = make(book).header.snapshot()
    assert "2 missing, 1 stale; 3 repaired; 1 left for the next run" in html
    with db.session(book) as session:
        session.add(
            db.Reconciliation(
                store_id=store_id,
                outcome="failed",
                error="Amazon could not make <report>",
                started_at=AT - timedelta(hours=1),
                **window,
            )
        )
    html = make(book).header.snapshot()
    assert "failed (Amazon could not make &lt;report&gt;)" in html and "3 repaired" not in html


def test_the_header_says_whether_notifications_come_in(book):
    html = make(book).header.snapshot()
    assert "not set up: orders arrive with each sync" in html
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        store.notification_subscription_id = "sub-1"
        session.add(
            db.Notification(
                notification_id="n-1",
                store_id=store.id,
                amazon_order_id="113-0000000-0000001",
                published_at=AT - timedelta(minutes=3, seconds=2),
                received_at=AT - timedelta(minutes=3),
                applied_at=AT - timedelta(minutes=3),
            )
        )
    html = make(book).header.snapshot()
    assert "last message 3 min ago, 2.0 s after Amazon sent it" in html
    assert "the last sync found" in html and "no notification had delivered" in html


def test_the_import_toggle_is_saved_at_once_and_greys_out_the_other_settings(book):
    settings = make(book).settings
    assert stored(book).import_enabled and not settings.customer_creation.disabled
    settings.import_toggle.value = False
    assert stored(book).import_enabled is False
    assert all(control.disabled for control in settings.others.values())
    assert "view only" in settings.meaning.value and "Seller Central" in settings.meaning.value
    assert "Disabled" in settings.snapshot()
    # A new dashboard (a reload) reads the saved value.
    assert make(book).settings.import_toggle.value is False
    settings.import_toggle.value = True
    assert stored(book).import_enabled is True
    assert not any(control.disabled for control in settings.others.values())


def test_other_settings_save_and_a_bad_value_is_refused_with_a_message(book):
    settings = make(book).settings
    settings.customer_creation.value = "create"
    settings.reserve_quantity.value = False
    assert (stored(book).customer_creation, stored(book).reserve_quantity) == ("create", False)
    settings.new_order_status.value = "Not A Status!"
    assert "not usable" in settings.message.value
    assert settings.new_order_status.value == "pending" == stored(book).new_order_status


def test_store_data_counts_sales_awaiting_shipment_and_statuses(book):
    board = make(book)
    with db.session(book) as session:
        data = store_data(session, stored(book))
    assert set(data.lifetime_sales) == {"USD"}
    assert data.awaiting_shipment == data.by_status.get("Unshipped", 0) + data.by_status.get(
        "Partially Shipped", 0
    )
    assert "Pending" in data.by_status  # tracked, counted, though hidden from Recent Orders
    assert "$" in board.store_data.snapshot()


def test_revenue_is_per_day_per_currency_over_7_or_30_days(book):
    board = make(book)
    week = board.revenue.series()
    assert len(week) == 7 and list(week.columns) == ["USD"]
    assert week.index[-1] == AT.date()
    board.revenue.days.value = 30
    month = board.revenue.series()
    assert len(month) == 30 and month["USD"].sum() >= week["USD"].sum()
    assert "<svg" in board.revenue.chart.value and "USD" in board.revenue.chart.value
    with db.session(book) as session:
        data = store_data(session, stored(book))
    assert month["USD"].sum() <= data.lifetime_sales["USD"]


# -- All Orders -----------------------------------------------------------------------------------


def test_filters_apply_show_the_active_filters_and_clear_all(book):
    orders = make(book).all_orders
    everything = orders.total
    orders.form.statuses.value = ("Pending",)
    orders.apply()
    assert orders.total >= 1 and {r.status for r in orders.records} == {"Pending"}
    assert "status" in orders.active.value and "Pending" in orders.active.value
    orders.form.statuses.value = ()
    orders.form.buyer.value = "JOSÉ"
    orders.apply()
    assert orders.total >= 1 and all("José" in r.buyer_name for r in orders.records)
    orders.form.min_total.value = "abc"
    orders.apply()
    assert "not an amount" in orders.message.value
    orders.clear()
    assert orders.total == everything and orders.form.buyer.value == ""
    assert "No filters" in orders.active.value


def test_pages_sort_and_page_size(book):
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        for i in range(45):
            session.add(
                AmazonOrderRow(
                    store_id=store.id,
                    amazon_order_id=f"111-0000000-{i:07d}",
                    status="SHIPPED",
                    purchase_date=AT - timedelta(hours=i + 1),
                    buyer_name=f"Buyer {i:02d}",
                    grand_total=Decimal(i),
                    currency="USD",
                    raw={},
                )
            )
    orders = make(book).all_orders
    total = orders.total
    assert total > 45 and len(orders.records) == 20 and orders.prev_button.disabled
    first_page = [r.order_number for r in orders.records]
    orders.next_button.click()
    assert orders.page == 1 and not orders.prev_button.disabled
    assert not set(first_page) & {r.order_number for r in orders.records}
    assert "Orders 21–40 of" in orders.pager.value
    orders.go_to(99)
    assert orders.next_button.disabled and len(orders.records) == total - 40
    orders.page_size.value = 50
    assert orders.page == 0 and len(orders.records) == 50
    orders.sort.value = "grand_total"
    orders.descending.value = False
    totals = [r.grand_total for r in orders.records if r.grand_total is not None]
    assert totals == sorted(totals)


def test_export_is_exactly_the_shown_rows_and_columns(book):
    orders = make(book).all_orders
    orders.columns["buyer_name"].value = False
    orders.columns["local_order_number"].value = True
    orders.form.statuses.value = ("Completed", "Unshipped")
    orders.apply()
    shown = orders.shown_columns
    rows = list(csv.DictReader(io.StringIO(orders.export("csv").decode())))
    assert [r["Order Number"] for r in rows] == [r.order_number for r in orders.records]
    assert "Buyer's Name" not in rows[0] and "Local Order Number" in rows[0]
    assert rows[0]["Purchase Date"].endswith("+00:00")  # ISO 8601 in exports
    assert 'download="orders.csv"' in orders.download.value
    sheet = pd.read_excel(io.BytesIO(orders.export("xlsx")))
    assert list(sheet["Order Number"]) == [r.order_number for r in orders.records]
    assert len(shown) <= len(sheet.columns) <= len(shown) + 2  # + currency and link


def test_columns_can_be_added_and_removed(book):
    orders = make(book).all_orders
    orders.columns["marketplace_id"].value = True
    orders.columns["status"].value = False
    assert "Marketplace" in orders.snapshot() and "<th>Status</th>" not in orders.snapshot()
    for box in orders.columns.values():
        box.value = False
    assert orders.shown_columns == ["order_number"]  # never an empty table


def test_all_orders_links_each_order_and_opens_an_imported_one_in_place(book):
    orders = make(book).all_orders
    table = orders.table.value
    imported = [r for r in orders.records if r.local_order_number is not None]
    view_only = [r for r in orders.records if r.local_order_number is None]
    assert imported and view_only
    # One link style with Recent Orders: the local page, or Seller Central when view only.
    assert f'href="{html.escape(imported[0].link)}"' in table
    assert "voila/render/order.ipynb?store=acme-us" in imported[0].link
    assert f'href="{html.escape(view_only[0].link)}"' in table
    assert view_only[0].link.startswith("https://sellercentral.amazon.com/")
    # Open order lists the page's imported orders (a view-only one has no page here).
    assert list(orders.open_choice.options) == [r.order_number for r in imported]
    orders.open_choice.value = imported[0].order_number
    orders.open_button.click()
    page = orders.order_view.snapshot()
    assert f"Amazon order {imported[0].order_number}" in page
    assert "Local order" in page and "Status history" in page and "Sent to Amazon" in page
    assert orders.detail.children == (orders.order_view,)
    assert orders.close_detail.layout.display is None
    orders.close_detail.click()
    assert orders.detail.children == () and orders.order_view is None


def test_saved_views_create_switch_rename_delete(book):
    orders = make(book).all_orders
    orders.columns["notes"].value = True
    orders.form.statuses.value = ("Canceled",)
    orders.apply()
    orders.save_view("Canceled with notes")
    assert orders.view.options == ("Default View", "Canceled with notes")
    orders.view.value = "Default View"
    assert orders.applied == OrderFilters() and not orders.columns["notes"].value
    orders.view.value = "Canceled with notes"
    assert orders.delete_button.layout.display is None  # a saved view can go
    assert orders.columns["notes"].value and {r.status for r in orders.records} == {"Canceled"}
    assert orders.form.statuses.value == ("Canceled",)
    orders.view_name.value = "Cancellations"
    orders.rename_button.click()
    assert orders.view.value == "Cancellations"
    # A reload sees the view.
    assert "Cancellations" in make(book).all_orders.view.options
    orders.delete_button.click()
    assert orders.view.options == ("Default View",) and orders.view.value == "Default View"
    # Not on screen for the Default View, which is always there as it is ...
    for button in (orders.delete_button, orders.rename_button):
        assert button.disabled and button.layout.display == "none"
    orders.delete_button.click()  # ... and refused here too
    assert "built in" in orders.message.value and orders.view.options == ("Default View",)


def test_saved_view_rules(engine, store):
    filters = OrderFilters(
        statuses=parse_status_filter(["shipped", "completed"]),
        purchased_from=date(2026, 11, 1),
        buyer="o'connor",
        min_total=Decimal("10.50"),
    )
    with db.session(engine) as session:
        s = session.get(Store, store.id)
        save_view(session, s, "Mine", columns=["order_number"], filters=filters)
        (view,) = list_views(session, s)
        assert filters_from_json(view.filters) == filters
        with pytest.raises(ConfigurationError, match="built in"):
            save_view(session, s, "default view", columns=[], filters=filters)
        with pytest.raises(ConfigurationError, match="built in"):
            delete_view(session, s, DEFAULT_VIEW)
        with pytest.raises(ConfigurationError, match="built in"):
            rename_view(session, s, DEFAULT_VIEW, "Other")
        save_view(session, s, "Theirs", columns=["status"], filters=filters)
        with pytest.raises(ConfigurationError, match="exists already"):
            rename_view(session, s, "Mine", "Theirs")
        with pytest.raises(NotInOrderBook):
            delete_view(session, s, "Nobody's")
        delete_view(session, s, "Mine")
        assert [v.name for v in list_views(session, s)] == ["Theirs"]


# -- Sync now, the order page, the notebooks' plumbing -------------------------------------------


def test_sync_now_syncs_and_refreshes_every_section(engine):
    clock = ManualClock(AT)
    with Emulator(scenario="demo", config=EmulatorConfig(clock=clock)) as emulator:
        prepare_stores(engine, emulator)
        board = StoreDashboard(Dashboard(engine, STORE, clock=clock, progress=False))
        assert "never" in board.header.snapshot() and board.all_orders.total == 0
        board.header.sync_button.click()
    assert "Synced:" in board.header.message.value, board.header.message.value
    assert "success" in board.header.snapshot()
    assert board.all_orders.total > 0 and "<tbody>" in board.recent_orders.snapshot()
    assert not board.header.sync_button.disabled


def test_sync_now_failure_is_a_message_not_a_traceback(book):
    header = make(book).header  # the demo emulator is gone: nothing answers at the endpoint
    with db.session(book) as session:
        store = session.scalar(select(Store).where(Store.name == STORE))
        store.endpoint = store.token_url = "http://127.0.0.1:9"
        header.dash.client = amazon_client(store, retry=FAST_RETRIES)
    header.sync()
    assert "color:#b00" in header.message.value and not header.sync_button.disabled


def test_the_order_page_shows_a_view_only_order_and_refuses_an_unknown_one(book):
    board = make(book)
    with db.session(book) as session:
        records = query_orders(session, stored(book), limit=None)
    view_only = next(r for r in records if r.local_order_number is None)
    page = order_page_html(board.dash, view_only.order_number)
    assert "Not imported" in page and "sellercentral.amazon.com" in page
    with pytest.raises(NotInOrderBook):
        order_page_html(board.dash, "999-0000000-0000000")


def test_the_order_page_says_amazon_s_codes_in_words_and_leaves_out_empty_rows(book):
    board = make(book)
    with db.session(book) as session:
        records = query_orders(session, stored(book), limit=None)
    fbm = next(r for r in records if r.fulfilled_by == "MERCHANT")
    page = order_page_html(board.dash, fbm.order_number)
    assert "<th>Fulfilled by</th><td>Merchant (FBM: you ship)</td>" in page
    assert "<th>Marketplace</th><td>Amazon.com (ATVPDKIKX0DER)</td>" in page
    assert ">MERCHANT<" not in page
    fba = next(r for r in records if r.fulfilled_by == "AMAZON" and r.status == "Completed")
    page = order_page_html(board.dash, fba.order_number)
    assert "<th>Fulfilled by</th><td>Amazon (FBA)</td>" in page
    assert "<th>Buyer email</th><td></td>" not in page


def test_notebook_parameters_come_from_voila_query_string(monkeypatch, tmp_path):
    assert parameters(store="acme-us", order=None) == {"store": "acme-us", "order": None}
    monkeypatch.setenv("QUERY_STRING", "store=acme-de&order=302-1%2B2&other=x")
    assert parameters(store="acme-us", order=None) == {"store": "acme-de", "order": "302-1+2"}
    assert notebook_path("store_dashboard").name == "store_dashboard.ipynb"
    (tmp_path / "order.ipynb").write_text("{}")
    monkeypatch.setenv("ORDERTOOLS_NOTEBOOKS", str(tmp_path))
    assert notebook_path("order.ipynb") == tmp_path / "order.ipynb"
    with pytest.raises(ConfigurationError, match="no notebook"):
        notebook_path("nope")


def test_all_orders_widget_is_importable_on_its_own(book):
    orders = AllOrders(make(book).dash)
    assert orders.total == make(book).all_orders.total


# -- Stock ----------------------------------------------------------------------------------------

XSS_SKU = "<img src=x onerror=alert(1)>"
XSS_NAME = '<script>alert("name")</script> Widget'
REFERENCE_ORDER = "113-6624039-0810111"  # notebooks/order.ipynb's order: 2 mugs, Unshipped


def manage_stock(engine, quantities: dict[str, int]) -> None:
    """Set these demo products up with stock on hand (they are placeholders after the sync), add
    one with Amazon-like hostile text, and settle the orders that now hold them."""
    with db.session(engine) as session:
        products = session.scalars(select(Product).where(Product.sku.in_(quantities))).all()
        for product in products:
            product.manage_stock, product.placeholder = True, False
            product.quantity = quantities[product.sku]
        session.add(Product(sku=XSS_SKU, name=XSS_NAME, manage_stock=True, quantity=2))
        session.flush()
        settle(session, orders_holding(session, [p.id for p in products]))


def stock_rows(html: str) -> list[str]:
    """The Stock table's SKU cells, top to bottom."""
    return re.findall(r"<tr><td>([^<]*)</td>", html.split("<tbody>", 1)[1])


def test_stock_without_a_catalog_says_how_to_load_one(book):
    html = make(book).stock.snapshot()  # the demo's products are placeholders: none managed
    assert "No product manages its stock" in html
    assert "<code>ordertools products import FILE</code>" in html


def test_stock_lists_oversold_products_first_with_the_orders_holding_them(book):
    manage_stock(book, {"MUG-CER-350": 2, "CBL-USBC-2M": 1, "KNF-CHF-20": 3, "NTB-A5-DOT": 25})
    with db.session(book) as session:
        levels = {level.sku: level for level in stock_levels(session)}
        held = holders(session, ["MUG-CER-350", "CBL-USBC-2M"])
    mug, cable = levels["MUG-CER-350"], levels["CBL-USBC-2M"]
    assert mug.oversold > cable.oversold > 0 and levels["KNF-CHF-20"].available == 3
    board = make(book)
    html = board.stock.snapshot()
    # Oversold first (the most oversold on top), then the lowest; 24 available is not low.
    assert stock_rows(html) == ["MUG-CER-350", "CBL-USBC-2M", "&lt;img src=x onerror=alert(1)&gt;",
                                "KNF-CHF-20"]  # fmt: skip
    row = html.split("<tr><td>MUG-CER-350</td>", 1)[1].split("</tr>", 1)[0]
    assert (
        f'<td class="ordertools-num">{mug.on_hand}</td><td class="ordertools-num">{mug.reserved}'
        f'</td><td class="ordertools-num">{mug.available}</td>'
    ) in row
    assert f'<span class="ordertools-oversold">{mug.oversold}</span>' in row
    # Every holder, from any store; the number links as Recent Orders' numbers do.
    for holder in held["MUG-CER-350"]:
        href = (
            f"http://localhost:8866/voila/render/order.ipynb?store={holder.store}&amp;order="
            f"{holder.amazon_order_id}"
        )
        shown = (
            f'{holder.quantity}&nbsp;×&nbsp;<a href="{href}" target="_blank" '
            f'rel="noopener noreferrer">{holder.local_order_number}</a>'
        )
        if holder.store != STORE:  # local numbers are per store: say whose it is
            shown += f' <span class="ordertools-muted ordertools-nowrap">({holder.store})</span>'
        assert shown in row
    assert {h.store for h in held["MUG-CER-350"]} > {STORE}  # another store's order holds it too
    # A Pending order holds stock before it has a local order: Seller Central, marked Pending.
    (pending,) = [h for h in held["CBL-USBC-2M"] if h.local_order_number is None]
    assert pending.store == STORE
    assert (
        '1&nbsp;×&nbsp;<a href="https://sellercentral.amazon.com/orders-v3/'
        f'order/{pending.amazon_order_id}" target="_blank" rel="noopener noreferrer">'
        f"{pending.amazon_order_id}</a> "
        '<span class="ordertools-muted ordertools-nowrap">(Pending)</span>'
    ) in html
    # The widget shows what the snapshot says.
    assert board.stock.table.value.endswith(html)


def test_stock_escapes_the_catalog_and_amazon_text(book):
    manage_stock(book, {"MUG-CER-350": 2})
    html = make(book).stock.snapshot()
    assert XSS_SKU not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt; Widget" in html


def test_changing_the_stock_threshold_refreshes_the_list(book):
    manage_stock(book, {"MUG-CER-350": 2, "KNF-CHF-20": 3, "NTB-A5-DOT": 25})
    stock = make(book).stock
    assert stock.threshold.value == 5
    assert stock_rows(stock.snapshot()) == [
        "MUG-CER-350",
        "&lt;img src=x onerror=alert(1)&gt;",
        "KNF-CHF-20",
    ]
    stock.threshold.value = 30
    assert stock_rows(stock.snapshot())[-1] == "NTB-A5-DOT"
    stock.threshold.value = 0
    assert stock_rows(stock.snapshot()) == ["MUG-CER-350"]  # oversold: at or below 0
    with db.session(book) as session:
        session.scalar(select(Product).where(Product.sku == "MUG-CER-350")).quantity = 50
    stock.refresh()  # a reload, or a Sync now / Ship on the dashboard, reads it again
    assert "No product at or below 0 available." in stock.snapshot()


def test_the_stock_section_lists_a_bounded_number_of_products(book):
    with db.session(book) as session:
        session.add_all(
            Product(sku=f"LOW-{i:03d}", name=f"Low {i}", manage_stock=True, quantity=i % 4)
            for i in range(60)
        )
    board = make(book)
    html = board.stock.snapshot()
    assert len(stock_rows(html)) == 50
    assert "<code>ordertools products list --low 5</code> lists them all" in html


def test_the_order_page_shows_what_each_item_holds_and_the_stock_history(book):
    board = make(book)
    page = order_page_html(board.dash, REFERENCE_ORDER)  # the demo's products: placeholders
    assert "nothing held: stock not managed (not in the catalog yet)" in page
    assert "This order has never held stock." in page

    manage_stock(book, {"MUG-CER-350": 2, "CBL-USBC-2M": 1})
    with db.session(book) as session:
        mugs = [h for h in holders(session, ["MUG-CER-350"])["MUG-CER-350"] if h.store == STORE]
        cables = holders(session, ["CBL-USBC-2M"])["CBL-USBC-2M"]
        detail = order_detail(session, stored(book), REFERENCE_ORDER)
    (held,) = [h for h in mugs if h.amazon_order_id == REFERENCE_ORDER]
    assert [(i["sku"], i["held"], i["not_held_because"]) for i in detail["items"]] == [
        ("MUG-CER-350", held.quantity, None)
    ]
    assert [(h["sku"], h["quantity"], h["open"]) for h in detail["stock"]] == [
        ("MUG-CER-350", held.quantity, True)
    ]
    page = order_page_html(board.dash, REFERENCE_ORDER)
    assert f"<b>holds {held.quantity}</b>" in page and "<b>held now</b>" in page
    assert f"Held for local order {held.local_order_number} until it ships" in page
    pending = next(h for h in cables if h.store == STORE and h.local_order_number is None)
    page = order_page_html(board.dash, pending.amazon_order_id)
    assert "Held while Amazon verifies payment (Pending)" in page
    # A complete order holds nothing, nor does an FBA one, and the page says why.
    with db.session(book) as session:
        records = query_orders(session, stored(book), limit=None)
    done = [r for r in records if r.status == "Completed"]
    fbm = next(r for r in done if r.fulfilled_by == "MERCHANT")
    page = order_page_html(board.dash, fbm.order_number)
    assert f"nothing held: Local order {fbm.local_order_number} is complete" in page
    fba = next(r for r in done if r.fulfilled_by == "AMAZON")
    page = order_page_html(board.dash, fba.order_number)
    assert "nothing held: FBA order: Amazon ships from its own stock" in page


# -- pages that cannot open -------------------------------------------------------------------


def _served(book, monkeypatch, query: str) -> None:
    """As under Voila: the order book from the environment, the parameters from the address."""
    monkeypatch.setenv("ORDERTOOLS_DB", book.url.render_as_string(hide_password=False))
    monkeypatch.setenv("QUERY_STRING", query)


def test_an_unknown_store_gets_a_page_naming_the_stores(book, monkeypatch):
    _served(book, monkeypatch, "store=nope")
    dashboard = StoreDashboard.open("acme-us")
    said = dashboard.header._repr_html_()
    assert "no store named &#x27;nope&#x27; (stores: acme-de, acme-jp, acme-uk, acme-us)" in said
    assert '<a href="stores.ipynb">Choose a store on the store cards</a>' in said
    # The notebook's later cells run and show nothing, instead of Voila's error page.
    assert dashboard.recent_orders._repr_html_() == "" and repr(dashboard.awaiting) == ""


def test_an_unknown_time_zone_says_so_in_place(book, monkeypatch):
    _served(book, monkeypatch, "store=acme-us&time_zone=Mars/Base")
    assert "unknown time zone &#x27;Mars/Base&#x27;" in StoreDashboard.open("acme-us").header.html()


def test_the_order_page_leads_back_to_its_store(book, monkeypatch):
    from ordertools.notebook.order_page import order_page

    order = query_orders_of(book, "acme-de")[0]
    _served(book, monkeypatch, f"store=acme-de&order={order}&time_zone=Europe/Berlin")
    page = order_page("acme-us", "x")
    assert (
        '← <a href="store_dashboard.ipynb?store=acme-de&amp;time_zone=Europe%2FBerlin">'
        "Back to the dashboard of acme-de</a>"
    ) in page.back.value

    _served(book, monkeypatch, "store=acme-de&order=999-0000000-0000000")
    missing = order_page("acme-us", "x")._repr_html_()
    assert "store acme-de has never received order 999-0000000-0000000" in missing
    assert 'href="store_dashboard.ipynb?store=acme-de"' in missing

    _served(book, monkeypatch, "store=nope&order=1")
    assert "no store named &#x27;nope&#x27;" in order_page("acme-us", "x")._repr_html_()


def query_orders_of(engine, store: str) -> list[str]:
    with db.session(engine) as session:
        found = session.execute(
            select(AmazonOrderRow.amazon_order_id)
            .join(Store, Store.id == AmazonOrderRow.store_id)
            .where(Store.name == store)
        )
        return [number for (number,) in found]


def test_the_revenue_chart_has_a_value_axis_and_each_days_total(book):
    board = make(book)
    week = board.revenue.series()["USD"]
    chart = board.revenue.chart.value
    top = max(week)
    # The axis: zero and the best day, in the store's money.
    assert ">$0.00</text>" in chart and f">${top:,.2f}</text>" in chart
    # A week is labelled day by day (each day with sales), and every bar says its total on hover.
    for day, value in week.items():
        assert f"<title>{day.isoformat()}: ${value:,.2f}</title>" in chart
        if value:
            assert f'text-anchor="middle">${value:,.2f}</text>' in chart
    board.revenue.days.value = 30
    assert 'text-anchor="middle">' not in board.revenue.chart.value  # too many to label
