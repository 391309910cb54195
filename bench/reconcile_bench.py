"""What a reconciliation's comparison costs: 100,000 orders in the book, a 7-day report of 20,000.

The emulator (in this process, usage plans too high to bind, visibility delay 0, reports done at
once: `report_delay` 0 and `report_lag` 0, documents GZIP-compressed as Amazon serves them) holds
`--orders` generated orders: `--recent` of them updated within the last 7 days (the newest 20
minutes ago, so the reconciliation's 15-minute lag leaves none for the next run), the others
updated 8 to 60 days ago. The store was integrated 61 days ago, and one sync (untimed, in a
subprocess) fills the order book with all of them; every timed run starts from a copy of that
book (the SQLite file copied, or a PostgreSQL database made from it as a template).

Each repetition runs in a fresh subprocess, so its peak resident memory (VmHWM) is what a user
would see, and times `reconcile_store(engine, store, days=7, repair=True)`. Nothing differs, so
its work is the comparison: createReport, the getReport polls, getReportDocument, the download,
gunzip and parse of the document, folding its rows per order, comparing them with the book, and
the run's record. The phases are timed by wrapping the client's `order_report` (every row it
yields) and `wait_for_report`, and `reconcile`'s `_read_reports`, `_compare` and `_repair`.

Printed: the median wall time of `reconcile_store`; the comparison, which is that wall time less
Amazon's processing (the getReport polls, during which the emulator makes the document, as
Amazon would) and less any repair (goal <= 5 s); where it goes (the client's report calls and
parse, folding, comparing with the book, the rest); the child's peak RSS (goal <= 200 MB; its
baseline after imports, connect and client is shown too); report_orders (expected: `--recent`)
and compared; createReport / getReport / getReportDocument calls per reconciliation (goals:
createReport 1, getReportDocument 1); PASS/MISS per goal. For information: the emulator's CPU
time while it serves a run (this process's, as it does nothing else meanwhile).

`--lost 0.05` arms the emulator's lost-updates fault (`Faults.lose_updates`) for the versions
updated within the last 7 days, for the setup sync only: searchOrders misses about 5 % of them,
so each reconciliation finds ~1,000 orders missing and repairs them (getOrder, then the sync's
write path); the repair's time is printed separately, for information.

`--profile` then runs one more reconciliation (in a subprocess too) under cProfile and prints
where its time goes.

Run: python bench/reconcile_bench.py [--orders 100000] [--recent 20000] [--repeats 5]
                                     [--lost 0.05] [--profile]
                                     [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

With --db, the URL names a PostgreSQL server and a maintenance database to connect to; the
benchmark creates and drops its own scratch databases `ordertools_bench_reconcile_<pid>` (the
runs') and `..._book` (the synced book they are copied from) there.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ordertools.amazon.ratelimit import DEFAULT_PLANS

MARKETPLACE = "ATVPDKIKX0DER"
UNBOUND = {op: (100_000.0, 100_000) for op in DEFAULT_PLANS}
API_LAG = 30  # seconds: the store's; the sync reads up to now - 30 s
STORE = "bench"
DAYS = 7  # the reconciliation's window
INTEGRATED_DAYS = 61  # the store was integrated this long ago
OLD_DAYS = (8, 60)  # the other orders were updated this many days ago
RECENT_GAP = timedelta(minutes=20)  # the newest order's age: beyond reconcile's 15-minute lag
RECENT_MARGIN = timedelta(hours=6)  # the oldest recent order stays in the window this long
REPORT_OPS = ("createReport", "getReport", "getReportDocument")
GOALS = {"seconds": 5.0, "rss_mb": 200.0, "createReport": 1, "getReportDocument": 1}


# -- the child: the setup sync, or one timed reconciliation ---------------------------------------


def _rss_kb(field: str = "VmRSS") -> int:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), in KiB.

    Not `ru_maxrss`: Linux carries it over from the parent through fork and exec, so a child
    of this benchmark would report the parent's emulator (all its orders) as its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _client(endpoint: str, token_url: str):
    from ordertools.amazon.auth import Credentials
    from ordertools.amazon.client import FAST_RETRIES, AmazonClient
    from ordertools.amazon.emulator import EmulatorConfig

    demo = EmulatorConfig()
    credentials = Credentials(
        client_id=demo.client_id, client_secret=demo.client_secret, refresh_token=demo.refresh_token
    )
    return AmazonClient(
        credentials,
        endpoint=endpoint,
        token_url=token_url,
        store_name=STORE,
        plans=UNBOUND,
        retry=FAST_RETRIES,
    )


def setup_book(args: argparse.Namespace) -> None:
    """A migrated order book with the store, filled by one sync of every order (untimed)."""
    from ordertools import db
    from ordertools.domain.stores import add_store
    from ordertools.sync.run import sync_store

    engine = db.connect(args.db)
    with db.session(engine) as session:
        add_store(
            session,
            STORE,
            marketplace_id=MARKETPLACE,
            endpoint=args.endpoint,
            token_url=args.token_url,
            integrated_at=datetime.fromisoformat(args.integrated_at),
            api_lag_seconds=API_LAG,
        )
    client = _client(args.endpoint, args.token_url)
    started = time.perf_counter()
    report = sync_store(engine, STORE, client=client, progress=False)
    seconds = time.perf_counter() - started
    client.close()
    engine.dispose()
    print(json.dumps({"seconds": seconds, "outcome": report.outcome, "counts": report.counts()}))


class _Phases:
    """Seconds spent in the parts of one reconcile_store, by wrapping them (see the docstring)."""

    def __init__(self, client):
        import ordertools.sync.reconcile as reconcile

        self.seconds = dict.fromkeys(
            ("report_rows", "first_row", "processing", "read", "compare", "repair"), 0.0
        )
        self.rows = 0
        client.order_report = self._rows(client.order_report)
        client.wait_for_report = self._timed("processing", client.wait_for_report)
        for part in ("read", "compare", "repair"):
            name = f"_{'read_reports' if part == 'read' else part}"
            setattr(reconcile, name, self._timed(part, getattr(reconcile, name)))

    def _timed(self, part: str, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started

        return timed

    def _rows(self, order_report):
        """order_report, its time counted row by row: createReport, the polls, the document
        and its parse happen as the caller iterates."""

        def timed(*args, **kwargs):
            rows = iter(order_report(*args, **kwargs))
            first = True
            while True:
                started = time.perf_counter()
                try:
                    row = next(rows)
                except StopIteration:
                    self.seconds["report_rows"] += time.perf_counter() - started
                    return
                spent = time.perf_counter() - started
                self.seconds["report_rows"] += spent
                if first:
                    self.seconds["first_row"] += spent
                    first = False
                self.rows += 1
                yield row

        return timed


def reconcile_once(args: argparse.Namespace) -> None:
    from ordertools import db
    from ordertools.sync.reconcile import reconcile_store

    engine = db.connect(args.db)
    client = _client(args.endpoint, args.token_url)
    phases = _Phases(client)
    baseline = _rss_kb()
    cpu, started = time.process_time(), time.perf_counter()
    report = reconcile_store(engine, STORE, days=DAYS, repair=True, client=client)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {
        "seconds": seconds,
        "cpu": cpu,
        "phases": phases.seconds,
        "rows": phases.rows,
        "outcome": report.outcome,
        "reports": report.reports,
        "report_orders": report.report_orders,
        "compared": report.compared,
        "differences": report.differences,
        "counts": report.counts,
        "repaired": report.repaired,
        "left": report.left,
        "calls": {op: client.stats[op].requests for op in (*REPORT_OPS, "getOrder")},
        "baseline_kb": baseline,
        "maxrss_kb": _rss_kb("VmHWM"),
    }
    client.close()
    engine.dispose()
    print(json.dumps(result))


# (label, file fragment, function name) of the parts worth knowing, for inclusive times.
PARTS = (
    ("reconcile_store (whole run)", "ordertools/sync/reconcile.py", "reconcile_store"),
    ("_read_reports (report rows + fold)", "ordertools/sync/reconcile.py", "_read_reports"),
    (
        "  client: wait_for_report (getReport polls)",
        "ordertools/amazon/client.py",
        "wait_for_report",
    ),
    (
        "  client: _document_lines (download + lines)",
        "ordertools/amazon/client.py",
        "_document_lines",
    ),
    ("    _gunzipped", "ordertools/amazon/client.py", "_gunzipped"),
    ("    _decoded (per line)", "ordertools/amazon/client.py", "_decoded"),
    ("  parse_order_report (rows)", "ordertools/amazon/reports.py", "parse_order_report"),
    ("  _fold (per row)", "ordertools/sync/reconcile.py", "_fold"),
    ("_compare", "ordertools/sync/reconcile.py", "_compare"),
    ("  _book_orders (2 queries per 1,000 orders)", "ordertools/sync/reconcile.py", "_book_orders"),
    ("  _difference (per order)", "ordertools/sync/reconcile.py", "_difference"),
    ("_repair", "ordertools/sync/reconcile.py", "_repair"),
    ("_finish (the run's record)", "ordertools/sync/reconcile.py", "_finish"),
)


def profile_once(args: argparse.Namespace) -> None:
    """One reconciliation (in a child, like the timed ones) under cProfile."""
    from ordertools import db
    from ordertools.sync.reconcile import reconcile_store

    engine = db.connect(args.db)
    client = _client(args.endpoint, args.token_url)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    report = reconcile_store(engine, STORE, days=DAYS, repair=True, client=client)
    profiler.disable()
    total = time.perf_counter() - started
    client.close()
    engine.dispose()
    print(
        f"\nProfile of one reconciliation ({report.report_orders} orders in the report, "
        f"{report.repaired} repaired, {total:.2f} s under cProfile)"
    )
    stats = pstats.Stats(profiler)
    print("  inclusive time of its parts (% of the profiled run):")
    for label, where, name in PARTS:
        ct = sum(
            ct
            for (filename, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
            if fn == name and where in filename
        )
        if ct:
            print(f"    {label:<52} {ct:7.2f} s {100 * ct / total:5.1f} %")
    print(f"  top {args.top} functions by own time:")
    entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[: args.top]
    for (filename, line, name), (_cc, calls, tt, ct, _callers) in entries:
        short = re.sub(r".*/(site-packages|ordertools|lib/python[\d.]+)/", r"\1/", filename)
        print(
            f"    {tt:6.2f} s {100 * tt / total:5.1f} %  (cum {ct:6.2f} s) {calls:8d}  "
            f"{short}:{line} {name}"
        )


def child(args: argparse.Namespace) -> None:
    {"setup": setup_book, "reconcile": reconcile_once, "profile": profile_once}[args.child](args)


# -- the parent: emulator, order books, repetitions -----------------------------------------------


class ShiftedClock:
    """Real time, `behind` in the past: `World.generate` places its orders up to its now, so
    setting the clock back while it generates places them earlier (0 once the server serves)."""

    def __init__(self):
        self.behind = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.behind


class Books:
    """The synced order book, and a fresh copy of it per run: a copied SQLite file, or a
    PostgreSQL database created from the synced one as its template."""

    def __init__(self, server_url: str | None):
        self.server_url = server_url
        self.tmp = tempfile.TemporaryDirectory(prefix="ordertools-reconcile-bench-")
        self.pg_name = f"ordertools_bench_reconcile_{os.getpid()}"

    def book(self) -> str:
        """The URL the setup sync fills."""
        if self.server_url is None:
            return f"sqlite:///{self.tmp.name}/book.db"
        self._pg(f'DROP DATABASE IF EXISTS "{self.pg_name}_book"')
        self._pg(f'CREATE DATABASE "{self.pg_name}_book"')
        return self._url(f"{self.pg_name}_book")

    def fresh(self) -> str:
        """A copy of the synced book for one run."""
        if self.server_url is None:
            tmp = Path(self.tmp.name)
            for suffix in ("", "-wal", "-shm"):
                (tmp / f"run.db{suffix}").unlink(missing_ok=True)
                if (tmp / f"book.db{suffix}").exists() and suffix != "-shm":
                    shutil.copyfile(tmp / f"book.db{suffix}", tmp / f"run.db{suffix}")
            return f"sqlite:///{tmp}/run.db"
        self._pg(
            f'DROP DATABASE IF EXISTS "{self.pg_name}"',
            f'CREATE DATABASE "{self.pg_name}" TEMPLATE "{self.pg_name}_book"',
        )
        return self._url(self.pg_name)

    def _url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.server_url).set(database=database)
        return url.render_as_string(hide_password=False)

    def _pg(self, *statements: str) -> None:
        from sqlalchemy import create_engine

        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()

    def close(self) -> None:
        if self.server_url is not None:
            for name in (self.pg_name, f"{self.pg_name}_book"):
                self._pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.tmp.cleanup()


def run_child(kind: str, emu, db_url: str, integrated_at: datetime, *extra: str) -> dict | str:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--endpoint",
        emu.base_url,
        "--token-url",
        emu.token_url,
        "--integrated-at",
        integrated_at.isoformat(),
        "--db",
        db_url,
        *extra,
    ]
    # This process only serves the child meanwhile: its CPU time is the emulator's (Amazon's).
    emulator_cpu = time.process_time()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    emulator_cpu = time.process_time() - emulator_cpu
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stderr}")
    if kind == "profile":
        return done.stdout
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "emulator_cpu": emulator_cpu}


def build_world(emu, clock: ShiftedClock, orders: int, recent: int) -> None:
    """`orders - recent` orders updated 8 to 60 days ago, `recent` within the last 7 days."""
    old_from, old_to = OLD_DAYS
    clock.behind = timedelta(days=old_from)
    emu.world.generate(orders - recent, seed=1, days=old_to - old_from)
    clock.behind = RECENT_GAP
    span = timedelta(days=DAYS) - RECENT_GAP - RECENT_MARGIN
    emu.world.generate(recent, seed=2, days=span / timedelta(days=1))
    clock.behind = timedelta(0)


def arm_lost_updates(emu, share: float, since: datetime) -> None:
    """The lost-updates fault, for the versions updated since `since` only."""
    lost = emu.faults.lost_version
    emu.faults.lost_version = lambda order_id, updated: updated >= since and lost(order_id, updated)
    emu.faults.lose_updates(share, seed=7)


def parent(args: argparse.Namespace) -> None:
    from ordertools.amazon.emulator import Emulator, EmulatorConfig

    clock = ShiftedClock()
    config = EmulatorConfig(
        plans=UNBOUND,
        visibility_delay=0.0,
        min_before_age=0.0,
        report_delay=0.0,
        report_lag=0.0,
        report_gzip=True,
        clock=clock,
    )
    books = Books(args.db)
    backend = "PostgreSQL" if args.db else "SQLite (temp file)"
    runs = []
    try:
        with Emulator(config=config, port=0) as emu:
            started = time.perf_counter()
            build_world(emu, clock, args.orders, args.recent)
            now = datetime.now(UTC)
            integrated_at = (now - timedelta(days=INTEGRATED_DAYS)).replace(microsecond=0)
            print(
                f"{args.orders:,} orders generated in {time.perf_counter() - started:.1f} s "
                f"({args.recent:,} updated within {DAYS} days); order book: {backend}"
            )
            lost = 0
            if args.lost:
                arm_lost_updates(emu, args.lost, now - timedelta(days=DAYS))
            setup = run_child("setup", emu, books.book(), integrated_at)
            if args.lost:
                lost = len(emu.app.lost_versions())
                emu.faults.lose_updates(0.0)
            print(
                f"setup sync (untimed) in {setup['seconds']:.1f} s: {setup['outcome']}, "
                f"{setup['counts']}"
                + (f"; searchOrders lost {lost} recent orders (--lost {args.lost})" if lost else "")
            )
            print(f"{args.repeats} reconciliations, one subprocess each, on a copy of the book")
            run_child("reconcile", emu, books.fresh(), integrated_at)  # warm caches and the OS
            for i in range(args.repeats):
                r = run_child("reconcile", emu, books.fresh(), integrated_at)
                runs.append(r)
                p = r["phases"]
                print(
                    f"  run {i + 1}: {r['seconds']:5.2f} s (cpu {r['cpu']:5.2f} s; report rows "
                    f"{p['report_rows']:.2f} s of which processing {p['processing']:.2f} s, "
                    f"compare {p['compare']:.2f} s, repair {p['repair']:.2f} s), peak RSS "
                    f"{r['maxrss_kb'] / 1024:.0f} MB, {r['report_orders']} in report, "
                    f"{r['compared']} compared, {r['differences']} differ, {r['repaired']} "
                    f"repaired; emulator cpu {r['emulator_cpu']:.2f} s"
                )
                if r["outcome"] != "success" or r["report_orders"] != args.recent:
                    raise SystemExit(f"expected a success with {args.recent} orders: {r}")
                if r["differences"] != lost or r["repaired"] != lost:
                    raise SystemExit(f"expected {lost} differences, all repaired: {r}")
            if args.profile:
                top = ["--top", str(args.top)]
                print(run_child("profile", emu, books.fresh(), integrated_at, *top), end="")
    finally:
        books.close()
    summarize(args, runs, backend)


def summarize(args: argparse.Namespace, runs: list[dict], backend: str) -> None:
    def median(value) -> float:
        return statistics.median(value(r) for r in runs)

    def phase(name: str):
        return lambda r: r["phases"][name]

    def comparison(r: dict) -> float:
        return r["seconds"] - r["phases"]["processing"] - r["phases"]["repair"]

    wall = median(lambda r: r["seconds"])
    compared_s = median(comparison)
    processing = median(phase("processing"))
    client = median(lambda r: r["phases"]["report_rows"] - r["phases"]["processing"])
    first_row = median(lambda r: r["phases"]["first_row"] - r["phases"]["processing"])
    fold = median(lambda r: r["phases"]["read"] - r["phases"]["report_rows"])
    compare = median(phase("compare"))
    repair = median(phase("repair"))
    rest = median(
        lambda r: (
            comparison(r)
            - (r["phases"]["read"] - r["phases"]["processing"])
            - r["phases"]["compare"]
        )
    )
    rss = max(r["maxrss_kb"] for r in runs) / 1024
    baseline = median(lambda r: r["baseline_kb"]) / 1024
    calls = {op: max(r["calls"][op] for r in runs) for op in (*REPORT_OPS, "getOrder")}
    last = runs[-1]
    rows = [
        ("reconcile_store wall time (median)", f"{wall:.2f} s", "", None),
        ("  Amazon's processing (getReport polls)", f"{processing:.2f} s", "", None),
        ("  repair (getOrder + write path)", f"{repair:.2f} s", "", None),
        (
            "comparison (wall - processing - repair)",
            f"{compared_s:.2f} s",
            f"<= {GOALS['seconds']:g} s",
            compared_s <= GOALS["seconds"],
        ),
        ("  client: report calls, download, parse", f"{client:.2f} s", "", None),
        ("    of which until the first row", f"{first_row:.2f} s", "", None),
        ("  folding the rows per order (_fold)", f"{fold:.2f} s", "", None),
        ("  comparing with the book (_compare)", f"{compare:.2f} s", "", None),
        ("  the rest (store, record, lock, finish)", f"{rest:.2f} s", "", None),
        ("client-process CPU (median, info)", f"{median(lambda r: r['cpu']):.2f} s", "", None),
        (
            "emulator CPU during a run (info)",
            f"{median(lambda r: r['emulator_cpu']):.2f} s",
            "",
            None,
        ),
        (
            "peak RSS (subprocess VmHWM, max)",
            f"{rss:.0f} MB",
            f"<= {GOALS['rss_mb']:.0f} MB",
            rss <= GOALS["rss_mb"],
        ),
        ("  of which baseline before the run", f"{baseline:.0f} MB", "", None),
        ("report rows / report_orders", f"{last['rows']} / {last['report_orders']}", "", None),
        ("compared / left", f"{last['compared']} / {last['left']}", "", None),
        ("differences / repaired", f"{last['differences']} / {last['repaired']}", "", None),
        (
            "createReport calls per run (max)",
            f"{calls['createReport']}",
            f"== {GOALS['createReport']}",
            calls["createReport"] == GOALS["createReport"],
        ),
        ("getReport calls per run (max)", f"{calls['getReport']}", "", None),
        (
            "getReportDocument calls per run (max)",
            f"{calls['getReportDocument']}",
            f"== {GOALS['getReportDocument']}",
            calls["getReportDocument"] == GOALS["getReportDocument"],
        ),
        ("getOrder calls per run (max)", f"{calls['getOrder']}", "", None),
    ]
    print(f"\n{'figure (' + backend + ')':<42} {'value':>14}  {'goal':<10} result")
    for name, value, goal, met in rows:
        verdict = "" if met is None else ("PASS" if met else "MISS")
        ratio = ""
        if name.startswith("comparison"):
            ratio = f"  ({compared_s / GOALS['seconds']:.2f} of the goal)"
        elif name.startswith("peak RSS"):
            ratio = f"  ({rss / GOALS['rss_mb']:.2f} of the goal)"
        print(f"{name:<42} {value:>14}  {goal:<10} {verdict}{ratio}")
    print(f"difference counts: {last['counts']}")
    print(f"machine load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the book")
    parser.add_argument("--recent", type=int, default=20_000, help="of them updated in 7 days")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lost", type=float, default=0.0, help="lost-updates share, e.g. 0.05")
    parser.add_argument("--db", help="PostgreSQL server URL (default: temp SQLite files)")
    parser.add_argument("--profile", action="store_true", help="profile one more run")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    parser.add_argument(
        "--child", choices=("setup", "reconcile", "profile"), help=argparse.SUPPRESS
    )
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--token-url", help=argparse.SUPPRESS)
    parser.add_argument("--integrated-at", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.db and not args.db.startswith("postgresql"):
        parser.error("--db takes a postgresql:// server URL; SQLite is the default")
    if not 0 < args.recent <= args.orders:
        parser.error("--recent must be between 1 and --orders")
    if not 0.0 <= args.lost < 1.0:
        parser.error("--lost is a share from 0 to 1, e.g. 0.05")
    parent(args)


if __name__ == "__main__":
    main()
