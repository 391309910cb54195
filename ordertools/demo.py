"""`ordertools demo`: the whole flow without an Amazon account.

It starts the SP-API emulator with the `demo` scenario (FBM and FBA orders in every status, four
marketplaces), adds the scenario's stores to the order book (or points existing demo stores at
this emulator), syncs them and prints their Recent Orders.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from ordertools import db
from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
from ordertools.domain import stores
from ordertools.notebook.launch import open_dashboard
from ordertools.queries.exports import DEFAULT_COLUMNS, render_table
from ordertools.queries.orders import query_orders
from ordertools.sync.run import sync_store

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
    with Emulator(scenario="demo", port=port) as emulator:
        names = prepare_stores(engine, emulator)
        echo(f"Demo Amazon (SP-API emulator) at {emulator.base_url}; order book {engine.url!r}\n")
        for name in names:
            report = sync_store(engine, name, progress=False)
            echo(report.summary())
            with db.session(engine) as session:
                store = stores.get_store(session, name)
                records = query_orders(session, store, limit=10)
            echo(f"\nRecent Orders of {name} (newest first; Pending hidden until verified):")
            echo(render_table(records, [key for key, _ in DEFAULT_COLUMNS]) + "\n")
        if open_with:
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
        f"The store dashboard: `ordertools demo --open` opens it in your browser (Voila), "
        f"`ordertools demo --open lab` in JupyterLab (notebooks/store_dashboard.ipynb, "
        f'store = "{store}").\n'
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
