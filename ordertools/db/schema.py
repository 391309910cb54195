"""The order book's tables, as SQLAlchemy 2 declarative classes.

Two halves: what Amazon says (`AmazonOrderRow`, its items, and the `StatusEvent` ledger that
records every status we saw and what the rules decided), and our own order book (`LocalOrder`,
its items, history, customers, products, stock). `Store` holds one seller account's settings and
the sync `cursor`; `SyncRun` records each run. The database enforces what must never happen
twice: one Amazon order per store, one local order per Amazon order, one local number per store.

Ownership chains cascade on delete (removing a store removes its orders); optional references
(customer, sync run) become NULL; a product referenced by an order cannot be deleted.

No column ever holds a secret: a store names the environment variable its refresh token is in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    WriteOnlyMapped,
    mapped_column,
    relationship,
    validates,
)

from ordertools.db.types import JSONDocument, Money, UTCDateTime

# Deterministic constraint names, so migrations can name what they alter on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_REFRESH_TOKEN_ENV = "ORDERTOOLS_REFRESH_TOKEN"
LOCAL_ORDER_STATUSES = ("pending", "processing", "complete", "canceled")  # custom ones allowed
HISTORY_SOURCES = ("import", "amazon", "user", "system")
SYNC_OUTCOMES = ("running", "success", "failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Money, dict[str, Any]: JSONDocument}


class Store(Base):
    """One Amazon seller account in one marketplace, integrated at `integrated_at`."""

    __tablename__ = "stores"
    __table_args__ = (
        _one_of("customer_creation", ("guest", "create"), "customer_creation"),
        _one_of("order_number_source", ("local", "amazon"), "order_number_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    marketplace_id: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(String(255))
    token_url: Mapped[str] = mapped_column(String(255))
    seller_central_domain: Mapped[str] = mapped_column(String(100))
    integrated_at: Mapped[datetime]
    api_lag_seconds: Mapped[int] = mapped_column(default=120, server_default=text("120"))
    overlap_seconds: Mapped[int] = mapped_column(default=600, server_default=text("600"))
    refresh_token_env: Mapped[str] = mapped_column(
        String(100), default=DEFAULT_REFRESH_TOKEN_ENV, server_default=DEFAULT_REFRESH_TOKEN_ENV
    )
    import_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    customer_creation: Mapped[str] = mapped_column(
        String(10), default="guest", server_default="guest"
    )
    order_number_source: Mapped[str] = mapped_column(
        String(10), default="local", server_default="local"
    )
    reserve_quantity: Mapped[bool] = mapped_column(default=True, server_default=true())
    new_order_status: Mapped[str] = mapped_column(
        String(32), default="pending", server_default="pending"
    )
    # How money and dates read for this store: a Babel locale ("de_DE") and an IANA time zone;
    # NULL: the marketplace's own (regions.Marketplace.locale / .time_zone).
    locale: Mapped[str | None] = mapped_column(String(20))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # e.g. "https://shop.example/admin/orders/{number}"; NULL: links open the order in ordertools
    local_order_url_template: Mapped[str | None] = mapped_column(String(500))
    # last local number handed out; see numbering.next_local_order_number
    last_order_number: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # lastUpdatedTime high-water mark of completed sync windows; NULL: never synced
    cursor: Mapped[datetime | None]
    # ORDER_CHANGE notifications (`notifications setup`): where Amazon sends them; NULL: none
    notification_queue_arn: Mapped[str | None] = mapped_column(String(255))
    notification_destination_id: Mapped[str | None] = mapped_column(String(100))
    notification_subscription_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Write-only: a store has up to millions of orders; query them, never load them all.
    amazon_orders: WriteOnlyMapped[AmazonOrderRow] = relationship(
        back_populates="store", passive_deletes=True
    )
    local_orders: WriteOnlyMapped[LocalOrder] = relationship(
        back_populates="store", passive_deletes=True
    )
    sync_runs: WriteOnlyMapped[SyncRun] = relationship(back_populates="store", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<Store {self.id} {self.name!r} {self.marketplace_id}>"


class AmazonOrderRow(Base):
    """An order as Amazon last told us, kept whatever its status or age.

    Named `...Row` beside the typed `amazon.models.AmazonOrder` it is stored from. A malformed
    order is kept too (with `error` set), so status, dates and totals may be missing.
    Buyer and order-number search (substring, any case) use trigram indexes (migration 0006).
    """

    __tablename__ = "amazon_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "amazon_order_id"),
        # Newest-first listings walk this index; the filtered columns ride along so a filter no
        # other index serves is tested on index entries, not on 1.5 kB table rows (0002).
        Index(
            "ix_amazon_orders_store_purchase_listing",
            "store_id",
            "purchase_date",
            "status",
            "grand_total",
            "buyer_name",
            "amazon_order_id",
        ),
        Index("ix_amazon_orders_store_status_purchase", "store_id", "status", "purchase_date"),
        Index("ix_amazon_orders_store_last_updated", "store_id", "last_updated"),
        # A minimum or maximum total few orders reach, and counting a total range (0006).
        Index("ix_amazon_orders_store_total", "store_id", "grand_total"),
        # Buyer and order-number substrings have trigram indexes the models don't declare:
        # FTS5 on SQLite, pg_trgm on PostgreSQL (0006, `ordertools.migrations.include_name`).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    amazon_order_id: Mapped[str] = mapped_column(String(32))  # 3-7-7, e.g. 113-1234567-1234567
    status: Mapped[str | None] = mapped_column(String(40))  # Amazon's code; unknown codes kept
    fulfilled_by: Mapped[str | None] = mapped_column(String(16))  # MERCHANT | AMAZON
    marketplace_id: Mapped[str | None] = mapped_column(String(20))
    purchase_date: Mapped[datetime | None]  # createdTime
    last_updated: Mapped[datetime | None]  # lastUpdatedTime
    # fulfillment.shipByWindow.latestDateTime: shipped later, it counts against account health.
    ship_by: Mapped[datetime | None]
    buyer_name: Mapped[str | None] = mapped_column(String(255))
    buyer_email: Mapped[str | None] = mapped_column(String(255))
    grand_total: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    raw: Mapped[dict[str, Any]]  # the order JSON exactly as received
    # The store's Reserve Quantity when the order was first seen: the setting applies to new
    # orders only, so a toggle never starts or drops an order's reservation half-way.
    reserve_quantity: Mapped[bool] = mapped_column(default=True, server_default=true())
    note: Mapped[str | None] = mapped_column(Text)  # Order Notes: why it imported or not
    error: Mapped[str | None] = mapped_column(Text)  # malformed, or the import failed
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    store: Mapped[Store] = relationship(back_populates="amazon_orders")
    items: Mapped[list[AmazonOrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AmazonOrderItem.id",
    )
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="[StatusEvent.observed_at, StatusEvent.id]",
    )
    local_order: Mapped[LocalOrder | None] = relationship(back_populates="amazon_order")

    def __repr__(self) -> str:
        return f"<AmazonOrderRow {self.amazon_order_id} {self.status}>"


class AmazonOrderItem(Base):
    __tablename__ = "amazon_order_items"
    __table_args__ = (UniqueConstraint("amazon_order_pk", "order_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    amazon_order_pk: Mapped[int] = mapped_column(ForeignKey("amazon_orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str | None] = mapped_column(String(100))
    asin: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(1000))
    quantity_ordered: Mapped[int] = mapped_column(default=0)
    quantity_shipped: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    unit_price: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))

    order: Mapped[AmazonOrderRow] = relationship(back_populates="items")


class StatusEvent(Base):
    """One line of the ledger: a status we observed and what the import rules decided."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    amazon_order_pk: Mapped[int] = mapped_column(
        ForeignKey("amazon_orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str | None] = mapped_column(String(40))
    amazon_updated_at: Mapped[datetime | None]  # the order's lastUpdatedTime then
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sync_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))  # the rules' decision, e.g. "import", "skip"
    note: Mapped[str | None] = mapped_column(Text)

    order: Mapped[AmazonOrderRow] = relationship(back_populates="events")
    sync_run: Mapped[SyncRun | None] = relationship()


class Customer(Base):
    """A customer account, created only for an email (guests have none)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("email")
    def _normalize_email(self, _key: str, email: str) -> str:
        # One account per mailbox: Amazon may send the same address in different cases.
        return email.strip().lower()


class Product(Base):
    """A catalog product: on hand `quantity`; what open orders hold is in `stock_reservations`.

    A SKU Amazon sells that the catalog lacks gets a `placeholder`: disabled, stock not managed,
    so its orders import; `products import` or `products set` of that SKU sets it up, and the
    orders already holding it keep pointing at the same row.
    """

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    manage_stock: Mapped[bool] = mapped_column(default=True, server_default=true())
    quantity: Mapped[int | None]  # on hand; NULL when stock is not managed
    placeholder: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LocalOrder(Base):
    """An order in our own order book, created by the import rules from an Amazon order."""

    __tablename__ = "local_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "amazon_order_id"),
        UniqueConstraint("store_id", "number"),
        Index("ix_local_orders_store_status", "store_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    amazon_order_pk: Mapped[int] = mapped_column(
        ForeignKey("amazon_orders.id", ondelete="CASCADE"), unique=True
    )
    amazon_order_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))  # "000000001", or Amazon's id
    status: Mapped[str] = mapped_column(String(32))  # LOCAL_ORDER_STATUSES or a custom one
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    customer_name: Mapped[str | None] = mapped_column(String(255))
    customer_email: Mapped[str | None] = mapped_column(String(255))
    is_guest: Mapped[bool] = mapped_column(default=True, server_default=true())
    fulfilled_by: Mapped[str | None] = mapped_column(String(16))
    grand_total: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    store: Mapped[Store] = relationship(back_populates="local_orders")
    amazon_order: Mapped[AmazonOrderRow] = relationship(back_populates="local_order")
    customer: Mapped[Customer | None] = relationship()
    items: Mapped[list[LocalOrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="LocalOrderItem.id",
    )
    history: Mapped[list[LocalOrderHistory]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="[LocalOrderHistory.at, LocalOrderHistory.id]",
    )
    reservations: Mapped[list[StockReservation]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<LocalOrder {self.number} {self.status} ({self.amazon_order_id})>"


class LocalOrderItem(Base):
    __tablename__ = "local_order_items"
    __table_args__ = (UniqueConstraint("local_order_id", "order_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_order_id: Mapped[int] = mapped_column(ForeignKey("local_orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[str | None] = mapped_column(String(32))  # Amazon's
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(1000))
    quantity: Mapped[int]
    quantity_shipped: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    unit_price: Mapped[Decimal | None]

    order: Mapped[LocalOrder] = relationship(back_populates="items")
    product: Mapped[Product | None] = relationship()

    @property
    def units_left(self) -> int:
        """Units of this line not shipped yet."""
        return self.quantity - self.quantity_shipped


class LocalOrderHistory(Base):
    """A status change or comment on a local order, and who made it."""

    __tablename__ = "local_order_history"
    __table_args__ = (
        _one_of("source", HISTORY_SOURCES, "source"),
        Index("ix_local_order_history_order_at", "local_order_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    local_order_id: Mapped[int] = mapped_column(ForeignKey("local_orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))

    order: Mapped[LocalOrder] = relationship(back_populates="history")


class StockReservation(Base):
    """Units of a product held for an Amazon order, from Pending until they ship or the order
    ends (`released_at`); `domain.stock` decides and writes them.

    A reservation belongs to the Amazon order, so a Pending FBM order holds stock before any
    local order exists; the import attaches it to its local order (`local_order_id`). Rows are
    never edited in place but released and replaced, so an order's rows are its stock history:
    `reason` says why the units were held, `release_reason` why they no longer are. The open
    rows (released_at NULL) are what `reserved` adds up; a partial index keeps that cheap.
    """

    __tablename__ = "stock_reservations"
    __table_args__ = (
        Index(
            "ix_stock_reservations_open_product",
            "product_id",
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        # One open hold per order and product: a second settle of the same order can never
        # count its units twice, whatever races it.
        Index(
            "uq_stock_reservations_open_order_product",
            "amazon_order_pk",
            "product_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    amazon_order_pk: Mapped[int] = mapped_column(
        ForeignKey("amazon_orders.id", ondelete="CASCADE"), index=True
    )
    local_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_orders.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[LocalOrder | None] = relationship(back_populates="reservations")
    product: Mapped[Product] = relationship()


class SyncRun(Base):
    """One sync of one store: its window, what it counted, and how it ended."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        _one_of("outcome", SYNC_OUTCOMES, "outcome"),
        Index("ix_sync_runs_store_started", "store_id", "started_at"),
        Index("ix_sync_runs_round_store", "round_id", "store_id"),
        # Each run looks for a run of its store left "running" (a process that died): runs are
        # kept, 96 a day per store on a 15-minute schedule, and only these few are indexed.
        Index(
            "ix_sync_runs_running",
            "store_id",
            sqlite_where=text("outcome = 'running'"),
            postgresql_where=text("outcome = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(10), default="running", server_default="running")
    pages: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    new: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    imported: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    canceled: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    completed: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    skipped: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    failed: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    # `sync --all`: the round this run belongs to (None: a sync of one store, asked for) and
    # the runner that made it. No foreign key: see migration 0010.
    round_id: Mapped[int | None]
    runner: Mapped[str | None] = mapped_column(String(255))

    store: Mapped[Store] = relationship(back_populates="sync_runs")


class SyncRound(Base):
    """One pass of `sync --all` over every store, shared by the runners that join it."""

    __tablename__ = "sync_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Notification(Base):
    """One ORDER_CHANGE message the listener took from the queue, kept for de-duplication
    (Amazon and SQS may deliver a message twice), liveness (when the last one came, how late)
    and the record of malformed ones (`error`)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_store_received", "store_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(100), unique=True)  # Amazon's, or a hash
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    amazon_order_id: Mapped[str | None] = mapped_column(String(32))
    order_status: Mapped[str | None] = mapped_column(String(40))
    published_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)  # malformed, or no store listens for it


class Reconciliation(Base):
    """One reconciliation of one store against Amazon's order report: its window, what differed
    (counts per kind), what was repaired and what was left for the next run."""

    __tablename__ = "reconciliations"
    __table_args__ = (
        _one_of("outcome", SYNC_OUTCOMES, "outcome"),
        Index("ix_reconciliations_store_started", "store_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    repair: Mapped[bool] = mapped_column(default=True, server_default=true())
    outcome: Mapped[str] = mapped_column(String(10), default="running", server_default="running")
    reports: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # createReport calls
    report_orders: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    compared: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    missing: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    stale: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    items: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    totals: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    not_in_report: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    repaired: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    left: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The differing orders (at most a few hundred kept): [{order_number, difference, ...}]
    differences: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]


__all__ = [
    "AmazonOrderItem",
    "AmazonOrderRow",
    "Base",
    "Customer",
    "LocalOrder",
    "LocalOrderHistory",
    "LocalOrderItem",
    "Notification",
    "Product",
    "Reconciliation",
    "StatusEvent",
    "StockReservation",
    "Store",
    "SyncRun",
]
