"""nbval runs of the notebooks in this folder, on a deterministic demo order book.

The committed notebooks keep reference outputs rendered from `build_demo_order_book` as of
`REFERENCE_AT` (the emulator's clock frozen there, the sync's clock too), in `REFERENCE_TZ`.
Before the first notebook's kernel starts, this builds that order book in a scratch file and
points the kernel's environment at it; nbval then re-executes each notebook and compares.
Only the instants our own machine records (when the sync ran, when a status was seen) vary from
run to run: `nbval_sanitize.cfg` masks those, and nothing else.

To re-render the reference outputs after a deliberate change:
    python notebooks/conftest.py        (executes the notebooks in place on the same order book)
    python notebooks/conftest.py stores.ipynb       (just the ones named)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ordertools.demo import REFERENCE_AT, REFERENCE_TZ, build_demo_order_book

HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "nbval_sanitize.cfg"
NOTEBOOKS = (
    "stores.ipynb",
    "store_dashboard.ipynb",
    "order.ipynb",
    "sync.ipynb",
    "reconcile.ipynb",
)


def demo_environment() -> dict[str, str]:
    """Build the demo order book once per process; the variables a kernel needs to use it."""
    if "url" not in _built:
        from ordertools import db

        url = f"sqlite:///{tempfile.mkdtemp(prefix='ordertools-nbval-')}/demo.db"
        engine = db.connect(url)
        build_demo_order_book(engine, REFERENCE_AT)
        engine.dispose()
        _built["url"] = url
    return {
        "ORDERTOOLS_DB": _built["url"],
        "ORDERTOOLS_TZ": REFERENCE_TZ,
        "ORDERTOOLS_LOCALE": "en_US",
    }


_built: dict[str, str] = {}


def sync_environment() -> dict[str, str]:
    """For notebooks/sync.ipynb, which does the syncing itself: an order book of its own with
    the demo stores added but not synced, the demo Amazon frozen at REFERENCE_AT left running for
    the kernel, and syncs that treat REFERENCE_AT as now (ORDERTOOLS_AS_OF)."""
    if "sync_url" not in _built:
        from ordertools import db
        from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
        from ordertools.demo import prepare_stores

        emulator = Emulator(scenario="demo", config=EmulatorConfig(clock=ManualClock(REFERENCE_AT)))
        _built["sync_emulator"] = emulator.start()  # a daemon thread: ends with the process
        url = f"sqlite:///{tempfile.mkdtemp(prefix='ordertools-nbval-sync-')}/sync.db"
        engine = db.connect(url)
        prepare_stores(engine, emulator)
        engine.dispose()
        _built["sync_url"] = url
    return {
        "ORDERTOOLS_DB": _built["sync_url"],
        "ORDERTOOLS_AS_OF": REFERENCE_AT.isoformat(),
        # The emulator's published demo credentials are used when these are unset.
        "ORDERTOOLS_LWA_CLIENT_ID": "",
        "ORDERTOOLS_LWA_CLIENT_SECRET": "",
        "ORDERTOOLS_REFRESH_TOKEN": "",
    }


# The share of order updates the reconciliation notebook's Amazon "loses" from searchOrders.
LOST_UPDATES, LOST_UPDATES_SEED = 0.15, 4


def reconcile_environment() -> dict[str, str]:
    """For notebooks/reconcile.ipynb: the demo stores synced at REFERENCE_AT from a demo Amazon
    whose searchOrders lost some updates (the lost-updates fault), left running with reports
    that are ready at once, so the notebook finds and repairs exactly those."""
    if "reconcile_url" not in _built:
        from ordertools import db
        from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
        from ordertools.demo import prepare_stores
        from ordertools.sync.rounds import sync_all

        config = EmulatorConfig(
            clock=ManualClock(REFERENCE_AT),
            report_delay=0.0,
            report_lag=0.0,
            lost_updates=LOST_UPDATES,
            lost_updates_seed=LOST_UPDATES_SEED,
        )
        emulator = Emulator(scenario="demo", config=config)
        _built["reconcile_emulator"] = emulator.start()  # a daemon thread: ends with the process
        url = f"sqlite:///{tempfile.mkdtemp(prefix='ordertools-nbval-reconcile-')}/book.db"
        engine = db.connect(url)
        prepare_stores(engine, emulator)
        sync_all(engine, clock=lambda: REFERENCE_AT, progress=False)
        engine.dispose()
        _built["reconcile_url"] = url
    return {
        "ORDERTOOLS_DB": _built["reconcile_url"],
        "ORDERTOOLS_AS_OF": REFERENCE_AT.isoformat(),
        "ORDERTOOLS_TZ": REFERENCE_TZ,
        "ORDERTOOLS_LWA_CLIENT_ID": "",
        "ORDERTOOLS_LWA_CLIENT_SECRET": "",
        "ORDERTOOLS_REFRESH_TOKEN": "",
    }


def _prepare_kernel_environment(notebook: str = "") -> None:
    environments = {"sync.ipynb": sync_environment, "reconcile.ipynb": reconcile_environment}
    os.environ.update(environments.get(notebook, demo_environment)())
    # Links must read the same on every machine: the default Voila address, no query string.
    for name in ("ORDERTOOLS_VOILA_URL", "QUERY_STRING"):
        os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # nbval starts a notebook's kernel when its first cell is set up, before any fixture runs:
    # the environment has to be in place by then.
    if item.path.suffix == ".ipynb" and item.path.parent == HERE:
        _prepare_kernel_environment(item.path.name)
        if item.config.option.nbval_sanitize_with is None:
            item.config.option.nbval_sanitize_with = str(SANITIZE)


def render_references(names: tuple[str, ...] = NOTEBOOKS) -> None:
    for name in names:
        _prepare_kernel_environment(name)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--inplace",
                str(HERE / name),
            ],
            check=True,
        )
        _strip_widget_state(HERE / name)


def _strip_widget_state(path: Path) -> None:
    """Widget state is hundreds of kB of model JSON that nbval ignores anyway."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


if __name__ == "__main__":
    render_references(tuple(sys.argv[1:]) or NOTEBOOKS)
