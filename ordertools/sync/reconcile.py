"""Reconciliation: prove the order book complete against Amazon's order report, and repair it.

A sync trusts searchOrders' windows. Amazon's order report (`GET_FLAT_FILE_ALL_ORDERS_DATA_BY_
LAST_UPDATE_GENERAL`) lists every order updated in a window independently of the Orders API, so
comparing the two, order by order, shows what the sync missed: orders the book never received
(**missing**), orders whose status the book has older (**stale**, also when Amazon updated the
order later than the book's version says), different items or quantities (**items**), different
item totals (**totals**), and orders the book has in the window that the report lacks
(**not in report**).

With repair, every differing order is read with getOrder and applied through the sync's own
write path (`PageApplier`: the same import rules, the same ledger; notes say "found by
reconciliation") under the store's lock, so a sync running at the same time waits its turn and
nothing is imported twice. The sync's cursor is never moved: a backfill (`--from` long ago)
brings old orders in without making the next sync skip anything.

Reports are eventually consistent: an order updated in the last minutes may be missing from
them. So the report is asked for up to `lag` before now; the orders the book saw updated after
that are left for the next run, and counted as left. Windows longer than Amazon's 30 days are
read as several reports. Each run is recorded (`Reconciliation`).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ordertools import stops
from ordertools.amazon import connect
from ordertools.amazon.client import AmazonClient
from ordertools.amazon.errors import MalformedOrder, NotFound, ReportFailed
from ordertools.amazon.models import SearchPage
from ordertools.amazon.reports import OrderReport, ReportOrder, ReportRow, orders_in_report
from ordertools.db import AmazonOrderItem, AmazonOrderRow, Reconciliation, Store, utcnow
from ordertools.db import session as db_session
from ordertools.db.locks import store_lock
from ordertools.domain.instants import utc
from ordertools.domain.statuses import display_status
from ordertools.domain.stores import get_store
from ordertools.errors import ConfigurationError, OrdertoolsError
from ordertools.sync.applier import PageApplier
from ordertools.sync.report import SyncReport, failed_because, utc_text

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
REPORT_MAX_DAYS = 30  # Amazon's limit per order report
REPORT_LAG = timedelta(minutes=15)  # how fresh an update may be and still be in the report
FOUND_BY = "reconciliation"
KINDS = ("missing", "stale", "items", "totals", "not_in_report")
KIND_WORDS = {
    "missing": "missing",
    "stale": "stale",
    "items": "items differ",
    "totals": "total differs",
    "not_in_report": "not in report",
}
STOPPED = "stopped (Ctrl-C or SIGTERM); nothing half-written, run it again"
REPAIR_BATCH = 100  # orders per transaction when repairing: a searchOrders page's worth
DIFFERENCES_KEPT = 500  # differing orders listed in the record; the counts cover all


@dataclass
class _Reported:
    """Amazon's orders in the window, each folded from its rows by `orders_in_report`, and the
    orders with a row that could not be read."""

    orders: dict[str, ReportOrder] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # order id -> why

    def __contains__(self, order_id: object) -> bool:
        return order_id in self.orders or order_id in self.unreadable

    def ids(self) -> list[str]:
        """In the report's order, so the differences list the same way every run."""
        return [*self.orders, *(i for i in self.unreadable if i not in self.orders)]

    def add(self, folded: OrderReport) -> None:
        """A report's orders; an order in two (a window's edge) keeps its newer version."""
        for order in folded:
            seen = self.orders.get(order.order_id)
            if seen is None or (
                order.last_updated is not None
                and (seen.last_updated is None or order.last_updated > seen.last_updated)
            ):
                self.orders[order.order_id] = order

    def noting_unreadable(self, rows: Iterable[ReportRow]) -> Iterator[ReportRow]:
        """The rows as they stream by, remembering the orders of the bad ones (which
        `orders_in_report` leaves out)."""
        for row in rows:
            if row.error is not None and row.order_id:
                self.unreadable[row.order_id] = row.error
            yield row


@dataclass
class Difference:
    order_number: str
    difference: str  # one of KINDS
    detail: str
    repaired: bool = False


@dataclass
class ReconcileReport:
    store: str
    window_start: datetime
    window_end: datetime
    repair: bool
    run_id: int | None = None
    outcome: str = "running"
    error: str | None = None
    reports: int = 0
    report_orders: int = 0
    compared: int = 0
    repaired: int = 0
    left: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    orders: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader should know (clamps, lag)

    @property
    def differences(self) -> int:
        return sum(self.counts.values())

    @property
    def unrepaired(self) -> int:
        return self.differences - self.repaired

    def as_json(self) -> dict:
        return {
            "store": self.store,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "outcome": self.outcome,
            "error": self.error,
            "repair": self.repair,
            "reports": self.reports,
            "report_orders": self.report_orders,
            "compared": self.compared,
            **self.counts,
            "repaired": self.repaired,
            "left": self.left,
            "notes": self.notes,
            "orders": [asdict(d) for d in self.orders],
        }

    def summary(self) -> str:
        window = f"{utc_text(self.window_start)} .. {utc_text(self.window_end)}"
        head = f"Store {self.store}: reconciliation {self.outcome}"
        lines = [head + (f" ({self.error})" if self.error else "")]
        lines.append(f"  window     {window} ({self.reports} order reports)")
        lines.append(
            f"  compared   {self.compared} orders ({self.report_orders} in Amazon's report)"
        )
        found = ", ".join(f"{self.counts[k]} {KIND_WORDS[k]}" for k in KINDS)
        lines.append(f"  found      {found}")
        if self.repair:
            lines.append(f"  repaired   {self.repaired} of {self.differences}")
        else:
            lines.append("  repaired   none (--no-repair)")
        if self.left:
            lines.append(
                f"  left       {self.left} updated within the report's lag, for the next run"
            )
        for note in self.notes:
            lines.append(f"  note       {note}")
        for d in self.orders[:20]:
            mark = "repaired" if d.repaired else "not repaired"
            lines.append(f"  {KIND_WORDS[d.difference]:<14} {d.order_number}: {d.detail} ({mark})")
        if len(self.orders) > 20:
            lines.append(f"  ... and {len(self.orders) - 20} more (see --format json)")
        return "\n".join(lines)


class ReconcileFailed(OrdertoolsError):
    """The reconciliation could not finish (Amazon refused, the report failed)."""


def reconcile_store(
    engine: Engine,
    name: str,
    *,
    days: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    repair: bool = True,
    client: AmazonClient | None = None,
    clock: Callable[[], datetime] | None = None,
    lag: timedelta = REPORT_LAG,
    wait: bool | float = 600,
) -> ReconcileReport:
    """Reconcile one store over `days` back from now (default 7) or [start, end]."""
    now = (clock or (lambda: datetime.now(UTC)))()
    with db_session(engine) as session:
        store = get_store(session, name)
        window_start, window_end, report_end, notes = _window(store, now, days, start, end, lag)
        report = ReconcileReport(store.name, window_start, window_end, repair, notes=notes)
        record = Reconciliation(
            store_id=store.id,
            window_start=window_start,
            window_end=window_end,
            repair=repair,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        session.add(record)
        session.flush()
        report.run_id = record.id
        store_id, marketplace_id = store.id, store.marketplace_id
    owns_client = client is None
    try:
        if owns_client:
            client = connect.amazon_client(store)
        with stops.cooperatively():
            reported = _read_reports(client, marketplace_id, window_start, report_end, report)
            with store_lock(engine, store_id, wait=wait):
                differing = _compare(engine, store_id, reported, window_start, report_end, report)
                if repair and differing:
                    _repair(engine, store_id, client, differing, report)
        report.outcome = "success"
    except BaseException as exc:  # recorded, then raised as it is
        report.error, stop = failed_because(exc, STOPPED)
        report.outcome = "failed"
        if stop is not None and stop is not exc:
            raise stop from None
        raise
    finally:
        if client is not None:
            report.reports = client.stats["createReport"].requests
            if owns_client:
                client.close()
        _finish(engine, report)
    return report


def _window(store: Store, now, days, start, end, lag):
    """[start, end] as asked, clamped to the integration; and the end the report is asked for."""
    notes = []
    if start is None:
        start = now - timedelta(days=DEFAULT_DAYS if days is None else days)
    elif days is not None:
        raise ConfigurationError("give --days or --from, not both")
    end = now if end is None else min(end, now)
    integrated = utc(store.integrated_at)
    if start < integrated:
        notes.append(
            f"starts at the store's integration ({utc_text(integrated)}): Amazon's updates before "
            "it are not the order book's"
        )
        start = integrated
    if end <= start:
        raise ConfigurationError(
            f"nothing to reconcile between {utc_text(start)} and {utc_text(end)}: "
            "choose a later window"
        )
    report_end = max(start, min(end, now - lag))
    return start, end, report_end, notes


def _chunks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    step = timedelta(days=REPORT_MAX_DAYS)
    while start < end:
        yield start, min(start + step, end)
        start += step


def _read_reports(client, marketplace_id, start, end, report) -> _Reported:
    """Amazon's orders updated in [start, end], one per order id (repeated rows once)."""
    reported = _Reported()
    for chunk_start, chunk_end in _chunks(start, end):
        rows = client.order_report(marketplace_id, chunk_start, chunk_end)
        try:
            reported.add(orders_in_report(reported.noting_unreadable(rows)))
        except ReportFailed as failed:
            # Amazon cancels a report with nothing in it (Reports API model): an empty window.
            if failed.processing_status != "CANCELLED":
                raise
            report.notes.append(
                f"Amazon cancelled the report for {utc_text(chunk_start)} .. "
                f"{utc_text(chunk_end)}, as it does when no order changed: read as empty"
            )
    report.report_orders = len(reported.ids())
    return reported


# -- comparing -----------------------------------------------------------------------------------

_BOOK_CHUNK = 1000


def _compare(engine, store_id, reported, start, end, report) -> list[str]:
    """Compare Amazon's orders with the book's; returns the order ids to repair."""
    differing: list[str] = []
    with db_session(engine) as session:
        ids = reported.ids()
        for first in range(0, len(ids), _BOOK_CHUNK):
            chunk = ids[first : first + _BOOK_CHUNK]
            book = _book_orders(session, store_id, chunk)
            for order_id in chunk:
                found = _difference(
                    order_id,
                    reported.orders.get(order_id),
                    book.get(order_id),
                    reported.unreadable.get(order_id),
                )
                report.compared += 1
                if found is not None:
                    _note(report, found)
                    differing.append(order_id)
        in_window = session.execute(
            select(AmazonOrderRow.amazon_order_id, AmazonOrderRow.last_updated).where(
                AmazonOrderRow.store_id == store_id,
                AmazonOrderRow.last_updated >= start,
            )
        )
        for order_id, last_updated in in_window:
            if order_id in reported:
                continue
            if utc(last_updated) > end:
                report.left += 1  # updated within the report's lag: the next run compares it
            else:
                report.compared += 1
                detail = (
                    f"the book has it updated {utc_text(utc(last_updated))}; the report does not"
                )
                _note(report, Difference(order_id, "not_in_report", detail))
                differing.append(order_id)
    return differing


@dataclass(slots=True)
class _Book:
    status: str | None
    last_updated: datetime | None
    error: str | None
    items: dict[str, int]
    total: Decimal | None


def _book_orders(session: Session, store_id: int, order_ids: list[str]) -> dict[str, _Book]:
    rows = session.execute(
        select(
            AmazonOrderRow.id,
            AmazonOrderRow.amazon_order_id,
            AmazonOrderRow.status,
            AmazonOrderRow.last_updated,
            AmazonOrderRow.error,
        ).where(AmazonOrderRow.store_id == store_id, AmazonOrderRow.amazon_order_id.in_(order_ids))
    ).all()
    by_pk = {
        pk: _Book(status, last_updated and utc(last_updated), error, {}, Decimal(0))
        for pk, _, status, last_updated, error in rows
    }
    if by_pk:
        items = session.execute(
            select(
                AmazonOrderItem.amazon_order_pk,
                AmazonOrderItem.sku,
                func.sum(AmazonOrderItem.quantity_ordered),
                func.sum(AmazonOrderItem.unit_price * AmazonOrderItem.quantity_ordered),
            )
            .where(AmazonOrderItem.amazon_order_pk.in_(list(by_pk)))
            .group_by(AmazonOrderItem.amazon_order_pk, AmazonOrderItem.sku)
        )
        for pk, sku, quantity, total in items:
            book = by_pk[pk]
            if sku is not None and quantity:
                book.items[sku] = int(quantity)
            if total is None or book.total is None:
                book.total = None
            else:
                book.total += Decimal(str(total))
    return {order_id: by_pk[pk] for pk, order_id, *_ in rows}


def _difference(
    order_id: str, amazon: ReportOrder | None, book: _Book | None, unreadable: str | None
) -> Difference | None:
    status = amazon.status if amazon is not None else None
    if book is None:
        return Difference(order_id, "missing", f"Amazon shows it {_word(status)}")
    if book.error is not None:
        return Difference(order_id, "stale", f"the book kept a malformed version ({book.error})")
    if unreadable or amazon is None:
        return Difference(order_id, "stale", f"its report row is unreadable ({unreadable})")
    newer = (
        amazon.last_updated is not None
        and book.last_updated is not None
        and amazon.last_updated > book.last_updated.replace(microsecond=0)
    )
    if not newer:
        return None  # the book's version is as new as the report's, or newer: nothing to prove
    if status != book.status:
        return Difference(order_id, "stale", f"Amazon: {_word(status)}, book: {_word(book.status)}")
    items = {sku: quantity for sku, quantity in amazon.items.items() if sku and quantity}
    if items != book.items:
        return Difference(order_id, "items", f"Amazon: {items}, book: {book.items}")
    total = amazon.item_total
    if total is not None and book.total is not None and total != book.total:
        return Difference(order_id, "totals", f"Amazon: {total}, book: {book.total}")
    return Difference(
        order_id,
        "stale",
        f"Amazon updated it {utc_text(amazon.last_updated)}, "
        f"the book has {utc_text(book.last_updated)}",
    )


def _note(report: ReconcileReport, found: Difference) -> None:
    report.counts[found.difference] += 1
    if len(report.orders) < DIFFERENCES_KEPT:
        report.orders.append(found)


# -- repairing -----------------------------------------------------------------------------------


def _repair(engine, store_id, client, order_ids: list[str], report: ReconcileReport) -> None:
    """Read each differing order with getOrder and apply it as the sync would."""
    listed = {d.order_number: d for d in report.orders}
    applied = SyncReport(store=report.store)
    for first in range(0, len(order_ids), REPAIR_BATCH):
        page = SearchPage(orders=[])
        for order_id in order_ids[first : first + REPAIR_BATCH]:
            try:
                page.orders.append(client.get_order(order_id))
            except MalformedOrder as bad:
                page.malformed.append(bad)
            except NotFound:
                if order_id in listed:
                    listed[order_id].detail += "; Amazon's getOrder does not know it"
        before = applied.new + applied.updated
        changed = _apply(engine, store_id, page, applied)
        report.repaired += applied.new + applied.updated - before
        for order_id in changed:
            if order_id in listed:
                listed[order_id].repaired = True
        stops.raise_if_requested()  # between batches: nothing half-written


def _apply(engine, store_id, page: SearchPage, applied: SyncReport) -> list[str]:
    """One batch through the sync's write path; returns the ids it changed."""
    with db_session(engine) as session:
        store = session.get(Store, store_id)
        return PageApplier(session, store, applied, found_by=FOUND_BY).apply(page)


def _finish(engine: Engine, report: ReconcileReport) -> None:
    if report.run_id is None:
        return
    with db_session(engine) as session:
        session.execute(
            update(Reconciliation)
            .where(Reconciliation.id == report.run_id)
            .values(
                outcome=report.outcome,
                error=report.error,
                finished_at=utcnow(),
                reports=report.reports,
                report_orders=report.report_orders,
                compared=report.compared,
                repaired=report.repaired,
                left=report.left,
                differences={"orders": [asdict(d) for d in report.orders]},
                **report.counts,
            )
        )


def _word(status: str | None) -> str:
    return display_status(status)
