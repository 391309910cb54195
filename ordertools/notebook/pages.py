"""HTML for the dashboard and the order page: every piece of Amazon's text escaped.

Buyer names, SKUs, titles, addresses and notes come from Amazon and are untrusted: they pass
through `html.escape` and nothing else. Links go only to https pages or the store's local-order
template (`links.safe_href`). Dates are shown in the user's time zone; instants our own machine
recorded (when a sync ran, when we saw a status) are marked `wall-clock`, the only values a
regression test of these pages may mask.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ordertools.amazon import regions
from ordertools.db import Reconciliation, Store, SyncRun
from ordertools.domain import ship_by as ship_by_rules
from ordertools.domain.money import money
from ordertools.domain.statuses import FULFILLED_BY_WORDS, local_status_words
from ordertools.domain.stores import reading
from ordertools.errors import ConfigurationError
from ordertools.fulfillment.outbox import state_words
from ordertools.queries.exports import render_html
from ordertools.queries.links import anchor, link, safe_href

TZ_ENV = "ORDERTOOLS_TZ"
LOCALE_ENV = "ORDERTOOLS_LOCALE"

CSS = """<style>
.ordertools-orders, .ordertools-facts {border-collapse: collapse; font-size: 13px;}
.ordertools-orders th, .ordertools-orders td, .ordertools-facts th, .ordertools-facts td {
  padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;}
.ordertools-orders th {background: #f3f3f3;}
.ordertools-orders a {color: #0066c0;}
.ordertools-muted {color: #666;}
.ordertools-orders td.ordertools-num, .ordertools-orders th.ordertools-num {text-align: right;}
.ordertools-oversold {color: #b00; font-weight: bold;}
.ordertools-stock td, .ordertools-stock th {line-height: 1.5;}
.ordertools-nowrap {white-space: nowrap;}
.ordertools-view-only td {color: #555; background: #fafafa;}
.ordertools-view-only-tag {font-size: 11px; color: #666; border: 1px solid #bbb;
  border-radius: 3px; padding: 0 4px; white-space: nowrap;}
.ordertools-overdue, .ordertools-due {display: inline-block; padding: 0 6px; border-radius: 3px;
  font-weight: bold; white-space: nowrap;}
.ordertools-overdue {background: #b00; color: #fff;}
.ordertools-due {background: #f0c36d; color: #3a2a00;}
</style>"""


def e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def time_zone(name: str | None = None) -> tzinfo:
    """`name`, else `ORDERTOOLS_TZ`, else this machine's zone."""
    name = name or os.environ.get(TZ_ENV)
    if not name:
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None


@dataclass(frozen=True)
class Display:
    """How dates and money read for this user."""

    tz: tzinfo
    locale: str = "en_US"

    @classmethod
    def for_user(cls, tz_name: str | None = None) -> Display:
        return cls(time_zone(tz_name), os.environ.get(LOCALE_ENV) or "en_US")

    @classmethod
    def for_store(cls, store: Store, tz_name: str | None = None) -> Display:
        """How `store`'s pages read: dates in `tz_name`, else `ORDERTOOLS_TZ`, else the store's
        time zone (its marketplace's, unless chosen); money in `ORDERTOOLS_LOCALE`, else the
        store's locale (22,90 € on Amazon.de, ￥1,980 on Amazon.co.jp)."""
        reads = reading(store)
        zone = tz_name or os.environ.get(TZ_ENV) or reads.time_zone
        return cls(time_zone(zone), os.environ.get(LOCALE_ENV) or reads.locale)

    def heading(self, label: str) -> str:
        """A date column's heading, naming the zone its dates are in: "Purchase Date (UTC)"."""
        return f"{label} ({self.tz_name})"

    @property
    def tz_name(self) -> str:
        return getattr(self.tz, "key", None) or str(self.tz)

    def date(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    def wall_clock(self, moment: datetime | None) -> str:
        """An instant this machine recorded, marked so tests of the page can mask it."""
        if moment is None:
            return "never"
        return f'<time class="wall-clock">{e(self.date(moment))}</time>'

    def money(self, total: Decimal | None, currency: str | None) -> str:
        return money(total, currency, self.locale)

    def orders_table(self, records, columns: Sequence[str]) -> str:
        if not records:
            return '<p class="ordertools-muted">No orders match.</p>'
        return render_html(records, columns, dates=self.date, locale=self.locale, zone=self.tz_name)


def facts(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table; the values are HTML the caller has escaped."""
    body = "".join(f"<tr><th>{e(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="ordertools-facts">{body}</table>'


def store_header(
    store: Store,
    run: SyncRun | None,
    show: Display,
    reconciliation: Reconciliation | None = None,
    notifications: str | None = None,
) -> str:
    if run is None:
        synced = "never: press <b>Sync now</b>"
    else:
        counts = ", ".join(
            f"{getattr(run, name)} {name}"
            for name in ("new", "updated", "imported", "canceled", "completed", "failed")
        )
        outcome = e(run.outcome) + (f" ({e(run.error)})" if run.error else "")
        synced = f"{show.wall_clock(run.started_at)}: {outcome}; {e(counts)}"
    return facts(
        [
            ("Store", f"<b>{e(store.name)}</b>"),
            ("Marketplace", f"{e(store.marketplace_id)} ({e(store.seller_central_domain)})"),
            ("Integrated", f"{e(show.date(store.integrated_at))} ({e(show.tz_name)})"),
            ("Last sync", synced),
            ("Last reconciliation", _reconciled(store, reconciliation, show)),
            ("Notifications", _notified(store, run, notifications)),
        ]
    )


def _notified(store: Store, run: SyncRun | None, live: str | None) -> str:
    """Whether Amazon's ORDER_CHANGE notifications come in, and what the poll still found."""
    if live is None or live == "not set up":
        command = f"ordertools notifications setup {store.name} --queue-arn ARN"
        return f"not set up: orders arrive with each sync (<code>{e(command)}</code>: in seconds)"
    said = e(live)
    if run is not None:
        missed = run.new + run.updated
        said += f"; the last sync found {missed} order{'' if missed == 1 else 's'} "
        said += "no notification had delivered"
    return said


RECONCILED_KINDS = (
    ("missing", "missing"),
    ("stale", "stale"),
    ("items", "items differ"),
    ("totals", "total differs"),
    ("not_in_report", "not in report"),
)


def _reconciled(store: Store, run: Reconciliation | None, show: Display) -> str:
    """When the order book was last proved against Amazon's order report, and the outcome."""
    if run is None:
        command = f"ordertools reconcile {store.name}"
        return f"never: <code>{e(command)}</code> proves the order book complete"
    window = f"{show.date(run.window_start)} to {show.date(run.window_end)}"
    if run.outcome != "success":
        why = f" ({e(run.error)})" if run.error else ""
        return f"{show.wall_clock(run.started_at)}: {e(run.outcome)}{why}; {e(window)}"
    found = [f"{getattr(run, key)} {word}" for key, word in RECONCILED_KINDS if getattr(run, key)]
    if not found:
        said = f"{run.compared} orders compared, all match"
    else:
        said = ", ".join(found) + f"; {run.repaired} repaired"
    if run.left:
        said += f"; {run.left} left for the next run"
    return f"{show.wall_clock(run.started_at)}: {e(run.outcome)}, {e(window)}; {e(said)}"


def store_data(data, show: Display, ship_by=None) -> str:
    """Store Data; with `ship_by` (`ShipByCounts`), the orders to ship that are late or due."""
    sales = ", ".join(show.money(total, cur) for cur, total in data.lifetime_sales.items())
    counts = ", ".join(f"{e(word)}: {n}" for word, n in data.by_status.items())
    rows = [
        ("Lifetime sales", e(sales or "none yet")),
        ("Awaiting shipment", f"{data.awaiting_shipment} orders"),
    ]
    if ship_by is not None:
        rows.append(("Ship-by dates", ship_by_summary(ship_by)))
    rows.append(("Orders by status", counts or "none yet"))
    return facts(rows)


def ship_by_summary(counts, *, hint: bool = True) -> str:
    """Counts such as "2 overdue, 1 due within 24 h", with the shipping queue's badges.
    `hint`: point to the section that lists them (on the dashboard, not on a store card)."""
    within = ship_by_rules.duration_words(counts.horizon)
    if not counts.overdue and not counts.due:
        return e(f"none overdue, none due within {within}")
    parts = []
    if counts.overdue:
        parts.append(f'<span class="ordertools-overdue">{counts.overdue} overdue</span>')
    if counts.due:
        parts.append(f'<span class="ordertools-due">{counts.due} due within {e(within)}</span>')
    return " ".join(parts) + (" (see Orders awaiting shipment)" if hint else "")


def ship_by_cell(moment: datetime | None, show: Display, now: datetime, horizon: timedelta) -> str:
    """An order's ship-by date, marked Overdue or Due in … when it is."""
    if moment is None:
        return '<span class="ordertools-muted">not given</span>'
    date = _nowrap(show.date(moment))
    match ship_by_rules.urgency(moment, now, horizon):
        case ship_by_rules.Urgency.OVERDUE:
            return f'{date} <span class="ordertools-overdue">Overdue</span>'
        case ship_by_rules.Urgency.DUE:
            words = ship_by_rules.duration_words(moment - now)
            return f'{date} <span class="ordertools-due">Due in {e(words)}</span>'
    return date


def revenue_chart(frame, show: Display, *, width: int = 640, height: int = 180) -> str:
    """Bars per day, one small chart per currency (totals in different currencies don't add),
    with a value axis (zero, half and the top, in the store's money) and each day's total: as a
    label over its bar when there are few days, on hover (the bar's title) always."""
    if frame.empty or not len(frame.columns):
        return '<p class="ordertools-muted">No sales in this period.</p>'
    charts = []
    days = list(frame.index)
    axis, top_pad, bottom = 90, 16, 20  # room for the axis labels, bar labels and dates
    plot_w, plot_h = width - axis, height - top_pad - bottom
    step = plot_w / len(days)
    labelled = len(days) <= 14  # 30 days of labels would overlap
    for currency in frame.columns:
        values = [Decimal(v) for v in frame[currency]]
        top = max(values) or Decimal(1)
        parts = []
        for fraction in (0, 0.5, 1):  # gridlines and the value axis
            y = top_pad + plot_h * (1 - fraction)
            tick = show.money(top * Decimal(str(fraction)), currency)
            parts.append(
                f'<line x1="{axis}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{axis - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                f"{e(tick)}</text>"
            )
        for i, (day, value) in enumerate(zip(days, values, strict=True)):
            h = float(value / top) * plot_h
            x = axis + i * step + 1
            label = f"{day.isoformat()}: {show.money(value, currency)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" '
                f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="#3b7dd8">'
                f"<title>{e(label)}</title></rect>"
            )
            if labelled and value:
                parts.append(
                    f'<text x="{x + (step - 2) / 2:.1f}" y="{top_pad + plot_h - h - 3:.1f}" '
                    f'font-size="10" text-anchor="middle">{e(show.money(value, currency))}</text>'
                )
        first, last = days[0].isoformat(), days[-1].isoformat()
        total = show.money(sum(values), currency)
        charts.append(
            f"<div><b>{e(currency)}</b>: {e(total)} from {first} to {last}<br>"
            f'<svg width="{width}" height="{height}" role="img" '
            f'aria-label="{e(currency)} revenue per day">{"".join(parts)}'
            f'<text x="{axis}" y="{height - 5}" font-size="11">{first}</text>'
            f'<text x="{width}" y="{height - 5}" font-size="11" text-anchor="end">{last}</text>'
            "</svg></div>"
        )
    return "".join(charts)


def active_filters(filters) -> str:
    shown = filters.active()
    if not shown:
        return (
            '<span class="ordertools-muted">No filters: every order since integration '
            "(Pending hidden until verified).</span>"
        )
    return "Active filters: " + "; ".join(f"<b>{e(k)}</b> {e(v)}" for k, v in shown.items())


def _order_ship_by(detail: dict, show: Display, now: datetime | None) -> str:
    moment = _parse(detail.get("ship_by"))
    if moment is None:
        return ""
    if detail["status"] not in ("Unshipped", "Partially Shipped"):  # shipped or closed: a fact
        return e(show.date(moment))
    return ship_by_cell(moment, show, now or datetime.now(show.tz), ship_by_rules.DEFAULT_HORIZON)


def order_page(
    detail: dict,
    address: dict | None,
    show: Display,
    seller_central: str,
    activity: dict | None = None,
    now: datetime | None = None,
) -> str:
    """The order page: Amazon's order as received, the local order (with its comments, and
    `activity`'s shipments and outbox entries), the ledger and the notes. Its ship-by date is
    marked Overdue or Due in … (against `now`) while the order still waits to be shipped."""
    number = e(detail["order_number"])
    if safe_href(seller_central):
        number = anchor(number, seller_central) + " (Seller Central)"
    amazon = [
        ("Amazon order", number),
        ("Status", e(detail["status"])),
        ("Purchase date", e(show.date(_parse(detail["purchase_date"])))),
        ("Ship by", _order_ship_by(detail, show, now)),
        ("Buyer", e(detail["buyer_name"])),
        ("Buyer email", e(detail["buyer_email"])),
        ("Grand total", e(show.money(_amount(detail["grand_total"]), detail["currency"]))),
        ("Fulfilled by", e(FULFILLED_BY_WORDS.get(detail["fulfilled_by"], detail["fulfilled_by"]))),
        ("Marketplace", e(marketplace_words(detail["marketplace_id"], with_id=True))),
    ]
    amazon = [(label, value) for label, value in amazon if value]  # FBA orders: no buyer email
    if address:
        amazon.append(("Ship to", "<br>".join(e(line) for line in _address_lines(address))))
    if detail["placed_before_integration"]:
        amazon.append(("Note", "Placed before the store's integration: it never imports."))
    parts = [CSS, f"<h3>Amazon order {e(detail['order_number'])}</h3>"]
    parts += [f'<p class="ordertools-muted">Dates and times in {e(show.tz_name)}.</p>']
    parts += [facts(amazon)]
    parts += ["<h4>Items</h4>", _items(detail, show)]
    parts += ["<h5>Stock history</h5>", stock_history(detail["stock"], show)]
    parts += ["<h4>Local order</h4>", _local(detail["local_order"], show)]
    if activity is not None:
        fba = detail["fulfilled_by"] == "AMAZON"
        parts += ["<h5>Shipments</h5>", shipments(activity["shipments"], show, fba=fba)]
        parts += ["<h5>Sent to Amazon</h5>", outbox(activity["outbox"], show)]
    parts += ["<h4>Status history</h4>", _history(detail["history"], show)]
    parts += ["<h4>Notes</h4>", f"<p>{e(detail['notes'] or 'none')}</p>"]
    if detail["error"]:
        parts.append(f"<p><b>Error:</b> {e(detail['error'])}</p>")
    return "\n".join(parts)


def _address_lines(address: dict) -> list[str]:
    """An address the way it is written on a parcel, from Amazon's fields."""
    place = " ".join(
        str(address[k]) for k in ("city", "stateOrRegion", "postalCode") if address.get(k)
    )
    keys = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3")
    lines = [str(address[k]) for k in keys if address.get(k)]
    return [*lines, place, str(address.get("countryCode") or "")]


def _nowrap(text: str) -> str:
    """Escaped text kept on one line (dates, order numbers, money: a break misleads)."""
    return f'<span class="ordertools-nowrap">{e(text)}</span>'


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _amount(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    classes = f"ordertools-orders {css}".strip()
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead>{body}</table>'


def _items(detail: dict, show: Display) -> str:
    if not detail["items"]:
        return '<p class="ordertools-muted">No items.</p>'
    return _table(
        ("SKU", "ASIN", "Title", "Ordered", "Shipped", "Unit price", "Stock"),
        (
            (
                e(i["sku"]),
                e(i["asin"]),
                e(i["title"]),
                e(i["quantity_ordered"]),
                e(i["quantity_shipped"]),
                e(show.money(_amount(i["unit_price"]), detail["currency"])),
                item_stock_words(i),
            )
            for i in detail["items"]
        ),
    )


def item_stock_words(item: dict) -> str:
    """What an order's item holds now: "holds 2", or "nothing held: <why>" (escaped)."""
    if item["held"]:
        return f"<b>holds {e(item['held'])}</b>"
    return f'<span class="ordertools-muted">nothing held: {e(item["not_held_because"])}</span>'


def stock_history(holds: list[dict], show: Display) -> str:
    """An order's holds, open and released, oldest first (`order_detail`'s "stock")."""
    if not holds:
        return '<p class="ordertools-muted">This order has never held stock.</p>'
    return _table(
        ("SKU", "Units", "Held since", "Why held", "Released", "Why released"),
        (
            (
                e(h["sku"]),
                e(h["quantity"]),
                show.wall_clock(_parse(h["since"])),
                e(h["reason"]),
                "<b>held now</b>" if h["open"] else show.wall_clock(_parse(h["released_at"])),
                e(h["release_reason"]),
            )
            for h in holds
        ),
        css="ordertools-stock-history",
    )


# -- the dashboard's Stock section -----------------------------------------------------------


def _holding(holding, store: str) -> str:
    """One order holding a product: units × its number, a link by Recent Orders' rule (the local
    order, else Seller Central); Pending when it has no local order yet, the store when not this
    dashboard's. A narrow table wraps between the number and the note, or inside Amazon's
    number at its dashes (as Recent Orders does), never between the units and the number."""
    number = holding.local_order_number or holding.amazon_order_id
    order = link(e(number), holding.link)
    text = f"{e(holding.quantity)}&nbsp;×&nbsp;{order}"
    notes = ["Pending"] if holding.local_order_number is None else []
    if holding.store != store:
        notes.append(holding.store)
    if notes:
        text += f' <span class="ordertools-muted ordertools-nowrap">({e(", ".join(notes))})</span>'
    return text


def stock_table(stock, store: str) -> str:
    """Products at or below the threshold (`queries.stock.LowStock`), oversold first, with the
    orders holding them; `store` is the dashboard's store (other stores' holders are named)."""
    if not stock.managed:
        return (
            '<p class="ordertools-muted">No product manages its stock yet. Load your catalog '
            "with <code>ordertools products import FILE</code> (columns sku, name, quantity, "
            "manage_stock).</p>"
        )
    if not stock.levels:
        return f'<p class="ordertools-muted">No product at or below {e(stock.low)} available.</p>'
    rows = []
    for level in stock.levels:
        held = [_holding(h, store) for h in stock.holdings.get(level.sku, [])]
        if stock.more_holders.get(level.sku):
            more_orders = e(stock.more_holders[level.sku])
            held.append(f'<span class="ordertools-muted">and {more_orders} more orders</span>')
        oversold = (
            f'<span class="ordertools-oversold">{e(level.oversold)}</span>'
            if level.oversold
            else "0"
        )
        rows.append(
            "<tr>"
            f"<td>{e(level.sku)}</td><td>{e(level.name)}</td>"
            f'<td class="ordertools-num">{e(level.on_hand)}</td>'
            f'<td class="ordertools-num">{e(level.reserved)}</td>'
            f'<td class="ordertools-num">{e(level.available)}</td>'
            f'<td class="ordertools-num">{oversold}</td>'
            f"<td>{'<br>'.join(held) or _NONE}</td>"
            "</tr>"
        )
    head = "".join(
        f'<th class="ordertools-num">{h}</th>' if h in _NUMERIC else f"<th>{h}</th>"
        for h in (
            "SKU",
            "Name",
            "On hand",
            "Reserved",
            "Available",
            "Oversold",
            "Held by (units × order)",
        )
    )
    more = (
        f'<p class="ordertools-muted">The {len(stock.levels)} lowest are shown: '
        f"<code>ordertools products list --low {e(stock.low)}</code> lists them all.</p>"
        if stock.more
        else ""
    )
    return (
        '<table class="ordertools-orders ordertools-stock">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


_NUMERIC = {"On hand", "Reserved", "Available", "Oversold"}
_NONE = '<span class="ordertools-muted">none</span>'


def _local(local: dict | None, show: Display) -> str:
    if local is None:
        return '<p class="ordertools-muted">Not imported: view only (see the notes).</p>'
    customer = e(local["customer_name"]) + (
        " (guest)" if local["is_guest"] else f" &lt;{e(local['customer_email'])}&gt;"
    )
    table = facts(
        [
            ("Number", e(local["number"])),
            ("Status", e(local_status_words(local["status"]))),
            ("Customer", customer),
            ("Created", show.wall_clock(_parse(local["created_at"]))),
        ]
    )
    comments = _table(
        ("When", "Status", "Comment", "By"),
        (
            (
                show.wall_clock(_parse(h["at"])),
                e(local_status_words(h["status"])),
                e(h["comment"]),
                e(h["source"]),
            )
            for h in local["history"]
        ),
    )
    return table + "<h5>Comments</h5>" + comments


def _history(events: list[dict], show: Display) -> str:
    if not events:
        return '<p class="ordertools-muted">No status seen yet.</p>'
    return _table(
        ("Seen", "Amazon updated", "Status", "Decision", "Note"),
        (
            (
                show.wall_clock(_parse(ev["observed_at"])),
                e(show.date(_parse(ev["amazon_updated_at"]))),
                e(ev["status_word"]),
                e(ev["action"]),
                e(ev["note"]),
            )
            for ev in events
        ),
    )


# -- fulfillment: the shipping queue, shipments, the outbox ---------------------------------------


def outbox_state(state: str | None, error: str | None = None) -> str:
    """How far a change for Amazon got, in words; the error (escaped) when there is one."""
    if state is None:
        return '<span class="ordertools-muted">nothing sent yet</span>'
    text = f'<span class="outbox-{e(state)}">{e(state_words(state))}</span>'
    return text + (f": {e(error)}" if error else "")


def awaiting_table(
    orders,
    show: Display,
    now: datetime | None = None,
    horizon: timedelta = ship_by_rules.DEFAULT_HORIZON,
) -> str:
    """Orders awaiting shipment (`awaiting.AwaitingOrder`s) as given (soonest ship-by first),
    each ship-by date marked when it passed or falls within `horizon` of `now`."""
    if not orders:
        return '<p class="ordertools-muted">No orders are waiting to be shipped.</p>'
    now = now or datetime.now(show.tz)
    return _table(
        (show.heading("Ship By"), show.heading("Purchase Date"), "Order Number", "Local Order",
         "Buyer's Name", "Grand Total", "Status", "To ship", "Sent to Amazon"),
        (
            (
                ship_by_cell(o.ship_by, show, now, horizon),
                _nowrap(show.date(o.purchase_date)),
                _nowrap(o.order_number),
                e(o.local_number),
                e(o.buyer_name),
                _nowrap(show.money(o.grand_total, o.currency)),
                e(o.status),
                e(", ".join(f"{n} × {sku}" for sku, n in o.to_ship)),
                outbox_state(o.outbox_state, o.outbox_error),
            )
            for o in orders
        ),
        css="ordertools-awaiting",
    )  # fmt: skip


def outbox(entries: list[dict], show: Display) -> str:
    """Outbox entries (`fulfillment.order_activity` or `list_outbox` dicts), as given."""
    if not entries:
        return '<p class="ordertools-muted">Nothing sent to Amazon yet.</p>'
    with_order = "order_number" in entries[0]
    headings = ("Order", "Change", "State", "Attempts") if with_order else ("Change", "State")
    rows = []
    for entry in entries:
        state = outbox_state(entry["state"], entry["last_error"])
        if with_order:
            rows.append((e(entry["order_number"]), e(entry["kind"]), state, e(entry["attempts"])))
        else:
            rows.append((e(entry["kind"]), state))
    return _table(headings, rows)


def shipments(packages: list[dict], show: Display, *, fba: bool = False) -> str:
    if not packages:
        said = "Amazon ships this order (FBA)." if fba else "No shipments made here yet."
        return f'<p class="ordertools-muted">{said}</p>'
    return _table(
        ("Shipped", "Carrier", "Tracking", "Method", "Items"),
        (
            (
                show.wall_clock(p["ship_date"]),
                e(p["carrier"]),
                e(p["tracking_number"]),
                e(p["shipping_method"]),
                e(", ".join(f"{i['quantity']} × {i['sku']}" for i in p["items"])),
            )
            for p in packages
        ),
    )


def marketplace_words(marketplace_id: str | None, *, with_id: bool = False) -> str:
    """ "Amazon.co.uk (GB)", or "Amazon.co.uk (A1F83G8C2ARO7P)" `with_id`; the bare id when
    ordertools does not know the marketplace."""
    market = regions.marketplace(marketplace_id or "")
    if market is None:
        return marketplace_id or ""
    return f"{market.name} ({marketplace_id if with_id else market.country})"
