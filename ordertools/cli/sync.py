"""`ordertools sync` and `ordertools import-order`: Amazon's orders into the order book."""

from __future__ import annotations

import click

from ordertools.cli.context import CONTEXT, order_book


@click.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Sync every store, one after another.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for a sync of the same store that is already running.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sync(ctx, name, all_, wait, quiet):
    """Read Amazon's changed orders into the order book and apply the import rules.

    \b
    Example:
      ordertools sync acme
      ordertools sync --all
    """
    # The sync engine (and its progress bars) load only when a command syncs.
    from ordertools.sync import SyncFailed, sync_all, sync_store

    if bool(name) == bool(all_):
        raise click.UsageError("name one store, or pass --all")
    engine = order_book(ctx)
    options = {"wait": wait or False, "progress": False if quiet else None}
    if all_:
        try:
            reports = sync_all(engine, **options)
        except SyncFailed as failed:
            for report in failed.reports:
                click.echo(report.summary())
            raise
    else:
        reports = [sync_store(engine, name, **options)]
    for report in reports:
        click.echo(report.summary())


@click.command("import-order", context_settings=CONTEXT)
@click.argument("name")
@click.argument("order_number")
@click.pass_context
def import_order_command(ctx, name, order_number):
    """Import one view-only order now (e.g. one that arrived while import was disabled).

    The import rules still apply: an order placed before the integration, or one Amazon has
    not verified yet (Pending), is refused with the reason.

    \b
    Example:
      ordertools import-order acme-us 113-6624039-0810111
    """
    from ordertools.sync import import_order  # as in `sync`: loaded when used

    number = import_order(order_book(ctx), name, order_number)
    click.echo(f"Amazon order {order_number} imported as local order {number}.")


COMMANDS = (sync, import_order_command)
