"""Several `sync --all` runners on one PostgreSQL order book, as a Kubernetes CronJob with
`parallelism: 3` runs them: real processes sharing a round, one of them killed with SIGKILL.

The emulator runs in this process with a per-request latency, so a round lasts long enough for
the runners to overlap; the runners are `ordertools sync --all` processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fixtures_stock import stock_discrepancies
from sqlalchemy import func, select

from ordertools import db
from ordertools.db import AmazonOrderRow, Store, SyncRound, SyncRun
from ordertools.db import session as db_session
from ordertools.domain.stores import add_store

pytestmark = pytest.mark.postgres

STORES = 60
ORDERS = 8  # each store's seller has these; every store imports them
MARKET = "ATVPDKIKX0DER"


@pytest.fixture
def book(pg_url, emulator_factory, monkeypatch):
    """60 stores of one emulated seller (Amazon answering in 0.3 s) on a PostgreSQL book."""
    emu = emulator_factory(latency=0.3)
    emu.world.generate(ORDERS, days=0.5)
    engine = db.connect(pg_url)
    with db_session(engine) as s:
        for i in range(STORES):
            add_store(
                s,
                f"shop-{i:02d}",
                marketplace_id=MARKET,
                endpoint=emu.base_url,
                token_url=emu.token_url,
                integrated_at=emu.clock() - timedelta(days=1),
                api_lag_seconds=0,
            )
    for name in ("ORDERTOOLS_LWA_CLIENT_ID", "ORDERTOOLS_LWA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)  # the emulator's demo credentials, then
    engine.emu = emu  # the test adds orders to the seller's world
    yield engine
    engine.dispose()


def runner(engine, name: str, round_key: str, jobs: int = 4) -> subprocess.Popen:
    env = {**os.environ, "ORDERTOOLS_DB": engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-m", "ordertools", "sync", "--all", "--quiet"]
    command += ["--jobs", str(jobs), "--round", round_key, "--runner", name]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}: {err[-1000:]}\n{out[-1000:]}"
    return out


def runs(engine, round_key: str | None = None) -> list:
    query = (
        select(Store.name, SyncRun.runner, SyncRun.outcome, SyncRun.started_at, SyncRun.finished_at)
        .join(Store, Store.id == SyncRun.store_id)
        .order_by(SyncRun.id)
    )
    if round_key is not None:
        query = query.join(SyncRound, SyncRound.id == SyncRun.round_id).where(
            SyncRound.key == round_key
        )
    with db_session(engine) as s:
        return s.execute(query).all()


def no_store_synced_twice_at_once(engine, killed_at=None) -> None:
    """From the run records: no two runs of one store overlap in time. A run whose process
    was killed never finished: it ended when it was killed (`killed_at`)."""
    by_store: dict[str, list] = {}
    for run in runs(engine):
        by_store.setdefault(run.name, []).append(run)
    for name, store_runs in by_store.items():
        spans = sorted((r.started_at, r.finished_at or killed_at) for r in store_runs)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end is not None and end <= start, f"{name}: runs overlap: {spans}"


def orders_per_store(engine) -> Counter:
    with db_session(engine) as s:
        rows = s.execute(
            select(Store.name, func.count(AmazonOrderRow.id))
            .join(AmazonOrderRow, AmazonOrderRow.store_id == Store.id)
            .group_by(Store.name)
        )
        return Counter(dict(rows.all()))


def test_three_runners_share_a_round_each_store_once(book):
    processes = [runner(book, f"pod-{i}", "cronjob-0001") for i in range(3)]
    outputs = [finish(p) for p in processes]

    shared = runs(book, "cronjob-0001")
    synced = Counter(run.name for run in shared)
    assert len(synced) == STORES and set(synced.values()) == {1}  # every store, once
    assert {run.outcome for run in shared} == {"success"}
    by_runner = Counter(run.runner for run in shared)
    assert set(by_runner) == {"pod-0", "pod-1", "pod-2"}, by_runner  # the work was shared
    no_store_synced_twice_at_once(book)
    assert orders_per_store(book) == Counter({f"shop-{i:02d}": ORDERS for i in range(STORES)})
    # Each runner's summary counts what it synced, and the rest as skipped.
    for i, out in enumerate(outputs):
        mine = by_runner[f"pod-{i}"]
        assert f"{mine} stores synced (0 failed), {STORES - mine} skipped" in out
    with db_session(book) as s:
        assert s.scalar(select(SyncRound.finished_at).where(SyncRound.key == "cronjob-0001"))


def test_a_runner_killed_mid_round_leaves_its_stores_to_the_next_round(book):
    doomed = runner(book, "doomed", "round-1", jobs=2)
    deadline = time.monotonic() + 120
    while len(runs(book, "round-1")) < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    killed_at = datetime.now(UTC)
    killed = [run.name for run in runs(book, "round-1") if run.outcome == "running"]
    assert killed, "the runner was killed between stores; nothing was mid-sync"

    # The rest of the round: another runner syncs every store the dead one had not reached,
    # and leaves the one it died in to the next round.
    rest = finish(runner(book, "survivor", "round-1"))
    in_round = runs(book, "round-1")
    assert Counter(run.name for run in in_round) == Counter(
        {f"shop-{i:02d}": 1 for i in range(STORES)}
    )
    assert "0 failed" in rest
    assert {run.runner for run in in_round if run.name in killed} == {"doomed"}

    # Some new orders arrive; the next round syncs every store, the killed ones included.
    book.emu.world.generate(3, days=0.01)
    finish(runner(book, "next", "round-2"))
    assert len(runs(book, "round-2")) == STORES
    assert orders_per_store(book) == Counter({f"shop-{i:02d}": ORDERS + 3 for i in range(STORES)})
    outcomes = {run.outcome for run in runs(book)}
    assert "running" not in outcomes  # the killed runs were found and marked interrupted
    with db_session(book) as s:
        interrupted = s.scalars(
            select(SyncRun.error).where(SyncRun.runner == "doomed", SyncRun.outcome == "failed")
        ).all()
    assert len(interrupted) == len(killed) and all("interrupted" in e for e in interrupted)
    no_store_synced_twice_at_once(book, killed_at)
    assert stock_discrepancies(book) == {}


def test_sigterm_stops_a_round_at_each_store_s_next_safe_point(book):
    stopped = runner(book, "stopped", "round-1", jobs=4)
    deadline = time.monotonic() + 120
    while len(runs(book, "round-1")) < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped.send_signal(signal.SIGTERM)
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 143, err[-500:]
    assert "Traceback" not in err
    outcomes = Counter(run.outcome for run in runs(book, "round-1"))
    assert outcomes["running"] == 0  # every store it had begun was recorded as it ended
    assert 8 <= sum(outcomes.values()) < STORES  # it stopped mid-round

    finish(runner(book, "next", "round-2"))
    assert orders_per_store(book) == Counter({f"shop-{i:02d}": ORDERS for i in range(STORES)})
    no_store_synced_twice_at_once(book)
