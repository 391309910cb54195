"""`ordertools emulator` and `ordertools demo`: the local Amazon and the guided tour."""

from __future__ import annotations

import os
import socket
import sys

import click

from ordertools.cli.context import CONTEXT, first_line, order_book
from ordertools.errors import ConfigurationError


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--scenario",
    default="demo",
    show_default=True,
    help="A packaged scenario name or a scenario JSON file.",
)
@click.option(
    "--plans",
    type=click.Choice(["amazon", "fast"]),
    default="amazon",
    show_default=True,
    help="Amazon's default usage plans and 2-minute delays, or no limits (for quick demos).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    metavar="K",
    help="Run Amazon's pace K times faster (rates x K, delays / K): a day's shape in minutes.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME=VALUE",
    help="Trouble from the start (repeatable): lost-updates=SHARE (searchOrders silently "
    "omits that share of order updates; reports still show them), lost-updates-seed=N.",
)
@click.option(
    "--sellers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Serve N sellers, each with its own refresh token, marketplace, usage plans and "
    "orders (GET /_emulator/sellers lists them); seller 0 has the demo refresh token.",
)
@click.option(
    "--orders-per-seller",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="K",
    help="Orders generated for every seller, placed in the day before start.",
)
@click.option(
    "--latency",
    default="0",
    show_default=True,
    metavar="DURATION",
    help="Delay every LWA token and SP-API answer, as the network to Amazon would: "
    "50ms, 0.05s or 0.05 (seconds).",
)
def emulator(host, port, scenario, plans, time_scale, faults, sellers, orders_per_seller, latency):
    """Run the local SP-API emulator (LWA, searchOrders, getOrder, confirmShipment).

    It serves until Ctrl-C; point a store at it with --endpoint and --token-url.

    \b
    Example:
      ordertools emulator --port 8765 --scenario demo
      ordertools emulator --plans amazon --time-scale 60   # Amazon's pace, a minute per hour
      ordertools emulator --fault lost-updates=0.05        # for `ordertools reconcile` to find
      ordertools emulator --sellers 1000 --orders-per-seller 5 --latency 50ms   # sync --all
      ordertools store add shop --marketplace ATVPDKIKX0DER --endpoint http://127.0.0.1:8765 \\
        --token-url http://127.0.0.1:8765/auth/o2/token --integrated-at 2026-11-01T00:00:00Z
    """
    # The emulator and its web server load only here and in the demo: never for real stores.
    from ordertools.amazon.emulator import EmulatorConfig, ManualClock, run_server
    from ordertools.amazon.emulator.config import fault_options, parse_latency

    try:
        options = fault_options(faults)
        options["latency"] = parse_latency(latency)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None

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
        config = EmulatorConfig.paced(plans, time_scale, clock=ManualClock(ticking=True), **options)
        run_server(
            host,
            port,
            scenario,
            config=config,
            sellers=sellers,
            orders_per_seller=orders_per_seller,
        )
    except FileNotFoundError as exc:  # no such scenario
        raise ConfigurationError(str(exc)) from None
    except ValueError as exc:  # a scenario file that is not valid JSON
        raise ConfigurationError(f"scenario {scenario} is unreadable: {first_line(exc)}") from None


@click.command(context_settings=CONTEXT)
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
    from ordertools.demo import run_demo  # the emulator comes with it (see `emulator`)

    run_demo(order_book(ctx), port=port, echo=click.echo, open_with=open_with)


COMMANDS = (emulator, demo)
