"""`ordertools sync` and `ordertools import-order`: Amazon's orders into the order book."""

from __future__ import annotations

import click

from ordertools.cli.context import CONTEXT, order_book


@click.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Sync every store (a round), several at once.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="With --all: stores synced at once (default 16).",
)
@click.option(
    "--round",
    "round_key",
    metavar="KEY",
    default=None,
    help="With --all: the round to join, shared by runners started together (e.g. the "
    "Kubernetes Job's name; default ORDERTOOLS_ROUND, else the newest unfinished round of the "
    "last 10 minutes, else a new one).",
)
@click.option(
    "--runner",
    metavar="NAME",
    default=None,
    help="With --all: this runner's name in the run records (default ORDERTOOLS_RUNNER, else "
    "host:pid).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for a sync of the same store that is already running.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sync(ctx, name, all_, jobs, round_key, runner, wait, quiet):
    """Read Amazon's changed orders into the order book and apply the import rules.

    With --all, a round over every store, --jobs at once. Runners on one PostgreSQL order
    book (several processes or hosts started together) share the round: each store is
    synced by one of them, once.

    \b
    Example:
      ordertools sync acme
      ordertools sync --all
      ordertools sync --all --jobs 32 --round "$JOB_NAME"
    """
    # The sync engine (and its progress bars) load only when a command syncs.
    from ordertools.sync import SyncFailed, sync_store
    from ordertools.sync.rounds import sync_round

    if bool(name) == bool(all_):
        raise click.UsageError("name one store, or pass --all")
    if not all_ and (jobs or round_key or runner):
        raise click.UsageError("--jobs, --round and --runner go with --all")
    engine = order_book(ctx)
    progress = False if quiet else None
    if all_:
        the_round = sync_round(
            engine, jobs=jobs, round_key=round_key, runner=runner, progress=progress
        )
        click.echo(the_round.summary())
        if the_round.failed:
            raise SyncFailed(the_round.reports)
        return
    report = sync_store(engine, name, wait=wait or False, progress=progress)
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
