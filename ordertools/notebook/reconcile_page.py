"""What the reconciliation notebook (`notebooks/reconcile.ipynb`) shows: one reconciliation per
store against Amazon's order report, as small tables for ops staff.

    from ordertools.notebook.reconcile_page import run_reconcile
    run = run_reconcile("all", days=7)       # never raises for a failed store ...
    run.outcomes(); run.differences()
    run.check()                              # ... this does, so papermill marks the run failed

A run fails when a store's reconciliation could not finish, or finished with differences it
could not repair: either way somebody should look.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from IPython.display import Markdown
from sqlalchemy.engine import Engine

from ordertools import db, stops
from ordertools.domain import stores
from ordertools.errors import OrdertoolsError
from ordertools.notebook.sync_page import _instant
from ordertools.queries.exports import when
from ordertools.sync.reconcile import KIND_WORDS, KINDS, ReconcileReport, reconcile_store

DIFFERENCES_SHOWN = 100


class ReconciliationFailed(OrdertoolsError):
    """A store's reconciliation failed, or left differences unrepaired."""


def run_reconcile(
    store: str = "all",
    *,
    days: int = 7,
    as_of: str | None = None,
    engine: Engine | None = None,
) -> ReconcileResults:
    """Reconcile one store (or `"all"`) over the last `days` in the order book ORDERTOOLS_DB."""
    engine = engine or db.connect()
    moment = _instant(as_of)
    options = {"days": days}
    if moment is not None:
        options["clock"] = lambda: moment
    with db.session(engine) as session:
        names = [s.name for s in stores.list_stores(session)] if store == "all" else [store]
    results = ReconcileResults()
    with stops.handling():  # an interrupt stops at the next safe point, as in the CLI
        for name in names:
            try:
                results.reports.append(reconcile_store(engine, name, **options))
            except OrdertoolsError as exc:
                results.errors[name] = str(exc)
    return results


@dataclass
class ReconcileResults:
    reports: list[ReconcileReport] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # store -> why it failed

    def outcomes(self) -> pd.DataFrame:
        """Per store: window, what differed (by kind), repaired, left for the next run."""
        rows = [
            {
                "Store": r.store,
                "Outcome": r.outcome,
                "Window from": when(r.window_start),
                "Window to": when(r.window_end),
                "Compared": r.compared,
                **{KIND_WORDS[k].capitalize(): r.counts[k] for k in KINDS},
                "Repaired": r.repaired,
                "Left": r.left,
            }
            for r in self.reports
        ]
        rows += [{"Store": name, "Outcome": f"failed: {why}"} for name, why in self.errors.items()]
        return pd.DataFrame(rows).set_index("Store").fillna("")

    def differences(self, limit: int = DIFFERENCES_SHOWN) -> pd.DataFrame | Markdown:
        """The orders that differed, what differed, and whether the repair fixed them."""
        rows = [
            {
                "Store": r.store,
                "Order Number": d.order_number,
                "Difference": KIND_WORDS[d.difference],
                "Detail": d.detail,
                "Repaired": "yes" if d.repaired else "no",
            }
            for r in self.reports
            for d in r.orders
        ]
        if not rows:
            return Markdown("No differences: the order book matches Amazon's order reports.")
        frame = pd.DataFrame(rows[:limit])
        frame.index = range(1, len(frame) + 1)
        return frame

    def check(self) -> None:
        """Raise when a store failed or kept differences, so papermill marks the run failed."""
        problems = [f"{name}: {why}" for name, why in self.errors.items()]
        problems += [
            f"{r.store}: {r.unrepaired} differences remain" for r in self.reports if r.unrepaired
        ]
        if problems:
            raise ReconciliationFailed("reconciliation needs a look: " + "; ".join(problems))
        print(f"{len(self.reports)} of {len(self.reports)} stores reconciled.")
