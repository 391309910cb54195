"""`ordertools orders` and `ordertools show`: Recent/All Orders and one order's story."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from ordertools import db
from ordertools.cli.context import CONTEXT, instant, order_book
from ordertools.domain import stores, text
from ordertools.domain.instants import when
from ordertools.domain.statuses import FULFILLED_BY_WORDS, parse_status_filter
from ordertools.domain.text import clean
from ordertools.errors import ConfigurationError
from ordertools.queries.filters import OrderFilters


def _date(value: str | None, option: str) -> date | datetime | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return instant(value, option)


def _decimal(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ConfigurationError(f"{option} {value!r} is not a number, e.g. 25 or 19.99")
    return number


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Shown word or Amazon code (repeatable): Pending, Unshipped, Shipped, "
    "Completed, Canceled, ...",
)
@click.option("--from", "from_", metavar="DATE", help="Purchased on or after (YYYY-MM-DD, UTC).")
@click.option("--to", metavar="DATE", help="Purchased on or before (YYYY-MM-DD, whole day).")
@click.option("--buyer", help="Part of the buyer's name (any case).")
@click.option("--order-number", help="Part of Amazon's order number, or a local order number.")
@click.option("--min-total")
@click.option("--max-total")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--columns",
    help="Comma-separated: purchase_date, order_number, status, "
    "buyer_name, grand_total, notes, local_order_number, fulfilled_by, marketplace_id.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "html", "xlsx"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of the terminal (required for xlsx).",
)
@click.option(
    "--locale",
    envvar="ORDERTOOLS_LOCALE",
    help="How money reads, e.g. de_DE (22,90 €). Default: ORDERTOOLS_LOCALE, else the store's "
    "(its marketplace's unless `settings --locale` chose one).",
)
@click.option(
    "--due-within",
    metavar="DURATION",
    help="Instead: the orders to ship whose ship-by date has passed or falls within DURATION "
    "(e.g. 12h, 90m, 2d), soonest first.",
)
@click.pass_context
def orders(
    ctx,
    name,
    statuses,
    from_,
    to,
    buyer,
    order_number,
    min_total,
    max_total,
    limit,
    columns,
    fmt,
    output,
    locale,
    due_within,
):
    """Recent Orders (newest first, Pending hidden until verified), with filters.

    \b
    Example:
      ordertools orders acme --status unshipped --from 2026-11-01 --format csv --output out.csv
      ordertools orders acme --due-within 12h
    """
    if due_within is not None:
        filtered = [statuses, from_, to, buyer, order_number, min_total, max_total, columns]
        if any(filtered) or output is not None or fmt not in ("table", "json"):
            raise ConfigurationError(
                "--due-within lists the orders to ship by their ship-by date: use it alone "
                "(with --limit, --format table or json)"
            )
        _due(ctx, name, due_within, limit, fmt, locale)
        return
    # The listing's money formats (Babel) and exports (pandas) load only when orders print.
    from ordertools.queries import exports
    from ordertools.queries.orders import query_orders

    try:
        status_filter = parse_status_filter(statuses)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    filters = OrderFilters(
        statuses=status_filter,
        purchased_from=_date(from_, "--from"),
        purchased_to=_date(to, "--to"),
        buyer=buyer,
        order_number=order_number,
        min_total=_decimal(min_total, "--min-total"),
        max_total=_decimal(max_total, "--max-total"),
    )
    chosen = [key for key, _ in exports.DEFAULT_COLUMNS]
    if columns:
        chosen = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in exports.HEADINGS]
        if unknown:
            raise ConfigurationError(
                f"unknown column {', '.join(unknown)}: use {', '.join(exports.HEADINGS)}"
            )
    if fmt == "xlsx" and output is None:
        raise ConfigurationError("--format xlsx writes a file: add --output orders.xlsx")
    with db.session(order_book(ctx)) as session:
        store = stores.get_store(session, name)
        records = query_orders(session, store, filters, limit=limit)
        locale = _locale(locale, store)
    rendered = {
        "table": lambda: exports.render_table(records, chosen, locale),
        "json": lambda: exports.render_json(records),
        "csv": lambda: exports.render_csv(records, chosen),
        "html": lambda: exports.render_html(records, chosen, locale=locale),
        "xlsx": lambda: exports.render_xlsx(records, chosen),
    }[fmt]()
    if output is None:
        click.echo(rendered.rstrip("\n"))
        return
    data = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
    try:
        output.write_bytes(data)
    except OSError as exc:  # a folder that isn't there, or isn't ours to write
        raise ConfigurationError(
            f"cannot write {output} ({exc.strerror or exc}): choose another --output"
        ) from None
    click.echo(f"Wrote {len(records)} orders to {output}", err=True)


def _locale(chosen: str | None, store) -> str:
    """`--locale` as Babel reads it, else the store's; a mistyped one is refused in one line."""
    if not chosen:
        return stores.reading(store).locale
    try:
        return stores.parse_locale(chosen)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--locale: {exc}") from None


def _due(ctx, name: str, within: str, limit: int, fmt: str, locale: str | None) -> None:
    """`orders --due-within`: the shipping queue's overdue and due-soon orders."""
    from datetime import UTC, datetime

    from ordertools.domain import ship_by
    from ordertools.domain.money import money
    from ordertools.fulfillment.awaiting import awaiting_shipment

    try:
        horizon = ship_by.parse_horizon(within)
    except ValueError as exc:
        raise ConfigurationError(f"--due-within: {exc}") from None
    now = datetime.now(UTC)
    with db.session(order_book(ctx)) as session:
        store = stores.get_store(session, name)
        due = awaiting_shipment(session, store, limit=limit, due_before=now + horizon)
        locale = _locale(locale, store)
    if fmt == "json":
        click.echo(json.dumps([_due_json(o, now, horizon) for o in due], indent=2))
        return
    if not due:
        within = ship_by.duration_words(horizon)
        click.echo(f"No order of {name} is overdue or due to ship within {within}.")
        return
    rows = [
        [
            when(o.ship_by),
            ship_by.in_words(o.ship_by, now, horizon),
            o.order_number,
            o.local_number,
            o.buyer_name or "",
            o.status,
            money(o.grand_total, o.currency, locale),
        ]
        for o in due
    ]
    headings = ["Ship By", "Late", "Order Number", "Local Order", "Buyer's Name", "Status",
                "Grand Total"]  # fmt: skip
    click.echo(text.table(headings, rows, numeric=[6]))


def _due_json(order, now, horizon) -> dict:
    from ordertools.domain import ship_by
    from ordertools.domain.money import money_string

    return {
        "order_number": order.order_number,
        "local_order_number": order.local_number,
        "ship_by": order.ship_by.isoformat() if order.ship_by else None,
        "urgency": getattr(ship_by.urgency(order.ship_by, now, horizon), "value", None),
        "buyer_name": order.buyer_name,
        "status": order.status,
        "grand_total": money_string(order.grand_total, order.currency),
        "currency": order.currency,
    }


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.argument("order_number")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--locale", envvar="ORDERTOOLS_LOCALE", help="How money reads, as for `orders`.")
@click.pass_context
def show(ctx, name, order_number, fmt, locale):
    """One order, whatever its status or age, with its local order, note, stock and history.

    ORDER_NUMBER is Amazon's order number or the local order's number.

    \b
    Example:
      ordertools show acme-us 113-6624039-0810111 --format json
    """
    from ordertools.queries.detail import order_detail  # as in `orders`: loaded when used

    with db.session(order_book(ctx)) as session:
        store = stores.get_store(session, name)
        detail = order_detail(session, store, order_number)
        locale = _locale(locale, store)
    if fmt == "json":
        click.echo(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    click.echo(_story(detail, locale))


def _story(detail: dict, locale: str = "en_US") -> str:
    """`show`'s text: money and dates as `orders` prints them, Amazon's codes in words, and
    Amazon's text made harmless (`text.clean`)."""
    from ordertools.domain.money import money  # Babel, as in `orders`: loaded when used

    total = (
        money(Decimal(detail["grand_total"]), detail["currency"], locale)
        if detail["grand_total"]
        else ""
    )
    local = detail["local_order_number"] or "none"
    if detail["local_order_status"]:
        local += f" ({detail['local_order_status']})"
    fulfilled = detail["fulfilled_by"]
    lines = [
        clean(f"Amazon order {detail['order_number']} ({detail['status']})"),
        text.facts(
            [
                ("Purchase date", _when(detail["purchase_date"]) or "-"),
                ("Buyer", detail["buyer_name"] or "-"),
                ("Grand total", total or "-"),
                ("Fulfilled by", FULFILLED_BY_WORDS.get(fulfilled, fulfilled) or "-"),
                ("Local order", local),
                ("Notes", detail["notes"] or "-"),
                ("Link", detail["link"]),
            ]
        ),
        "  Items",
        *(
            clean(f"    {i['quantity_ordered']} x {i['sku'] or '-'}  {i['title'] or ''}").rstrip()
            for i in detail["items"]
        ),
        "  Stock",
        *(clean(line) for line in _stock_lines(detail)),
        "  Status history",
        *(
            clean(
                f"    {_when(h['observed_at'])}  {h['status_word']:<18} {h['action']:<9} "
                f"{h['note'] or ''}"
            ).rstrip()
            for h in detail["history"]
        ),
    ]
    return "\n".join(lines)


def _stock_lines(detail: dict) -> list[str]:
    """What each item holds now (or why nothing), then the holds released, with their reason."""
    why_held = {h["sku"]: h["reason"] for h in detail["stock"] if h["open"]}
    lines, seen = [], set()
    for item in detail["items"]:
        if item["sku"] in seen:
            continue
        seen.add(item["sku"])
        if item["held"]:
            now = f"holds {item['held']} ({why_held.get(item['sku']) or 'held'})"
        else:
            now = f"nothing held: {item['not_held_because']}"
        lines.append(f"    {item['sku'] or '-'}  {now}")
    for hold in detail["stock"]:
        if not hold["open"]:
            lines.append(
                f"    released {hold['quantity']} x {hold['sku']} at {_when(hold['released_at'])}"
                f": {hold['release_reason'] or '-'}"
                f" (held since {_when(hold['since'])}: {hold['reason'] or '-'})"
            )
    return lines or ["    -"]


def _when(moment: str | None) -> str:
    """An ISO 8601 instant from `order_detail` as `orders` shows dates: 2026-12-02 17:08 UTC."""
    return when(datetime.fromisoformat(moment)) if moment else ""


COMMANDS = (orders, show)
