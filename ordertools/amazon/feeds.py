"""Canceling an order at Amazon: the order-acknowledgement feed, written and read back.

The Orders API has no cancellation operation (neither v0 nor 2026-01-01 in Amazon's models), so a
seller cancels through the Feeds API (2021-06-30) with feed type `POST_ORDER_ACKNOWLEDGEMENT_DATA`:
an `OrderAcknowledgement` message with `StatusCode` Failure cancels the order, each item naming
a `CancelReason`. Amazon processes the feed asynchronously and answers with a `ProcessingReport`
document. Both documents are XML; this module writes the one and reads the other, and the
emulator uses the same functions in the other direction so the two can't drift apart.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

ORDER_ACKNOWLEDGEMENT = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CONTENT_TYPE = "text/xml; charset=UTF-8"

# The CancelReason values Amazon documents for the OrderAcknowledgement message.
CANCEL_REASONS = (
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
)


def canonical_reason(code: str) -> str | None:
    """The documented spelling of a reason code given in any case, or None when unknown."""
    folded = code.replace("_", "").replace("-", "").lower()
    return next((r for r in CANCEL_REASONS if r.lower() == folded), None)


@dataclass(frozen=True)
class Cancellation:
    """One order to cancel: every listed item with the same reason."""

    amazon_order_id: str
    item_ids: tuple[str, ...]
    reason: str


def acknowledgement_feed(seller_id: str, cancellations: list[Cancellation]) -> bytes:
    """The feed document: one OrderAcknowledgement message per order."""
    envelope = ET.Element("AmazonEnvelope")
    header = ET.SubElement(envelope, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(envelope, "MessageType").text = "OrderAcknowledgement"
    for number, cancel in enumerate(cancellations, 1):
        message = ET.SubElement(envelope, "Message")
        ET.SubElement(message, "MessageID").text = str(number)
        ack = ET.SubElement(message, "OrderAcknowledgement")
        ET.SubElement(ack, "AmazonOrderID").text = cancel.amazon_order_id
        ET.SubElement(ack, "StatusCode").text = "Failure"
        for item_id in cancel.item_ids:
            item = ET.SubElement(ack, "Item")
            ET.SubElement(item, "AmazonOrderItemCode").text = item_id
            ET.SubElement(item, "CancelReason").text = cancel.reason
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def read_acknowledgements(document: bytes) -> list[tuple[int, Cancellation | None, str]]:
    """(message id, the cancellation or None, a problem or "") for each message of a feed."""
    root = ET.fromstring(document)
    if root.findtext("MessageType") != "OrderAcknowledgement":
        raise ValueError("MessageType must be OrderAcknowledgement")
    found = []
    for message in root.findall("Message"):
        number = int(message.findtext("MessageID") or 0)
        ack = message.find("OrderAcknowledgement")
        order_id = ack.findtext("AmazonOrderID") if ack is not None else None
        if not order_id:
            found.append((number, None, "AmazonOrderID is required."))
            continue
        if ack.findtext("StatusCode") != "Failure":
            found.append((number, None, ""))  # an acknowledgement, not a cancellation
            continue
        items = ack.findall("Item")
        reasons = {i.findtext("CancelReason") for i in items}
        bad = sorted(r or "(none)" for r in reasons if r not in CANCEL_REASONS)
        if not items or bad:
            problem = f"CancelReason {', '.join(bad)} is not valid." if bad else "No Item given."
            found.append((number, None, problem))
            continue
        ids = tuple(i.findtext("AmazonOrderItemCode") or "" for i in items)
        found.append((number, Cancellation(order_id, ids, reasons.pop()), ""))
    return found


@dataclass
class ProcessingReport:
    """What Amazon made of a feed: counts, and the text of each message's error."""

    processed: int = 0
    successful: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # message id -> description


def processing_report(feed_id: str, report: ProcessingReport) -> bytes:
    envelope = ET.Element("AmazonEnvelope")
    ET.SubElement(envelope, "MessageType").text = "ProcessingReport"
    message = ET.SubElement(envelope, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    body = ET.SubElement(message, "ProcessingReport")
    ET.SubElement(body, "DocumentTransactionID").text = feed_id
    ET.SubElement(body, "StatusCode").text = "Complete"
    summary = ET.SubElement(body, "ProcessingSummary")
    for name, value in (
        ("MessagesProcessed", report.processed),
        ("MessagesSuccessful", report.successful),
        ("MessagesWithError", len(report.errors)),
        ("MessagesWithWarning", 0),
    ):
        ET.SubElement(summary, name).text = str(value)
    for number, text in report.errors.items():
        result = ET.SubElement(body, "Result")
        ET.SubElement(result, "MessageID").text = str(number)
        ET.SubElement(result, "ResultCode").text = "Error"
        ET.SubElement(result, "ResultMessageCode").text = "18028"
        ET.SubElement(result, "ResultDescription").text = text
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def read_processing_report(document: bytes) -> ProcessingReport:
    body = ET.fromstring(document).find("Message/ProcessingReport")
    if body is None:
        raise ValueError("not a ProcessingReport")
    summary = body.find("ProcessingSummary")

    def count(name: str) -> int:
        return int(summary.findtext(name) or 0) if summary is not None else 0

    errors = {
        int(r.findtext("MessageID") or 0): r.findtext("ResultDescription") or "no reason given"
        for r in body.findall("Result")
        if r.findtext("ResultCode") == "Error"
    }
    return ProcessingReport(count("MessagesProcessed"), count("MessagesSuccessful"), errors)
