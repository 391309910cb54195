"""How a filter becomes SQL that finds a page in time over a million orders.

The conditions every listing shares (integration, hidden statuses, dates, totals) and the
substring searches on buyer names and order numbers, planned for each backend: trigram indexes
where they help (FTS5 on SQLite, pg_trgm on PostgreSQL), a walk of the store's orders where not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, column, func, literal_column, or_, select, table
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderRow, LocalOrder, Store
from ordertools.db.engine import UNICODE_LOWER
from ordertools.domain.statuses import (
    HIDDEN_FROM_RECENT_ORDERS,
    LocalStatus,
)
from ordertools.queries.filters import OrderFilters

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
# filter. `store_id + 0` is how the driving query keeps SQLite off the store indexes. How many
# ids may drive: `drive_max`, which the listing (`queries.orders`) gives.
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


def filter_conditions(session: Session, store: Store, filters: OrderFilters, *, drive_max: int):
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


def orders_select(conditions, *columns):
    return (
        select(*columns)
        .select_from(AmazonOrderRow)
        .outerjoin(LocalOrder, LocalOrder.amazon_order_pk == AmazonOrderRow.id)
        .where(*conditions)
    )
