"""The Reports API (2021-06-30), as far as a seller needs it to check its orders.

The flow Amazon documents: createReport names a report type, marketplaces and a data window and
answers a report id; getReport tells its `processingStatus` (IN_QUEUE, IN_PROGRESS, then DONE,
or FATAL or CANCELLED) and, once DONE, a `reportDocumentId`; getReportDocument gives a
pre-signed URL (S3 on the live API: no access token) and `compressionAlgorithm` GZIP when the
document is compressed. Here the URL is `/_report-documents/<id>` on the emulator itself.

Processing takes `report_delay` seconds of the emulator clock (half of it IN_QUEUE). The order
reports are made from the same world the Orders API serves, as Amazon held it when the report
was done: every order whose version then was updated in the window (for the BY_ORDER_DATE
report: created in it), one row per item, v0 status words, no buyer name or e-mail. Orders
updated in the `report_lag` seconds before are missing, as on the live API.
"""

from __future__ import annotations

import gzip
import itertools
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.faults import Faults
from ordertools.amazon.emulator.search import InvalidInput
from ordertools.amazon.emulator.times import parse_iso
from ordertools.amazon.emulator.world import VisibleOrder, World
from ordertools.amazon.models import utc_iso
from ordertools.amazon.reports import (
    MAX_ORDER_REPORT_WINDOW,
    ORDER_REPORT_BY_ORDER_DATE,
    ORDER_REPORT_COLUMNS,
    ORDER_REPORTS,
    status_word,
)

SUPPORTED_REPORT_TYPES = ORDER_REPORTS
MAX_MARKETPLACES = 25  # CreateReportSpecification.marketplaceIds
# Amazon's DateTime, as searchOrders reads it (see search.py).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([.,]\d+)?(Z|[+-]\d{2}(:\d{2})?)")
_CHANNELS = {"AMAZON": "Amazon", "MERCHANT": "Merchant"}
_UNSAFE = re.compile(r"[\t\r\n]+")  # a cell never holds the file's separators
DOCUMENT_PATH = "/_report-documents/"


@dataclass
class _ReportDocument:
    content: bytes
    compressed: bool
    rows: int  # rows written, repeats included


@dataclass
class _Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    start: datetime
    end: datetime
    created: datetime
    started: datetime  # IN_PROGRESS from here
    ready: datetime  # done from here
    outcome: str = "DONE"  # or FATAL / CANCELLED (a fault, or no data with report_cancel_empty)
    repeat_rows: int = 0  # the repeat_report_rows fault
    finished: bool = False
    document_id: str | None = None

    def status(self, now: datetime) -> str:
        if now >= self.ready:
            return self.outcome
        return "IN_PROGRESS" if now >= self.started else "IN_QUEUE"

    def as_json(self, now: datetime) -> dict[str, Any]:
        status = self.status(now)
        report: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": self.marketplace_ids,
            "dataStartTime": utc_iso(self.start),
            "dataEndTime": utc_iso(self.end),
            "createdTime": utc_iso(self.created),
            "processingStatus": status,
        }
        if status != "IN_QUEUE":
            report["processingStartTime"] = utc_iso(self.started)
        if now >= self.ready:
            report["processingEndTime"] = utc_iso(self.ready)
        if self.document_id and status == "DONE":
            report["reportDocumentId"] = self.document_id
        return report


class Reports:
    def __init__(self, world: World, config: EmulatorConfig, faults: Faults):
        self.world, self.config, self.faults = world, config, faults
        self._lock = threading.Lock()
        self._ids = itertools.count(90001)
        self.reports: dict[str, _Report] = {}
        self.documents: dict[str, _ReportDocument] = {}

    def create_report(self, body: Any, now: datetime) -> dict[str, Any]:
        report_type, marketplace_ids, start, end = _specification(body, now)
        delay = timedelta(seconds=max(0.0, self.config.report_delay))
        failure = self.faults.take("report_fail", "createReport")
        repeat = self.faults.take("report_repeat", "createReport")
        with self._lock:
            report = _Report(
                report_id=str(next(self._ids)),
                report_type=report_type,
                marketplace_ids=marketplace_ids,
                start=start,
                end=end,
                created=now,
                started=now + delay / 2,
                ready=now + delay,
                outcome=failure.outcome if failure else "DONE",
                repeat_rows=repeat.rows if repeat else 0,
            )
            self.reports[report.report_id] = report
        return {"reportId": report.report_id}

    def get_report(self, report_id: str, now: datetime) -> dict[str, Any] | None:
        with self._lock:
            report = self.reports.get(report_id)
            if report is None:
                return None
            if now >= report.ready and not report.finished:
                self._finish(report)
            return report.as_json(now)

    def get_document(self, document_id: str, base_url: str) -> dict[str, Any] | None:
        with self._lock:
            document = self.documents.get(document_id)
        if document is None:
            return None
        answer = {"reportDocumentId": document_id, "url": f"{base_url}{DOCUMENT_PATH}{document_id}"}
        if document.compressed:
            answer["compressionAlgorithm"] = "GZIP"
        return answer

    def download(self, document_id: str) -> _ReportDocument | None:
        with self._lock:
            return self.documents.get(document_id)

    def _finish(self, report: _Report) -> None:
        """Write the document, as the world was when the report was done (under the lock)."""
        report.finished = True
        if report.outcome != "DONE":
            return
        rows = order_rows(self.world, report, timedelta(seconds=self.config.report_lag))
        if not rows and self.config.report_cancel_empty:
            report.outcome = "CANCELLED"  # "an automatic cancellation if there is no data"
            return
        if rows and report.repeat_rows:
            step = max(1, len(rows) // report.repeat_rows)
            rows += [rows[(i * step) % len(rows)] for i in range(report.repeat_rows)]
        columns = list(ORDER_REPORT_COLUMNS)
        if report.report_type == ORDER_REPORT_BY_ORDER_DATE:
            columns.append("cpf")
        lines = ["\t".join(columns)] + ["\t".join(row.get(c, "") for c in columns) for row in rows]
        content = ("\n".join(lines) + "\n").encode(self.config.report_encoding, errors="replace")
        if self.config.report_gzip:
            content = gzip.compress(content, mtime=0)
        document_id = f"amzn1.spdoc.1.4.na.{report.report_id}.{next(self._ids)}"
        self.documents[document_id] = _ReportDocument(content, self.config.report_gzip, len(rows))
        report.document_id = document_id


def _specification(body: Any, now: datetime) -> tuple[str, list[str], datetime, datetime]:
    """CreateReportSpecification, checked as the model declares it and Amazon's rules."""
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    report_type = body.get("reportType")
    if not isinstance(report_type, str) or not report_type:
        raise InvalidInput("reportType is required and must be a string.")
    markets = body.get("marketplaceIds")
    if (
        not isinstance(markets, list)
        or not 1 <= len(markets) <= MAX_MARKETPLACES
        or not all(isinstance(m, str) and m for m in markets)
    ):
        raise InvalidInput(f"marketplaceIds must list 1 to {MAX_MARKETPLACES} marketplace ids.")
    options = body.get("reportOptions")
    if options is not None and not (
        isinstance(options, dict) and all(isinstance(v, str) for v in options.values())
    ):
        raise InvalidInput("reportOptions must be an object of strings.")
    if report_type not in SUPPORTED_REPORT_TYPES:
        raise InvalidInput(
            f"Invalid reportType {report_type}.",
            f"Supported here: {', '.join(sorted(SUPPORTED_REPORT_TYPES))}.",
        )
    start = _instant(body, "dataStartTime", now)
    end = _instant(body, "dataEndTime", now)
    for name, moment in (("dataStartTime", start), ("dataEndTime", end)):
        if moment > now:
            raise InvalidInput(
                f"{name} must be prior to or equal to the current date and time.",
                f"{name}={body.get(name)}",
            )
    if end < start:
        raise InvalidInput("dataEndTime must be equal to or after dataStartTime.")
    if end - start > MAX_ORDER_REPORT_WINDOW:
        raise InvalidInput(
            f"The date range of {report_type} must not exceed {MAX_ORDER_REPORT_WINDOW.days} days.",
            f"dataStartTime={body.get('dataStartTime')}, dataEndTime={body.get('dataEndTime')}",
        )
    return report_type, list(markets), start, end


def _instant(body: dict[str, Any], name: str, now: datetime) -> datetime:
    raw = body.get(name)
    if raw is None:
        return now  # the model: "The default is now."
    if isinstance(raw, str) and _DATE_TIME.fullmatch(raw):
        try:
            return parse_iso(raw)
        except ValueError:  # the right shape, but e.g. month 13
            pass
    raise InvalidInput(f"Invalid {name}: {raw!r}.", "Use ISO 8601, e.g. 2025-01-01T00:00:00Z.")


# -- the flat file ----------------------------------------------------------------------------


def order_rows(world: World, report: _Report, lag: timedelta) -> list[dict[str, str]]:
    """The report's rows (column -> cell), by last update then order id."""
    by_purchase = report.report_type == ORDER_REPORT_BY_ORDER_DATE
    settled = report.ready - lag
    rows: list[dict[str, str]] = []
    for order in world.orders_as_of(report.ready):
        if order.updated > settled:
            continue  # eventual consistency: too recent to be in the report yet
        if order.marketplace_id not in report.marketplace_ids:
            continue
        moment = order.created if by_purchase else order.updated
        if report.start <= moment <= report.end:
            rows += item_rows(order)
    return rows


def item_rows(order: VisibleOrder) -> list[dict[str, str]]:
    """One row per order item, with the columns Amazon documents (no buyer name or e-mail)."""
    body = order.body
    fulfillment = body.get("fulfillment") or {}
    status = fulfillment.get("fulfillmentStatus")
    channel = body.get("salesChannel") or {}
    address = (body.get("recipient") or {}).get("deliveryAddress") or {}
    service = fulfillment.get("fulfillmentServiceLevel")
    shared = {
        "amazon-order-id": order.order_id,
        "purchase-date": _flat_time(order.created),
        "last-updated-date": _flat_time(order.updated),
        "order-status": status_word(status) if isinstance(status, str) else "",
        "fulfillment-channel": _CHANNELS.get(fulfillment.get("fulfilledBy"), ""),
        "sales-channel": channel.get("marketplaceName") or "",
        "ship-service-level": status_word(service) if isinstance(service, str) else "",
        "ship-city": address.get("city") or "",
        "ship-state": address.get("stateOrRegion") or "",
        "ship-postal-code": address.get("postalCode") or "",
        "ship-country": address.get("countryCode") or "",
        "is-business-order": "false",
    }
    # Amazon lists a sku once per order (readers key the rows on order id and sku): items of
    # one sku become one row, their quantities and totals added up.
    rows: dict[str, dict[str, str]] = {}
    for item in body.get("orderItems") or []:
        if not isinstance(item, dict):
            continue
        product = item.get("product") or {}
        unit = (product.get("price") or {}).get("unitPrice") or {}
        quantity = item.get("quantityOrdered")
        currency = unit.get("currencyCode") or ""
        row = {
            **shared,
            "product-name": product.get("title") or "",
            "sku": product.get("sellerSku") or "",
            "asin": product.get("asin") or "",
            "item-status": _item_status(status, item),
            "quantity": str(quantity) if isinstance(quantity, int) else "",
            "currency": currency,
            "item-price": _line_total(unit.get("amount"), quantity, currency),
        }
        same = rows.get(row["sku"])
        if same is None:
            rows[row["sku"]] = row
            continue
        for name in ("quantity", "item-price"):
            same[name] = _added(same[name], row[name])
        if row["item-status"] == "Unshipped":
            same["item-status"] = "Unshipped"
    return [{name: _UNSAFE.sub(" ", value) for name, value in row.items()} for row in rows.values()]


def _added(one: str, other: str) -> str:
    """Two cells' numbers added (an empty cell leaves the sum empty: it is unknown)."""
    if not one or not other:
        return ""
    return str(Decimal(one) + Decimal(other))


def _flat_time(moment: datetime) -> str:
    """Times as the flat files write them: ISO 8601 with a numeric zone."""
    return utc_iso(moment).replace("Z", "+00:00")


def _item_status(status: Any, item: dict[str, Any]) -> str:
    if status == "CANCELLED":
        return "Cancelled"
    left = (item.get("fulfillment") or {}).get("quantityUnfulfilled")
    return "Shipped" if status == "SHIPPED" or left == 0 else "Unshipped"


def _line_total(amount: Any, quantity: Any, currency: str) -> str:
    """The line's total (unit price x quantity), as Amazon's `item-price` is."""
    if not isinstance(quantity, int):
        return ""
    try:
        total = Decimal(str(amount)) * quantity
    except (InvalidOperation, ValueError):
        return ""
    places = Decimal("1") if currency == "JPY" else Decimal("0.01")
    return str(total.quantize(places))
