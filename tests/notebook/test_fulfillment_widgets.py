"""Ship, cancel and comment through the dashboard's widgets, and the Run history section.

The store (`shop`, from fixtures_sync) is wired to the emulator: what a person does in Orders
awaiting shipment or on the order page must reach Amazon (the emulator's world and counters)
through `ordertools.fulfillment`, and a refused action must say why, in place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fixtures_sync import MUG, TEA, Shop, fast_client, imported
from sqlalchemy import select

from ordertools import db
from ordertools.db import NotebookRun, OutboxEntry
from ordertools.domain.stores import update_settings
from ordertools.notebook.base import Dashboard
from ordertools.notebook.dashboard import StoreDashboard
from ordertools.notebook.order_actions import OrderActions
from ordertools.notebook.order_page import OrderView
from ordertools.notebook.pages import Display
from ordertools.notebook.run_history import output_href


@pytest.fixture
def client(shop: Shop):
    with fast_client(shop) as client:
        yield client


def board(shop: Shop, client) -> StoreDashboard:
    dash = Dashboard(
        shop.engine, shop.name, show=Display(tz=UTC), clock=shop.clock, client=client,
        progress=False,
    )  # fmt: skip
    return StoreDashboard(dash)


def outbox(shop: Shop) -> list[OutboxEntry]:
    with db.session(shop.engine) as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def test_ship_from_orders_awaiting_shipment(shop, client):
    order_id = imported(shop)
    dashboard = board(shop, client)
    awaiting = dashboard.awaiting
    assert [o.order_number for o in awaiting.orders] == [order_id]
    assert f"2 × {MUG}, 1 × {TEA}" in awaiting.snapshot()
    assert order_id in dashboard.recent_orders.snapshot()

    awaiting.choose.value = order_id
    form = awaiting.actions
    form.carrier.value = "UPS"
    form.tracking.value = "1Z999AA10123456784"
    form.method.value = "Ground"
    form.ship_button.click()

    assert shop.local(order_id).status == "complete"
    assert [(e.kind, e.state) for e in outbox(shop)] == [("ship", "sent")]
    assert shop.emu.stats["confirmShipment"]["ok"] == 1
    assert shop.world.get(order_id)["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    # The section and Recent Orders read the database again: the order left the queue, the
    # message and the outbox say how far the change got.
    assert awaiting.orders == [] and awaiting.actions is None
    assert "Shipped: order" in awaiting.message.value and "sent to Amazon" in awaiting.message.value
    assert "sent, waiting to see it at Amazon" in awaiting.outbox.value


def test_a_partial_shipment_keeps_the_order_waiting_with_what_is_left(shop, client):
    order_id = imported(shop, mugs=3)
    awaiting = board(shop, client).awaiting
    awaiting.choose.value = order_id
    form = awaiting.actions
    form.carrier.value, form.carrier_name.value = "Other", "Acme <Post>"
    form.tracking.value = "A1"
    form.units[MUG].value = 1
    form.units[TEA].value = 0
    form.ship_button.click()
    assert shop.local(order_id).status == "processing"
    assert [o.order_number for o in awaiting.orders] == [order_id]
    assert f"2 × {MUG}, 1 × {TEA}" in awaiting.snapshot()
    assert awaiting.actions.left == {MUG: 2, TEA: 1}  # the form now offers what is left
    page = OrderView(awaiting.dash, order_id)
    assert "Acme &lt;Post&gt;" in page.snapshot() and "<Post>" not in page.snapshot()


@pytest.mark.parametrize(
    ("fill", "reason"),
    [
        ({"carrier": "UPS", "tracking": " "}, "a tracking number is required"),
        ({"carrier": "Other", "tracking": "X1"}, "carrier &quot;Other&quot; needs"),
        ({"carrier": "", "tracking": "X1"}, "unknown carrier"),
    ],
)
def test_a_refused_shipment_says_why_in_place(shop, client, fill, reason):
    order_id = imported(shop)
    awaiting = board(shop, client).awaiting
    awaiting.choose.value = order_id
    form = awaiting.actions
    form.carrier.value, form.tracking.value = fill["carrier"], fill["tracking"]
    assert form.ship() is None
    assert reason in form.message.value and "color:#b00" in form.message.value
    assert "Traceback" not in form.message.value
    assert shop.local(order_id).status != "complete" and outbox(shop) == []
    assert shop.emu.stats["confirmShipment"]["ok"] == 0
    assert not form.ship_button.disabled


def test_an_fba_order_is_refused_with_the_reason(shop, client):
    fba = imported(shop, fulfilled_by="AMAZON", status="SHIPPED", teas=0)
    dashboard = board(shop, client)
    assert dashboard.awaiting.orders == []  # Amazon ships FBA orders: never in the queue
    form = OrderActions(dashboard.dash, fba)
    form.carrier.value, form.tracking.value = "UPS", "1Z1"
    form.ship_button.click()
    assert "fulfilled by Amazon (FBA)" in form.message.value and outbox(shop) == []
    page = OrderView(dashboard.dash, fba)
    assert page.actions is None and "Amazon ships this order (FBA)" in page.snapshot()


def test_cancel_with_a_reason_from_the_order_page(shop, client):
    order_id = imported(shop)
    dashboard = board(shop, client)
    dashboard.all_orders.show_order(order_id)
    page = dashboard.all_orders.order_view
    page.actions.cancel_button.click()  # no reason chosen yet
    assert "unknown cancel reason" in page.actions.message.value and outbox(shop) == []
    page.actions.reason.value = "NoInventory"
    page.actions.cancel_button.click()
    assert shop.local(order_id).status == "canceled"
    assert [(e.kind, e.state) for e in outbox(shop)] == [("cancel", "sent")]
    # The page shows the change and its outbox entry, and offers no more actions.
    assert page.actions is None
    html = page.snapshot()
    assert "Canceled (NoInventory)" in html and "sent, waiting to see it at Amazon" in html
    assert dashboard.awaiting.orders == []


def test_a_comment_appears_in_the_history(shop, client):
    order_id = imported(shop)
    page = OrderView(board(shop, client).dash, order_id)
    page.comment_button.click()
    assert "the comment is empty" in page.message.value
    page.comment.value = "Gift wrap <please>"
    page.comment_button.click()
    assert "Comment added" in page.message.value and page.comment.value == ""
    assert "Gift wrap &lt;please&gt;" in page.snapshot() and "<please>" not in page.snapshot()


def test_run_history_lists_a_recorded_run_with_an_escaped_link(shop, client, tmp_path):
    archive = tmp_path / "lab" / "runs" / "sync-<x>&y.ipynb"
    archive.parent.mkdir(parents=True)
    archive.write_text('{"cells": []}')
    started = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with db.session(shop.engine) as session:
        for store, outcome, path in [
            (shop.name, "success", str(archive)),
            ("all", "failed", "s3://bucket/sync-all.ipynb"),
            ("other", "success", "/elsewhere/sync-other.ipynb"),
        ]:
            session.add(
                NotebookRun(
                    notebook="sync.ipynb", store=store, parameters={"store": store},
                    started_at=started, finished_at=started + timedelta(seconds=3),
                    outcome=outcome, output_path=path, error="boom <b>" if outcome == "failed"
                    else None, host="h", pid=1,
                )
            )  # fmt: skip
    history = board(shop, client).run_history
    html = history.snapshot()
    assert "sync-&lt;x&gt;&amp;y.ipynb" in html and "<x>" not in html
    assert "sync-all.ipynb" in html and "boom &lt;b&gt;" in html  # runs of every store
    assert "sync-other" not in html
    # A Jupyter server whose root holds the archive opens it in JupyterLab (not file://).
    lab = [{"url": "http://lab:8888/", "base_url": "/", "root_dir": str(tmp_path / "lab")}]
    assert output_href(str(archive), lab) == "/lab/tree/runs/sync-%3Cx%3E%26y.ipynb"
    assert output_href("/hidden/.local/x.ipynb", [{**lab[0], "root_dir": "/hidden"}]) is None
    assert output_href("https://ex.org/a.ipynb", []) == "https://ex.org/a.ipynb"
    assert output_href(str(archive), []) is None
    # Download works wherever the page runs (Voila too): the file comes with the page.
    history.choose.value = next(r.id for r in history.runs if r.store == shop.name)
    assert history.download() == archive.read_bytes()
    assert 'download="sync-&lt;x&gt;&amp;y.ipynb"' in history.download_link.value


def _import(shop: Shop, enabled: bool) -> None:
    with db.session(shop.engine) as session:
        update_settings(session, shop.name, import_enabled=enabled)


def test_a_view_only_order_is_imported_from_its_page_while_import_is_enabled(shop, client):
    _import(shop, False)
    order_id = shop.world.add_order()
    shop.later()
    shop.sync()
    assert shop.local(order_id) is None  # view only: it arrived while import was disabled
    dash = board(shop, client).dash
    assert OrderView(dash, order_id).import_button not in _shown(OrderView(dash, order_id))

    _import(shop, True)
    changed = []
    page = OrderView(dash, order_id, on_change=lambda: changed.append(True))
    assert page.import_button in _shown(page)
    page.import_button.click()
    local = shop.local(order_id)
    assert local is not None and f"Imported as local order {local.number}." in page.message.value
    assert page.import_button not in _shown(page) and changed == [True]
    assert page.comment_button in _shown(page)  # a local order now: comments, Ship, Cancel


def test_an_import_the_rules_refuse_says_why_on_the_page(shop, client):
    _import(shop, False)
    order_id = shop.world.add_order(status="PENDING")  # payment not verified yet
    shop.later()
    shop.sync()
    _import(shop, True)
    page = OrderView(board(shop, client).dash, order_id)
    page.import_button.click()
    assert shop.local(order_id) is None
    assert "Pending" in page.import_message.value or "pending" in page.import_message.value


def _shown(view) -> list:
    """Every widget the order page shows, depth first."""
    found, stack = [], list(view.children)
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack.extend(getattr(widget, "children", ()))
    return found
