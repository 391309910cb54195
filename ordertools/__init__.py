"""ordertools: Amazon orders in a local order book, under the Sales Channel's import rules.

The API a script needs, in one import::

    import ordertools

    engine = ordertools.connect()                     # ORDERTOOLS_DB, or the user's SQLite file
    report = ordertools.sync_store(engine, "acme-us")  # or ordertools.sync_all(engine)
    ordertools.ship(engine, "113-6624039-0810111", carrier="UPS", tracking="1Z999")
    ordertools.cancel(engine, "000000007", reason="NoInventory")
    ordertools.run_notebook("sync", {"store": "acme-us"})

The package is laid out by capability, dependencies pointing one way (README, "Layout"):
`cli`, `demo` > `notebook` > `sync`, `runs` > `fulfillment`, `queries` > `domain` > `db`,
`amazon` > `errors`. The names above load their modules on first use, so importing one corner
of the package (the emulator, the CLI's `--help`) doesn't load the others.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> the module that defines it
_PUBLIC = {
    "connect": "ordertools.db",
    "sync_store": "ordertools.sync",
    "sync_all": "ordertools.sync",
    "import_order": "ordertools.sync",
    "ship": "ordertools.fulfillment",
    "cancel": "ordertools.fulfillment",
    "add_comment": "ordertools.fulfillment",
    "flush_outbox": "ordertools.fulfillment",
    "run_notebook": "ordertools.runs",
    "OrdertoolsError": "ordertools.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ordertools' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
