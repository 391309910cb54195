"""`ordertools notifications setup|status|remove` and `ordertools listen`: orders in seconds."""

from __future__ import annotations

import click

from ordertools.cli.context import CONTEXT, Group, order_book


@click.group(cls=Group, context_settings=CONTEXT)
def notifications():
    """Amazon's ORDER_CHANGE notifications for a store, sent to your SQS queue.

    \b
    Example:
      ordertools notifications setup acme-us --queue-arn arn:aws:sqs:us-east-1:123456789012:orders
      ordertools notifications status acme-us
    """


@notifications.command("setup", context_settings=CONTEXT)
@click.argument("name")
@click.option("--queue-arn", required=True, metavar="ARN", help="The SQS queue Amazon sends to.")
@click.pass_context
def setup(ctx, name, queue_arn):
    """Create (or reuse) the destination and the store's ORDER_CHANGE subscription.

    The queue's policy must let Amazon's notifications principal send to it; the command says
    which. Then run `ordertools listen NAME`.

    \b
    Example:
      ordertools notifications setup acme-us --queue-arn arn:aws:sqs:us-east-1:123456789012:orders
    """
    from ordertools.sync.subscribe import setup_notifications

    for line in setup_notifications(order_book(ctx), name, queue_arn).lines():
        click.echo(line)


@notifications.command("status", context_settings=CONTEXT)
@click.argument("name")
@click.pass_context
def status(ctx, name):
    """What is set up, what Amazon has, and when the listener last heard from Amazon.

    \b
    Example:
      ordertools notifications status acme-us
    """
    from ordertools.sync.subscribe import notification_status

    for line in notification_status(order_book(ctx), name).lines():
        click.echo(line)


@notifications.command("remove", context_settings=CONTEXT)
@click.argument("name")
@click.pass_context
def remove(ctx, name):
    """Delete the store's subscription (and the destination when no other store uses it).

    The scheduled sync goes on reading every change, at its own pace.

    \b
    Example:
      ordertools notifications remove acme-us
    """
    from ordertools.sync.subscribe import remove_notifications

    said = remove_notifications(order_book(ctx), name)
    click.echo(f"Store {name}: " + "; ".join(said) + ".")


@click.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Listen for every store.")
@click.option(
    "--queue-url",
    envvar="ORDERTOOLS_QUEUE_URL",
    metavar="URL",
    help="The SQS queue (default: the one `notifications setup` recorded).",
)
@click.pass_context
def listen(ctx, names, all_, queue_url):
    """Import orders within seconds from Amazon's ORDER_CHANGE notifications, until stopped.

    Reads the SQS queue (AWS_REGION, AWS credentials and AWS_ENDPOINT_URL_SQS from the
    environment), reads each changed order from Amazon and applies the import rules, as a
    sync would and under the same store lock. Keep the scheduled sync: it catches whatever a
    notification missed. One line per batch; Ctrl-C or SIGTERM stops between batches.

    \b
    Example:
      ordertools listen acme-us
      ordertools listen --all --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/orders
    """
    from ordertools import stops
    from ordertools.sync.listen import Listener

    if bool(names) == bool(all_):
        raise click.UsageError("name the stores to listen for, or pass --all")
    with stops.handling():
        with Listener(
            order_book(ctx), None if all_ else names, queue_url=queue_url, echo=_echo
        ) as listener:
            click.echo(f"Listening on {listener.queue_url} for {', '.join(listener.stores)}.")
            try:
                report = listener.run()
            except KeyboardInterrupt:
                click.echo("Stopped: " + listener.report.line())
                raise
            if stops.requested():  # stopped between batches, as it should be: 130 or 143
                click.echo("Stopped: " + report.line())
                stops.raise_if_requested()
    click.echo(report.line())


def _echo(line: str) -> None:
    from datetime import UTC, datetime

    click.echo(f"{datetime.now(UTC):%H:%M:%S} {line}")


COMMANDS = (notifications, listen)
