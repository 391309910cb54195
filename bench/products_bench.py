"""What importing a catalog of 100,000 products costs, and listing the low ones among them.

Writes a `--products`-row CSV (sku, name, quantity, manage_stock; about 1 in 10 unmanaged with
a blank quantity, quantities 0..500 so a few hundred are at or below 5), then, on a fresh SQLite
order book per repetition:

- import: `ordertools products import FILE` as a user runs it, a new process each time (start-up,
  pandas, the checks, the upsert and the commit), goal <= 10 s;
- list, in process: `stock_levels(low=5)` and the table `products list` prints, the median of
  `--repeats` runs on a warm connection, goal <= 0.2 s;
- list, whole process: `ordertools products list --low 5`, for information.

A second import of the same file (every row an update) is timed too, for information.

Run: python bench/products_bench.py [--products 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ordertools import db
from ordertools.cli.products import render
from ordertools.queries.stock import stock_levels

ORDERTOOLS = Path(sys.executable).with_name("ordertools")
LOW = 5
GOALS = {"import": 10.0, "list": 0.2}


def write_catalog(path: Path, count: int) -> None:
    rng = random.Random(18)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["sku", "name", "quantity", "manage_stock"])
        for i in range(count):
            managed = rng.random() >= 0.1
            quantity = rng.randint(0, 500) if managed else ""
            name = f"Product {i:06d} {rng.choice(['mug', 'tea', 'bowl', 'plate', 'cup'])}"
            writer.writerow([f"SKU-{i:06d}", name, quantity, "yes" if managed else "no"])


def run_cli(url: str, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(ORDERTOOLS), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ORDERTOOLS_DB": url},
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"`ordertools {' '.join(args)}` failed: {done.stderr.strip()}")
    return elapsed, done.stdout


def list_in_process(engine) -> tuple[float, int]:
    started = time.perf_counter()
    with db.session(engine) as session:
        levels = stock_levels(session, low=LOW)
    render(levels, "table", low=LOW)
    return time.perf_counter() - started, len(levels)


def verdict(seconds: float, goal: float) -> str:
    return f"goal {goal:g} s: {'ok' if seconds <= goal else 'SLOW'}, {seconds / goal:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        catalog = work / "catalog.csv"
        write_catalog(catalog, args.products)
        print(f"products import / list --low {LOW}, {args.products:,} products, SQLite")

        imports, reimports, listed, processes = [], [], [], []
        for round_ in range(args.repeats):
            url = f"sqlite:///{work / f'book{round_}.db'}"
            db.connect(url).dispose()  # migrated beforehand: a user's book already exists
            seconds, summary = run_cli(url, "products", "import", str(catalog))
            imports.append(seconds)
            if round_ == 0:
                print(f"  {summary.strip()}")
                reimports.append(run_cli(url, "products", "import", str(catalog))[0])
                engine = db.connect(url)
                list_in_process(engine)  # the first read warms the page cache
                runs = [list_in_process(engine) for _ in range(args.repeats)]
                engine.dispose()
                listed = [seconds for seconds, _ in runs]
                shown = runs[0][1]
            processes.append(run_cli(url, "products", "list", "--low", str(LOW))[0])

        import_s = statistics.median(imports)
        list_s = statistics.median(listed)
        print(
            f"  import (CLI process)       {import_s:7.2f} s median of {len(imports)}  "
            f"{verdict(import_s, GOALS['import'])}"
        )
        print(f"  re-import, all updates     {reimports[0]:7.2f} s (information)")
        print(
            f"  list --low {LOW} (in process)  {list_s * 1000:7.1f} ms median of {len(listed)}, "
            f"{shown} rows  {verdict(list_s, GOALS['list'])}"
        )
        print(
            f"  list --low {LOW} (CLI process) {statistics.median(processes):7.2f} s median of "
            f"{len(processes)} (information: start-up included)"
        )


if __name__ == "__main__":
    main()
