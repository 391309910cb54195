"""The store cards (`notebooks/stores.ipynb`), driven from Python on the demo order book."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urljoin

import pytest
from fixtures_db import new_store
from sqlalchemy import func, select

from ordertools import db
from ordertools.db import AmazonOrderRow, SyncRun
from ordertools.demo import build_demo_order_book
from ordertools.domain.statuses import AWAITING_SHIPMENT, parse_status_filter
from ordertools.domain.stores import get_store, update_settings
from ordertools.notebook.launch import LANDING, PAGES
from ordertools.notebook.pages import Display
from ordertools.notebook.store_cards import (
    EMPTY,
    StoreCards,
    cards_html,
    dashboard_href,
    store_cards,
)
from ordertools.queries.filters import OrderFilters
from ordertools.queries.orders import count_orders

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEMO_STORES = ["acme-de", "acme-jp", "acme-uk", "acme-us"]
SHOW = Display(tz=UTC)


@pytest.fixture
def book(engine):
    build_demo_order_book(engine, AT)
    return engine


def _cards(engine):
    with db.session(engine) as session:
        return store_cards(session)


def _card_html(page: str, store: str) -> str:
    """The one card of `store` in a page of cards."""
    (card,) = re.findall(rf'<div class="ordertools-card" data-store="{store}">.*?</a></div>', page)
    return card


def test_a_card_per_demo_store(book):
    cards = _cards(book)
    assert [card.name for card in cards] == DEMO_STORES
    by_name = {card.name: card for card in cards}
    assert by_name["acme-us"].marketplace == "Amazon.com (US)"
    assert by_name["acme-us"].seller_central == "https://sellercentral.amazon.com/"
    assert by_name["acme-de"].marketplace == "Amazon.de (DE)"
    assert by_name["acme-jp"].seller_central == "https://sellercentral.amazon.co.jp/"
    assert all(card.import_enabled for card in cards)
    assert all(card.last_sync and card.last_sync.outcome == "success" for card in cards)

    page = cards_html(cards, SHOW)
    # One zone for all the cards, named once above them.
    assert page.startswith(f'<p class="ordertools-muted">Dates and times in {SHOW.tz_name}.</p>')
    us = _card_html(page, "acme-us")
    assert "<h3>acme-us</h3>" in us
    assert "Amazon.com (US)" in us and "<b>Enabled</b>" in us
    assert (
        '<a href="https://sellercentral.amazon.com/" target="_blank" '
        'rel="noopener noreferrer">Seller Central</a>' in us
    )
    assert re.search(r'<time class="wall-clock">[^<]+</time>: succeeded', us)
    assert f"{by_name['acme-us'].awaiting_shipment} orders" in us


def test_awaiting_shipment_counts_match_the_order_book(book):
    unshipped = OrderFilters(statuses=parse_status_filter(["Unshipped", "Partially Shipped"]))
    cards = {card.name: card for card in _cards(book)}
    with db.session(book) as session:
        for name in DEMO_STORES:
            store = get_store(session, name)
            in_book = session.scalar(
                select(func.count())
                .select_from(AmazonOrderRow)
                .where(
                    AmazonOrderRow.store_id == store.id,
                    AmazonOrderRow.purchase_date >= store.integrated_at,
                    AmazonOrderRow.status.in_(AWAITING_SHIPMENT),
                )
            )
            assert cards[name].awaiting_shipment == in_book, name
            # ...and All Orders filtered on those two statuses lists as many.
            assert count_orders(session, store, unshipped) == in_book, name
    assert sum(card.awaiting_shipment for card in cards.values()) > 0


def test_import_disabled_shows_on_its_card_only(book):
    with db.session(book) as session:
        update_settings(session, "acme-de", import_enabled=False)
    cards = _cards(book)
    assert {card.name: card.import_enabled for card in cards} == {
        "acme-de": False,
        "acme-jp": True,
        "acme-uk": True,
        "acme-us": True,
    }
    page = cards_html(cards, SHOW)
    assert "<b>Disabled</b>" in _card_html(page, "acme-de")
    assert page.count("<b>Disabled</b>") == 1 and page.count("<b>Enabled</b>") == 3


def test_view_store_opens_the_stores_dashboard(book):
    page = cards_html(_cards(book), SHOW)
    hrefs = re.findall(r'<a class="ordertools-view-store" href="([^"]*)">View Store</a>', page)
    assert hrefs == [f"store_dashboard.ipynb?store={name}" for name in DEMO_STORES]
    # Relative to the landing page, under any base URL: the dashboard page the server renders.
    landing = f"http://127.0.0.1:8866/team/voila/render/{LANDING}"
    assert urljoin(landing, hrefs[-1]) == (
        "http://127.0.0.1:8866/team/voila/render/store_dashboard.ipynb?store=acme-us"
    )
    assert {LANDING, "store_dashboard.ipynb"} <= set(PAGES)
    # A time zone asked for on the landing page goes along to the dashboards.
    assert dashboard_href("acme-us", "Europe/Berlin") == (
        "store_dashboard.ipynb?store=acme-us&time_zone=Europe%2FBerlin"
    )


def test_store_text_is_escaped(engine):
    hostile = new_store("<b>x</b>")  # not a name `store add` accepts; rows can hold anything
    hostile.seller_central_domain = 'evil.example/"><script>alert(1)</script>'
    with db.session(engine) as session:
        session.add(hostile)
        session.flush()
        session.add(
            SyncRun(
                store_id=hostile.id,
                started_at=AT,
                outcome="failed",
                error='Amazon said <img src=x onerror="alert(2)">',
            )
        )
    page = cards_html(_cards(engine), SHOW)
    assert "<b>x</b>" not in page and "<script>" not in page and "<img" not in page
    assert "<h3>&lt;b&gt;x&lt;/b&gt;</h3>" in page
    assert 'data-store="&lt;b&gt;x&lt;/b&gt;"' in page
    assert 'href="store_dashboard.ipynb?store=%3Cb%3Ex%3C%2Fb%3E"' in page
    assert 'href="https://evil.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;/"' in page
    assert (
        '<span class="ordertools-failed">failed</span> '
        "(Amazon said &lt;img src=x onerror=&quot;alert(2)&quot;&gt;)" in page
    )


def test_no_stores_says_how_to_add_one(engine):
    assert _cards(engine) == []
    assert cards_html([], SHOW) == EMPTY
    add = "<code>ordertools store add NAME --marketplace ID</code>"
    assert EMPTY.startswith(f'<p class="ordertools-no-stores">No stores yet. Add one with {add}')
    widget = StoreCards(engine, SHOW)
    assert "No stores yet." in widget.snapshot()
    assert 'class="ordertools-card"' not in widget.snapshot()


def test_a_store_never_synced_says_so(engine):
    with db.session(engine) as session:
        session.add(new_store("fresh"))
    (card,) = _cards(engine)
    assert card.last_sync is None and card.awaiting_shipment == 0
    page = cards_html([card], SHOW)
    assert "<th>Last sync</th><td>never</td>" in page and "0 orders" in page


def test_the_widget_refreshes_and_carries_the_time_zone(book):
    widget = StoreCards(book, SHOW, time_zone="Europe/Berlin")
    assert widget.snapshot().count('class="ordertools-card"') == 4
    assert "store_dashboard.ipynb?store=acme-us&amp;time_zone=Europe%2FBerlin" in widget.snapshot()
    with db.session(book) as session:
        update_settings(session, "acme-us", import_enabled=False)
    assert "<b>Disabled</b>" not in widget.snapshot()  # until read again
    widget.refresh_button.click()
    assert "<b>Disabled</b>" in _card_html(widget.snapshot(), "acme-us")
    bundle = widget._repr_mimebundle_()
    assert bundle["text/plain"] == "Stores (interactive in JupyterLab or Voila)"
    assert "View Store" in bundle["text/html"]


def test_load_reads_the_page_address(book, monkeypatch):
    monkeypatch.setenv("ORDERTOOLS_DB", book.url.render_as_string(hide_password=False))
    monkeypatch.setenv("QUERY_STRING", "time_zone=Asia/Tokyo")
    widget = StoreCards.load()
    assert widget.show.tz_name == "Asia/Tokyo"
    assert "time_zone=Asia%2FTokyo" in widget.snapshot()
