"""`ordertools ship | cancel | comment | outbox`, over `ordertools.fulfillment`.

Added to the main group (`ordertools.cli`), so errors get its treatment: one line, non-zero exit.
"""

from __future__ import annotations

import json

import click

from ordertools import fulfillment
from ordertools.amazon.feeds import CANCEL_REASONS
from ordertools.cli.context import CONTEXT, fail, order_book
from ordertools.db import OUTBOX_STATES
from ordertools.domain.text import table
from ordertools.errors import ConfigurationError
from ordertools.fulfillment.outbox import state_words

_store_option = click.option(
    "--store", metavar="NAME", help="The store, when the number is in several stores."
)


def _items(values: tuple[str, ...]) -> dict[str, int] | None:
    items: dict[str, int] = {}
    for value in values:
        sku, sep, units = value.rpartition("=")
        if not sep or not sku or not units.strip().isdigit():
            raise ConfigurationError(f"--item {value!r}: write SKU=QUANTITY, e.g. MUG-1=2")
        items[sku] = items.get(sku, 0) + int(units)
    return items or None


def _report(result: fulfillment.ActionResult) -> None:
    click.echo(result.summary())
    if result.outbox_state == "failed":
        fail(f"Amazon refused it: {result.last_error}", 1)


@click.command(context_settings=CONTEXT)
@click.argument("order_number")
@click.option("--carrier", required=True, metavar="CODE", help="Amazon's carrier code, or Other.")
@click.option("--tracking", required=True, metavar="NUMBER", help="The tracking number.")
@click.option("--method", metavar="TEXT", help="Shipping method, e.g. 'UPS Ground'.")
@click.option("--carrier-name", metavar="TEXT", help="The carrier's name (with --carrier Other).")
@click.option(
    "--item",
    "items",
    multiple=True,
    metavar="SKU=QTY",
    help="Ship only these units (repeatable); default: everything not shipped yet.",
)
@_store_option
@click.pass_context
def ship(ctx, order_number, carrier, tracking, method, carrier_name, items, store):
    """Ship a local order (its number or Amazon's) and confirm the package to Amazon.

    All units shipped: the order is complete and Amazon shows Shipped; some: processing and
    Partially Shipped. The confirmation goes through the outbox, so it is retried until Amazon
    shows it.

    \b
    Example:
      ordertools ship 000000042 --carrier UPS --tracking 1Z999AA10123456784
      ordertools ship 113-1234567-1234567 --carrier Other --carrier-name "Acme Post" \\
          --tracking AP123 --item MUG-CER-350=1
    """
    result = fulfillment.ship(
        order_book(ctx),
        order_number,
        carrier=carrier,
        tracking=tracking,
        method=method,
        carrier_name=carrier_name,
        items=_items(items),
        store=store,
    )
    _report(result)


@click.command(context_settings=CONTEXT)
@click.argument("order_number")
@click.option(
    "--reason",
    required=True,
    metavar="CODE",
    help=f"Amazon's cancel reason: {', '.join(CANCEL_REASONS)}.",
)
@_store_option
@click.pass_context
def cancel(ctx, order_number, reason, store):
    """Cancel a local order that Amazon shows Unshipped, and ask Amazon to cancel it.

    Shipped orders can't be canceled; pending or partially shipped ones are canceled in Seller
    Central. The request is an order-acknowledgement feed, retried through the outbox.

    \b
    Example:
      ordertools cancel 000000042 --reason NoInventory
    """
    _report(fulfillment.cancel(order_book(ctx), order_number, reason=reason, store=store))


@click.command(context_settings=CONTEXT)
@click.argument("order_number")
@click.argument("text")
@_store_option
@click.pass_context
def comment(ctx, order_number, text, store):
    """Add a comment to a local order's history.

    \b
    Example:
      ordertools comment 000000042 "Buyer asked for gift wrap"
    """
    fulfillment.add_comment(order_book(ctx), order_number, text, store=store)
    click.echo(f"comment added to order {order_number}")


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.pass_context
def outbox(ctx):
    """Changes waiting for Amazon (shipments, cancellations): list them, or retry now.

    \b
    Example:
      ordertools outbox list --state failed
      ordertools outbox retry
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(outbox_list)


@outbox.command("list", context_settings=CONTEXT)
@click.option("--store", metavar="NAME", help="Only this store.")
@click.option(
    "--state", "states", multiple=True, type=click.Choice(OUTBOX_STATES), help="Repeatable."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def outbox_list(ctx, store=None, states=(), fmt="table"):
    """List outbox entries, newest first.

    \b
    Example:
      ordertools outbox list --store acme --format json
    """
    entries = fulfillment.list_outbox(order_book(ctx), store, states or None)
    if fmt == "json":
        click.echo(json.dumps(entries, default=str, indent=2))
        return
    if not entries:
        click.echo("the outbox is empty")
        return
    rows = [
        (
            e["id"],
            e["store"],
            e["order_number"],
            e["kind"],
            state_words(e["state"]),
            e["attempts"],
            e["last_error"] or "",
        )
        for e in entries
    ]
    headings = ("ID", "Store", "Order", "Change", "State", "Attempts", "Last error")
    click.echo(table(headings, rows, numeric=(0, 5)))


@outbox.command("retry", context_settings=CONTEXT)
@click.option("--store", metavar="NAME", help="Only this store.")
@click.option("--id", "ids", multiple=True, type=int, help="Only these entries (repeatable).")
@click.pass_context
def outbox_retry(ctx, store, ids):
    """Send what is waiting now, failed entries included.

    \b
    Example:
      ordertools outbox retry --id 12
    """
    report = fulfillment.retry_outbox(order_book(ctx), store, entry_ids=ids or None)
    click.echo(report.summary())
    if report.failed:
        fail(f"{report.failed} change(s) refused by Amazon: see `ordertools outbox list`", 1)


COMMANDS = (ship, cancel, comment, outbox)
