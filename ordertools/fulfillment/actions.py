"""Fulfillment from the order book back to Amazon: ship, cancel, comments, history.

Each action changes the local order and writes its outbox entry in one transaction, then (unless
`send=False`) hands the entry to the outbox right away; whatever Amazon does after that, the
entry carries on from the database (`flush_outbox`, run by every sync). So the CLI, the dashboard
and a notebook share these functions and never talk to Amazon on their own.

Cancellation goes through the order-acknowledgement feed (see `amazon/feeds.py` for why): its
documented `CancelReason` values are the reasons `cancel` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ordertools.amazon.client import AmazonClient
from ordertools.amazon.feeds import CANCEL_REASONS, canonical_reason
from ordertools.db import LocalOrder, OutboxEntry, Shipment, Store
from ordertools.db import session as db_session
from ordertools.domain import local_orders
from ordertools.domain.statuses import LocalStatus, display_status
from ordertools.errors import OrdertoolsError
from ordertools.fulfillment.outbox import (
    Clock,
    flush_outbox,
    real_now,
    state_words,
)

# Amazon's carrier codes for confirmShipment (any other carrier: "Other" plus its name).
CARRIERS = (
    "Amazon Shipping", "Australia Post", "Blue Dart", "Canada Post", "China Post", "Chronopost",
    "Colissimo", "Correos", "DHL", "DHL eCommerce", "DPD", "Deutsche Post", "Evri", "FedEx",
    "GLS", "Hermes", "Japan Post", "La Poste", "LaserShip", "OnTrac", "Parcelforce", "PostNL",
    "Poste Italiane", "Purolator", "Royal Mail", "SF Express", "Sagawa Express", "TNT", "UPS",
    "UPSMI", "USPS", "Yamato Transport", "Yodel", "Other",
)  # fmt: skip


class FulfillmentRefused(OrdertoolsError):
    """An action the order's state (or its input) doesn't allow; the text says why."""


@dataclass(frozen=True)
class ActionResult:
    """What an action did: the local order now, and how far its outbox entry got."""

    order_number: str
    amazon_order_id: str
    local_status: str
    outbox_id: int
    outbox_state: str
    last_error: str | None = None
    package_reference_id: str | None = None

    def summary(self) -> str:
        sent = state_words(self.outbox_state, sentence=True)
        trouble = f" ({self.last_error})" if self.last_error else ""
        return f"order {self.order_number} is {self.local_status}; {sent}{trouble}"


# -- looking orders up ---------------------------------------------------------------------------


def find_local_order(session: Session, order: str, store: str | None = None) -> LocalOrder:
    """The local order with this local number or Amazon order id (in `store` when given)."""
    query = select(LocalOrder).where(
        or_(LocalOrder.number == order, LocalOrder.amazon_order_id == order)
    )
    if store is not None:
        query = query.join(Store).where(Store.name == store)
    found = session.scalars(query).all()
    if not found:
        where = f" in store {store}" if store else ""
        raise FulfillmentRefused(
            f"no local order {order}{where}: only orders imported into the order book can be "
            "shipped or canceled here (import it with `ordertools import-order`, or use Seller "
            "Central)"
        )
    if len(found) > 1:
        names = ", ".join(sorted(o.store.name for o in found))
        raise FulfillmentRefused(f"order {order} is in several stores ({names}): give --store")
    return found[0]


# -- ship ----------------------------------------------------------------------------------------


def ship(
    engine: Engine,
    order: str,
    *,
    carrier: str,
    tracking: str,
    method: str | None = None,
    carrier_name: str | None = None,
    items: Mapping[str, int] | None = None,
    store: str | None = None,
    ship_date: datetime | None = None,
    send: bool = True,
    client: AmazonClient | None = None,
    clock: Clock | None = None,
) -> ActionResult:
    """Ship all of an order's unshipped units (or `items`: SKU -> units) in one package."""
    carrier_code, carrier_name = _carrier(carrier, carrier_name)
    if not tracking or not tracking.strip():
        raise FulfillmentRefused("a tracking number is required")
    with db_session(engine) as session:
        local = find_local_order(session, order, store)
        _check_shippable(local)
        shipped = _units_to_ship(local, items)
        shipment = Shipment(
            local_order_id=local.id,
            carrier_code=carrier_code,
            carrier_name=carrier_name,
            tracking_number=tracking.strip(),
            shipping_method=method,
            ship_date=ship_date or (clock or real_now)(),
            items={
                "items": [
                    {"order_item_id": i.order_item_id, "sku": i.sku, "quantity": shipped[i.id]}
                    for i in local.items
                    if shipped.get(i.id)
                ]
            },
        )
        session.add(shipment)
        session.flush()  # the shipment's id is its packageReferenceId
        what = ", ".join(f"{i['quantity']} x {i['sku']}" for i in shipment.items["items"])
        via = carrier_name or carrier_code
        comment = f"Shipped {what} with {via}, tracking {shipment.tracking_number}"
        local_orders.ship_local_items(session, local, shipped, comment=comment, source="user")
        entry = _entry(
            local,
            "ship",
            f"ship:{local.store_id}:{local.amazon_order_id}:{shipment.id}",
            {
                "marketplace_id": local.store.marketplace_id,
                "package_reference_id": shipment.package_reference_id,
                "carrier_code": carrier_code,
                "carrier_name": carrier_name,
                "tracking_number": shipment.tracking_number,
                "ship_date": shipment.ship_date.isoformat(),
                "shipping_method": method,
                "items": [[i["order_item_id"], i["quantity"]] for i in shipment.items["items"]],
            },
        )
        session.add(entry)
        session.flush()
        entry_id, package = entry.id, shipment.package_reference_id
    return _after(engine, entry_id, send, client, clock, package=package)


def _carrier(carrier: str, name: str | None) -> tuple[str, str | None]:
    folded = (carrier or "").strip().casefold()
    code = next((c for c in CARRIERS if c.casefold() == folded), None)
    if code is None:
        raise FulfillmentRefused(
            f"unknown carrier {carrier!r}: use one of Amazon's codes ({', '.join(CARRIERS)}), "
            "or Other with --carrier-name"
        )
    if code == "Other" and not (name and name.strip()):
        raise FulfillmentRefused('carrier "Other" needs the carrier\'s name (--carrier-name)')
    return code, (name.strip() if name and name.strip() else None)


def _check_shippable(local: LocalOrder) -> None:
    number, amazon = local.number, local.amazon_order
    if local.fulfilled_by == "AMAZON":
        raise FulfillmentRefused(f"order {number} is fulfilled by Amazon (FBA): Amazon ships it")
    if local.status == LocalStatus.CANCELED:
        raise FulfillmentRefused(f"order {number} is canceled: canceled orders can't be shipped")
    if local.status == LocalStatus.COMPLETE or amazon.status == "SHIPPED":
        raise FulfillmentRefused(f"order {number} is already shipped")
    if amazon.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        word = display_status(amazon.status)
        raise FulfillmentRefused(f"order {number} is {word} at Amazon: it can't be shipped now")


def _units_to_ship(local: LocalOrder, items: Mapping[str, int] | None) -> dict[int, int]:
    """Local item id -> units: everything left by default, else the SKUs asked for."""
    left = {i.id: i.units_left for i in local.items}
    if not items:
        shipped = {item_id: n for item_id, n in left.items() if n > 0}
        if not shipped:
            raise FulfillmentRefused(f"order {local.number} has nothing left to ship")
        return shipped
    shipped: dict[int, int] = {}
    for sku, units in items.items():
        matching = [i for i in local.items if i.sku == sku]
        if not matching:
            skus = ", ".join(sorted(i.sku or "?" for i in local.items))
            raise FulfillmentRefused(f"order {local.number} has no item {sku} (it has {skus})")
        if units < 1:
            raise FulfillmentRefused(f"--item {sku}={units}: ship at least one unit")
        for item in matching:  # one SKU on several lines: fill them in order
            take = min(units, left[item.id] - shipped.get(item.id, 0))
            if take > 0:
                shipped[item.id] = shipped.get(item.id, 0) + take
                units -= take
        if units > 0:
            most = sum(left[i.id] for i in matching)
            raise FulfillmentRefused(
                f"order {local.number} has only {most} unshipped unit(s) of {sku}"
            )
    return shipped


# -- cancel --------------------------------------------------------------------------------------


def cancel(
    engine: Engine,
    order: str,
    *,
    reason: str,
    store: str | None = None,
    send: bool = True,
    client: AmazonClient | None = None,
    clock: Clock | None = None,
) -> ActionResult:
    """Cancel an order Amazon shows Unshipped, with one of Amazon's CancelReason codes."""
    code = canonical_reason(reason or "")
    if code is None:
        raise FulfillmentRefused(
            f"unknown cancel reason {reason!r}: use one of {', '.join(CANCEL_REASONS)}"
        )
    with db_session(engine) as session:
        local = find_local_order(session, order, store)
        _check_cancelable(session, local)
        note = f"Canceled ({code}); Amazon is asked to cancel order {local.amazon_order_id}"
        local_orders.cancel_local_order(session, local, comment=note, source="user")
        entry = _entry(
            local,
            "cancel",
            f"cancel:{local.store_id}:{local.amazon_order_id}",
            {
                "marketplace_id": local.store.marketplace_id,
                "reason": code,
                "item_ids": [i.order_item_id for i in local.items if i.order_item_id],
            },
        )
        session.add(entry)
        session.flush()
        entry_id = entry.id
    return _after(engine, entry_id, send, client, clock)


def _check_cancelable(session: Session, local: LocalOrder) -> None:
    number, status = local.number, local.amazon_order.status
    if local.fulfilled_by == "AMAZON":
        raise FulfillmentRefused(f"order {number} is fulfilled by Amazon (FBA): cancel it there")
    if local.status == LocalStatus.CANCELED:
        raise FulfillmentRefused(f"order {number} is already canceled")
    if status == "SHIPPED" or local.status == LocalStatus.COMPLETE:
        raise FulfillmentRefused(f"order {number}: shipped orders can't be canceled")
    shipped = session.scalar(select(Shipment.id).where(Shipment.local_order_id == local.id))
    if status in ("PENDING", "PENDING_AVAILABILITY", "PARTIALLY_SHIPPED") or shipped:
        word = "partially shipped" if shipped or status == "PARTIALLY_SHIPPED" else "pending"
        raise FulfillmentRefused(
            f"order {number} is {word}: pending or partially shipped orders are canceled in "
            "Seller Central"
        )
    if status != "UNSHIPPED":
        word = display_status(status)
        raise FulfillmentRefused(f"order {number} is {word} at Amazon: only Unshipped cancels")


# -- comments and history ------------------------------------------------------------------------


def add_comment(engine: Engine, order: str, text: str, *, store: str | None = None) -> None:
    """A staff comment on a local order, kept in its history."""
    if not text or not text.strip():
        raise FulfillmentRefused("the comment is empty")
    with db_session(engine) as session:
        local_orders.add_comment(find_local_order(session, order, store), text.strip())


def order_activity(session: Session, local: LocalOrder) -> dict[str, list[dict[str, Any]]]:
    """What the order page shows: history (status changes, comments), shipments, outbox."""
    shipments = session.scalars(
        select(Shipment).where(Shipment.local_order_id == local.id).order_by(Shipment.id)
    )
    entries = session.scalars(
        select(OutboxEntry).where(OutboxEntry.local_order_id == local.id).order_by(OutboxEntry.id)
    )
    return {
        "history": [
            {"at": h.at, "status": h.status, "comment": h.comment, "source": h.source}
            for h in local.history
        ],
        "shipments": [
            {
                "package_reference_id": s.package_reference_id,
                "carrier": s.carrier_name or s.carrier_code,
                "tracking_number": s.tracking_number,
                "shipping_method": s.shipping_method,
                "ship_date": s.ship_date,
                "items": s.items["items"],
            }
            for s in shipments
        ],
        "outbox": [
            {"id": e.id, "kind": e.kind, "state": e.state, "attempts": e.attempts,
             "last_error": e.last_error}
            for e in entries
        ],
    }  # fmt: skip


# -- shared --------------------------------------------------------------------------------------


def _entry(local: LocalOrder, kind: str, key: str, payload: dict[str, Any]) -> OutboxEntry:
    return OutboxEntry(
        store_id=local.store_id,
        local_order_id=local.id,
        amazon_order_id=local.amazon_order_id,
        kind=kind,
        idempotency_key=key,
        payload=payload,
    )


def _after(
    engine: Engine,
    entry_id: int,
    send: bool,
    client: AmazonClient | None,
    clock: Clock | None,
    package: str | None = None,
) -> ActionResult:
    """Send the new entry now (the local change is already committed), then say where it is."""
    if send:
        flush_outbox(engine, entry_ids=[entry_id], client=client, clock=clock)
    with db_session(engine) as session:
        entry = session.get(OutboxEntry, entry_id)
        return ActionResult(
            order_number=entry.order.number,
            amazon_order_id=entry.amazon_order_id,
            local_status=entry.order.status,
            outbox_id=entry.id,
            outbox_state=entry.state,
            last_error=entry.last_error,
            package_reference_id=package,
        )
