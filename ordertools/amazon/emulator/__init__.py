"""A local stand-in for Amazon's Selling Partner API, like moto for AWS.

    from ordertools.amazon.emulator import Emulator, EmulatorConfig
    with Emulator(scenario="demo", config=EmulatorConfig(visibility_delay=0)) as emu:
        emu.base_url, emu.token_url, emu.credentials   # point a client here
        emu.world.add_order(status="PENDING")           # the orders and their versions
        emu.faults.fail_next(2, status=503)             # trouble on demand
        emu.stats["searchOrders"]["throttled"]          # what happened

    with Emulator(sellers=1000, orders_per_seller=5) as emu:   # one app, many sellers
        seller = emu.sellers[7]                          # .refresh_token, .marketplace_id, ...
        seller.throttle()                                # its searchOrders: always 429

It behaves as Amazon documents in its models: LWA tokens that expire, usage plans that answer
429, searchOrders' parameter rules and paging snapshots, updates visible only after a delay.

It imports `ordertools.amazon` (the usage plans, the demo credentials, the models' rules) and is
imported only by the demo, the benches and the tests: production code never loads it or its web
server (an import-linter contract in pyproject.toml).
"""

from ordertools.amazon.emulator.clock import ManualClock
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.scenario import ScenarioStore
from ordertools.amazon.emulator.sellers import Seller
from ordertools.amazon.emulator.server import Emulator, run_server
from ordertools.amazon.emulator.world import OrderNotFound, World

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "ManualClock",
    "OrderNotFound",
    "ScenarioStore",
    "Seller",
    "World",
    "run_server",
]
