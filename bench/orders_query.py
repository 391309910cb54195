"""How long `ordertools orders` takes over an order book of a million Amazon orders.

The order book holds `--orders` (default 1,000,000) stored Amazon orders for one store, spread
over three years: statuses by age (the last days Pending/Unshipped/Partially Shipped, older ones
Shipped with some Canceled, a few stuck Unshipped), 30 % FBA, about 20,000 distinct buyer
names (plus one rare buyer with 5 orders), log-normal totals, a realistic `raw` document
(an emulator order body, ~1.5 kB), and local orders for the orders imported since Import
Amazon Orders was enabled a year ago (about 40 % of all).
Amazon's order items are not loaded: no listing query reads them.

It is built once with Core `insert()` executemany in batches and cached: an SQLite file
`bench/.cache/orders_<N>.db`, or with `--db` a PostgreSQL database `ordertools_bench_orders_<N>`
on that server (VACUUM ANALYZE after the load, as autovacuum would). `--rebuild` builds it again.

Then, for each filter, the CLI's work after its engine is open: a session, `get_store`,
`query_orders(limit=20)` and `render_table`, as `ordertools orders NAME ...` does; the median of
`--repeats` warm runs against the 0.2 s goal (first, cold-ish run shown too). `count_orders`
as the All Orders pager asks it (capped at `COUNT_CAP`, "10,000+") is timed beside each, and the
exact count without a filter for information. Opening an older cached order book migrates it
first (0006 builds the search indexes): that time is printed too. Finally the whole CLI command
runs once in a subprocess, beside `ordertools --version`: process start and imports dominate.

`--explain` prints the query plan of every filter (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE).

Run: python bench/orders_query.py [--orders 1000000] [--repeats 5] [--rebuild] [--explain]
                                  [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url

from ordertools import db
from ordertools.db import AmazonOrderRow, LocalOrder, Store
from ordertools.domain.statuses import parse_status_filter
from ordertools.domain.stores import add_store, get_store
from ordertools.queries.exports import DEFAULT_COLUMNS, render_table
from ordertools.queries.filters import OrderFilters
from ordertools.queries.orders import COUNT_CAP, count_orders, query_orders

CACHE = Path(__file__).resolve().parent / ".cache"
STORE = "bench"
MARKETPLACE = "ATVPDKIKX0DER"
GOAL_S = 0.2
BATCH = 10_000
YEARS = 3
IMPORTING_DAYS = 365  # import enabled for the last year only: local orders for about 40 %
RARE_BUYER = "Zebulon Quackenbush"
FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy "
    "Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob "
    "Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela "
    "Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine "
    "Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook "
    "Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez "
    "Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan "
    "Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson "
    "Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera "
    "Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
    "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns "
    "Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt "
    "Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer "
    "Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant"
).split()


# -- building the order book --------------------------------------------------------------------


def _status(age_days: float, rng: random.Random) -> str:
    r = rng.random()
    if age_days < 1:
        table = (("PENDING", 0.10), ("UNSHIPPED", 0.55), ("SHIPPED", 0.30), ("CANCELLED", 0.05))
    elif age_days < 3:
        table = (("UNSHIPPED", 0.30), ("PARTIALLY_SHIPPED", 0.03), ("SHIPPED", 0.60))
        table += (("CANCELLED", 0.07),)
    else:
        table = (("SHIPPED", 0.918), ("CANCELLED", 0.07), ("UNFULFILLABLE", 0.005))
        table += (("UNSHIPPED", 0.005), ("PENDING", 0.002))
    for status, share in table:
        r -= share
        if r < 0:
            return status
    return table[0][0]


def _templates(n: int = 300) -> list[dict]:
    """Real order bodies from the emulator, to store as `raw` (ids replaced per row)."""
    from ordertools.amazon.emulator import ManualClock, World

    world = World(ManualClock(), visibility_delay=0)
    world.generate(n, seed=7)
    return world.orders()


def build(url: str, n: int, seed: int = 20261126) -> None:
    rng = random.Random(seed)
    engine = db.connect(url)
    now = datetime.now(UTC).replace(microsecond=0)
    integrated_at = now - timedelta(days=365 * YEARS + 1)
    with db.session(engine) as session:
        store = add_store(session, STORE, marketplace_id=MARKETPLACE, integrated_at=integrated_at)
        store_id = store.id
    templates = _templates()
    rare = set(rng.sample(range(n), 5))
    started = time.perf_counter()
    local_number = 0
    with engine.begin() as conn:
        for base in range(0, n, BATCH):
            orders, locals_ = [], []
            for i in range(base, min(n, base + BATCH)):
                # Newer orders a little denser than old ones (a growing shop).
                age = YEARS * 365 * (1 - rng.random() ** 0.8)
                placed = now - timedelta(days=age)
                status = _status(age, rng)
                fba = rng.random() < 0.3
                order_id = f"{111 + i % 3}-{i:07d}-{rng.randrange(10**7):07d}"
                buyer = RARE_BUYER if i in rare else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                total = Decimal(f"{min(rng.lognormvariate(3.6, 0.9), 5000):.2f}")
                raw = dict(templates[i % len(templates)], orderId=order_id)
                # Import Amazon Orders was turned on a year ago: older orders are view only.
                imported = age < IMPORTING_DAYS and (
                    status == "SHIPPED"
                    or (not fba and status in ("UNSHIPPED", "PARTIALLY_SHIPPED"))
                )
                note = None
                if imported:
                    local_number += 1
                    number = f"{local_number:09d}"
                    note = f"Imported as order {number}"
                    locals_.append(
                        {
                            "store_id": store_id,
                            "amazon_order_pk": i + 1,
                            "amazon_order_id": order_id,
                            "number": number,
                            "status": (
                                ("complete" if rng.random() < 0.97 else "processing")
                                if status == "SHIPPED"
                                else "pending"
                            ),
                            "customer_name": buyer,
                            "fulfilled_by": "AMAZON" if fba else "MERCHANT",
                            "grand_total": total,
                            "currency": "USD",
                            "created_at": placed,
                            "updated_at": placed,
                        }
                    )
                orders.append(
                    {
                        "id": i + 1,
                        "store_id": store_id,
                        "amazon_order_id": order_id,
                        "status": status,
                        "fulfilled_by": "AMAZON" if fba else "MERCHANT",
                        "marketplace_id": MARKETPLACE,
                        "purchase_date": placed,
                        "last_updated": placed + timedelta(hours=rng.uniform(0, 48)),
                        "buyer_name": buyer,
                        "buyer_email": f"{rng.getrandbits(60):015x}@marketplace.amazon.com",
                        "grand_total": total,
                        "currency": "USD",
                        "raw": raw,
                        "note": note,
                        "first_seen_at": placed,
                        "updated_at": placed,
                    }
                )
            conn.execute(insert(AmazonOrderRow), orders)
            if locals_:
                conn.execute(insert(LocalOrder), locals_)
            done = min(n, base + BATCH)
            if done % 100_000 == 0 or done == n:
                rate = done / (time.perf_counter() - started)
                print(f"  loaded {done:,} orders ({rate:,.0f}/s)", flush=True)
        conn.execute(
            update(Store).where(Store.id == store_id).values(last_order_number=local_number)
        )
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('amazon_orders', 'id'), :n)"), {"n": n}
            )
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('local_orders', 'id'), :n)"),
                {"n": max(local_number, 1)},
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    print(f"  built in {time.perf_counter() - started:.0f} s ({local_number:,} local orders)")
    engine.dispose()


def cached_url(args: argparse.Namespace) -> str:
    """The order book's URL, building it first when missing, incomplete or `--rebuild`."""
    if args.db:
        server = make_url(args.db)
        name = f"ordertools_bench_orders_{args.orders}"
        url = server.set(database=name).render_as_string(hide_password=False)
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if exists and (args.rebuild or not _complete(url, args.orders)):
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = False
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                print(f"building {args.orders:,} orders in PostgreSQL database {name}")
                build(url, args.orders)
        admin.dispose()
        return url
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"orders_{args.orders}.db"
    url = f"sqlite:///{path}"
    if args.rebuild or not path.exists() or not _complete(url, args.orders):
        partial = path.with_suffix(".partial.db")
        for stale in CACHE.glob(f"{partial.name}*"):
            stale.unlink()
        print(f"building {args.orders:,} orders in {partial.name}")
        build(f"sqlite:///{partial}", args.orders)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        partial.rename(path)
    return url


def _complete(url: str, n: int) -> bool:
    started = time.perf_counter()
    try:
        engine = db.connect(url)  # migrates an order book cached by an older ordertools
    except Exception:  # noqa: BLE001 - anything unreadable gets rebuilt
        return False
    if (opened := time.perf_counter() - started) > 1:
        print(f"opening the cached order book took {opened:.1f} s (a migration)")
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(AmazonOrderRow)) == n
    finally:
        engine.dispose()


# -- timing ---------------------------------------------------------------------------------------


def cases(now: datetime, n: int, locals_: int) -> list[tuple[str, list[str], OrderFilters]]:
    """(label, CLI arguments, filters): the default page and the filters users reach for."""
    amazon_part = f"-{n // 2:07d}-"  # the middle of one order's Amazon number
    local_number = f"{max(1, locals_ // 2):09d}"
    year_ago = (now - timedelta(days=365)).date()
    week_ago = (now - timedelta(days=7)).date()

    def statuses(*words):
        return parse_status_filter(words)

    return [
        ("Recent Orders (no filter)", [], OrderFilters()),
        ("--status unshipped", ["--status", "unshipped"], OrderFilters(statuses("unshipped"))),
        ("--status pending", ["--status", "pending"], OrderFilters(statuses("pending"))),
        ("--status shipped", ["--status", "shipped"], OrderFilters(statuses("shipped"))),
        ("--status completed", ["--status", "completed"], OrderFilters(statuses("completed"))),
        (
            "--status canceled --status unfulfillable",
            ["--status", "canceled", "--status", "unfulfillable"],
            OrderFilters(statuses("canceled", "unfulfillable")),
        ),
        (
            f"--from {year_ago} --to {year_ago + timedelta(days=30)}",
            ["--from", str(year_ago), "--to", str(year_ago + timedelta(days=30))],
            OrderFilters(purchased_from=year_ago, purchased_to=year_ago + timedelta(days=30)),
        ),
        ("--buyer smith (common)", ["--buyer", "smith"], OrderFilters(buyer="smith")),
        ("--buyer son (10 % of orders)", ["--buyer", "son"], OrderFilters(buyer="son")),
        ("--buyer jo (2 letters: no trigram)", ["--buyer", "jo"], OrderFilters(buyer="jo")),
        # Folded by Python's lower() on SQLite (its own folds ASCII only); nobody has it: a walk.
        ("--buyer öz (2 letters, not ASCII)", ["--buyer", "öz"], OrderFilters(buyer="öz")),
        ("--buyer qx (2 letters, nobody)", ["--buyer", "qx"], OrderFilters(buyer="qx")),
        (
            "--buyer quackenbush (5 orders)",
            ["--buyer", "quackenbush"],
            OrderFilters(buyer="quackenbush"),
        ),
        ("--min-total 500", ["--min-total", "500"], OrderFilters(min_total=Decimal(500))),
        ("--min-total 4000 (rare)", ["--min-total", "4000"], OrderFilters(min_total=Decimal(4000))),
        (
            f"--order-number {amazon_part} (part of 1 order's)",
            ["--order-number", amazon_part],
            OrderFilters(order_number=amazon_part),
        ),
        (
            f"--order-number {local_number} (a local number)",
            ["--order-number", local_number],
            OrderFilters(order_number=local_number),
        ),
        (
            f"--status unshipped --from {week_ago} --min-total 100",
            ["--status", "unshipped", "--from", str(week_ago), "--min-total", "100"],
            OrderFilters(statuses("unshipped"), purchased_from=week_ago, min_total=Decimal(100)),
        ),
    ]


def one_page(engine, filters: OrderFilters) -> tuple[float, int]:
    """What `ordertools orders` does once its engine is open; seconds and rows."""
    columns = [key for key, _ in DEFAULT_COLUMNS]
    started = time.perf_counter()
    with db.session(engine) as session:
        records = query_orders(session, get_store(session, STORE), filters, limit=20)
    render_table(records, columns)
    return time.perf_counter() - started, len(records)


def time_counts(engine, filters: OrderFilters, cap: int | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    with db.session(engine) as session:
        n = count_orders(session, get_store(session, STORE), filters, cap=cap)
    return time.perf_counter() - started, n


def explain(engine, filters: OrderFilters) -> str:
    """The plan of the very statement `query_orders` sends (EXPLAIN put in front of it)."""
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    plan: list = []

    def before(conn, cursor, statement, parameters, context, executemany):
        return prefix + statement, parameters

    def after(conn, cursor, statement, parameters, context, executemany):
        plan.extend(cursor.fetchall())

    with db.session(engine) as session:
        store = get_store(session, STORE)
        event.listen(engine, "before_cursor_execute", before, retval=True)
        event.listen(engine, "after_cursor_execute", after)
        try:
            query_orders(session, store, filters, limit=20)
        except Exception:  # noqa: BLE001 - the plan rows don't fit the query's columns
            pass
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
    return "\n".join(f"      {row[3] if sqlite else row[0]}" for row in plan)


def cli_once(url: str, args: list[str]) -> float:
    exe = Path(sys.executable).with_name("ordertools")
    started = time.perf_counter()
    done = subprocess.run(
        [str(exe), "--db", url, *args], capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ordertools {' '.join(args)} failed: {done.stderr.strip()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", help="PostgreSQL server URL (default: a cached SQLite file)")
    parser.add_argument("--rebuild", action="store_true", help="build the order book again")
    parser.add_argument("--explain", action="store_true", help="print every filter's plan")
    args = parser.parse_args()
    if args.db and not args.db.startswith("postgresql"):
        parser.error("--db takes a postgresql:// server URL; SQLite is the default")

    url = cached_url(args)
    engine = db.connect(url)
    backend = engine.dialect.name
    now = datetime.now(UTC)
    print(
        f"\n{args.orders:,} Amazon orders, {backend}; median of {args.repeats} warm runs of "
        f"session + get_store + query_orders(limit=20) + render_table; machine load "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n"
    )
    print(
        f"{'filter':<52} {'first':>7} {'median':>7} {'rows':>5}  goal {GOAL_S} s"
        f"   {'pager count':>11} {'orders':>7}"
    )
    misses = []
    with engine.connect() as conn:
        locals_ = conn.scalar(select(func.count()).select_from(LocalOrder))
    for label, _cli, filters in cases(now, args.orders, locals_):
        first, rows = one_page(engine, filters)
        times = [one_page(engine, filters)[0] for _ in range(args.repeats)]
        median = statistics.median(times)
        met = median <= GOAL_S
        if not met:
            misses.append(label)
        counts = [time_counts(engine, filters, COUNT_CAP) for _ in range(args.repeats)]
        count_s = statistics.median(took for took, _ in counts)
        n = counts[0][1]
        shown = f"{COUNT_CAP:,}+" if n > COUNT_CAP else f"{n:,}"
        print(
            f"{label:<52} {first:7.3f} {median:7.3f} {rows:5d}  {'PASS' if met else 'MISS'}"
            f"         {count_s:7.3f} {shown:>7}"
        )
        if args.explain or not met:
            print(explain(engine, filters))
    took, n = time_counts(engine, OrderFilters())
    print(f"\ncount_orders, no filter, exact (info): {took:.3f} s for {n:,} orders")
    engine.dispose()

    version = cli_once(url, ["--version"])
    whole = cli_once(url, ["orders", STORE, "--status", "unshipped"])
    print(
        f"\nwhole CLI, `ordertools --db ... orders {STORE} --status unshipped`: {whole:.2f} s "
        f"(`ordertools --version` alone: {version:.2f} s; process start and imports dominate)"
    )
    print(
        f"\n{len(misses)} filter(s) miss the {GOAL_S} s goal"
        + (f": {', '.join(misses)}" if misses else "")
    )


if __name__ == "__main__":
    main()
