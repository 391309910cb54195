"""How long one page of All Orders takes to render over 1,000,000 stored orders.

The dashboard's work for a page with a filter: `count_orders` (the pager, capped at `COUNT_CAP`
as `AllOrders.render` asks) plus `query_orders` (20 rows) and the escaped HTML table, against the
0.2 s goal. The
million-order book is `bench/orders_query.py`'s, built once and cached under `bench/.cache/`.

Run: python bench/dashboard_page.py [--orders 1000000] [--repeats 5] [--db POSTGRES_URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orders_query import GOAL_S, RARE_BUYER, STORE, cached_url  # noqa: E402

from ordertools import db  # noqa: E402
from ordertools.domain.statuses import parse_status_filter  # noqa: E402
from ordertools.domain.stores import get_store  # noqa: E402
from ordertools.notebook.pages import Display  # noqa: E402
from ordertools.queries.exports import DEFAULT_COLUMNS  # noqa: E402
from ordertools.queries.filters import OrderFilters
from ordertools.queries.orders import COUNT_CAP, count_orders, query_orders

COLUMNS = [key for key, _ in DEFAULT_COLUMNS]
CASES = {
    "no filter": OrderFilters(),
    "status Unshipped": OrderFilters(statuses=parse_status_filter(["unshipped"])),
    "buyer (rare name)": OrderFilters(buyer=RARE_BUYER.split()[1].lower()),
    "buyer smith": OrderFilters(buyer="smith"),
    "buyer john": OrderFilters(buyer="john"),
    "buyer son": OrderFilters(buyer="son"),
    "order number part": OrderFilters(order_number="-0500000-"),
    "total >= 4000": OrderFilters(min_total=4000),
    "total >= 500": OrderFilters(min_total=500),
    "total 50..60, page 3": OrderFilters(min_total=50, max_total=60),
}


def one_page(engine, filters: OrderFilters, page: int, show: Display) -> float:
    started = time.perf_counter()
    with db.session(engine) as session:
        store = get_store(session, STORE)
        count_orders(session, store, filters, cap=max(COUNT_CAP, (page + 2) * 20))
        records = query_orders(session, store, filters, limit=20, offset=page * 20)
    show.orders_table(records, COLUMNS)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", help="a PostgreSQL server URL (default: the cached SQLite file)")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    engine = db.connect(cached_url(args))
    show = Display(tz=UTC)
    print(
        f"All Orders, one page of 20 with a filter, {args.orders:,} orders ({datetime.now(UTC):%F})"
    )
    for label, filters in CASES.items():
        page = 2 if "page 3" in label else 0
        cold = one_page(engine, filters, page, show)
        warm = statistics.median(one_page(engine, filters, page, show) for _ in range(args.repeats))
        verdict = "ok" if warm <= GOAL_S else "SLOW"
        print(
            f"  {label:<22} {warm * 1000:7.1f} ms median (first {cold * 1000:7.1f} ms)  "
            f"goal {GOAL_S * 1000:.0f} ms: {verdict}, {warm / GOAL_S:.2f}x"
        )


if __name__ == "__main__":
    main()
