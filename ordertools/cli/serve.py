"""`ordertools serve`: the dashboard as a team's web app (Voila with a sign-in)."""

from __future__ import annotations

import click

from ordertools.cli.context import CONTEXT, order_book
from ordertools.notebook.launch import KERNEL_IDLE, VOILA_PORT, ServeOptions, serve_dashboard


@click.command(context_settings=CONTEXT)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface; anything but loopback needs a token).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=VOILA_PORT, show_default=True)
@click.option(
    "--base-url",
    default="/",
    show_default=True,
    metavar="PATH",
    help="Path the pages live under, behind a reverse proxy (e.g. /ordertools/).",
)
@click.option(
    "--kernel-idle",
    type=click.IntRange(min=1),
    default=KERNEL_IDLE,
    show_default=True,
    metavar="SECONDS",
    help="A closed tab's kernel ends after SECONDS without activity; open tabs keep theirs.",
)
@click.option(
    "--preheat",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="Keep N kernels per page started ahead, imports done: a dashboard shows in about a "
    "second instead of two to three, for about 150 MB of memory per kernel (0: none).",
)
@click.pass_context
def serve(ctx, host, port, base_url, kernel_idle, preheat):
    """Serve the store dashboard and its order pages to a team, until Ctrl-C or SIGTERM.

    Every request must prove the sign-in token: open a page once with ?token=TOKEN (the
    browser then keeps a cookie) or send the header `Authorization: token TOKEN`. The token
    comes from ORDERTOOLS_DASHBOARD_TOKEN, or from the chmod-600 file that
    ORDERTOOLS_DASHBOARD_TOKEN_FILE names, never from the command line. Without either the
    server listens on loopback only, with a token of its own that it prints. A closed tab's
    kernel ends at once (or after --kernel-idle, when the tab could not say so); one line per
    page view goes to stdout.

    \b
    Example:
      python -c 'import secrets; print(secrets.token_urlsafe(32))' > ~/.ordertools-token
      chmod 600 ~/.ordertools-token
      export ORDERTOOLS_DASHBOARD_TOKEN_FILE=~/.ordertools-token
      ordertools serve --host 0.0.0.0 --port 8866
      ordertools serve --host 127.0.0.1 --base-url /ordertools/   # behind a reverse proxy
    """
    options = ServeOptions(
        host=host, port=port, base_url=base_url, kernel_idle=kernel_idle, preheat=preheat
    )
    serve_dashboard(order_book(ctx), options, echo=click.echo)


COMMANDS = (serve,)
