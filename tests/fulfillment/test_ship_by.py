"""Ship-by dates: Amazon's promise of when each order ships, and the late ones made visible.

Amazon sends each order's shipByWindow; a shipment after its end is late and counts against
the seller's account health. The sync keeps the date; the shipping queue lists the soonest
first and marks what is overdue or due within 24 hours; Store Data and the store cards count
them; the order page shows the date; `ordertools orders --due-within` lists them; the sync
notebook names them (its reference output, notebooks/sync.ipynb).
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
from click.testing import CliRunner
from fixtures_sync import Shop
from sqlalchemy import text

from ordertools import db
from ordertools.amazon.models import parse_order
from ordertools.cli import main
from ordertools.domain import ship_by
from ordertools.domain.stores import get_store
from ordertools.fulfillment.awaiting import awaiting_shipment, ship_by_counts
from ordertools.notebook.base import Dashboard
from ordertools.notebook.dashboard import StoreDashboard
from ordertools.notebook.order_page import OrderView
from ordertools.notebook.pages import Display
from ordertools.notebook.store_cards import cards_html, store_cards


def _late_and_not(shop: Shop) -> dict[str, str]:
    """Orders whose ship-by dates passed two hours ago, fall in five hours, in three days, and
    orders that never wait here (FBA, shipped, canceled) though their dates passed; synced."""
    world = shop.world
    orders = {
        "overdue": world.add_order(ship_by="-2h", created="-3h", buyer_name="Olive Overdue"),
        "due": world.add_order(ship_by="+5h", buyer_name="Dana Due"),
        "later": world.add_order(ship_by="+3d", buyer_name="Larry Later"),
        "fba": world.add_order(ship_by="-1d", fulfilled_by="AMAZON", status="SHIPPED"),
        "shipped": world.add_order(ship_by="-1d", status="SHIPPED"),
        "canceled": world.add_order(ship_by="-1d", status="CANCELLED"),
    }
    shop.later()
    shop.sync()
    return orders


def test_the_sync_keeps_amazons_ship_by_date(shop):
    order_id = shop.world.add_order(ship_by="2030-01-02T03:04:05Z")
    shop.later()
    shop.sync()
    assert shop.row(order_id).ship_by.isoformat() == "2030-01-02T03:04:05+00:00"
    assert shop.detail(order_id)["ship_by"] == "2030-01-02T03:04:05+00:00"


@pytest.mark.parametrize("latest", ["soon", "2026-12-01T10:00:00", 42, None])
def test_an_unreadable_ship_by_date_is_left_out_and_the_order_stays_readable(latest):
    order = {
        "orderId": "111-0000000-0000001",
        "createdTime": "2026-12-01T10:00:00Z",
        "lastUpdatedTime": "2026-12-01T10:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
        "orderItems": [],
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "shipByWindow": {}},
    }
    if latest is not None:
        order["fulfillment"]["shipByWindow"]["latestDateTime"] = latest
    if isinstance(latest, int):  # not even text: the order is malformed, as for any field
        with pytest.raises(Exception, match="latestDateTime"):
            parse_order(json.dumps(order).encode())
        return
    parsed = parse_order(json.dumps(order).encode())
    assert parsed.status == "UNSHIPPED" and parsed.ship_by is None  # a naive time: no instant


def test_the_shipping_queue_lists_the_soonest_first_and_counts_the_late_ones(shop):
    orders = _late_and_not(shop)
    now = shop.clock()
    with db.session(shop.engine) as session:
        store = get_store(session, shop.name)
        queue = awaiting_shipment(session, store)
        soon = awaiting_shipment(session, store, due_before=now + timedelta(hours=12))
        counts = ship_by_counts(session, store, now)
        wider = ship_by_counts(session, store, now, timedelta(days=4))
    assert [o.order_number for o in queue] == [orders["overdue"], orders["due"], orders["later"]]
    assert [o.order_number for o in soon] == [orders["overdue"], orders["due"]]
    assert (counts.overdue, counts.due) == (1, 1)
    assert (wider.overdue, wider.due) == (1, 2)


def test_the_dashboard_marks_late_orders_and_counts_them(shop):
    orders = _late_and_not(shop)
    dash = Dashboard(shop.engine, shop.name, show=Display(tz=UTC), clock=shop.clock)
    board = StoreDashboard(dash)
    rows = board.awaiting.snapshot().split("<tr>")
    row_of = {key: next(r for r in rows if orders[key] in r) for key in ("overdue", "due", "later")}
    assert '<span class="ordertools-overdue">Overdue</span>' in row_of["overdue"]
    assert '<span class="ordertools-due">Due in 5 h</span>' in row_of["due"]
    assert "ordertools-overdue" not in row_of["later"] and "ordertools-due" not in row_of["later"]
    assert "<th>Ship By (UTC)</th>" in rows[1]  # the zone its dates are in
    data = board.store_data.snapshot()
    assert "1 overdue" in data and "1 due within 24 h" in data

    page = OrderView(dash, orders["overdue"]).snapshot()
    assert "<th>Ship by</th>" in page and "ordertools-overdue" in page
    shipped = OrderView(dash, orders["shipped"]).snapshot()  # shipped: a date, no alarm
    assert "<th>Ship by</th>" in shipped and "ordertools-overdue" not in shipped

    with db.session(shop.engine) as session:
        (card,) = store_cards(session, now=shop.clock())
    assert "1 overdue" in cards_html([card], Display(tz=UTC))


def test_orders_due_within_lists_the_late_ones(shop, monkeypatch):
    orders = _late_and_not(shop)
    url = shop.engine.url.render_as_string(hide_password=False)
    # The CLI judges by this machine's clock; the emulator's ticks along with it (a lag ahead).
    runner = CliRunner()
    result = runner.invoke(main, ["--db", url, "orders", shop.name, "--due-within", "12h"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["Ship", "By", "Late"]
    assert orders["overdue"] in lines[1] and "overdue by" in lines[1]
    assert orders["due"] in lines[2] and "due in" in lines[2]
    assert orders["later"] not in result.output and len(lines) == 3

    result = runner.invoke(
        main, ["--db", url, "orders", shop.name, "--due-within", "4d", "--format", "json"]
    )
    listed = json.loads(result.output)
    assert [o["urgency"] for o in listed] == ["overdue", "due", "due"]

    result = runner.invoke(main, ["--db", url, "orders", shop.name, "--due-within", "soon"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --due-within: 'soon' is not a duration: give a number and a unit, "
        "e.g. 12h, 90m or 2d"
    ]


def test_upgrading_to_0011_fills_the_dates_of_orders_still_to_ship(engine):
    db.downgrade(engine, "0010")
    now = "2026-11-30 10:00:00.000000"
    window = '"fulfillment": {"shipByWindow": {"latestDateTime": "2026-12-01T18:00:00Z"}}'
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (id, name, marketplace_id, region, endpoint, token_url, "
                "seller_central_domain, integrated_at, reserve_quantity, created_at) VALUES "
                "(1, 'acme', 'ATVPDKIKX0DER', 'na', 'http://x', 'http://x', "
                f"'sellercentral.amazon.com', '{now}', false, '{now}')"
            )
        )
        for pk, status in ((10, "UNSHIPPED"), (11, "SHIPPED")):
            conn.execute(text(
                "INSERT INTO amazon_orders (id, store_id, amazon_order_id, status, raw, "
                f"first_seen_at, updated_at) VALUES ({pk}, 1, '111-0000000-00000{pk}', "
                f"'{status}', '{{{window}}}', '{now}', '{now}')"
            ))  # fmt: skip
    db.upgrade(engine)
    with db.session(engine) as session:
        rows = session.execute(text("SELECT id FROM amazon_orders ORDER BY id")).all()
        dates = {pk: session.get(db.AmazonOrderRow, pk).ship_by for (pk,) in rows}
    assert dates[10].isoformat() == "2026-12-01T18:00:00+00:00"
    assert dates[11] is None  # shipped: its date comes with its next change, if ever needed


def test_durations_read_as_people_write_them():
    assert ship_by.parse_horizon("12h") == timedelta(hours=12)
    assert ship_by.parse_horizon("90m") == timedelta(minutes=90)
    assert ship_by.parse_horizon("1.5d") == timedelta(hours=36)
    for wrong in ("", "12", "h", "-3h", "0h", "12 hours"):
        with pytest.raises(ValueError, match="e.g. 12h"):
            ship_by.parse_horizon(wrong)
    assert ship_by.duration_words(timedelta(minutes=40)) == "40 min"
    assert ship_by.duration_words(timedelta(hours=5, minutes=10)) == "5 h"
    assert ship_by.duration_words(timedelta(days=2, hours=3)) == "2 d 3 h"
