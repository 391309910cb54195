"""Recent Orders and All Orders: the queries behind the dashboard, the CLI and the exports.

Everything is filtered, sorted and paged in the database, never by loading a store's orders
into memory: a page over a million stored orders is one indexed query. What comes back are
`OrderRecord`s, plain values with the keys of the fixed `orders --format json` contract.

Recent Orders follows the Sales Channel: orders placed before the store's integration never
show; Pending and Pending Availability orders are tracked but hidden until Amazon verifies them,
unless a status filter asks for them. The order number links to the local order when one
exists, else to the order in Seller Central.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .db import AmazonOrderRow, LocalOrder, Store
from .errors import NotFound
from .money import money_string
from .statuses import HIDDEN_FROM_RECENT_ORDERS, LocalStatus, StatusFilter, display_status
from .stores import seller_central_url

# Where a local order opens when the store sets no template of its own: the toolkit's order
# page served by Voila (notebooks/order.ipynb). {store}, {number} and {amazon_order_id} are
# filled in, URL-quoted.
DEFAULT_LOCAL_ORDER_URL = (
    "http://localhost:8866/voila/render/order.ipynb?store={store}&order={amazon_order_id}"
)

SORTS = {
    "purchase_date": AmazonOrderRow.purchase_date,
    "grand_total": AmazonOrderRow.grand_total,
    "buyer_name": AmazonOrderRow.buyer_name,
    "order_number": AmazonOrderRow.amazon_order_id,
    "status": AmazonOrderRow.status,
}


@dataclass(frozen=True)
class OrderFilters:
    """The All Orders filters; all optional, combined with AND."""

    statuses: StatusFilter | None = None
    purchased_from: date | datetime | None = None  # a date means its first instant, UTC
    purchased_to: date | datetime | None = None  # a date means the whole day, inclusive
    buyer: str | None = None  # substring of the buyer's name, any case
    order_number: str | None = None  # substring of Amazon's number, or the local number
    min_total: Decimal | None = None
    max_total: Decimal | None = None

    def active(self) -> dict[str, str]:
        """The filters in force, as words for an "active filters" line."""
        shown = {}
        if self.statuses is not None:
            shown["status"] = ", ".join(self.statuses.words)
        for name in (
            "purchased_from",
            "purchased_to",
            "buyer",
            "order_number",
            "min_total",
            "max_total",
        ):
            value = getattr(self, name)
            if value not in (None, ""):
                shown[name.replace("_", " ")] = str(value)
        return shown


@dataclass
class OrderRecord:
    """One row of Recent/All Orders, with the keys of `orders --format json`."""

    purchase_date: datetime | None
    order_number: str
    status: str
    buyer_name: str | None
    grand_total: Decimal | None
    currency: str | None
    local_order_number: str | None
    local_order_status: str | None
    link: str
    notes: str | None
    fulfilled_by: str | None = None
    marketplace_id: str | None = None
    amazon_status: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        data["purchase_date"] = self.purchase_date.isoformat() if self.purchase_date else None
        data["grand_total"] = money_string(self.grand_total, self.currency)
        return {**data, **self.extra}


def _utc_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def _conditions(store: Store, filters: OrderFilters):
    conditions = [
        AmazonOrderRow.store_id == store.id,
        # Orders placed before the integration never show (the seed's first rule).
        AmazonOrderRow.purchase_date >= store.integrated_at,
    ]
    chosen = filters.statuses
    if chosen is None:
        conditions.append(
            or_(
                AmazonOrderRow.status.is_(None),
                AmazonOrderRow.status.not_in(sorted(HIDDEN_FROM_RECENT_ORDERS)),
            )
        )
    else:
        picked = []
        if chosen.amazon_statuses:
            picked.append(AmazonOrderRow.status.in_(sorted(chosen.amazon_statuses)))
        complete = LocalOrder.status == LocalStatus.COMPLETE.value
        if chosen.shipped:
            picked.append(
                and_(
                    AmazonOrderRow.status == "SHIPPED", or_(LocalOrder.status.is_(None), ~complete)
                )
            )
        if chosen.completed:
            picked.append(and_(AmazonOrderRow.status == "SHIPPED", complete))
        conditions.append(or_(*picked))
    if filters.purchased_from is not None:
        conditions.append(AmazonOrderRow.purchase_date >= _utc_start(filters.purchased_from))
    if filters.purchased_to is not None:
        end = filters.purchased_to
        if isinstance(end, datetime):
            conditions.append(AmazonOrderRow.purchase_date <= end)
        else:
            conditions.append(AmazonOrderRow.purchase_date < _utc_start(end + timedelta(days=1)))
    if filters.buyer:
        conditions.append(
            func.lower(AmazonOrderRow.buyer_name).contains(filters.buyer.lower(), autoescape=True)
        )
    if filters.order_number:
        text = filters.order_number.strip()
        # The local number through an uncorrelated subquery (one indexed lookup), not the
        # outer-joined row: an OR over the join made the database look up every order's
        # local order before it could test the condition.
        by_local_number = select(LocalOrder.amazon_order_pk).where(
            LocalOrder.store_id == store.id, LocalOrder.number == text
        )
        conditions.append(
            or_(
                AmazonOrderRow.amazon_order_id.contains(text, autoescape=True),
                AmazonOrderRow.id.in_(by_local_number),
            )
        )
    if filters.min_total is not None:
        conditions.append(AmazonOrderRow.grand_total >= filters.min_total)
    if filters.max_total is not None:
        conditions.append(AmazonOrderRow.grand_total <= filters.max_total)
    return conditions


def _base(store: Store, filters: OrderFilters, *columns):
    return (
        select(*columns)
        .select_from(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(*_conditions(store, filters))
    )


def query_orders(
    session: Session,
    store: Store,
    filters: OrderFilters = OrderFilters(),
    *,
    limit: int | None = 20,
    offset: int = 0,
    sort: str = "purchase_date",
    descending: bool = True,
) -> list[OrderRecord]:
    """One page of orders, newest first by default (Recent Orders is the first page)."""
    if sort not in SORTS:
        raise ValueError(f"cannot sort by {sort!r}: use one of {', '.join(SORTS)}")
    key = SORTS[sort]
    order_by = [key.desc(), AmazonOrderRow.id.desc()] if descending else [key, AmazonOrderRow.id]
    stmt = (
        _base(
            store,
            filters,
            AmazonOrderRow.id,
            AmazonOrderRow.purchase_date,
            AmazonOrderRow.amazon_order_id,
            AmazonOrderRow.status,
            AmazonOrderRow.buyer_name,
            AmazonOrderRow.grand_total,
            AmazonOrderRow.currency,
            AmazonOrderRow.note,
            AmazonOrderRow.fulfilled_by,
            AmazonOrderRow.marketplace_id,
            LocalOrder.number,
            LocalOrder.status.label("local_status"),
        )
        .order_by(*order_by)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_record(store, row) for row in session.execute(stmt)]


def count_orders(session: Session, store: Store, filters: OrderFilters = OrderFilters()) -> int:
    return session.scalar(_base(store, filters, func.count()))


def _record(store: Store, row) -> OrderRecord:
    return OrderRecord(
        purchase_date=row.purchase_date,
        order_number=row.amazon_order_id,
        status=display_status(row.status, row.local_status),
        buyer_name=row.buyer_name,
        grand_total=row.grand_total,
        currency=row.currency,
        local_order_number=row.number,
        local_order_status=row.local_status,
        link=order_link(store, row.amazon_order_id, row.number),
        notes=row.note,
        fulfilled_by=row.fulfilled_by,
        marketplace_id=row.marketplace_id,
        amazon_status=row.status,
    )


def order_link(store: Store, amazon_order_id: str, local_number: str | None) -> str:
    """The local order's page when there is one, else the order in Seller Central."""
    if local_number is None:
        return seller_central_url(store, amazon_order_id)
    template = store.local_order_url_template or DEFAULT_LOCAL_ORDER_URL
    return template.format(
        store=quote(store.name, safe=""),
        number=quote(local_number, safe=""),
        amazon_order_id=quote(amazon_order_id, safe=""),
    )


def order_detail(session: Session, store: Store, order_number: str) -> dict:
    """One Amazon order, whatever its status or age, with its local order, note and history.

    `order_number` is Amazon's id or the local order's number. Raises `NotFound` for an order
    this store never received.
    """
    row = session.scalar(
        select(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(AmazonOrderRow.store_id == store.id)
        .where(
            or_(AmazonOrderRow.amazon_order_id == order_number, LocalOrder.number == order_number)
        )
    )
    if row is None:
        raise NotFound(
            f"store {store.name} has never received order {order_number}: check the number, "
            "or run `ordertools sync` first"
        )
    local = row.local_order
    record = _record(
        store,
        _Row(row, local.number if local else None, local.status if local else None),
    )
    detail = record.to_json()
    detail["placed_before_integration"] = bool(
        row.purchase_date and row.purchase_date < store.integrated_at
    )
    detail["error"] = row.error
    detail["buyer_email"] = row.buyer_email
    detail["items"] = [
        {
            "order_item_id": i.order_item_id,
            "sku": i.sku,
            "asin": i.asin,
            "title": i.title,
            "quantity_ordered": i.quantity_ordered,
            "quantity_shipped": i.quantity_shipped,
            "unit_price": money_string(i.unit_price, i.currency),
        }
        for i in row.items
    ]
    detail["history"] = [
        {
            "status": e.status,
            "status_word": display_status(e.status),
            "action": e.action,
            "note": e.note,
            "observed_at": e.observed_at.isoformat(),
            "amazon_updated_at": e.amazon_updated_at.isoformat() if e.amazon_updated_at else None,
        }
        for e in row.events
    ]
    detail["local_order"] = (
        None
        if local is None
        else {
            "number": local.number,
            "status": local.status,
            "customer_name": local.customer_name,
            "customer_email": local.customer_email,
            "is_guest": local.is_guest,
            "created_at": local.created_at.isoformat(),
            "history": [
                {
                    "at": h.at.isoformat(),
                    "status": h.status,
                    "comment": h.comment,
                    "source": h.source,
                }
                for h in local.history
            ],
        }
    )
    return detail


@dataclass(frozen=True)
class _Row:
    """Adapts an ORM row to what `_record` reads from a query row."""

    order: AmazonOrderRow
    number: str | None
    local_status: str | None

    def __getattr__(self, name):
        return getattr(self.order, name)
