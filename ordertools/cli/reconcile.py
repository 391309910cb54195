"""`ordertools reconcile`: the order book against Amazon's order reports, and repair."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import click

from ordertools.cli.context import CONTEXT, fail, instant, order_book

# Exit code when differences were found and are still there (--no-repair, or a repair that
# could not change them): like `diff`, a script can tell "proved complete" from "not".
DIFFERENCES_LEFT = 3


def _day_or_instant(value: str | None, option: str, *, end: bool) -> datetime | None:
    """A day (its start, or with `end` the next day's start) or an ISO 8601 instant, UTC."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return instant(value, option)
    moment = datetime.combine(day, time(), tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--days", type=click.IntRange(min=1), help="The last N days (default 7).")
@click.option("--from", "from_", metavar="DATE", help="From this day or instant (UTC).")
@click.option("--to", metavar="DATE", help="To the end of this day, or this instant (UTC).")
@click.option(
    "--repair/--no-repair",
    default=True,
    show_default=True,
    help="Read each differing order from Amazon and apply it under the import rules.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    help="Seconds to wait for a sync of the store that is running.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def reconcile(ctx, name, days, from_, to, repair, wait, fmt):
    """Compare the order book with Amazon's order report, order by order, and repair it.

    Finds orders the book never received (missing), has in an older status (stale), with other
    items or totals, and orders Amazon's report lacks. With --repair (the default) each one is
    read from Amazon and applied as a sync would; the sync's cursor is left alone, so a
    backfill after an outage is `--from` the day it began. Exit 3 when differences remain.

    \b
    Example:
      ordertools reconcile acme-us
      ordertools reconcile acme-us --from 2026-10-01 --no-repair --format json
    """
    from ordertools.sync.reconcile import reconcile_store  # loaded when used, as the sync

    if days is not None and (from_ or to):
        raise click.UsageError("give --days, or --from [--to], not both")
    if to and not from_:
        raise click.UsageError("--to needs --from")
    start = _day_or_instant(from_, "--from", end=False)
    end = _day_or_instant(to, "--to", end=True)
    report = reconcile_store(
        order_book(ctx), name, days=days, start=start, end=end, repair=repair, wait=wait
    )
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2, default=str, ensure_ascii=False))
    else:
        click.echo(report.summary())
    if report.unrepaired:
        what = "run again without --no-repair" if not repair else "see the orders above"
        fail(f"{report.unrepaired} differences remain: {what}", DIFFERENCES_LEFT)


COMMANDS = (reconcile,)
