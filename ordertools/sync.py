"""The sync engine: Amazon's changed orders into the order book, under the import rules.

One store at a time, under the store's lock:

1. The window on `lastUpdatedTime` runs from the stored cursor minus the overlap (the first
   window from the integration instant) to now minus `api_lag` (Amazon shows an update about two
   minutes after it happens; asking for fresher data misses some).
2. Page through `searchOrders`. Each page is one transaction: upsert the orders whose
   `lastUpdatedTime` is newer than what is stored, record status events, apply the rules (create,
   cancel, complete local orders) and commit.
3. Only when the whole window is done does the cursor move to the window's end.

Why this survives `kill -9` at any point: a page is all or nothing, the cursor moves last, and
re-reading a window is free (unchanged orders are skipped), so the next run converges on the
same state. Why it never double-imports: the store lock keeps runs apart, and the database's
unique constraints forbid a second local order for one Amazon order even if something slipped.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload
from tqdm.auto import tqdm

from . import orders as local_orders
from .amazon.auth import Credentials
from .amazon.client import AmazonClient
from .amazon.emulator.config import EmulatorConfig
from .amazon.models import AmazonOrder, SearchPage
from .db import (
    AmazonOrderItem,
    AmazonOrderRow,
    LocalOrder,
    LocalOrderItem,
    StatusEvent,
    Store,
    SyncRun,
    utcnow,
)
from .db import (
    session as db_session,
)
from .db.bulk import bulk_insert, bulk_insert_ids, bulk_update
from .db.checkpoints import background_checkpoints
from .db.writer import writer_connection
from .errors import ConfigurationError, MalformedOrder, NotFound, OrdertoolsError
from .locks import store_lock
from .outbox import flush_outbox
from .rules import (
    Action,
    ImportDecision,
    LocalFacts,
    OrderFacts,
    StoreRules,
    decide,
    import_failed_note,
)
from .statuses import display_status
from .stores import get_store, list_stores

log = logging.getLogger(__name__)

# How many per-order lines a report keeps for display; the counts always cover everything.
REPORT_CHANGES_LIMIT = 500
INTERRUPTED = "interrupted: the sync process ended before the run finished; a later run resumed"


@dataclass
class OrderChange:
    """One order this run stored or changed, for the run's output."""

    amazon_order_id: str
    status: str  # the shown word
    action: str
    note: str | None
    local_order_number: str | None = None


@dataclass
class SyncReport:
    """What one sync of one store did."""

    store: str
    run_id: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    outcome: str = "running"
    error: str | None = None
    pages: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    imported: int = 0
    canceled: int = 0
    completed: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (order id, reason)
    changes: list[OrderChange] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    opens_at: datetime | None = None  # when the window is still empty: when it will open

    COUNTS = ("new", "updated", "imported", "canceled", "completed", "skipped", "failed")

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def note_change(self, change: OrderChange) -> None:
        if self.keeps_changes:
            self.changes.append(change)

    @property
    def keeps_changes(self) -> bool:
        """Whether another per-order line would be kept (a first sync's 20,000 would not)."""
        return len(self.changes) < REPORT_CHANGES_LIMIT

    def summary(self) -> str:
        """The one-screen summary printed at the end of a run."""
        start, end = self.window_start, self.window_end
        if start is None or end is None:
            window = "-"
        elif end <= start:
            # A store integrated moments ago: Amazon's data lags, so the first window opens later.
            window = (
                f"nothing to read yet (Amazon's data lags; next window opens {_fmt(self.opens_at)})"
            )
        else:
            window = f"{_fmt(start)} .. {_fmt(end)}"
        lines = [
            f"Store {self.store}: sync {self.outcome}" + (f" ({self.error})" if self.error else ""),
            f"  window   {window}",
            f"  pages    {self.pages} ({self.requests} searchOrders calls,"
            f" {self.throttled} throttled)",
            "  orders   " + ", ".join(f"{n} {k}" for k, n in self.counts().items()),
        ]
        for order_id, reason in self.failures[:10]:
            lines.append(f"  failed   {order_id}: {reason}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more failures")
        return "\n".join(lines)


class SyncFailed(OrdertoolsError):
    """`sync_all` finished every store, and at least one failed."""

    def __init__(self, reports: list[SyncReport]):
        failed = [r for r in reports if r.outcome != "success"]
        super().__init__(
            f"{len(failed)} of {len(reports)} stores failed to sync: "
            + "; ".join(f"{r.store}: {r.error}" for r in failed)
        )
        self.reports = reports


def _credentials(store: Store) -> Credentials:
    """Credentials from the environment, never from the database.

    A store whose endpoint and token URL are on this machine talks to the emulator; when the
    variables are unset it gets the emulator's published demo credentials (not secrets), so the
    demo needs no setup. Anything else without the variables is an error naming them.
    """
    try:
        return Credentials.from_env(store.refresh_token_env)
    except ConfigurationError:
        if not (_is_loopback(store.endpoint) and _is_loopback(store.token_url)):
            raise
    demo = EmulatorConfig()
    return Credentials(
        client_id=demo.client_id,
        client_secret=demo.client_secret,
        refresh_token=demo.refresh_token,
        refresh_token_env=store.refresh_token_env,
    )


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def amazon_client(store: Store, **options) -> AmazonClient:
    """A client for the store (see `_credentials` for where its credentials come from)."""
    return AmazonClient(
        _credentials(store),
        region=store.region,
        endpoint=store.endpoint,
        token_url=store.token_url,
        store_name=store.name,
        **options,
    )


def sync_store(
    engine: Engine,
    name: str,
    *,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: bool | None = None,
    wait: bool | float = False,
) -> SyncReport:
    """Sync one store. Raises `StoreBusy` when another run holds it (unless `wait`), and the
    client's typed errors when Amazon fails; the run record says how it ended either way."""
    with db_session(engine) as session:
        store_id = get_store(session, name).id
    with store_lock(engine, store_id, wait=wait):
        run = _Run(engine, store_id, client, clock or (lambda: datetime.now(UTC)), progress)
        report = run.run()
        flush_outbox(engine, name, client=client, clock=clock)  # shipments, cancellations out
        return report


def sync_all(engine: Engine, **options) -> list[SyncReport]:
    """Sync every store, one after another; one store's failure never stops the others.

    Raises `SyncFailed` at the end when any store failed, carrying every report.
    """
    with db_session(engine) as session:
        names = [store.name for store in list_stores(session)]
    reports = []
    for name in names:
        try:
            reports.append(sync_store(engine, name, **options))
        except OrdertoolsError as exc:
            reports.append(SyncReport(store=name, outcome="failed", error=str(exc)))
    if any(r.outcome != "success" for r in reports):
        raise SyncFailed(reports)
    return reports


class _Statistics:
    """Keeps PostgreSQL's planner informed while a sync brings many new orders.

    Without statistics (a new order book, or a new store beside big ones) the planner believes
    the store has a handful of orders and looks orders up by walking a store-wide index
    instead of the (store, Amazon order id) key: every page read the whole store, and a first
    sync slowed down as it grew. Autovacuum analyzes too late for that (a minute after), so the
    sync does it, on the two columns the lookups use, each time its new orders double (from
    1,000): a few times in a first sync, never in a routine one.
    """

    FIRST = 1_000

    def __init__(self, engine: Engine):
        self.engine = engine
        self.due = self.FIRST if engine.dialect.name == "postgresql" else None

    def after(self, new_orders: int) -> None:
        if self.due is None or new_orders < self.due:
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE amazon_orders (store_id, amazon_order_id)")
        self.due = 2 * new_orders


@contextmanager
def _collector_spares_older_objects() -> Iterator[None]:
    """Python's cycle collector leaves what existed before the sync alone while it runs.

    A full collection visits every object the process holds: some 100,000 after the CLI's
    imports, many more in a notebook with pandas and widgets loaded, and a first sync sets off
    several. Frozen (`gc.freeze`), those objects are skipped (3-8 % of a first sync of 20,000
    orders, bench/sync_bench.py); the sync's own are still collected, and `gc.unfreeze` hands
    the older ones back to the collector at the end.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


class _Run:
    """One run over one store's window."""

    def __init__(self, engine, store_id, client, clock, progress):
        self.engine = engine
        self.store_id = store_id
        self.client = client
        self.clock = clock
        self.progress = progress

    def run(self) -> SyncReport:
        with db_session(self.engine) as session:
            store = session.get(Store, self.store_id)
            report = SyncReport(store=store.name)
            # This run holds the store's lock, so a run of the store still "running" is one whose
            # process died (kill -9, a crash): say so instead of leaving it running forever.
            session.execute(
                update(SyncRun)
                .where(SyncRun.store_id == store.id, SyncRun.outcome == "running")
                .values(outcome="failed", error=INTERRUPTED)
            )
            now = self.clock()
            start = (
                store.cursor - timedelta(seconds=store.overlap_seconds)
                if store.cursor
                else store.integrated_at
            )
            end = now - timedelta(seconds=store.api_lag_seconds)
            run = SyncRun(
                store_id=store.id,
                window_start=start,
                window_end=end,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(run)
            session.flush()
            report.run_id, report.window_start, report.window_end = run.id, start, end
            if end <= start:
                report.opens_at = now + (start - end)
            marketplace_id = store.marketplace_id
            client = self.client
        owns_client = client is None
        try:
            if owns_client:  # even with nothing to read: a missing credential shows at once
                client = amazon_client(store)
            if end > start:
                self._read_window(client, marketplace_id, start, end, report)
            report.outcome = "success"
        except Exception as exc:  # recorded, then raised as it is: a bug must stay visible
            # Our errors read as a sentence; anything else is named by its type.
            reason = (
                str(exc) if isinstance(exc, OrdertoolsError) else f"{type(exc).__name__}: {exc}"
            )
            report.outcome, report.error = "failed", reason
            raise
        finally:
            if client is not None:
                stats = client.stats["searchOrders"]
                report.requests, report.throttled = stats.requests, stats.throttled
                if owns_client:
                    client.close()
            self._finish(report, end if report.outcome == "success" and end > start else None)
        return report

    def _read_window(self, client, marketplace_id, start, end, report) -> None:
        # The client fetches the next page while this one is written (its prefetch).
        pages = client.search_orders(
            marketplace_ids=[marketplace_id], last_updated_after=start, last_updated_before=end
        )
        # disable=None lets tqdm decide: a bar on a terminal or in a notebook, none in a pipe.
        disable = None if self.progress is None else not self.progress
        bar = tqdm(desc=f"sync {report.store}", unit=" orders", disable=disable, leave=False)
        with (
            bar,
            writer_connection(self.engine) as connection,
            background_checkpoints(self.engine),
            _collector_spares_older_objects(),
        ):
            statistics = _Statistics(self.engine)
            for page in pages:
                # A transaction per page, all on the one held connection (db/writer.py).
                with Session(connection, expire_on_commit=False) as session, session.begin():
                    store = session.get(Store, self.store_id)
                    _PageApplier(session, store, report).apply(page)
                report.pages += 1
                bar.update(len(page.orders) + len(page.malformed))
                statistics.after(report.new)

    def _finish(self, report: SyncReport, cursor: datetime | None) -> None:
        with db_session(self.engine) as session:
            values = {
                **report.counts(),
                "pages": report.pages,
                "outcome": report.outcome,
                "error": report.error,
                "finished_at": utcnow(),
            }
            session.execute(update(SyncRun).where(SyncRun.id == report.run_id).values(**values))
            if cursor is not None:
                session.execute(
                    update(Store).where(Store.id == self.store_id).values(cursor=cursor)
                )


def _row_values(store: Store, order: AmazonOrder, now: datetime) -> dict:
    total = order.grand_total
    return {
        "store_id": store.id,
        "amazon_order_id": order.order_id,
        "status": order.status,
        "fulfilled_by": order.fulfilled_by,
        "marketplace_id": order.marketplace_id,
        "purchase_date": order.created_time,
        "last_updated": order.last_updated_time,
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "grand_total": total.amount if total else None,
        "currency": total.currency_code if total else None,
        "raw": orjson.Fragment(order.raw_json),  # stored as received, not re-encoded
        "error": None,
        "updated_at": now,
    }


def _item_rows(pk: int, order: AmazonOrder) -> Iterable[dict]:
    for item in order.order_items:
        price = item.unit_price
        yield {
            "amazon_order_pk": pk,
            "order_item_id": item.order_item_id,
            "sku": item.sku,
            "asin": item.product.asin,
            "title": item.title,
            "quantity_ordered": item.quantity_ordered,
            "quantity_shipped": item.quantity_shipped,
            "unit_price": price.amount if price else None,
            "currency": price.currency_code if price else None,
        }


# Built once: a page runs it every time, and building and keying a statement cost more than
# running it. It runs on the session's connection: plain rows, without the ORM's result layer.
_STORED_VERSIONS = select(
    AmazonOrderRow.id,
    AmazonOrderRow.amazon_order_id,
    AmazonOrderRow.last_updated,
    AmazonOrderRow.status,
    AmazonOrderRow.error,
    AmazonOrderRow.note,
).where(
    AmazonOrderRow.store_id == bindparam("store_id"),
    AmazonOrderRow.amazon_order_id.in_(bindparam("order_ids", expanding=True)),
)


class _PageApplier:
    """Applies one page inside one transaction (the caller commits)."""

    def __init__(self, session: Session, store: Store, report: SyncReport):
        self.session = session
        self.store = store
        self.report = report
        self.rules = StoreRules.of(store)

    def apply(self, page: SearchPage) -> None:
        for bad in page.malformed:
            self._keep_malformed(bad)
        latest = self._latest_versions(page.orders)
        if not latest:
            return
        stored = {
            row.amazon_order_id: row
            for row in self.session.connection().execute(
                _STORED_VERSIONS, {"store_id": self.store.id, "order_ids": list(latest)}
            )
        }
        changed = [o for o in latest.values() if self._is_news(o, stored.get(o.order_id))]
        self.report.unchanged += len(latest) - len(changed)
        if not changed:
            return
        locals_ = self._local_orders(changed, stored)
        decisions = self._decide(changed, stored, locals_)
        # The notes are written with the orders: an import's note names its local number, so
        # the numbers are taken first. Only what goes wrong afterwards is written again.
        to_import = [o for o in changed if decisions[o.order_id].action == Action.IMPORT]
        numbers = dict(zip([o.order_id for o in to_import], self._numbers(to_import), strict=True))
        notes = {
            o.order_id: decisions[o.order_id].note_for(numbers[o.order_id])
            if o.order_id in numbers
            else decisions[o.order_id].note
            for o in changed
        }
        pks = self._upsert(changed, stored, notes)
        errors = self._act(changed, pks, decisions, locals_, numbers, notes)
        self._record(changed, stored, pks, decisions, notes, numbers, errors)

    def _local_orders(self, changed: list[AmazonOrder], stored: dict) -> dict[int, LocalOrder]:
        """The local orders of the changed orders, by Amazon order pk, items loaded.

        Only orders stored before can have one: a page of new orders (a first sync is all
        new) skips the lookup."""
        known = [stored[o.order_id].id for o in changed if o.order_id in stored]
        if not known:
            return {}
        return {
            local.amazon_order_pk: local
            for local in self.session.scalars(
                select(LocalOrder)
                .where(LocalOrder.amazon_order_pk.in_(known))
                .options(selectinload(LocalOrder.items).selectinload(LocalOrderItem.product))
            )
        }

    def _decide(self, changed, stored, locals_) -> dict[str, ImportDecision]:
        """The import rules' decision for each changed order, by Amazon order id."""
        decisions = {}
        for order in changed:
            row = stored.get(order.order_id)
            # An order whose last import failed counts as changed, so the import is retried.
            previous = row.status if row is not None and row.error is None else None
            local = locals_.get(row.id) if row is not None else None
            decisions[order.order_id] = decide(
                OrderFacts.from_amazon(order, previous),
                self.rules,
                LocalFacts(local.number, local.status) if local else None,
            )
        return decisions

    def _numbers(self, to_import: list[AmazonOrder]) -> list[str]:
        """The local numbers these imports will get (taken now; a failed import leaves a gap)."""
        return local_orders.take_numbers(self.session, self.store, [o.order_id for o in to_import])

    # -- reading the page ----------------------------------------------------------------------

    def _latest_versions(self, orders: list[AmazonOrder]) -> dict[str, AmazonOrder]:
        """One version per order id: Amazon can repeat an order across (or within) pages."""
        latest: dict[str, AmazonOrder] = {}
        for order in orders:
            seen = latest.get(order.order_id)
            if seen is None or order.last_updated_time > seen.last_updated_time:
                latest[order.order_id] = order
        return latest

    @staticmethod
    def _is_news(order: AmazonOrder, row) -> bool:
        return (
            row is None
            or row.error is not None
            or row.last_updated is None
            or order.last_updated_time > row.last_updated
        )

    def _keep_malformed(self, bad: MalformedOrder) -> None:
        """Keep the raw order with the reason; what was stored before stays (nothing is lost)."""
        self.report.failed += 1
        self.report.failures.append((bad.order_id or "(no id)", bad.reason))
        if bad.order_id is None:
            log.warning("store %s: skipped an order with no id: %s", self.store.name, bad.reason)
            return
        note = import_failed_note(f"Amazon sent a malformed order ({bad.reason})")
        row = self.session.scalar(
            select(AmazonOrderRow).where(
                AmazonOrderRow.store_id == self.store.id,
                AmazonOrderRow.amazon_order_id == bad.order_id,
            )
        )
        if row is None:
            raw = bad.raw if isinstance(bad.raw, dict) else {"value": bad.raw}
            row = AmazonOrderRow(store_id=self.store.id, amazon_order_id=bad.order_id, raw=raw)
            self.session.add(row)
        row.error, row.note = bad.reason, note
        self.report.note_change(
            OrderChange(bad.order_id, display_status(row.status), "failed", note)
        )

    # -- writing ---------------------------------------------------------------------------------

    def _upsert(self, changed: list[AmazonOrder], stored: dict, notes: dict) -> dict[str, int]:
        """Insert new orders, update changed ones, replace their items; returns id -> pk.

        Each order is written with its note (None: an update keeps the note it had)."""
        new = [o for o in changed if o.order_id not in stored]
        old = [o for o in changed if o.order_id in stored]
        pks = {o.order_id: stored[o.order_id].id for o in old}
        if new:
            now = utcnow()
            rows = [
                {**_row_values(self.store, o, now), "note": notes[o.order_id], "first_seen_at": now}
                for o in new
            ]
            table = AmazonOrderRow.__table__
            pks |= bulk_insert_ids(
                self.session, table, rows, "amazon_order_id", store_id=self.store.id
            )
        if old:
            now = utcnow()
            bulk_update(
                self.session,
                AmazonOrderRow.__table__,
                [
                    {
                        "id": pks[o.order_id],
                        **_row_values(self.store, o, now),
                        "note": notes[o.order_id] or stored[o.order_id].note,
                    }
                    for o in old
                ],
            )
            self.session.execute(
                delete(AmazonOrderItem).where(
                    AmazonOrderItem.amazon_order_pk.in_([pks[o.order_id] for o in old])
                )
            )
        items = [item for o in changed for item in _item_rows(pks[o.order_id], o)]
        bulk_insert(self.session, AmazonOrderItem.__table__, items)
        self.report.new += len(new)
        self.report.updated += len(old)
        return pks

    def _act(self, changed, pks, decisions, locals_, numbers, notes) -> dict[str, str]:
        """Carry out the decisions; returns the errors by order id, whose notes (in `notes`)
        now say the import or follow-through failed. `numbers` gains the existing locals'."""
        errors: dict[str, str] = {}
        for order in changed:
            if pks[order.order_id] in locals_:
                numbers[order.order_id] = locals_[pks[order.order_id]].number
        to_import = [o for o in changed if decisions[o.order_id].action == Action.IMPORT]
        for order, error in self._import(to_import, pks, decisions, numbers):
            errors[order.order_id] = notes[order.order_id] = import_failed_note(error)
            del numbers[order.order_id]
        for order in changed:
            decision = decisions[order.order_id]
            if decision.action in (Action.CANCEL, Action.COMPLETE, Action.PROCESS):
                error = self._follow(locals_[pks[order.order_id]], decision)
                if error is not None:
                    errors[order.order_id] = notes[order.order_id] = import_failed_note(error)
        return errors

    def _import(self, orders, pks, decisions, numbers):
        """Create local orders for a page in one go; if that fails, one by one, so one bad order
        costs only itself. Yields (order, error) for each order that failed."""
        if not orders:
            return
        new = [self._new_local(o, pks[o.order_id], decisions[o.order_id]) for o in orders]
        taken = [numbers[o.order_id] for o in orders]
        try:
            with self.session.begin_nested():
                local_orders.create_local_orders(self.session, self.store, new, numbers=taken)
        except Exception:  # retried order by order below, where the culprit gets the error
            log.debug("bulk import failed; importing one by one", exc_info=True)
        else:
            return
        for order, one, number in zip(orders, new, taken, strict=True):
            try:
                with self.session.begin_nested():
                    local_orders.create_local_orders(
                        self.session, self.store, [one], numbers=[number]
                    )
            except Exception as exc:  # noqa: BLE001 - the order's note carries the reason
                yield order, exc

    @staticmethod
    def _new_local(order: AmazonOrder, pk: int, decision: ImportDecision):
        total = order.grand_total
        return local_orders.NewLocalOrder(
            amazon_order_pk=pk,
            amazon_order_id=order.order_id,
            status=decision.local_status,
            fulfilled_by=order.fulfilled_by,
            buyer_name=order.buyer_name,
            buyer_email=order.buyer_email,
            grand_total=total.amount if total else None,
            currency=total.currency_code if total else None,
            items=tuple(
                local_orders.NewItem(
                    item.order_item_id,
                    item.sku,
                    item.title,
                    item.quantity_ordered,
                    item.unit_price.amount if item.unit_price else None,
                )
                for item in order.order_items
            ),
        )

    def _follow(self, local: LocalOrder, decision: ImportDecision) -> Exception | None:
        apply = {
            Action.CANCEL: local_orders.cancel_local_order,
            Action.COMPLETE: local_orders.complete_local_order,
            Action.PROCESS: local_orders.process_local_order,
        }[decision.action]
        try:
            with self.session.begin_nested():
                apply(self.session, local, comment=decision.note, source="amazon")
        except Exception as exc:  # noqa: BLE001 - the order's note carries the reason
            return exc
        return None

    def _record(self, changed, stored, pks, decisions, notes, numbers, errors) -> None:
        """Notes on the orders, the ledger, and the report's counts."""
        # The orders were written with their notes; only failures changed them since.
        failed = [
            {"id": pks[oid], "note": notes[oid], "error": error} for oid, error in errors.items()
        ]
        bulk_update(self.session, AmazonOrderRow.__table__, failed)
        events, now = [], utcnow()
        for order in changed:
            oid = order.order_id
            decision = decisions[oid]
            action = "failed" if oid in errors else decision.action.value
            row = stored.get(oid)
            if row is None or row.status != order.status or action != "keep":
                events.append(
                    {
                        "amazon_order_pk": pks[oid],
                        "status": order.status,
                        "amazon_updated_at": order.last_updated_time,
                        "observed_at": now,
                        "sync_run_id": self.report.run_id,
                        "action": action,
                        "note": notes[oid],
                    }
                )
            self._count(oid, action, errors)
            if self.report.keeps_changes:
                shown = display_status(order.status, _local_status(decision, action))
                self.report.note_change(
                    OrderChange(oid, shown, action, notes[oid], numbers.get(oid))
                )
        bulk_insert(self.session, StatusEvent.__table__, events)

    def _count(self, oid: str, action: str, errors: dict[str, str]) -> None:
        report = self.report
        if action == "failed":
            report.failed += 1
            report.failures.append((oid, errors[oid]))
        elif action == Action.IMPORT:
            report.imported += 1
        elif action == Action.CANCEL:
            report.canceled += 1
        elif action == Action.COMPLETE:
            report.completed += 1
        elif action == Action.SKIP:
            report.skipped += 1


def _local_status(decision: ImportDecision, action: str) -> str | None:
    return decision.local_status if action in ("import", "complete", "cancel", "process") else None


def import_order(engine: Engine, name: str, order_number: str, *, wait: float = 60) -> str:
    """`import-order`: import one view-only order now, whatever the toggle; returns its local
    number. The import rules still apply (integration, status, channel): a refusal says why."""
    with db_session(engine) as session:
        store_id = get_store(session, name).id
    with store_lock(engine, store_id, wait=wait), db_session(engine) as session:
        store = session.get(Store, store_id)
        row = session.scalar(
            select(AmazonOrderRow).where(
                AmazonOrderRow.store_id == store.id, AmazonOrderRow.amazon_order_id == order_number
            )
        )
        if row is None:
            raise NotFound(
                f"store {name} has never received Amazon order {order_number}: check the "
                "number, or run `ordertools sync` first"
            )
        if row.purchase_date is None:  # only ever received malformed: nothing to import from
            raise ImportRefused(
                f"order {order_number} was not imported: Amazon sent it malformed "
                f"({row.error or 'no purchase date'}); it imports once Amazon sends it whole"
            )
        local = local_orders.local_order_for(session, row)
        facts = OrderFacts(row.status, row.fulfilled_by, row.purchase_date, row.status)
        rules = StoreRules.of(store)
        decision = decide(
            facts, rules, LocalFacts(local.number, local.status) if local else None, requested=True
        )
        if decision.action != Action.IMPORT:
            raise ImportRefused(f"order {order_number} was not imported: {decision.note}")
        new = local_orders.new_local_from_row(row, decision.local_status)
        number = local_orders.create_local_orders(
            session, store, [new], comment=f"Imported on request from Amazon order {order_number}"
        )[row.id]
        row.note, row.error = decision.note_for(number), None
        session.add(
            StatusEvent(
                amazon_order_pk=row.id,
                status=row.status,
                amazon_updated_at=row.last_updated,
                action="import",
                note=row.note,
            )
        )
        return number


class ImportRefused(OrdertoolsError):
    """`import-order` refused by the import rules; the message says which rule."""
