"""`ordertools demo`: the whole flow without an Amazon account.

It starts the SP-API emulator with the `demo` scenario (FBM and FBA orders in every status, four
marketplaces), adds the scenario's stores to the order book (or points existing demo stores at
this emulator), syncs them and prints their Recent Orders.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from ordertools import db
from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
from ordertools.amazon.notifications import queue_policy, sqs_client
from ordertools.domain import stores
from ordertools.notebook.launch import open_dashboard
from ordertools.queries.exports import DEFAULT_COLUMNS, render_table
from ordertools.queries.orders import query_orders
from ordertools.sync.listen import Listener
from ordertools.sync.run import sync_store
from ordertools.sync.subscribe import setup_notifications

DEMO_PORT = 8765
# The instant and time zone the notebooks' committed reference outputs are rendered at (nbval,
# the browser test): `build_demo_order_book(engine, REFERENCE_AT)`.
REFERENCE_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
REFERENCE_TZ = "America/New_York"


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def run_demo(
    engine: Engine,
    *,
    port: int = 0,
    echo: Callable[[str], None] = print,
    open_with: str | None = None,
) -> None:
    """The tour; `open_with` ("voila" or "lab") then opens the store dashboard on the demo
    stores and keeps the demo Amazon running (so **Sync now** works) until Ctrl-C."""
    port = port or (DEMO_PORT if _free(DEMO_PORT) else 0)
    # Amazon's reads show a change at once; only searchOrders asks for data 2 minutes old
    # (min_before_age, the stores' api_lag), so the listener's getOrder sees what it is told.
    config = EmulatorConfig(visibility_delay=0.0)
    with Emulator(scenario="demo", port=port, config=config) as emulator:
        names = prepare_stores(engine, emulator)
        echo(f"Demo Amazon (SP-API emulator) at {emulator.base_url}; order book {engine.url!r}\n")
        for name in names:
            report = sync_store(engine, name, progress=False)
            echo(report.summary())
            with db.session(engine) as session:
                store = stores.get_store(session, name)
                records = query_orders(session, store, limit=10)
                locale = stores.reading(store).locale  # as `ordertools orders` prints it
            echo(f"\nRecent Orders of {name} (newest first; Pending hidden until verified):")
            echo(render_table(records, [key for key, _ in DEFAULT_COLUMNS], locale) + "\n")
        if open_with:
            with live_notifications(engine, emulator, names, echo=echo):
                open_dashboard(engine, names[0], open_with, echo=echo)
            return
    echo(dashboard_hint(names[0] if names else "acme-us"))
    echo(
        "Next: `ordertools orders acme-us --status pending` shows the orders waiting for payment;"
        " `ordertools show acme-us ORDER` one order's story;\n"
        f"`ordertools emulator --port {DEMO_PORT}` keeps the demo Amazon running so "
        "`ordertools sync acme-us` picks up what happens next."
    )


def prepare_stores(engine: Engine, emulator: Emulator) -> list[str]:
    """Add the scenario's stores, or re-point existing ones at this emulator run."""
    names = []
    with db.session(engine) as session:
        existing = {s.name: s for s in stores.list_stores(session)}
        for suggested in emulator.stores:
            store = existing.get(suggested.name)
            if store is None:
                store = stores.add_store(
                    session,
                    suggested.name,
                    marketplace_id=suggested.marketplace_id,
                    endpoint=emulator.base_url,
                    token_url=emulator.token_url,
                    integrated_at=datetime.fromisoformat(suggested.integrated_at),
                )
            store.endpoint, store.token_url = emulator.base_url, emulator.token_url
            names.append(store.name)
    return names


def dashboard_hint(store: str) -> str:
    return (
        "The store dashboard: `ordertools demo --open` opens the store cards in your browser "
        "(Voila; View Store opens each store's dashboard), `ordertools demo --open lab` the "
        "dashboard's notebook in JupyterLab "
        f'(notebooks/store_dashboard.ipynb, store = "{store}").\n'
    )


def build_demo_order_book(engine: Engine, at: datetime) -> list[str]:
    """The demo order book exactly as of `at`: the emulator frozen at that instant, its stores
    integrated, each synced once with the same clock. Same `at`, same orders, same local
    numbers: what the notebooks' reference outputs and the browser test are rendered from."""
    clock = ManualClock(at)
    with Emulator(scenario="demo", config=EmulatorConfig(clock=clock)) as emulator:
        names = prepare_stores(engine, emulator)
        for name in names:
            sync_store(engine, name, clock=clock, progress=False)
    return names


# -- the demo's notifications ---------------------------------------------------------------------
# With the dashboard open: a local SQS server (moto), a queue, each demo store subscribed, and
# the listener beside the dashboard, so an order added to the demo Amazon shows up within
# seconds, with no sync. Nothing talks to AWS: the endpoint is moto's server on this machine,
# passed explicitly to the emulator and the listener (dummy keys only when none are set).

DEMO_REGION = "us-east-1"
DEMO_QUEUE = "ordertools-demo"


@contextmanager
def live_notifications(
    engine: Engine, emulator: Emulator, names: list[str], *, echo: Callable[[str], None]
) -> Iterator[Listener]:
    from moto.server import ThreadedMotoServer  # heavy: only the demo that serves needs it

    # moto's server logs every request through werkzeug: a line a second in the terminal.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
        os.environ.setdefault(name, value)
    sqs = sqs_client(region=DEMO_REGION, endpoint_url=endpoint)
    url = sqs.create_queue(QueueName=DEMO_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(arn)})
    emulator.config.sqs_endpoint = endpoint  # the demo Amazon delivers to this server
    for name in names:
        setup_notifications(engine, name, arn)
    listener = Listener(engine, names, queue_url=url, sqs=sqs, wait_seconds=5, echo=echo)
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: listener.run(until=stop.is_set), name="demo-listener", daemon=True
    )
    thread.start()
    echo(
        f"ORDER_CHANGE notifications: the demo Amazon sends them to {url} (a local SQS server); "
        "a listener imports each change within seconds. Try:\n"
        f'  curl -X POST {emulator.base_url}/_emulator/orders -d \'{{"status": "UNSHIPPED"}}\'\n'
        "and reload the dashboard."
    )
    try:
        yield listener
    finally:
        stop.set()
        thread.join(10)
        listener.close()
        server.stop()
