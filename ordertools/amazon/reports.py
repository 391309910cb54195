"""Amazon's order reports: the tab-separated flat file, read as a stream, folded per order.

The Orders API (searchOrders) is how a sync follows a store; the Reports API (2021-06-30) is how
one checks it afterwards. `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL` lists every
order updated in a window of at most 30 days, one row per order item, pending and canceled
orders included and no buyer name or e-mail (the columns: `ORDER_REPORT_COLUMNS`, from Amazon's
"Order Tracking reports attributes"). A reconciliation compares it with the order book.

What Amazon's file is like, and what the parser does about it:

- Columns are found by the header row, so their order does not matter and columns Amazon adds
  later are ignored; a missing optional column reads as empty cells.
- `order-status` is a v0 word ("Unshipped", "Canceled"); `ReportRow.status` is the Orders
  2026-01-01 code the rest of ordertools uses ("UNSHIPPED", "CANCELLED"), an unknown word kept
  in the same upper snake case ("InvoiceUnconfirmed" -> "INVOICE_UNCONFIRMED").
- Empty optional cells are None. A row whose date or number cannot be read is still yielded,
  with `error` saying why (and the unreadable fields None): one bad line never ends the stream.
- Rows repeat (Amazon documents it): `orders_in_report` keys items on (order id, sku), so a
  repeated row is counted once, and holds one small record per order, never the text.

The emulator writes its reports with `ORDER_REPORT_COLUMNS` and `status_word`, so the two sides
cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ordertools.amazon.errors import ReportFailed

ORDER_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
ORDER_REPORT_BY_ORDER_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
ORDER_REPORTS = frozenset({ORDER_REPORT, ORDER_REPORT_BY_ORDER_DATE})
# Amazon: "at most 30 days per request" for the order reports.
MAX_ORDER_REPORT_WINDOW = timedelta(days=30)

ORDER_REPORT_COLUMNS = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
)
# Without these a document is not an order report at all (every row would be an error).
REQUIRED_COLUMNS = ("amazon-order-id", "purchase-date", "last-updated-date", "order-status")

# The v0 words of `order-status` and the Orders 2026-01-01 codes (models.FulfillmentStatus).
STATUS_CODES = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}
_STATUS_WORDS = {code: word for word, code in STATUS_CODES.items()}
# `fulfillment-channel`: Amazon or Merchant (older files: AFN or MFN).
_CHANNELS = {"amazon": "AMAZON", "afn": "AMAZON", "merchant": "MERCHANT", "mfn": "MERCHANT"}
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[\s\-]+")


def status_code(word: str) -> str:
    """The Orders 2026-01-01 code for a v0 status word; unknown words in upper snake case."""
    word = word.strip()
    if word in STATUS_CODES:
        return STATUS_CODES[word]
    return "_".join(part.upper() for part in _WORD_BOUNDARY.split(word) if part)


def status_word(code: str) -> str:
    """The v0 word for an Orders 2026-01-01 status code (the emulator writes these)."""
    if code in _STATUS_WORDS:
        return _STATUS_WORDS[code]
    return "".join(part.capitalize() for part in code.split("_") if part)


@dataclass(frozen=True)
class Report:
    """A report as getReport describes it: DONE ones name their document."""

    report_id: str
    processing_status: str  # IN_QUEUE, IN_PROGRESS, DONE, CANCELLED, FATAL
    document_id: str | None = None
    report_type: str | None = None


@dataclass(frozen=True)
class ReportRow:
    """One row (one order item) of an order report.

    `status` is the Orders 2026-01-01 code, `report_status` the word as Amazon wrote it.
    `item_price` is the line's total (quantity x unit price) as Amazon reports it. When the row
    could not be read, `error` says why and the unreadable fields are None.
    """

    order_id: str
    purchase_date: datetime | None
    last_updated: datetime | None
    status: str | None
    report_status: str | None
    fulfilled_by: str | None  # "MERCHANT", "AMAZON", or None when the channel is another word
    sku: str | None
    quantity: int | None
    currency: str | None
    item_price: Decimal | None
    error: str | None = None


def parse_order_report(lines: Iterable[str]) -> Iterator[ReportRow]:
    """Each row of an order report's flat file, as the lines arrive.

    The first non-empty line is the header. A header without the required columns raises
    `ReportFailed` before any row; after it nothing raises: an unreadable row comes with
    `error` set. Blank lines are skipped.
    """
    columns: dict[str, int] | None = None
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        cells = line.split("\t")
        if columns is None:
            columns = _header(cells)
            continue
        yield _row(number, cells, columns)


def _header(cells: list[str]) -> dict[str, int]:
    names = [cell.strip().lstrip("\ufeff").strip().lower() for cell in cells]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        columns.setdefault(name, index)  # a repeated column name: the first one counts
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ReportFailed(
            f"the report document is not an order report (its header lacks "
            f"{', '.join(missing)}): request {ORDER_REPORT} again"
        )
    return columns


def _row(number: int, cells: list[str], columns: dict[str, int]) -> ReportRow:
    def cell(name: str) -> str | None:
        index = columns.get(name)
        if index is None or index >= len(cells):
            return None
        value = cells[index].strip()
        return value or None

    problems: list[str] = []
    order_id = cell("amazon-order-id") or ""
    if not order_id:
        problems.append("amazon-order-id is empty")
    purchase_date = _date(cell("purchase-date"), "purchase-date", problems, required=True)
    last_updated = _date(cell("last-updated-date"), "last-updated-date", problems, required=True)
    report_status = cell("order-status")
    if report_status is None:
        problems.append("order-status is empty")
    channel = cell("fulfillment-channel")
    quantity = _integer(cell("quantity"), "quantity", problems)
    item_price = _decimal(cell("item-price"), "item-price", problems)
    return ReportRow(
        order_id=order_id,
        purchase_date=purchase_date,
        last_updated=last_updated,
        status=status_code(report_status) if report_status else None,
        report_status=report_status,
        fulfilled_by=_CHANNELS.get(channel.lower()) if channel else None,
        sku=cell("sku"),
        quantity=quantity,
        currency=cell("currency"),
        item_price=item_price,
        error=f"line {number}: {'; '.join(problems)}" if problems else None,
    )


def _date(text: str | None, name: str, problems: list[str], *, required: bool) -> datetime | None:
    if text is None:
        if required:
            problems.append(f"{name} is empty")
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{name} {text!r} is not an ISO 8601 date-time")
        return None
    if moment.tzinfo is None:  # as for the Orders API: a time without a zone is not guessed at
        problems.append(f"{name} {text!r} has no time zone")
        return None
    return moment.astimezone(UTC)


def _integer(text: str | None, name: str, problems: list[str]) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[+-]?\d+", text):
        problems.append(f"{name} {text!r} is not a whole number")
        return None
    return int(text)


def _decimal(text: str | None, name: str, problems: list[str]) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        problems.append(f"{name} {text!r} is not a number")
        return None
    return value


# -- one record per order -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOrder:
    """One order as the report shows it, its rows folded together.

    `items` maps each sku to its quantity (a sku's repeated rows counted once); `item_total` is
    the sum of the items' `item-price`, None when any item's price was empty.
    """

    order_id: str
    status: str | None
    report_status: str | None
    last_updated: datetime | None
    purchase_date: datetime | None
    fulfilled_by: str | None
    items: Mapping[str, int]
    item_total: Decimal | None
    currency: str | None


@dataclass
class OrderReport:
    """Every order of a report by id, plus what could not be read and what repeated."""

    orders: dict[str, ReportOrder] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # one line per unreadable row
    repeated_rows: int = 0  # rows whose (order id, sku) came before: counted once

    def __len__(self) -> int:
        return len(self.orders)

    def __iter__(self) -> Iterator[ReportOrder]:
        return iter(self.orders.values())

    def __contains__(self, order_id: object) -> bool:
        return order_id in self.orders

    def __getitem__(self, order_id: str) -> ReportOrder:
        return self.orders[order_id]

    def get(self, order_id: str) -> ReportOrder | None:
        return self.orders.get(order_id)


class _Folding:
    """An order while its rows arrive (mutable; becomes a frozen ReportOrder at the end)."""

    __slots__ = ("first", "latest", "items", "total", "priced")

    def __init__(self, row: ReportRow):
        self.first = row
        self.latest = row
        self.items: dict[str, int] = {}
        self.total = Decimal(0)
        self.priced = True

    def add(self, row: ReportRow) -> bool:
        """Count the row's item; False when its sku was counted before (a repeated row)."""
        if row.last_updated and (
            self.latest.last_updated is None or row.last_updated > self.latest.last_updated
        ):
            self.latest = row  # rows of one order should agree; if not, the newest one wins
        sku = row.sku or ""
        if sku in self.items:
            return False
        self.items[sku] = row.quantity or 0
        if row.item_price is None:
            self.priced = False
        else:
            self.total += row.item_price
        return True

    def frozen(self) -> ReportOrder:
        latest = self.latest
        return ReportOrder(
            order_id=latest.order_id,
            status=latest.status,
            report_status=latest.report_status,
            last_updated=latest.last_updated,
            purchase_date=latest.purchase_date or self.first.purchase_date,
            fulfilled_by=latest.fulfilled_by or self.first.fulfilled_by,
            items=self.items,
            item_total=self.total if self.priced and self.items else None,
            currency=latest.currency or self.first.currency,
        )


def orders_in_report(rows: Iterable[ReportRow]) -> OrderReport:
    """Fold a report's rows (a stream: they are read once) into one `ReportOrder` per order id.

    Rows with an `error` are left out and listed in `errors`; a row whose (order id, sku) came
    before counts once (`repeated_rows`). Memory grows with the orders, not with the text.
    """
    report = OrderReport()
    folding: dict[str, _Folding] = {}
    for row in rows:
        if row.error is not None:
            report.errors.append(f"{row.order_id or '(no order id)'}: {row.error}")
            continue
        order = folding.get(row.order_id)
        if order is None:
            order = folding[row.order_id] = _Folding(row)
        if not order.add(row):
            report.repeated_rows += 1
    report.orders = {order_id: order.frozen() for order_id, order in folding.items()}
    return report
