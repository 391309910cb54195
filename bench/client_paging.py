"""How much the SP-API client costs over bare HTTP, and how closely it paces to a usage plan.

1. Overhead: page through 20,000 orders on the emulator (rate limits too high to bind) with the
   client, and with a bare `requests` loop (one session, the same parameters, `.json()` of each
   page); alternate a few repetitions and report the median client/bare wall-time ratio
   (goal <= 1.10) and searchOrders calls per 100 orders (goal 1.00). The bare loop also runs
   with a new connection per page, to show what the emulator's keep-alive saves.
2. Pacing: the emulator meters searchOrders at 1 request/s with a burst of 2; page through 10
   full pages with a client that starts from Amazon's default plan and learns the rate from
   `x-amzn-RateLimit-Limit`. Elapsed time over the token-bucket bound (pages - burst) / rate
   (goal <= 1.25), and the 429s the emulator answered (goal <= 2).

Run: python bench/client_paging.py [--orders 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import SEARCH_ORDERS_PATH, AmazonClient, RetryPolicy
from ordertools.amazon.emulator import Emulator, EmulatorConfig

MARKETPLACE = "ATVPDKIKX0DER"
UNBOUND = {op: (100_000.0, 100_000) for op in ("searchOrders", "getOrder", "confirmShipment")}
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Served:
    """Where a running emulator answers, and the credentials it accepts."""

    base_url: str
    token_url: str
    credentials: dict[str, str]

    def stats(self) -> dict[str, dict[str, int]]:
        return requests.get(self.base_url + "/_emulator/stats", timeout=10).json()


def _serve(config: dict, orders: int, seed: int, conn) -> None:
    with Emulator(config=EmulatorConfig(**config), port=0) as emu:
        emu.world.generate(orders, seed=seed)
        conn.send(Served(emu.base_url, emu.token_url, emu.credentials))
        conn.recv()  # serve until the parent says stop


@contextmanager
def emulator(config: dict, orders: int, seed: int, in_process: bool):
    """An emulator with `orders` generated orders, in its own process unless `in_process`.

    Its own process is the faithful setup (Amazon is not in our process): in-process, the
    emulator's 20,000 orders share our garbage collector and GIL, and the client's allocations
    pay for scanning them.
    """
    if in_process:
        with Emulator(config=EmulatorConfig(**config), port=0) as emu:
            emu.world.generate(orders, seed=seed)
            yield emu
        return
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(config, orders, seed, child))
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)


def emulator_stats(emu) -> dict:
    return emu.stats() if isinstance(emu, Served) else emu.stats.snapshot()


def client_for(emu, **kwargs) -> AmazonClient:
    return AmazonClient(
        Credentials(**emu.credentials),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name="bench",
        **kwargs,
    )


def page_with_client(client: AmazonClient) -> tuple[float, int, int]:
    """Seconds, orders and searchOrders calls for one full paging."""
    calls_before = client.stats["searchOrders"].requests
    started = time.perf_counter()
    orders = sum(
        len(page.orders)
        for page in client.search_orders(marketplace_ids=[MARKETPLACE], created_after=SINCE)
    )
    elapsed = time.perf_counter() - started
    return elapsed, orders, client.stats["searchOrders"].requests - calls_before


def page_bare(
    session: requests.Session, emu, access_token: str, *, reuse: bool = True
) -> tuple[float, int]:
    """The same paging as the client's, with nothing but requests; `reuse=False` asks for a
    new connection for every page (the emulator closed every connection before keep-alive)."""
    url = emu.base_url + SEARCH_ORDERS_PATH
    query = {
        "marketplaceIds": MARKETPLACE,
        "createdAfter": SINCE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "maxResultsPerPage": "100",
        "includedData": "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES",
    }
    headers = {"x-amz-access-token": access_token}
    if not reuse:
        headers["Connection"] = "close"
    started, orders, token = time.perf_counter(), 0, None
    while True:
        params = query if token is None else {**query, "paginationToken": token}
        response = session.get(url, params=params, headers=headers, timeout=(10, 60))
        response.raise_for_status()
        body = response.json()
        orders += len(body["orders"])
        token = (body.get("pagination") or {}).get("nextToken")
        if not token:
            return time.perf_counter() - started, orders


def bare_access_token(session: requests.Session, emu) -> str:
    form = {"grant_type": "refresh_token", **emu.credentials}
    response = session.post(emu.token_url, data=form, timeout=(10, 60))
    response.raise_for_status()
    return response.json()["access_token"]


def _timed(run) -> tuple[float, float, tuple]:
    """Wall seconds, this process's CPU seconds (all threads), and what `run` returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def overhead(n_orders: int, repeats: int, in_process: bool) -> list[tuple[str, float, float, str]]:
    config = dict(plans=UNBOUND, visibility_delay=0.0, min_before_age=0.0)
    with emulator(config, n_orders, 1, in_process) as emu:
        client = client_for(emu, plans=UNBOUND)
        session = requests.Session()
        access = bare_access_token(session, emu)
        page_with_client(client), page_bare(session, emu, access)  # warm both up
        runs = {"client": [], "bare": [], "fresh": []}  # (wall, cpu) per run
        calls = 0
        for i in range(repeats):
            # Alternate who goes first so drift in the machine's load hits both alike.
            order = ("bare", "fresh", "client") if i % 2 else ("client", "fresh", "bare")
            for who in order:
                if who == "client":
                    wall, cpu, (_, seen, calls) = _timed(lambda: page_with_client(client))
                else:
                    reuse = who == "bare"
                    wall, cpu, (_, seen) = _timed(
                        lambda reuse=reuse: page_bare(session, emu, access, reuse=reuse)
                    )
                assert seen == n_orders, (who, seen, n_orders)
                runs[who].append((wall, cpu))
        client.close()
    ratios = [c[0] / b[0] for c, b in zip(runs["client"], runs["bare"], strict=True)]
    pages = n_orders / 100
    median = {who: [statistics.median(x[k] for x in r) for k in (0, 1)] for who, r in runs.items()}
    print(
        f"  {n_orders} orders, {repeats} alternating runs; wall: client median "
        f"{median['client'][0]:.3f} s, bare median {median['bare'][0]:.3f} s; "
        f"ratios {', '.join(f'{r:.3f}' for r in ratios)} (best {min(ratios):.3f})"
    )
    print(
        f"  bare loop, one connection reused: {median['bare'][0]:.3f} s; a new connection per "
        f"page: {median['fresh'][0]:.3f} s "
        f"(reused / new {median['bare'][0] / median['fresh'][0]:.3f})"
    )
    print(
        f"  CPU in this process per page: client {median['client'][1] / pages * 1000:.2f} ms, "
        f"bare {median['bare'][1] / pages * 1000:.2f} ms"
    )
    return [
        ("client/bare wall time (median)", statistics.median(ratios), 1.10, "<="),
        ("searchOrders calls per 100 orders", calls / pages, 1.00, "<="),
    ]


def pacing(in_process: bool, pages: int = 10, rate: float = 1.0, burst: int = 2) -> list[tuple]:
    plans = {**UNBOUND, "searchOrders": (rate, burst)}
    config = dict(plans=plans, visibility_delay=0.0, min_before_age=0.0)
    with emulator(config, pages * 100, 2, in_process) as emu:
        # Amazon's default plans: the client learns the 1/s rate from the first answer's header.
        client = client_for(emu, retry=RetryPolicy())
        took, seen, calls = page_with_client(client)
        throttled = emulator_stats(emu).get("searchOrders", {}).get("throttled", 0)
        client.close()
    bound = (pages - burst) / rate
    stats = client.stats["searchOrders"]
    print(
        f"  {seen} orders in {calls} requests, {took:.2f} s (bound {bound:.0f} s); client: "
        f"{stats.throttled} x 429, {stats.retries} retries, {stats.token_wait:.2f} s waiting for "
        f"tokens, {stats.backoff:.2f} s backing off"
    )
    return [
        ("elapsed / token-bucket bound", took / bound, 1.25, "<="),
        ("429s answered by the emulator", throttled, 2, "<="),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--in-process", action="store_true", help="run the emulator in this process, in a thread"
    )
    args = parser.parse_args()

    where = "in this process" if args.in_process else "in its own process"
    print(f"1. paging overhead (emulator {where})")
    rows = overhead(args.orders, args.repeats, args.in_process)
    print("2. pacing against a 1/s, burst 2 usage plan")
    rows += pacing(args.in_process)
    print()
    print(f"{'figure':<38} {'value':>8} {'goal':>8}  result")
    for name, value, goal, sense in rows:
        met = value <= goal if sense == "<=" else value >= goal
        print(f"{name:<38} {value:>8.3f} {sense}{goal:>6}  {'PASS' if met else 'MISS'}")


if __name__ == "__main__":
    main()
