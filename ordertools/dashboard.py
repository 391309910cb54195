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

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import and_, column, func, literal_column, or_, select, table
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from .db import AmazonOrderRow, LocalOrder, SavedView, Store, SyncRun
from .db.engine import UNICODE_LOWER
from .errors import ConfigurationError, NotFound
from .money import money_string
from .statuses import (
    HIDDEN_FROM_RECENT_ORDERS,
    STATUS_WORDS,
    LocalStatus,
    StatusFilter,
    display_status,
    parse_status_filter,
)
from .stores import seller_central_url

# Where a local order opens when the store sets no template of its own: the toolkit's order
# page served by Voila (notebooks/order.ipynb; `voila notebooks/` serves it at this path on
# Voila's default port). {store}, {number} and {amazon_order_id} are filled in, URL-quoted.
# `ORDERTOOLS_VOILA_URL` moves it to another Voila server (`ordertools demo --open` sets it).
VOILA_URL_ENV = "ORDERTOOLS_VOILA_URL"
DEFAULT_VOILA_URL = "http://localhost:8866"
ORDER_PAGE_PATH = "/voila/render/order.ipynb?store={store}&order={amazon_order_id}"


def default_local_order_url() -> str:
    base = os.environ.get(VOILA_URL_ENV, "").strip().rstrip("/") or DEFAULT_VOILA_URL
    return base + ORDER_PAGE_PATH


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


# How a filter reaches a page in time over a million orders (bench/orders_query.py).
#
# PostgreSQL plans by its statistics: buyer and order-number substrings are
# `lower(column) LIKE '%text%'`, which its pg_trgm indexes on lower(column) serve (0006), and
# it weighs them against walking the listing index.
# SQLite has no such statistics, so the plan is picked here. A filter with an index of its own
# (buyer or order-number substring: the FTS5 trigram table; a total range: the totals index) is
# first asked how many orders it lets through, which costs a millisecond or two. Few enough, and
# the query is driven by those orders' ids (looked up one by one, then sorted); more, and the
# query walks the store's orders newest first and stops after a page, testing each against the
# filter. `store_id + 0` is how the driving query keeps SQLite off the store indexes.
PAGE_DRIVE_MAX = 20_000  # ids a page query looks up at most (~70 ms on SQLite); else it walks
COUNT_DRIVE_MAX = 100_000  # ids a count walks at most (materialised, then looked up until done)
COUNT_CAP = 10_000  # the All Orders pager counts this far, then says "10,000+"
SEARCH_TABLE = "amazon_orders_search"  # SQLite's FTS5 trigram table (migration 0006)
TRIGRAM = 3  # the trigram index finds substrings of at least 3 characters

_search = table(SEARCH_TABLE, column("rowid"))


def _utc_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def _like_literal(text: str) -> str:
    """`text` with LIKE's wildcards taken literally (escaped with a backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in the text taken literally (backslash, PostgreSQL's)."""
    return "%" + _like_literal(text) + "%"


def _fts_phrase(column_name: str, text: str) -> str:
    """An FTS5 query: `text` as one phrase in one column (with the trigram tokenizer, a phrase
    of 3+ characters matches exactly where the text is a substring, in any case)."""
    return f'{column_name} : "{text.replace(chr(34), chr(34) * 2)}"'


def _has_search_table(session: Session) -> bool:
    return (
        session.execute(
            sql_text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": SEARCH_TABLE},
        ).first()
        is not None
    )


class _Plan:
    """The WHERE clause of one listing or count, built as the filters are read."""

    def __init__(self, session: Session, store: Store):
        self.session = session
        self.store = store
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._fts = None
        self.driven = False  # SQLite: the query is driven by one filter's ids
        self.conditions: list = []
        # SQLite: (ids this filter alone lets through, its condition when another one drives)
        self.sources: list = []

    @property
    def fts(self) -> bool:
        if self._fts is None:
            self._fts = self.sqlite and _has_search_table(self.session)
        return self._fts

    def substring(self, column, text: str) -> None:
        """Orders whose `column` holds `text`, in any case."""
        if not self.sqlite:
            # lower(), not ILIKE: the trigram indexes are on lower(column) (migration 0006).
            self.conditions.append(func.lower(column).like(_like_pattern(text.lower())))
        elif len(text) >= TRIGRAM and self.fts:
            match = literal_column(SEARCH_TABLE).op("MATCH")(_fts_phrase(column.key, text))
            ids = select(_search.c.rowid).where(match)
            # `id + 0`: tested on each order walked, not a way in.
            self.sources.append((ids, (AmazonOrderRow.id + 0).in_(ids)))
        elif text.isascii():
            # Too short for the trigram index (or no index): a scan. SQLite's LIKE ignores the
            # case of ASCII letters itself (cheaper than lower() on every order).
            self.conditions.append(column.contains(text, autoescape=True))
        else:
            # SQLite's lower() and LIKE fold ASCII letters only; Python's lower() folds the rest
            # (registered on each connection, db/engine.py). A call into Python for each order
            # is slow (0.5 s for a million), so only the orders that hold every letter of the
            # text in its lower or upper case get there.
            may_hold = [
                or_(*(func.instr(column, case) > 0 for case in sorted({c, c.lower(), c.upper()})))
                for c in sorted({c for c in text if not c.isascii()})
            ]
            if any(c.isascii() for c in text):
                # The ASCII letters in place, the others as any one character: one LIKE.
                shape = "".join(_like_literal(c) if c.isascii() else "_" for c in text)
                may_hold.insert(0, column.like(f"%{shape}%", escape="\\"))
            folded = getattr(func, UNICODE_LOWER)(column)
            self.conditions.append(and_(*may_hold, func.instr(folded, text.lower()) > 0))

    def total(self, low: Decimal | None, high: Decimal | None) -> None:
        bounds = []
        if low is not None:
            bounds.append(AmazonOrderRow.grand_total >= low)
        if high is not None:
            bounds.append(AmazonOrderRow.grand_total <= high)
        if not self.sqlite:
            self.conditions.extend(bounds)
            return
        ids = select(AmazonOrderRow.id).where(AmazonOrderRow.store_id == self.store.id, *bounds)
        # `grand_total + 0`: tested on each order walked; SQLite would otherwise sort every
        # order in the range to find the newest (0.5 s for 50 to 60 over a million orders).
        walked = AmazonOrderRow.grand_total + 0
        tests = [walked >= low] if low is not None else []
        tests += [walked <= high] if high is not None else []
        self.sources.append((ids, and_(*tests)))

    def where(self, drive_max: int) -> list:
        """The conditions, with the narrowest indexed filter driving when it is narrow enough."""
        if not self.sources:
            return [AmazonOrderRow.store_id == self.store.id, *self.conditions]
        sizes = [
            self.session.scalar(
                select(func.count()).select_from(ids.limit(drive_max + 1).subquery())
            )
            for ids, _ in self.sources
        ]
        narrowest = min(range(len(sizes)), key=sizes.__getitem__)
        if sizes[narrowest] > drive_max:
            return [
                AmazonOrderRow.store_id == self.store.id,
                *self.conditions,
                *(condition for _, condition in self.sources),
            ]
        driving, _ = self.sources[narrowest]
        others = [c for i, (_, c) in enumerate(self.sources) if i != narrowest]
        self.driven = True
        return [
            (AmazonOrderRow.store_id + 0) == self.store.id,
            AmazonOrderRow.id.in_(driving),
            *self.conditions,
            *others,
        ]


def _exact_order(session: Session, store: Store, text: str) -> list[int]:
    """The ids of the store's orders whose Amazon number or local number is exactly `text`."""
    by_amazon = select(AmazonOrderRow.id).where(
        AmazonOrderRow.store_id == store.id, AmazonOrderRow.amazon_order_id == text
    )
    by_local = select(LocalOrder.amazon_order_pk).where(
        LocalOrder.store_id == store.id, LocalOrder.number == text
    )
    return sorted(set(session.scalars(by_amazon.union(by_local))))


def _conditions(session: Session, store: Store, filters: OrderFilters, *, drive_max: int):
    """The WHERE conditions, and whether SQLite is to be driven by one filter's ids."""
    plan = _Plan(session, store)
    # Orders placed before the integration never show (the seed's first rule). One lower
    # bound, the later: SQLite walks the date index from the bound it is given.
    start = store.integrated_at
    if filters.purchased_from is not None:
        since = _utc_start(filters.purchased_from)
        if start is None or (since.tzinfo is not None and since > start):
            start = since
        else:
            plan.conditions.append(AmazonOrderRow.purchase_date >= since)
    plan.conditions.append(AmazonOrderRow.purchase_date >= start)
    chosen = filters.statuses
    if chosen is None:
        plan.conditions.append(
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
        plan.conditions.append(or_(*picked))
    if filters.purchased_to is not None:
        end = filters.purchased_to
        if isinstance(end, datetime):
            plan.conditions.append(AmazonOrderRow.purchase_date <= end)
        else:
            plan.conditions.append(
                AmazonOrderRow.purchase_date < _utc_start(end + timedelta(days=1))
            )
    if filters.buyer:
        plan.substring(AmazonOrderRow.buyer_name, filters.buyer)
    if filters.order_number and filters.order_number.strip():
        number = filters.order_number.strip()
        # A whole Amazon number or local number (what one pastes) is looked up exactly, by
        # index; only when no order has it is the text searched for inside Amazon's numbers.
        exact = _exact_order(session, store, number)
        if exact:
            plan.conditions.append(AmazonOrderRow.id.in_(exact))
        else:
            plan.substring(AmazonOrderRow.amazon_order_id, number)
    if filters.min_total is not None or filters.max_total is not None:
        plan.total(filters.min_total, filters.max_total)
    return plan.where(drive_max), plan.driven


def _base(conditions, *columns):
    return (
        select(*columns)
        .select_from(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(*conditions)
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
            _conditions(session, store, filters, drive_max=PAGE_DRIVE_MAX)[0],
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


def count_orders(
    session: Session,
    store: Store,
    filters: OrderFilters = OrderFilters(),
    *,
    cap: int | None = None,
) -> int:
    """How many orders `query_orders` would list with these filters, all pages.

    With `cap`, counting stops once it is passed: a result above `cap` (it is then `cap + 1`)
    means "more than `cap`". An exact count of a million orders reads them all (a second or
    more); the All Orders pager asks for `COUNT_CAP`.
    """
    conditions, driven = _conditions(session, store, filters, drive_max=COUNT_DRIVE_MAX)
    if cap is None:
        return session.scalar(_base(conditions, func.count()))
    matching = _base(conditions, literal_column("1")).limit(cap + 1)
    if session.get_bind().dialect.name == "sqlite" and not driven:
        # SQLite walks an index in its own order, oldest first, until the cap. Newest first finds
        # most filters' orders sooner (Completed ones have local orders, made since Import was
        # enabled); Shipped-not-Completed ones are mostly older (from before Import): oldest.
        shipped = filters.statuses is not None and filters.statuses.shipped
        walk = (
            AmazonOrderRow.purchase_date.asc() if shipped else AmazonOrderRow.purchase_date.desc()
        )
        matching = matching.order_by(walk)
    return session.scalar(select(func.count()).select_from(matching.subquery()))


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
    template = store.local_order_url_template or default_local_order_url()
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


# -- the dashboard's other sections ----------------------------------------------------------------

# Orders that are not (or not yet) a sale: left out of lifetime sales and revenue.
NOT_SALES = frozenset({"PENDING", "PENDING_AVAILABILITY", "CANCELLED", "UNFULFILLABLE"})
AWAITING_SHIPMENT = ("UNSHIPPED", "PARTIALLY_SHIPPED")


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


def delivery_address(session: Session, store: Store, amazon_order_id: str) -> dict | None:
    """Where the order ships, as Amazon sent it (FBM orders carry it once payment is verified)."""
    raw = session.scalar(
        select(AmazonOrderRow.raw).where(
            AmazonOrderRow.store_id == store.id, AmazonOrderRow.amazon_order_id == amazon_order_id
        )
    )
    recipient = (raw or {}).get("recipient") or {}
    address = recipient.get("deliveryAddress")
    return address if isinstance(address, dict) else None


# -- saved views of All Orders ---------------------------------------------------------------------

DEFAULT_VIEW = "Default View"


def filters_to_json(filters: OrderFilters) -> dict:
    """The filters as JSON a saved view keeps (words, ISO dates, decimal strings)."""
    data: dict = {}
    if filters.statuses is not None:
        data["statuses"] = list(filters.statuses.words)
    for name in ("purchased_from", "purchased_to"):
        value = getattr(filters, name)
        if value is not None:
            data[name] = value.isoformat()
    for name in ("buyer", "order_number"):
        if getattr(filters, name):
            data[name] = getattr(filters, name)
    for name in ("min_total", "max_total"):
        if getattr(filters, name) is not None:
            data[name] = str(getattr(filters, name))
    return data


def filters_from_json(data: dict) -> OrderFilters:
    def moment(value):
        if value is None:
            return None
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)

    def amount(value):
        return None if value is None else Decimal(value)

    return OrderFilters(
        statuses=parse_status_filter(data.get("statuses") or ()),
        purchased_from=moment(data.get("purchased_from")),
        purchased_to=moment(data.get("purchased_to")),
        buyer=data.get("buyer"),
        order_number=data.get("order_number"),
        min_total=amount(data.get("min_total")),
        max_total=amount(data.get("max_total")),
    )


def list_views(session: Session, store: Store) -> list[SavedView]:
    return list(
        session.scalars(
            select(SavedView).where(SavedView.store_id == store.id).order_by(SavedView.name)
        )
    )


def save_view(
    session: Session,
    store: Store,
    name: str,
    *,
    columns: list[str],
    filters: OrderFilters,
    sort: str = "purchase_date",
    descending: bool = True,
) -> SavedView:
    """Create the view `name`, or overwrite it with these columns, filters and sort."""
    name = _view_name(name)
    view = _find_view(session, store, name) or SavedView(store_id=store.id, name=name)
    view.columns = {"columns": list(columns), "sort": sort, "descending": descending}
    view.filters = filters_to_json(filters)
    session.add(view)
    session.flush()
    return view


def rename_view(session: Session, store: Store, old: str, new: str) -> SavedView:
    new = _view_name(new)
    view = _existing_view(session, store, old)
    if new != old and _find_view(session, store, new) is not None:
        raise ConfigurationError(f"a view named {new!r} exists already; pick another name")
    view.name = new
    return view


def delete_view(session: Session, store: Store, name: str) -> None:
    session.delete(_existing_view(session, store, name))


def _view_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ConfigurationError("a view needs a name")
    if name.casefold() == DEFAULT_VIEW.casefold():
        raise ConfigurationError(f"{DEFAULT_VIEW} is built in: it can't be saved over or renamed")
    if len(name) > 100:
        raise ConfigurationError("a view's name is at most 100 characters")
    return name


def _find_view(session: Session, store: Store, name: str) -> SavedView | None:
    return session.scalar(
        select(SavedView).where(SavedView.store_id == store.id, SavedView.name == name)
    )


def _existing_view(session: Session, store: Store, name: str) -> SavedView:
    if name == DEFAULT_VIEW:
        raise ConfigurationError(f"{DEFAULT_VIEW} is built in: it can't be renamed or deleted")
    view = _find_view(session, store, name)
    if view is None:
        raise NotFound(f"store {store.name} has no saved view {name!r}")
    return view
