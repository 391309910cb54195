"""Outbox drain throughput against the emulator at confirmShipment's default usage plan.

N FBM orders are imported into a fresh SQLite order book and shipped with `send=False` (the
outbox holds N pending confirmations); then one `flush_outbox` drains them while the emulator
meters confirmShipment at Amazon's default plan (2 requests/s, burst 10). The token-bucket bound
for N requests is (N - burst) / rate seconds: the printed ratio is that bound over the measured
drain time (1.00 = as fast as Amazon allows; goal >= 0.90), with the 429s Amazon answered
(goal 0: the client waits for a token instead).

Run: python bench/outbox_drain.py [--shipments 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ordertools import db, fulfillment
from ordertools.amazon.emulator import Emulator, EmulatorConfig
from ordertools.amazon.ratelimit import DEFAULT_PLANS
from ordertools.domain.stores import add_store
from ordertools.sync.run import sync_store

MARKETPLACE = "ATVPDKIKX0DER"
FAST = {op: (1000.0, 1000) for op in ("searchOrders", "getOrder")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=40)
    n = parser.parse_args().shipments
    rate, burst = DEFAULT_PLANS["confirmShipment"]
    config = EmulatorConfig(plans=FAST, visibility_delay=0.0, min_before_age=0.0)
    with tempfile.TemporaryDirectory() as tmp, Emulator(config=config) as emu:
        engine = db.connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with db.session(engine) as s:
            add_store(
                s,
                "bench",
                marketplace_id=MARKETPLACE,
                endpoint=emu.base_url,
                token_url=emu.token_url,
                integrated_at=datetime(2000, 1, 1, tzinfo=UTC),
                api_lag_seconds=0,
            )
        ids = [emu.world.add_order(created=f"-{3600 - i}s") for i in range(n)]
        sync_store(engine, "bench", progress=False)
        for order_id in ids:
            fulfillment.ship(engine, order_id, carrier="UPS", tracking=f"1Z{order_id}", send=False)

        started = time.perf_counter()
        report = fulfillment.flush_outbox(engine, "bench")
        elapsed = time.perf_counter() - started
        engine.dispose()
        stats = emu.stats["confirmShipment"]

    bound = (n - burst) / rate
    print(f"outbox drain: {n} shipments at confirmShipment {rate:g}/s burst {burst}")
    print(f"  sent {report.sent}, confirmShipment ok {stats['ok']}, 429s {stats['throttled']}")
    print(f"  {elapsed:.2f} s ({n / elapsed:.2f} shipments/s); bound {bound:.2f} s")
    print(f"  ratio bound/elapsed: {bound / elapsed:.2f}  (goal >= 0.90)")


if __name__ == "__main__":
    main()
