"""Each store's money and dates read as its marketplace's people read them.

Money in the marketplace's locale (22,90 € on Amazon.de, ￥1,980 on Amazon.co.jp), dates in its
usual time zone, named in each table's heading; a store may choose its own
(`settings --locale/--time-zone`), ORDERTOOLS_TZ still overrides the zone for one user, and the
CLI's `--locale` (or ORDERTOOLS_LOCALE) overrides the money.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from ordertools import db
from ordertools.cli import main
from ordertools.demo import build_demo_order_book
from ordertools.domain.stores import get_store, reading, set_reading
from ordertools.errors import ConfigurationError
from ordertools.notebook.base import Dashboard
from ordertools.notebook.dashboard import StoreDashboard

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def book(engine, monkeypatch):
    monkeypatch.delenv("ORDERTOOLS_TZ", raising=False)
    monkeypatch.delenv("ORDERTOOLS_LOCALE", raising=False)
    build_demo_order_book(engine, AT)
    return engine


def board(engine, store: str) -> StoreDashboard:
    return StoreDashboard(Dashboard(engine, store, clock=lambda: AT, progress=False))


def test_each_store_reads_as_its_marketplace(book):
    german = board(book, "acme-de").recent_orders.snapshot()
    assert "<th>Purchase Date (Europe/Berlin)</th>" in german
    assert "22,90\xa0€" in german and "€22.90" not in german
    japanese = board(book, "acme-jp").recent_orders.snapshot()
    assert "<th>Purchase Date (Asia/Tokyo)</th>" in japanese and "￥1,980" in japanese
    american = board(book, "acme-us")
    assert "<th>Purchase Date (America/Los_Angeles)</th>" in american.recent_orders.snapshot()
    assert "(America/Los_Angeles)" in american.awaiting.snapshot()  # Ship By, Purchase Date


def test_a_store_may_choose_and_one_user_may_override(book, monkeypatch):
    with db.session(book) as session:
        set_reading(session, "acme-de", locale="en_GB", time_zone="Europe/London")
    chosen = board(book, "acme-de").recent_orders.snapshot()
    assert "<th>Purchase Date (Europe/London)</th>" in chosen and "€22.90" in chosen
    monkeypatch.setenv("ORDERTOOLS_TZ", "UTC")
    assert "<th>Purchase Date (UTC)</th>" in board(book, "acme-de").recent_orders.snapshot()
    with db.session(book) as session:
        set_reading(session, "acme-de", locale="marketplace", time_zone="marketplace")
        store = get_store(session, "acme-de")
        assert (store.locale, store.time_zone) == (None, None)
        assert reading(store).locale == "de_DE"


@pytest.mark.parametrize(
    ("choice", "said"),
    [({"locale": "xx_YY"}, "unknown locale 'xx_YY'"), ({"time_zone": "Mars/Base"}, "Mars/Base")],
)
def test_a_mistyped_choice_is_refused_and_changes_nothing(book, choice, said):
    with db.session(book) as session, pytest.raises(ConfigurationError, match=said):
        set_reading(session, "acme-de", **{"locale": "en_GB", **choice})
    with db.session(book) as session:
        assert get_store(session, "acme-de").locale is None


def test_the_cli_prints_money_as_the_store_reads_it(book):
    url = book.url.render_as_string(hide_password=False)
    runner = CliRunner()
    german = runner.invoke(main, ["--db", url, "orders", "acme-de"]).output
    assert "22,90\xa0€" in german
    chosen = runner.invoke(main, ["--db", url, "orders", "acme-de", "--locale", "en_US"]).output
    assert "€22.90" in chosen
    said = runner.invoke(main, ["--db", url, "settings", "acme-de", "--locale", "fr_FR"])
    assert said.exit_code == 0 and "Saved: Money reads as fr_FR." in said.output
    assert "Dates are in:            Europe/Berlin (the marketplace's)" in said.output
    refused = runner.invoke(main, ["--db", url, "settings", "acme-de", "--time-zone", "Mars"])
    assert refused.exit_code == 2 and "unknown time zone 'Mars'" in refused.stderr
