"""What the sync notebook (`notebooks/sync.ipynb`) shows: a sync run and its results as small
tables for ops staff.

    from ordertools.notebook.sync_page import run_sync
    run = run_sync("all")                    # never raises for a failed store ...
    run.windows(); run.counts(); run.changes(); run.late_shipments(); run.recent_orders(5)
    run.check()                              # ... this does, so papermill marks the run failed

Failures are kept until `check()` so the page still shows what every store did (and which one
failed, with its reason) before the run is marked failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from IPython.display import Markdown
from sqlalchemy.engine import Engine

from ordertools import db, stops
from ordertools.domain import ship_by, stores
from ordertools.domain.instants import parse_instant
from ordertools.domain.money import money
from ordertools.errors import OrdertoolsError
from ordertools.fulfillment.awaiting import awaiting_shipment
from ordertools.queries.exports import DEFAULT_COLUMNS, HEADINGS, when
from ordertools.queries.orders import query_orders
from ordertools.sync.report import SyncFailed, SyncReport
from ordertools.sync.rounds import sync_all
from ordertools.sync.run import sync_store

# Pins the sync's "now" when the `as_of` parameter is not given: reproducible runs (the notebook's
# reference outputs, replaying a past run against a recorded emulator world).
AS_OF_ENV = "ORDERTOOLS_AS_OF"
CHANGES_SHOWN = 100  # rows of changed orders on the page; the counts cover everything


def _instant(value: str | datetime | None) -> datetime | None:
    value = value or os.environ.get(AS_OF_ENV) or None
    if value is None or isinstance(value, datetime):
        return value
    return parse_instant(value, "as_of")


def run_sync(
    store: str = "all",
    *,
    wait: float = 0,
    as_of: str | datetime | None = None,
    engine: Engine | None = None,
) -> SyncResults:
    """Sync one store (or `"all"`) in the order book named by ORDERTOOLS_DB.

    `wait`: seconds to wait for a sync of the same store that is already running (0: fail at
    once, the next scheduled run catches up). `as_of`: the instant the sync treats as now.
    """
    engine = engine or db.connect()
    moment = _instant(as_of)
    options = {"progress": False, "wait": wait or False}
    if moment is not None:
        options["clock"] = lambda: moment
    try:
        # An interrupt (the kernel's, passed on by `ordertools run`) stops the sync at its next
        # safe point, as in the CLI, so the run is recorded as stopped, not left running.
        with stops.handling():
            if store == "all":
                reports = sync_all(engine, **options)
            else:
                reports = [sync_store(engine, store, **options)]
    except SyncFailed as failed:
        reports = failed.reports
    except OrdertoolsError as exc:
        reports = [SyncReport(store=store, outcome="failed", error=str(exc))]
        return SyncResults(engine, reports, [exc], now=moment)
    return SyncResults(engine, reports, now=moment)


@dataclass
class SyncResults:
    """The reports of one run, and the tables the notebook shows."""

    engine: Engine
    reports: list[SyncReport]
    errors: list[OrdertoolsError] = field(default_factory=list)
    now: datetime | None = None  # the instant the sync treated as now; None: the real time

    @property
    def failed(self) -> list[SyncReport]:
        return [r for r in self.reports if r.outcome != "success"]

    def windows(self) -> pd.DataFrame:
        """Per store: how the sync ended and the `lastUpdatedTime` window it read."""
        rows = [
            {
                "Store": r.store,
                "Outcome": r.outcome,
                "Window from": when(r.window_start),
                "Window to": when(r.window_end),
                "Pages": r.pages,
                "Error": r.error or "",
            }
            for r in self.reports
        ]
        return pd.DataFrame(rows).set_index("Store")

    def counts(self) -> pd.DataFrame:
        """Per store: orders new, updated, imported, canceled, completed, skipped, failed."""
        rows = [
            {"Store": r.store, **{k.title(): n for k, n in r.counts().items()}}
            for r in self.reports
        ]
        return pd.DataFrame(rows).set_index("Store")

    def changes(self, limit: int = CHANGES_SHOWN) -> pd.DataFrame | Markdown:
        """The orders this run stored or changed, with the note on each."""
        rows = [
            {
                "Store": r.store,
                "Order Number": c.amazon_order_id,
                "Status": c.status,
                "Action": c.action,
                "Local Order": c.local_order_number or "",
                "Note": c.note or "",
            }
            for r in self.reports
            for c in r.changes
        ]
        if not rows:
            return Markdown("No order changed in this run.")
        frame = pd.DataFrame(rows[:limit])
        frame.index = range(1, len(frame) + 1)
        return frame

    def late_shipments(
        self, within: timedelta = ship_by.DEFAULT_HORIZON
    ) -> pd.DataFrame | Markdown:
        """Per synced store, the orders to ship whose ship-by date passed or falls within
        `within`: late shipments count against the seller's account health."""
        now = self.now or datetime.now(UTC)
        rows = []
        with db.session(self.engine) as session:
            for report in self.reports:
                try:
                    store = stores.get_store(session, report.store)
                except OrdertoolsError:
                    continue
                for order in awaiting_shipment(session, store, limit=1000, due_before=now + within):
                    rows.append(
                        {
                            "Store": store.name,
                            "Order Number": order.order_number,
                            "Ship By": when(order.ship_by),
                            "Buyer's Name": order.buyer_name or "",
                            "Status": order.status,
                            "Late": ship_by.in_words(order.ship_by, now, within),
                        }
                    )
        if not rows:
            hours = ship_by.duration_words(within)
            return Markdown(f"No order is overdue or due to ship within {hours}.")
        return pd.DataFrame(rows).set_index("Store")

    def recent_orders(self, limit: int = 5) -> pd.DataFrame | Markdown:
        """The first lines of each synced store's Recent Orders (newest first)."""
        rows = []
        with db.session(self.engine) as session:
            for report in self.reports:
                try:
                    store = stores.get_store(session, report.store)
                except OrdertoolsError:
                    continue  # "no such store" is already in the windows table
                for record in query_orders(session, store, limit=limit):
                    rows.append(
                        {
                            "Store": store.name,
                            HEADINGS["purchase_date"]: when(record.purchase_date),
                            HEADINGS["order_number"]: record.order_number,
                            HEADINGS["status"]: record.status,
                            HEADINGS["buyer_name"]: record.buyer_name or "",
                            HEADINGS["grand_total"]: money(record.grand_total, record.currency),
                        }
                    )
        if not rows:
            return Markdown("No orders to show yet.")
        columns = ["Store", *(heading for _, heading in DEFAULT_COLUMNS)]
        return pd.DataFrame(rows, columns=columns).set_index("Store")

    def check(self) -> None:
        """Raise when any store failed, so papermill marks the run failed (non-zero exit)."""
        if len(self.errors) == 1 and len(self.reports) == 1:
            raise self.errors[0]  # the store's own error, e.g. StoreBusy (exit 75)
        if self.failed:
            raise SyncFailed(self.reports)
        print(f"{len(self.reports)} of {len(self.reports)} stores synced.")
