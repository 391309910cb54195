"""How soon a changed order is in the order book: ORDER_CHANGE notifications vs poll-only.

Issue 15's goal: for `--changes` (500) order changes at a steady `--rate` (10 per second), the
time from the emulator's change to the committed local order, p50 and p95, against the floor
(the emulator's notification delivery delay plus one getOrder round trip, measured in the same
run): p95 <= floor + 2 s. The same for poll-only (a sync every `--period` 60 s), side by side.

Listener (measured in real time). Moto's SQS server (`ThreadedMotoServer`, real HTTP, dummy AWS
keys in the environment), a queue with `queue_policy`, and the emulator (in this process, usage
plans too high to bind, visibility delay 0, `--delay` seconds from a change to its message)
with store "acme" subscribed through `setup_notifications`, in a temp SQLite order book. The
`Listener` (long polls of 1 s) runs in a thread of this process. The orders are placed Pending
first (untimed: the listener stores them, imports none); then the main thread makes the timed
change, Pending -> Unshipped, one every 1/rate seconds, recording the wall time of each
`set_status`, while it polls the book every 20 ms for new local orders. Committed: the first
commit of the listener's thread after the local order's `created_at` (set by the importing
process's clock, this one), taken from SQLAlchemy's `after_commit` event; the first sight by
the polling reader and `created_at` itself are shown too. The floor's round trip is the median
of 50 getOrder calls with the same client settings against the same emulator, just before the
timed changes (and after them, for information).

Poll-only (measured in emulated time, and computed). A second emulator with Amazon's visibility
lag (`--lag`, 120 s, also the store's api_lag) on a ticking `ManualClock`, a second temp book,
no listener: `sync_store` runs in this process every `--period` seconds of the emulator's clock,
which jumps over the waits instead of sleeping (the syncs themselves take their real time). A
change waits for the first scheduled sync whose window (now - lag) includes it, plus that sync.
As 500 changes at 10/s span less than one period, the series is run `--phases` times (5), each
starting at a different point of the schedule (0, 1/5, ... of a period after a sync), and the
latencies are pooled. Computed: for a steady stream, a change's wait for that sync is uniform
over the period, so p50 = lag + period/2 + d, p95 = lag + 0.95 period + d, max = lag + period +
d, d the measured median from a sync's start to an order's commit.

Printed: p50/p95/max change -> committed for the listener, poll-only measured and poll-only
computed, the floor and its parts, p95 - floor against the 2 s goal (PASS/MISS), the breakdown
of the listener's latency (change -> message sent, sent -> committed), and what ran.

Run: python bench/notification_latency.py [--changes 500] [--rate 10] [--delay 1.0]
                                          [--period 60] [--lag 120] [--phases 5]
                                          [--only listener|poll]
"""

from __future__ import annotations

import argparse
import bisect
import logging
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

MARKETPLACE = "ATVPDKIKX0DER"
UNBOUND = {op: (100_000.0, 100_000) for op in ("searchOrders", "getOrder", "confirmShipment")}
STORE = "acme"
GOAL_OVER_FLOOR = 2.0  # seconds: p95 <= floor + 2 s
POLL_STEP = 0.02  # seconds between the reader's looks at the order book
ROUND_TRIPS = 50  # getOrder calls timed for the floor


# -- shared parts ---------------------------------------------------------------------------------


def aws_env(endpoint: str) -> None:
    """The standard AWS environment, pointed at moto's server (as tests/fixtures_sqs.py does)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_SQS=endpoint,
    )


def make_queue() -> tuple[str, str]:
    """A fresh queue Amazon's principal may send to: (url, arn)."""
    from ordertools.amazon.notifications import queue_policy, sqs_client

    sqs = sqs_client()
    url = sqs.create_queue(QueueName=f"ordertools-bench-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(arn)})
    return url, arn


def client_for(emu):
    from ordertools.amazon.auth import Credentials
    from ordertools.amazon.client import FAST_RETRIES, AmazonClient

    c = emu.credentials
    credentials = Credentials(
        client_id=c["client_id"], client_secret=c["client_secret"], refresh_token=c["refresh_token"]
    )
    return AmazonClient(
        credentials,
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name=STORE,
        plans=UNBOUND,
        retry=FAST_RETRIES,
    )


def book(folder: str, name: str, emu, integrated_at: datetime, api_lag: int):
    """A migrated temp SQLite order book with store "acme" pointing at the emulator."""
    from ordertools import db
    from ordertools.domain.stores import add_store

    engine = db.connect(f"sqlite:///{folder}/{name}.db")
    with db.session(engine) as session:
        add_store(
            session,
            STORE,
            marketplace_id=MARKETPLACE,
            endpoint=emu.base_url,
            token_url=emu.token_url,
            integrated_at=integrated_at,
            api_lag_seconds=api_lag,
        )
    return engine


class Commits:
    """Every ORM commit's moment, per thread: (wall time, the run's own time base)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_thread: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.timebase = time.time

    def __call__(self, session) -> None:
        moment = (time.time(), self.timebase())
        with self._lock:
            self.by_thread[threading.get_ident()].append(moment)

    def after(self, thread: int, wall: float) -> float | None:
        """The time base of `thread`'s first commit at or after the wall time `wall`."""
        with self._lock:
            moments = list(self.by_thread[thread])
        i = bisect.bisect_left(moments, (wall, float("-inf")))
        return moments[i][1] if i < len(moments) else None


def local_orders(engine) -> dict[str, float]:
    """amazon_order_id -> local order's created_at (epoch seconds)."""
    from sqlalchemy import select

    from ordertools.db import LocalOrder

    table = LocalOrder.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.amazon_order_id, table.c.created_at)).all()
    return {order_id: epoch(created) for order_id, created in rows}


def epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def spread(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p95": pct(values, 95), "max": max(values)}


def round_trips(client, order_ids: list[str], n: int = ROUND_TRIPS) -> float:
    """Median wall time of one getOrder (HTTP round trip and parse), seconds."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        client.get_order(order_ids[i % len(order_ids)])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- the listener: notifications through moto's SQS -----------------------------------------------


def listener_run(args: argparse.Namespace, folder: str, commits: Commits) -> dict:
    from sqlalchemy import func, select

    from ordertools.amazon.emulator import Emulator, EmulatorConfig
    from ordertools.db import AmazonOrderRow, Notification
    from ordertools.sync.listen import Listener
    from ordertools.sync.subscribe import setup_notifications

    n, rate = args.changes, args.rate
    queue_url, queue_arn = make_queue()
    config = EmulatorConfig(
        plans=UNBOUND, visibility_delay=0.0, min_before_age=0.0, notification_delay=args.delay
    )
    with Emulator(config=config, port=0) as emu:
        integrated_at = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
        engine = book(folder, "listener", emu, integrated_at, api_lag=120)
        with client_for(emu) as client:
            setup_notifications(engine, STORE, queue_arn, client=client)
        listen = Listener(
            engine,
            [STORE],
            queue_url=queue_url,
            clients={STORE: client_for(emu)},
            wait_seconds=1,
            echo=lambda line: None,
        )
        stop, failures, idents = threading.Event(), [], []

        def loop() -> None:
            idents.append(threading.get_ident())
            try:
                while not stop.is_set():
                    listen.poll_once()
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)

        thread = threading.Thread(target=loop, name="listener", daemon=True)
        thread.start()

        def stored() -> int:
            with engine.connect() as conn:
                return conn.scalar(select(func.count()).select_from(AmazonOrderRow.__table__))

        # Untimed: the orders placed Pending, stored by the listener (held, not imported).
        started = time.perf_counter()
        orders = [emu.world.add_order(status="PENDING") for _ in range(n)]
        deadline = time.monotonic() + 120 + n * args.delay
        while stored() < n and time.monotonic() < deadline and not failures:
            time.sleep(0.1)
        if failures or stored() < n:
            raise SystemExit(f"the listener did not store the Pending orders: {failures}")
        placed = time.perf_counter() - started
        probe = client_for(emu)
        rtt_before = round_trips(probe, orders)

        # Timed: Pending -> Unshipped at the steady rate; the reader looks every 20 ms.
        changed: dict[str, float] = {}
        seen: dict[str, float] = {}
        created: dict[str, float] = {}
        last_look = 0.0

        def look() -> None:
            nonlocal last_look
            last_look = time.monotonic()
            now = time.time()
            for order_id, at in local_orders(engine).items():
                if order_id not in seen:
                    seen[order_id], created[order_id] = now, at

        t0 = time.monotonic() + 0.1
        for i, order_id in enumerate(orders):
            due = t0 + i / rate
            while (wait := due - time.monotonic()) > 0:
                if time.monotonic() - last_look >= POLL_STEP:
                    look()
                    continue
                time.sleep(min(wait, POLL_STEP - (time.monotonic() - last_look)))
            changed[order_id] = time.time()
            emu.world.set_status(order_id, "UNSHIPPED")
        span = time.monotonic() - t0
        deadline = time.monotonic() + 60 + 10 * args.delay
        while len(seen) < n and time.monotonic() < deadline and not failures:
            time.sleep(max(0.0, POLL_STEP - (time.monotonic() - last_look)))
            look()
        stop.set()
        thread.join(timeout=10)
        rtt_after = round_trips(probe, orders)
        probe.close()
        listen.close()
        for c in listen.clients.values():
            c.close()
        with engine.connect() as conn:
            published = dict(
                conn.execute(
                    select(Notification.amazon_order_id, func.max(Notification.published_at))
                    .where(Notification.error.is_(None))
                    .group_by(Notification.amazon_order_id)
                ).all()
            )
        report = listen.report
        notifications = dict(emu.stats["notifications"])
        engine.dispose()
    missing = [o for o in orders if o not in seen]
    if failures:
        raise SystemExit(f"the listener failed: {failures[0]!r}")
    ident = idents[0]
    commit = {}
    for order_id in seen:
        at = commits.after(ident, created[order_id])
        commit[order_id] = at if at is not None else seen[order_id]
    done = [o for o in orders if o in seen]
    sent = [epoch(published[o]) - changed[o] for o in done if published.get(o) is not None]
    return {
        "latency": [commit[o] - changed[o] for o in done],
        "created": [created[o] - changed[o] for o in done],
        "seen": [seen[o] - changed[o] for o in done],
        "sent": sent,
        "after_sent": [
            commit[o] - epoch(published[o]) for o in done if published.get(o) is not None
        ],
        "missing": len(missing),
        "rtt": rtt_before,
        "rtt_after": rtt_after,
        "span": span,
        "placed": placed,
        "report": report.line(),
        "notifications": notifications,
    }


# -- poll-only: a sync every period, on the emulator's clock ---------------------------------------


def poll_run(args: argparse.Namespace, folder: str, commits: Commits) -> dict:
    from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
    from ordertools.sync.run import sync_store

    n, rate, period, lag, phases = args.changes, args.rate, args.period, args.lag, args.phases
    clock = ManualClock(ticking=True)
    config = EmulatorConfig(
        plans=UNBOUND, visibility_delay=float(lag), min_before_age=float(lag), clock=clock
    )

    def now() -> float:
        return clock().timestamp()

    def jump_to(moment: float) -> None:
        if (ahead := moment - now()) > 0:
            clock.advance(ahead)

    commits.timebase = now
    ident = threading.get_ident()
    try:
        with Emulator(config=config, port=0) as emu, client_for(emu) as client:
            integrated_at = (clock() - timedelta(days=1)).replace(microsecond=0)
            engine = book(folder, "poll", emu, integrated_at, api_lag=lag)
            orders = [emu.world.add_order(status="PENDING") for _ in range(n * phases)]
            clock.advance(lag + 1)
            setup = sync_store(engine, STORE, client=client, clock=clock, progress=False)
            if setup.outcome != "success" or setup.new != n * phases:
                raise SystemExit(f"the setup sync did not store the Pending orders: {setup}")
            changed: dict[str, float] = {}
            commit: dict[str, float] = {}
            in_sync: list[float] = []  # a sync's start to an order's commit
            durations: list[float] = []
            syncs = skipped = 0
            next_sync = now() + period
            for phase in range(phases):
                series = orders[phase * n : (phase + 1) * n]
                start = next_sync + phase * period / phases
                due = [start + i / rate for i in range(n)]
                i, left = 0, set(series)
                while left:
                    if i < n and due[i] < next_sync:
                        jump_to(due[i])
                        changed[series[i]] = now()
                        emu.world.set_status(series[i], "UNSHIPPED")
                        i += 1
                        continue
                    jump_to(next_sync)
                    began = now()
                    report = sync_store(engine, STORE, client=client, clock=clock, progress=False)
                    durations.append(now() - began)
                    syncs += 1
                    if report.outcome != "success":
                        raise SystemExit(f"a scheduled sync failed: {report.summary()}")
                    for order_id, at in local_orders(engine).items():
                        if order_id in left:
                            commit[order_id] = commits.after(ident, at) or now()
                            in_sync.append(commit[order_id] - began)
                            left.discard(order_id)
                    next_sync += period
                    while next_sync <= now():  # a sync longer than the period: cron skips
                        next_sync += period
                        skipped += 1
            engine.dispose()
    finally:
        commits.timebase = time.time
    d = statistics.median(in_sync)
    return {
        "latency": [commit[o] - changed[o] for o in orders],
        "in_sync": d,
        "sync_median": statistics.median(durations),
        "sync_max": max(durations),
        "syncs": syncs,
        "skipped": skipped,
        "computed": {
            "p50": lag + period / 2 + d,
            "p95": lag + 0.95 * period + d,
            "max": lag + period + d,
        },
    }


# -- the report -----------------------------------------------------------------------------------


def summarize(args: argparse.Namespace, listener: dict | None, poll: dict | None) -> None:
    floor = None
    if listener:
        floor = args.delay + listener["rtt"]
        print(
            f"\nlistener (measured, real time): {args.changes} Pending -> Unshipped changes made "
            f"over {listener['span']:.1f} s ({(args.changes - 1) / listener['span']:.2f}/s), "
            f"the Pending orders stored first (untimed) in {listener['placed']:.1f} s"
        )
        print(f"  listener: {listener['report']}")
        print(f"  emulator's notifications: {listener['notifications']}")
        if listener["missing"]:
            print(f"  NOT COMMITTED within the wait: {listener['missing']} orders")
        print(
            f"  getOrder round trip, median of {ROUND_TRIPS}: {1000 * listener['rtt']:.1f} ms "
            f"before the changes (the floor's), {1000 * listener['rtt_after']:.1f} ms after"
        )
        for label, key in (
            ("change -> local order inserted (created_at)", "created"),
            ("change -> seen by a reader polling every 20 ms", "seen"),
            ("change -> message sent (PublishTime; the delay)", "sent"),
            ("message sent -> committed (SQS, getOrder, write)", "after_sent"),
        ):
            if listener[key]:
                s = spread(listener[key])
                print(
                    f"  {label:<50} p50 {s['p50']:6.3f} s  p95 {s['p95']:6.3f} s  "
                    f"max {s['max']:6.3f} s"
                )
    if poll:
        print(
            f"\npoll-only (measured on the emulator's ManualClock, waits jumped, syncs in real "
            f"time): {args.phases} series of {args.changes} changes at {args.rate:g}/s, each "
            f"starting {', '.join(f'{k / args.phases:.2g}' for k in range(args.phases))} of a "
            f"{args.period:g} s period after a scheduled sync; Amazon's lag and the store's "
            f"api_lag {args.lag} s"
        )
        print(
            f"  {poll['syncs']} scheduled syncs (all timed), median {poll['sync_median']:.2f} s, "
            f"longest {poll['sync_max']:.2f} s"
            + (
                f", {poll['skipped']} ticks skipped (a sync outlasted the period)"
                if poll["skipped"]
                else ""
            )
            + f"; a sync's start to an order's commit: median {poll['in_sync']:.2f} s"
        )
        print(
            f"  computed for a steady stream: lag + U(0, period) + {poll['in_sync']:.2f} s "
            f"(p50 = lag + period/2, p95 = lag + 0.95 period, max = lag + period)"
        )

    columns = []
    if listener:
        columns.append(("listener (measured)", spread(listener["latency"])))
    if poll:
        columns.append((f"poll {args.period:g} s (measured)", spread(poll["latency"])))
        columns.append((f"poll {args.period:g} s (computed)", poll["computed"]))
    print(f"\n{'change -> committed local order':<36}" + "".join(f"{c:>24}" for c, _ in columns))
    for key in ("p50", "p95", "max"):
        print(f"{key:<36}" + "".join(f"{f'{s[key]:.3f} s':>24}" for _, s in columns))
    if floor is not None:
        overs = [f"{s['p95'] - floor:+.3f} s" for _, s in columns]
        print(f"{'p95 - floor':<36}" + "".join(f"{o:>24}" for o in overs))
        verdicts = ["PASS" if s["p95"] <= floor + GOAL_OVER_FLOOR else "MISS" for _, s in columns]
        print(
            f"{f'  vs goal <= {GOAL_OVER_FLOOR:g} s':<36}" + "".join(f"{v:>24}" for v in verdicts)
        )

    if listener:
        p95 = spread(listener["latency"])["p95"]
        over = p95 - floor
        print(f"\n{'figure':<44} {'value':>12}  {'goal':<14} result")
        rows = [
            ("notification delivery delay (configured)", f"{args.delay:.3f} s", "", None),
            ("getOrder round trip (median, measured)", f"{listener['rtt']:.3f} s", "", None),
            ("floor (delay + one getOrder)", f"{floor:.3f} s", "", None),
            ("listener p50", f"{spread(listener['latency'])['p50']:.3f} s", "", None),
            ("listener p95", f"{p95:.3f} s", f"<= {floor + GOAL_OVER_FLOOR:.3f} s", None),
            (
                "listener p95 - floor",
                f"{over:.3f} s",
                f"<= {GOAL_OVER_FLOOR:g} s",
                over <= GOAL_OVER_FLOOR,
            ),
        ]
        if poll:
            poll95 = spread(poll["latency"])["p95"]
            rows.append(("poll-only p95 (measured)", f"{poll95:.1f} s", "", None))
            rows.append(("poll-only p95 / listener p95", f"{poll95 / p95:.0f} x", "", None))
        for name, value, goal, met in rows:
            verdict = "" if met is None else ("PASS" if met else "MISS")
            ratio = f"  ({over / GOAL_OVER_FLOOR:.2f} of the goal)" if met is not None else ""
            print(f"{name:<44} {value:>12}  {goal:<14} {verdict}{ratio}")
    print(f"machine load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=500, help="order changes per series")
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument(
        "--delay", type=float, default=1.0, help="emulator's notification delay, seconds"
    )
    parser.add_argument("--period", type=float, default=60.0, help="poll-only sync schedule, s")
    parser.add_argument("--lag", type=int, default=120, help="Amazon's visibility lag, seconds")
    parser.add_argument("--phases", type=int, default=5, help="poll-only series (schedule phases)")
    parser.add_argument("--only", choices=("listener", "poll"), help="run one side only")
    args = parser.parse_args()
    if args.changes < 2 or args.rate <= 0 or args.period <= 0 or args.phases < 1:
        parser.error("--changes >= 2, --rate > 0, --period > 0 and --phases >= 1")

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    commits = Commits()
    event.listen(Session, "after_commit", commits)
    listener = poll = None
    with tempfile.TemporaryDirectory(prefix="ordertools-notification-bench-") as folder:
        print(
            f"{args.changes} changes at {args.rate:g}/s; order books: SQLite (temp files); "
            + (
                "emulator, moto's SQS server and the listener in this process"
                if args.only != "poll"
                else "emulator and the syncs in this process"
            )
        )
        if args.only != "poll":
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            try:
                host, port = server.get_host_and_port()
                aws_env(f"http://{host}:{port}")
                listener = listener_run(args, folder, commits)
            finally:
                server.stop()
        if args.only != "listener":
            poll = poll_run(args, folder, commits)
    summarize(args, listener, poll)


if __name__ == "__main__":
    main()
