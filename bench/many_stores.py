"""A round of `ordertools sync --all` over many stores, at Amazon-like latency.

The emulator runs in a child process of its own (so its CPU is not the sync's) with `--stores`
sellers, one store each in the order book, every LWA token and SP-API answer delayed by
`--latency` (a sleep: no CPU). Usage plans are lifted on the emulator's side, as they would not
bind one call per seller; the sync's clients keep Amazon's own.

Each round is `ordertools sync --all --quiet --jobs J` as a process (start-up included), timed
from outside; its CPU is the process's user + system time. Printed per round:

- wall time, and the latency bound: stores x calls per store x latency / jobs (the round could
  not be faster with that many requests in flight); goal wall <= 1.3 x bound;
- calls per store (LWA token + searchOrders, counted by the emulator);
- CPU per store (goal <= 5 ms for a quiet store).

First, the floor this machine and emulator set in the same run: a bare client (requests, `jobs`
threads, no order book, no retries) making the same two calls per store; its wall time against
the same bound says how much of a round's ratio is the machine's, not the sync's.

Rounds: a warm-up (each store's first sync, not timed), then `--repeats` quiet rounds (nothing
new) and `--repeats` rounds after `--new-orders` new orders for every seller; each at each
`--jobs`. With `--pg URL`, the quiet round again on PostgreSQL with 1, 2 and 3 runners started
together (one round key), wall time from the first start to the last exit.

Run: python bench/many_stores.py [--stores 1000] [--latency 0.05] [--jobs 8,16,32]
                                 [--new-orders 5] [--repeats 3]
                                 [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ordertools import db
from ordertools.amazon.auth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from ordertools.domain.stores import add_store

FORK = multiprocessing.get_context("fork")


# -- the emulator, in a process of its own -----------------------------------------------------


def _serve(conn, sellers: int, latency: float) -> None:
    from ordertools.amazon.emulator import Emulator, EmulatorConfig

    fast = {op: (100_000.0, 100_000) for op in ("searchOrders", "getOrder", "confirmShipment")}
    config = EmulatorConfig(plans=fast, visibility_delay=0.0, min_before_age=0.0, latency=latency)
    emu = Emulator(config=config, sellers=sellers).start()
    conn.send((emu.base_url, [(s.refresh_token, s.marketplace_id) for s in emu.sellers]))
    while True:
        command, argument = conn.recv()
        if command == "add":
            for seller in emu.sellers:
                seller.add_orders(argument)
            conn.send(True)
        elif command == "calls":
            conn.send(sum(_calls(seller.stats) for seller in emu.sellers))
        else:
            emu.stop()
            conn.send(True)
            return


def _calls(stats) -> int:
    return sum(c.get("requests", 0) for c in stats.snapshot().values())


class EmulatorProcess:
    def __init__(self, sellers: int, latency: float):
        self.conn, child = FORK.Pipe()
        self.process = FORK.Process(target=_serve, args=(child, sellers, latency), daemon=True)
        self.process.start()
        self.base_url, self.sellers = self.conn.recv()

    def ask(self, command: str, argument=None):
        self.conn.send((command, argument))
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


# -- the order book --------------------------------------------------------------------------


def fill_book(url: str, emu: EmulatorProcess) -> dict[str, str]:
    """One store per seller; the environment the CLI needs (each store's refresh token)."""
    engine = db.connect(url)
    env = {
        **os.environ,
        "ORDERTOOLS_DB": url,
        "ORDERTOOLS_LWA_CLIENT_ID": DEMO_CLIENT_ID,
        "ORDERTOOLS_LWA_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    }
    integrated = datetime.now(UTC) - timedelta(days=2)
    with db.session(engine) as s:
        for i, (token, marketplace_id) in enumerate(emu.sellers):
            variable = f"BENCH_REFRESH_TOKEN_{i:04d}"
            env[variable] = token
            add_store(
                s,
                f"store-{i:04d}",
                marketplace_id=marketplace_id,
                endpoint=emu.base_url,
                token_url=emu.base_url + "/auth/o2/token",
                integrated_at=integrated,
                api_lag_seconds=0,
                refresh_token_env=variable,
            )
    engine.dispose()
    return env


def sync_all(env: dict[str, str], jobs: int, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "ordertools", "sync", "--all", "--quiet", "--jobs", str(jobs)]
    return subprocess.Popen(
        [*command, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def timed_round(env, jobs: int, emu: EmulatorProcess, runners: int = 1) -> tuple[float, float, int]:
    """(wall s, CPU s of the runners, SP-API + LWA calls) of one round."""
    key = f"bench-{uuid.uuid4().hex[:8]}"
    calls = emu.ask("calls")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    processes = [sync_all(env, jobs, "--round", key, "--runner", f"r{i}") for i in range(runners)]
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"sync --all failed ({process.returncode}): {err[-500:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, emu.ask("calls") - calls


def bare_round(emu: EmulatorProcess, jobs: int) -> float:
    """Wall s of the two calls per store made by a bare client, no order book."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=jobs))

    def one(seller) -> None:
        refresh_token, marketplace_id = seller
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        token = session.post(f"{emu.base_url}/auth/o2/token", data=form).json()["access_token"]
        answer = session.get(
            f"{emu.base_url}/orders/2026-01-01/orders",
            params={"marketplaceIds": marketplace_id, "lastUpdatedAfter": "2026-01-01T00:00:00Z"},
            headers={"x-amz-access-token": token},
        )
        answer.raise_for_status()
        answer.json()

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, emu.sellers))
    session.close()
    return time.perf_counter() - started


def report(label: str, stores: int, jobs: int, latency: float, samples) -> None:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    calls = statistics.median(s[2] for s in samples) / stores
    bound = stores * calls * latency / jobs
    ratio = wall / bound if bound else float("nan")
    verdict = "PASS" if ratio <= 1.3 else "MISS"
    print(
        f"{label:<22} jobs {jobs:>3}: wall {wall:6.2f} s, bound {bound:6.2f} s "
        f"({calls:.2f} calls/store) -> {ratio:4.2f} x [{verdict} <= 1.3]; "
        f"CPU {1000 * cpu / stores:4.2f} ms/store",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds (0.05 = 50 ms)")
    parser.add_argument("--jobs", default="16", help="comma-separated, e.g. 8,16,32")
    parser.add_argument("--new-orders", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL maintenance URL: also 1, 2, 3 runners there")
    args = parser.parse_args()
    jobs_list = [int(j) for j in args.jobs.split(",")]

    emu = EmulatorProcess(args.stores, args.latency)
    print(
        f"{args.stores} stores (one seller each), emulator latency {args.latency * 1000:.0f} ms, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            env = fill_book(f"sqlite:///{Path(folder) / 'book.db'}", emu)
            timed_round(env, max(jobs_list), emu)  # warm-up: every store's first sync
            for jobs in jobs_list:
                wall = statistics.median(bare_round(emu, jobs) for _ in range(args.repeats))
                bound = args.stores * 2 * args.latency / jobs
                print(
                    f"{'bare client (floor)':<22} jobs {jobs:>3}: wall {wall:6.2f} s, "
                    f"bound {bound:6.2f} s -> {wall / bound:4.2f} x (no order book, no process "
                    "start)",
                    flush=True,
                )
            for jobs in jobs_list:
                samples = [timed_round(env, jobs, emu) for _ in range(args.repeats)]
                report("SQLite, quiet", args.stores, jobs, args.latency, samples)
            for jobs in jobs_list:
                samples = []
                for _ in range(args.repeats):
                    emu.ask("add", args.new_orders)
                    samples.append(timed_round(env, jobs, emu))
                report(
                    f"SQLite, {args.new_orders} new each", args.stores, jobs, args.latency, samples
                )
        if args.pg:
            pg_rounds(args, emu, jobs_list[0])
    finally:
        emu.stop()


def pg_rounds(args, emu: EmulatorProcess, jobs: int) -> None:
    admin_url = db.engine.make_url(args.pg)
    name = f"ordertools_bench_many_{os.getpid()}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        env = fill_book(admin_url.set(database=name).render_as_string(hide_password=False), emu)
        timed_round(env, jobs, emu)  # warm-up
        one = None
        for runners in (1, 2, 3):
            samples = [timed_round(env, jobs, emu, runners) for _ in range(args.repeats)]
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            one = one or wall
            print(
                f"PostgreSQL, quiet, {runners} runner{'s' if runners > 1 else ' '} x jobs {jobs}: "
                f"wall {wall:6.2f} s ({one / wall:4.2f} x one runner's speed), "
                f"CPU {1000 * cpu / args.stores:4.2f} ms/store",
                flush=True,
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
