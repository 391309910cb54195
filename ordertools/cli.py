"""`ordertools`: a thin click layer over the Python API (the fixed contract is in ARCHITECTURE.md).

Every command opens the order book named by `--db` / `ORDERTOOLS_DB` (default: an SQLite file in
the user data dir), calls one function of the package and prints its result. Errors the toolkit
raises on purpose become one line on stderr and a non-zero exit; nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from . import __version__, db, stores
from .errors import ConfigurationError, OrdertoolsError
from .instants import parse_instant

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    """Turns every error into one line on stderr and an exit code, never a traceback.

    Scripts and schedulers read that line: the toolkit's own errors say what to do, a usage
    mistake points at the command's --help, and an unexpected exception (a bug) names itself;
    ORDERTOOLS_DEBUG=1 lets its traceback through for a bug report.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `ordertools` alone: click prints the help
        except click.UsageError as exc:
            _usage_failure(exc)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OrdertoolsError as exc:
            _fail(str(exc), exc.exit_code)
        except SQLAlchemyError as exc:
            reason = _first_line(getattr(exc, "orig", None) or exc)
            _fail(f"the order book failed: {reason}; check ORDERTOOLS_DB and try again", 1)
        except KeyboardInterrupt:
            _fail("interrupted; nothing half-done was kept (the next run picks up)", 130)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `ordertools store` alone: click prints the group's help
        except click.UsageError as exc:
            _usage_failure(exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("ORDERTOOLS_DEBUG"):
                raise
            _fail(
                f"unexpected {type(exc).__name__}: {_first_line(exc)} (a bug in ordertools: "
                "please report it; ORDERTOOLS_DEBUG=1 shows the traceback)",
                1,
            )


def _usage_failure(exc: click.UsageError):
    where = exc.ctx.command_path if exc.ctx else "ordertools"
    _fail(f"{exc.format_message()} (see `{where} --help`)", exc.exit_code)


def _first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _fail(message: str, code: int):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _engine(ctx: click.Context):
    obj = ctx.ensure_object(dict)
    if "engine" not in obj:
        obj["engine"] = db.connect(obj.get("db_url"))
        # Hand the connections back when the command ends (a scheduler may call us in-process).
        ctx.call_on_close(obj["engine"].dispose)
    return obj["engine"]


def _instant(value: str | None, option: str) -> datetime | None:
    return None if value is None else parse_instant(value, option)


@click.group(cls=_Group, context_settings=CONTEXT)
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


# -- stores --------------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def store():
    """Add, list and remove stores (one seller account in one marketplace).

    \b
    Example:
      ordertools store add acme-us --marketplace ATVPDKIKX0DER
      ordertools store list --format json
    """


@store.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--marketplace", "marketplace_id", required=True, help="e.g. ATVPDKIKX0DER (US).")
@click.option("--region", type=click.Choice(["na", "eu", "fe"]), help="Default: the marketplace's.")
@click.option(
    "--endpoint", help="SP-API endpoint URL (e.g. the emulator's). Default: the region's."
)
@click.option("--token-url", help="LWA token URL. Default: https://api.amazon.com/auth/o2/token.")
@click.option("--integrated-at", help="ISO 8601; orders placed before never import. Default: now.")
@click.option(
    "--api-lag", type=click.IntRange(min=0), help="Seconds behind now a sync reads up to."
)
@click.option(
    "--refresh-token-env", metavar="VAR", help="Variable holding this store's refresh token."
)
@click.option("--seller-central-domain", help="For order links, e.g. sellercentral.amazon.de.")
@click.option(
    "--local-order-url", help="Link template for local orders, e.g. https://shop/{number}."
)
@click.pass_context
def store_add(
    ctx,
    name,
    marketplace_id,
    region,
    endpoint,
    token_url,
    integrated_at,
    api_lag,
    refresh_token_env,
    seller_central_domain,
    local_order_url,
):
    """Integrate a store. Orders placed before its integration instant never import.

    \b
    Example:
      ordertools store add acme-us --marketplace ATVPDKIKX0DER --integrated-at 2026-11-01T00:00:00Z
    """
    with db.session(_engine(ctx)) as session:
        added = stores.add_store(
            session,
            name,
            marketplace_id=marketplace_id,
            region=region,
            endpoint=endpoint,
            token_url=token_url,
            integrated_at=_instant(integrated_at, "--integrated-at"),
            api_lag_seconds=api_lag,
            refresh_token_env=refresh_token_env,
            seller_central_domain=seller_central_domain,
            local_order_url_template=local_order_url,
        )
        click.echo(
            f"Store {added.name} added ({added.marketplace_id}, integrated "
            f"{added.integrated_at:%Y-%m-%d %H:%M:%SZ}). Next: ordertools sync {added.name}"
        )


def _store_json(s) -> dict:
    return {
        "name": s.name,
        "marketplace_id": s.marketplace_id,
        "region": s.region,
        "endpoint": s.endpoint,
        "token_url": s.token_url,
        "integrated_at": s.integrated_at.isoformat(),
        "api_lag_seconds": s.api_lag_seconds,
        "refresh_token_env": s.refresh_token_env,
        "import_enabled": s.import_enabled,
        "customer_creation": s.customer_creation,
        "order_number_source": s.order_number_source,
        "reserve_quantity": s.reserve_quantity,
        "new_order_status": s.new_order_status,
        "cursor": s.cursor.isoformat() if s.cursor else None,
    }


@store.command("list", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def store_list(ctx, fmt):
    """List the stores, their Order Settings and how far each is synced.

    \b
    Example:
      ordertools store list --format json
    """
    with db.session(_engine(ctx)) as session:
        rows = [_store_json(s) for s in stores.list_stores(session)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("No stores yet: add one with `ordertools store add` or try `ordertools demo`.")
    else:
        for r in rows:
            state = "import enabled" if r["import_enabled"] else "import disabled"
            synced = r["cursor"] or "never synced"
            click.echo(f"{r['name']:<20} {r['marketplace_id']:<15} {state:<16} synced to {synced}")


@store.command("remove", context_settings=CONTEXT)
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def store_remove(ctx, name, yes):
    """Remove a store and everything stored for it (its orders and local orders).

    \b
    Example:
      ordertools store remove acme-us --yes
    """
    if not yes:
        click.confirm(f"Remove store {name} and all its orders?", abort=True)
    with db.session(_engine(ctx)) as session:
        stores.remove_store(session, name)
    click.echo(f"Store {name} removed.")


# -- settings ------------------------------------------------------------------------------------


@main.command(context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--import",
    "import_",
    type=click.Choice(["enabled", "disabled"]),
    help="Import Amazon Orders: create local orders (enabled) or only show them.",
)
@click.option("--customer-creation", type=click.Choice(["guest", "create"]))
@click.option("--order-number-source", type=click.Choice(["local", "amazon"]))
@click.option("--reserve-quantity", type=click.Choice(["yes", "no"]))
@click.option("--order-status", help="Status new imports get (default pending, or a custom one).")
@click.pass_context
def settings(
    ctx, name, import_, customer_creation, order_number_source, reserve_quantity, order_status
):
    """Show or change a store's Order Settings.

    \b
    Example:
      ordertools settings acme --import disabled
    """
    changes = {
        "import_enabled": None if import_ is None else import_ == "enabled",
        "customer_creation": customer_creation,
        "order_number_source": order_number_source,
        "reserve_quantity": None if reserve_quantity is None else reserve_quantity == "yes",
        "new_order_status": order_status,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    with db.session(_engine(ctx)) as session:
        current = stores.update_settings(session, name, **changes)
        data = _store_json(current)
    for key in (
        "import_enabled",
        "customer_creation",
        "order_number_source",
        "reserve_quantity",
        "new_order_status",
    ):
        click.echo(f"{key:<20} {data[key]}")


# -- sync ----------------------------------------------------------------------------------------


@main.command(context_settings=CONTEXT)
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
    from .sync import SyncFailed, sync_all, sync_store

    if bool(name) == bool(all_):
        raise click.UsageError("name one store, or pass --all")
    engine = _engine(ctx)
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


# -- orders --------------------------------------------------------------------------------------


def _date(value: str | None, option: str) -> date | datetime | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _instant(value, option)


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


@main.command(context_settings=CONTEXT)
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
):
    """Recent Orders (newest first, Pending hidden until verified), with filters.

    \b
    Example:
      ordertools orders acme --status unshipped --from 2026-11-01 --format csv --output out.csv
    """
    from . import formats
    from .dashboard import OrderFilters, query_orders
    from .statuses import parse_status_filter

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
    chosen = [key for key, _ in formats.DEFAULT_COLUMNS]
    if columns:
        chosen = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in formats.HEADINGS]
        if unknown:
            raise ConfigurationError(
                f"unknown column {', '.join(unknown)}: use {', '.join(formats.HEADINGS)}"
            )
    if fmt == "xlsx" and output is None:
        raise ConfigurationError("--format xlsx writes a file: add --output orders.xlsx")
    with db.session(_engine(ctx)) as session:
        records = query_orders(session, stores.get_store(session, name), filters, limit=limit)
    rendered = {
        "table": lambda: formats.render_table(records, chosen),
        "json": lambda: formats.render_json(records),
        "csv": lambda: formats.render_csv(records, chosen),
        "html": lambda: formats.render_html(records, chosen),
        "xlsx": lambda: formats.render_xlsx(records, chosen),
    }[fmt]()
    if output is None:
        click.echo(rendered.rstrip("\n"))
    elif isinstance(rendered, bytes):
        output.write_bytes(rendered)
        click.echo(f"Wrote {len(records)} orders to {output}", err=True)
    else:
        output.write_text(rendered, encoding="utf-8")
        click.echo(f"Wrote {len(records)} orders to {output}", err=True)


@main.command(context_settings=CONTEXT)
@click.argument("name")
@click.argument("order_number")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def show(ctx, name, order_number, fmt):
    """One order, whatever its status or age, with its local order, note and history.

    ORDER_NUMBER is Amazon's order number or the local order's number.

    \b
    Example:
      ordertools show acme-us 113-6624039-0810111 --format json
    """
    from .dashboard import order_detail

    with db.session(_engine(ctx)) as session:
        detail = order_detail(session, stores.get_store(session, name), order_number)
    if fmt == "json":
        click.echo(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    total = f"{detail['grand_total']} {detail['currency']}" if detail["grand_total"] else "-"
    lines = [
        f"Amazon order {detail['order_number']}  ({detail['status']})",
        f"  purchased   {detail['purchase_date'] or '-'}",
        f"  buyer       {detail['buyer_name'] or '-'}",
        f"  total       {total}",
        f"  fulfilled   {detail['fulfilled_by'] or '-'}",
        f"  local order {detail['local_order_number'] or '-'}"
        + (f" ({detail['local_order_status']})" if detail["local_order_status"] else ""),
        f"  notes       {detail['notes'] or '-'}",
        f"  link        {detail['link']}",
        "  items",
        *(
            f"    {i['quantity_ordered']} x {i['sku'] or '-'}  {i['title'] or ''}"
            for i in detail["items"]
        ),
        "  history",
        *(
            f"    {h['observed_at']}  {h['status_word']:<18} {h['action']:<9} {h['note'] or ''}"
            for h in detail["history"]
        ),
    ]
    click.echo("\n".join(lines))


@main.command("import-order", context_settings=CONTEXT)
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
    from .sync import import_order

    number = import_order(_engine(ctx), name, order_number)
    click.echo(f"Amazon order {order_number} imported as local order {number}.")


# -- emulator and demo ---------------------------------------------------------------------------


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--scenario",
    default="demo",
    show_default=True,
    help="A packaged scenario name or a scenario JSON file.",
)
def emulator(host, port, scenario):
    """Run the local SP-API emulator (LWA, searchOrders, getOrder, confirmShipment).

    It serves until Ctrl-C; point a store at it with --endpoint and --token-url.

    \b
    Example:
      ordertools emulator --port 8765 --scenario demo
      ordertools store add shop --marketplace ATVPDKIKX0DER --endpoint http://127.0.0.1:8765 \\
        --token-url http://127.0.0.1:8765/auth/o2/token --integrated-at 2026-11-01T00:00:00Z
    """
    from .amazon.emulator import run_server

    # Werkzeug answers a taken port with its own two lines and exit 1: ask first, in one line.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve on {host}:{port} ({os.strerror(exc.errno) if exc.errno else exc}): "
            "pick another --port"
        ) from None
    # A script waiting for the "SP-API emulator on ..." line must get it now, even in a pipe.
    sys.stdout.reconfigure(line_buffering=True)
    try:
        run_server(host, port, scenario)
    except FileNotFoundError as exc:  # no such scenario
        raise ConfigurationError(str(exc)) from None
    except ValueError as exc:  # a scenario file that is not valid JSON
        raise ConfigurationError(f"scenario {scenario} is unreadable: {_first_line(exc)}") from None


@main.command(context_settings=CONTEXT)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Emulator port (default: any free one).",
)
@click.option(
    "--open",
    "open_with",
    type=click.Choice(["voila", "lab"]),
    is_flag=False,
    flag_value="voila",
    default=None,
    help="Then open the store dashboard: in the browser (Voila, the default) or JupyterLab.",
)
@click.pass_context
def demo(ctx, port, open_with):
    """Try it without an Amazon account: the emulator, demo stores, a sync, Recent Orders.

    It writes to the order book named by --db / ORDERTOOLS_DB; point that at a scratch file to
    keep the demo stores out of your real one.

    \b
    Example:
      ORDERTOOLS_DB=sqlite:///demo.db ordertools demo
      ordertools demo --open        # then the store dashboard in your browser
    """
    from .demo import run_demo

    run_demo(_engine(ctx), port=port, echo=click.echo, open_with=open_with)


# -- notebook runs and schedules (ordertools/cli_runs.py) ----------------------------------------
from .cli_runs import run, runs, schedule  # noqa: E402 - the commands need `main` defined first

main.add_command(run)
main.add_command(runs)
main.add_command(schedule)


# -- fulfillment: ship, cancel, comment, outbox (cli_fulfillment.py) ----------------------------

from .cli_fulfillment import COMMANDS as _FULFILLMENT  # noqa: E402 - needs main defined

for _command in _FULFILLMENT:
    main.add_command(_command)
