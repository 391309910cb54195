"""The served dashboard in Chromium: how soon a store's Recent Orders show, and what tabs leave.

Issue 14's two figures, against the dashboard server `ordertools serve` runs
(`launch.dashboard_server`: the same process, options and sign-in), over the deterministic demo
order book in a temp SQLite file (or `--db`), with Debian's Chromium driven by Playwright:

1. Open -> Recent Orders visible: `--opens` (10) times, a store's dashboard (the four demo
   stores in turn) opened in a new tab of a signed-in browser, timed from `page.goto` to the
   Recent Orders table being visible; each tab is closed as a person closes it, then the run
   waits `--gap` seconds (a preheated pool refills in that time). Median, min and max against
   the 1.5 s goal. The page's own server time (its log line) is shown beside it.
2. Kernels and memory after `--loads` (50) page loads and closes, with one tab kept open all
   along: half the tabs closed as a person does (Voila's shutdown request), half as a crash
   does (nothing said: the culler ends those after `--kernel-idle` seconds). Printed: kernels
   alive (the server's /api/kernels) and the resident memory of the server plus its kernels,
   after the kept tab opened, right after the loads, and after the cull interval; the goal is
   no kernel beyond the open tabs (and a preheated pool).

`--preheat N` starts N kernels ahead per page (as `ordertools serve --preheat N`). Its pages
read their store from the address only once they have their request (`notebook.base.parameters`);
the run checks each page shows the store it asked for and says so when one did not. `--folder`
serves another copy of the notebooks (e.g. one whose dashboard waits).

Run: python bench/dashboard_serve.py [--opens 10] [--loads 50] [--gap 2] [--kernel-idle 5]
                                     [--preheat N] [--folder DIR] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from ordertools import db
from ordertools.demo import REFERENCE_AT, REFERENCE_TZ, build_demo_order_book
from ordertools.notebook.launch import (
    PAGES,
    ServeOptions,
    dashboard_server,
    dashboard_url,
    free_port,
    with_token,
)
from ordertools.runs.notebooks import notebooks_dir

GOAL_S = 1.5
STORES = ["acme-us", "acme-de", "acme-uk", "acme-jp"]
RECENT = "table.ordertools-orders:not(.ordertools-awaiting):not(.ordertools-stock)"
CHROMIUM = os.environ.get("ORDERTOOLS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 60_000


def kernels(base: str, token: str) -> list[dict]:
    return requests.get(f"{base}api/kernels", headers={"Authorization": f"token {token}"}).json()


def memory_mib(process) -> float:
    tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    return sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20


def shows(page, store: str) -> bool:
    """The Store table names the store the page asked for (a preheated page that did not wait
    for its request shows the notebook's default store)."""
    return page.locator("td", has_text=re.compile(f"^{store}$")).count() >= 1


def open_dashboard(context, base: str, store: str):
    page = context.new_page()
    started = time.perf_counter()
    page.goto(dashboard_url(base, store), timeout=WAIT_MS)
    try:
        page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    except PlaywrightTimeout:
        shown = "another store" if not shows(page, store) else "no Recent Orders"
        raise SystemExit(
            f"the dashboard of {store} showed {shown} after {WAIT_MS // 1000} s"
        ) from None
    return page, time.perf_counter() - started


def server_seconds(log: Path, store: str) -> str:
    lines = [line for line in log.read_text().splitlines() if f"store={store} 200" in line]
    return lines[-1].rsplit(" ", 2)[-2] if lines else "?"


def settle(base: str, token: str, want: int, timeout: float) -> int:
    """Wait until `want` kernels run: the culler has ended the closed tabs' and a preheated
    pool has refilled (else the memory compared is not that of the same kernels)."""
    deadline = time.monotonic() + timeout
    while len(alive := kernels(base, token)) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    return len(alive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=10)
    parser.add_argument("--loads", type=int, default=50)
    parser.add_argument("--gap", type=float, default=2.0)
    parser.add_argument("--kernel-idle", type=int, default=5)
    parser.add_argument("--preheat", type=int, default=0)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ordertools-serve-bench-"))
    url = args.db or f"sqlite:///{scratch / 'demo.db'}"
    engine = db.connect(url)
    if args.db is None:
        build_demo_order_book(engine, REFERENCE_AT)
    os.environ["ORDERTOOLS_TZ"] = REFERENCE_TZ
    token = secrets.token_urlsafe(32)
    options = ServeOptions(port=free_port(), kernel_idle=args.kernel_idle, preheat=args.preheat)
    log = scratch / "serve.log"
    folder = args.folder or notebooks_dir()
    pool = args.preheat * sum((folder / page).is_file() for page in PAGES)
    with (
        log.open("w") as out,
        dashboard_server(engine, options, token, folder, stdout=out, stderr=out) as server,
        sync_playwright() as playwright,
    ):
        base = server.url
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        first = context.new_page()
        first.goto(with_token(f"{base}voila/tree", token), timeout=WAIT_MS)  # the cookie
        first.close()
        time.sleep(args.gap + (10 if args.preheat else 0))  # a preheated pool fills first

        print(f"1. Open -> Recent Orders visible ({args.opens} opens, preheat {args.preheat}):")
        times, wrong = [], []
        for n in range(args.opens):
            store = STORES[n % len(STORES)]
            page, seconds = open_dashboard(context, base, store)
            times.append(seconds)
            if not shows(page, store):
                wrong.append(store)
            page.close(run_before_unload=True)
            print(f"   {store:8} {seconds:5.2f} s   (server: {server_seconds(log, store)} s)")
            time.sleep(args.gap)
        median = statistics.median(times)
        verdict = "PASS" if median <= GOAL_S else "MISS"
        print(
            f"   median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
            f"(goal <= {GOAL_S} s: {verdict})"
        )
        if wrong:
            print(
                f"   {len(wrong)} page(s) showed another store than asked: their notebook "
                "reads the address before a preheated kernel has it (wait_for_request)"
            )

        print(f"2. Kernels and memory after {args.loads} loads and closes (one tab kept open):")
        kept, _ = open_dashboard(context, base, "acme-us")
        settle(base, token, 1 + pool, 4 * args.kernel_idle)
        before = (len(kernels(base, token)), memory_mib(server.process))
        for n in range(args.loads):
            page, _ = open_dashboard(context, base, STORES[n % len(STORES)])
            page.close(run_before_unload=n % 2 == 0)
        loaded = (len(kernels(base, token)), memory_mib(server.process))
        alive = settle(base, token, 1 + pool, 4 * args.kernel_idle)
        time.sleep(2)
        after = (alive, memory_mib(server.process))
        for when, (count, mib) in (
            ("kept tab open", before),
            (f"right after the {args.loads}", loaded),
            (f"after the cull ({args.kernel_idle} s idle)", after),
        ):
            print(f"   {when:34} {count:3} kernels, server + kernels {mib:7.0f} MiB RSS")
        grown = after[0] - (1 + pool)
        print(
            f"   kernels beyond the open tab{' and the pool' if pool else ''}: {grown} "
            f"({'PASS' if grown <= 0 else 'MISS'}); memory {after[1] - before[1]:+.0f} MiB"
        )
        kept.close()
        browser.close()
    engine.dispose()


if __name__ == "__main__":
    main()
