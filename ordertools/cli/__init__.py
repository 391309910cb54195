"""`ordertools`: a thin click layer over the Python API (the fixed contract is in ARCHITECTURE.md).

Every command opens the order book named by `--db` / `ORDERTOOLS_DB` (default: an SQLite file in
the user data dir), calls one function of the package and prints its result. Errors the toolkit
raises on purpose become one line on stderr and a non-zero exit; nothing prints a traceback.

The main group lives here; `context` holds what the commands share (options, the order book,
errors as one line) and each command group has a module of its own, imported and added below.
May import every layer beneath it; nothing but `__main__` imports it.
"""

from __future__ import annotations

import click

from ordertools import __version__
from ordertools.cli import (
    demo,
    fulfillment,
    notifications,
    orders,
    products,
    reconcile,
    runs,
    serve,
    stores,
    sync,
)
from ordertools.cli.context import CONTEXT, Group


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="ordertools")
@click.option(
    "--db",
    "db_url",
    envvar="ORDERTOOLS_DB",
    metavar="URL",
    help="Order book (SQLAlchemy URL). Default: ORDERTOOLS_DB, else an SQLite file in the "
    "user data dir.",
)
@click.pass_context
def main(ctx: click.Context, db_url: str | None):
    """Amazon orders in a local order book, under the Amazon Sales Channel's import rules.

    \b
    Example:
      ordertools demo
      ordertools store add acme --marketplace ATVPDKIKX0DER
      ordertools sync acme && ordertools orders acme
    """
    ctx.ensure_object(dict)["db_url"] = db_url


for _group in (
    stores,
    sync,
    orders,
    demo,
    serve,
    runs,
    fulfillment,
    products,
    reconcile,
    notifications,
):
    for _command in _group.COMMANDS:
        main.add_command(_command)
