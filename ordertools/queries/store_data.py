"""Store Data and revenue: lifetime sales, orders awaiting shipment, sales per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Reconciliation, Store, SyncRun
from ordertools.domain.statuses import (
    AWAITING_SHIPMENT,
    STATUS_WORDS,
    LocalStatus,
    display_status,
)

# Orders that are not (or not yet) a sale: left out of lifetime sales and revenue.
NOT_SALES = frozenset({"PENDING", "PENDING_AVAILABILITY", "CANCELLED", "UNFULFILLABLE"})


@dataclass(frozen=True)
class StoreData:
    """Store Data: lifetime sales per currency, orders awaiting shipment, counts by status."""

    lifetime_sales: dict[str, Decimal]
    awaiting_shipment: int
    by_status: dict[str, int]  # shown word -> orders, in the words' display order


def _since_integration(store: Store):
    return (
        AmazonOrderRow.store_id == store.id,
        AmazonOrderRow.purchase_date >= store.integrated_at,
    )


def _is_sale():
    return or_(AmazonOrderRow.status.is_(None), AmazonOrderRow.status.not_in(sorted(NOT_SALES)))


def store_data(session: Session, store: Store) -> StoreData:
    """Three grouped queries over the store's orders since its integration."""
    sales = session.execute(
        select(AmazonOrderRow.currency, func.sum(AmazonOrderRow.grand_total))
        .where(*_since_integration(store), _is_sale(), AmazonOrderRow.currency.is_not(None))
        .group_by(AmazonOrderRow.currency)
        .order_by(AmazonOrderRow.currency)
    )
    awaiting = session.scalar(
        select(func.count())
        .select_from(AmazonOrderRow)
        .where(*_since_integration(store), AmazonOrderRow.status.in_(AWAITING_SHIPMENT))
    )
    complete = func.coalesce(LocalOrder.status == LocalStatus.COMPLETE.value, False)
    counts: dict[str, int] = {}
    for status, is_complete, n in session.execute(
        select(AmazonOrderRow.status, complete, func.count())
        .select_from(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(*_since_integration(store))
        .group_by(AmazonOrderRow.status, complete)
    ):
        word = display_status(status, LocalStatus.COMPLETE.value if is_complete else None)
        counts[word] = counts.get(word, 0) + n
    order = {word: i for i, word in enumerate(STATUS_WORDS)}
    return StoreData(
        lifetime_sales={currency: total for currency, total in sales},
        awaiting_shipment=awaiting or 0,
        by_status=dict(sorted(counts.items(), key=lambda kv: order.get(kv[0], len(order)))),
    )


def revenue(session: Session, store: Store, *, days: int, now: datetime, tz: tzinfo):
    """Sales per day for the last `days` days (today included) in `tz`, one column per currency.

    The database hands back only the window's sales; pandas sums them by local day.
    """
    import pandas as pd  # only the dashboard and exports need pandas

    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
    rows = session.execute(
        select(AmazonOrderRow.purchase_date, AmazonOrderRow.currency, AmazonOrderRow.grand_total)
        .where(*_since_integration(store), _is_sale(), AmazonOrderRow.purchase_date >= start)
        .where(AmazonOrderRow.grand_total.is_not(None), AmazonOrderRow.currency.is_not(None))
    ).all()
    frame = pd.DataFrame(rows, columns=["purchase_date", "currency", "total"])
    frame["day"] = [moment.astimezone(tz).date() for moment in frame["purchase_date"]]
    frame["total"] = frame["total"].map(Decimal)
    series = frame.pivot_table(
        index="day", columns="currency", values="total", aggfunc="sum", fill_value=Decimal(0)
    )
    days_index = pd.Index([first + timedelta(days=i) for i in range(days)], name="day")
    return series.reindex(days_index, fill_value=Decimal(0)).loc[:, sorted(series.columns)]


def last_sync(session: Session, store: Store) -> SyncRun | None:
    return session.scalar(
        select(SyncRun)
        .where(SyncRun.store_id == store.id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    )


def last_reconciliation(session: Session, store: Store) -> Reconciliation | None:
    return session.scalar(
        select(Reconciliation)
        .where(Reconciliation.store_id == store.id)
        .order_by(Reconciliation.started_at.desc(), Reconciliation.id.desc())
        .limit(1)
    )
