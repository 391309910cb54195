"""The seller's orders as Amazon holds them: every order with its versions over time.

Amazon's reads lag its writes: "data is available about two minutes after an update". So each
change makes a new version stamped with its update time, and readers ask for the version
visible at a moment (`update time + visibility_delay <= now`); an order created within the delay
is not visible at all. `get` is Amazon's own truth now (what a write like confirmShipment acts
on); `visible` is what searchOrders and getOrder serve.

Status changes may be scheduled for later (a scenario's timeline, `set_status(at=future)`); they
are applied as the clock passes them, on top of whatever the order then is.

`listeners` are told of every new version as it is recorded (the notifications' hook), inside
the world's lock: a listener must be quick and must not call back into the world.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import itertools
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ordertools.amazon.emulator.clock import Clock
from ordertools.amazon.emulator.orders import (
    CATALOG,
    DEFAULT_MARKETPLACE,
    NAMES,
    SERVICE_LEVELS,
    anonymized_email,
    build_order,
    catalog_item,
    country_of,
    currency_of,
    new_order_id,
)
from ordertools.amazon.emulator.times import resolve_time, to_second
from ordertools.amazon.models import utc_iso

SEED = 20260101  # a world's ids unless told otherwise (the one-seller emulator's, always)

# Where a status leaves the items: shipped statuses have everything fulfilled.
_ALL_SHIPPED = {"SHIPPED"}


# A version searchOrders never serves (the lost-updates fault): (order id, its update time) -> bool.
Hidden = Callable[[str, datetime], bool]
# Told of a new version: (order id, its update time, its body; the body is the world's: read only).
Listener = Callable[[str, datetime, dict[str, Any]], None]


class WorldError(Exception):
    """A request the world refuses; the app turns it into Amazon's error answer."""


class OrderNotFound(WorldError):
    pass


class ShipmentRejected(WorldError):
    pass


class CancelRejected(WorldError):
    """A cancellation Amazon refuses; the feed's processing report carries the text."""


@dataclass
class _Order:
    order_id: str
    created: datetime
    times: list[datetime] = field(default_factory=list)  # version update times, ascending
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def add_version(self, at: datetime, body: dict[str, Any]) -> None:
        index = bisect.bisect_right(self.times, at)
        self.times.insert(index, at)
        self.bodies.insert(index, body)

    def version_at(self, moment: datetime) -> tuple[datetime, dict[str, Any]] | None:
        index = bisect.bisect_right(self.times, moment)
        return (self.times[index - 1], self.bodies[index - 1]) if index else None


@dataclass(frozen=True)
class VisibleOrder:
    """One order as a reader sees it now: its body and the times the filters compare."""

    order_id: str
    created: datetime
    updated: datetime
    body: dict[str, Any]

    @property
    def status(self) -> str | None:
        return (self.body.get("fulfillment") or {}).get("fulfillmentStatus")

    @property
    def fulfilled_by(self) -> str | None:
        return (self.body.get("fulfillment") or {}).get("fulfilledBy")

    @property
    def marketplace_id(self) -> str | None:
        return (self.body.get("salesChannel") or {}).get("marketplaceId")


class World:
    def __init__(self, clock: Clock, visibility_delay: float = 120.0, *, seed: int = SEED):
        self._clock = clock
        self.visibility_delay = timedelta(seconds=visibility_delay)
        self._lock = threading.RLock()
        self._orders: dict[str, _Order] = {}
        self._scheduled: list[tuple[datetime, int, str, str]] = []  # heap of (at, seq, id, status)
        self._seq = itertools.count()
        # Order and item ids come from here: sellers' worlds get seeds of their own, so no two
        # sellers' orders share an id (on Amazon order ids are unique across sellers).
        self._rng = random.Random(seed)
        self.listeners: list[Listener] = []

    # --- reading -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    def catch_up(self) -> datetime:
        """Apply the scheduled changes whose time has come (readers do it too); returns now."""
        with self._lock:
            return self._catch_up()

    def __len__(self) -> int:
        with self._lock:
            return len(self._orders)

    def get(self, order_id: str) -> dict[str, Any] | None:
        """The order as Amazon holds it now (no visibility delay), or None."""
        with self._lock:
            now = self._catch_up()
            order = self._orders.get(order_id)
            version = order.version_at(now) if order else None
            return version[1] if version else None

    def versions(self, order_id: str) -> list[dict[str, Any]]:
        """Every version of the order, oldest first, future (scheduled-time) ones included."""
        with self._lock:
            self._catch_up()
            order = self._orders.get(order_id)
            return list(order.bodies) if order else []

    def orders(self) -> list[dict[str, Any]]:
        """Every order as Amazon holds it now, oldest first."""
        with self._lock:
            now = self._catch_up()
            current = (o.version_at(now) for o in self._orders.values())
            return [v[1] for v in sorted(filter(None, current), key=lambda v: v[0])]

    def visible(self, order_id: str, *, hidden: Hidden | None = None) -> VisibleOrder | None:
        """The order as searchOrders/getOrder may serve it now, or None.

        `hidden` names versions a reader never sees (searchOrders under the lost-updates
        fault): it gets the newest visible version not hidden, or None when all are."""
        with self._lock:
            cutoff = self._catch_up() - self.visibility_delay
            order = self._orders.get(order_id)
            return self._visible(order, cutoff, hidden) if order else None

    def visible_orders(self, *, hidden: Hidden | None = None) -> list[VisibleOrder]:
        with self._lock:
            cutoff = self._catch_up() - self.visibility_delay
            return [v for o in self._orders.values() if (v := self._visible(o, cutoff, hidden))]

    def orders_as_of(self, moment: datetime) -> list[VisibleOrder]:
        """Every order as Amazon held it at `moment` (no visibility delay; the reports' truth),
        by update time then order id. For now, pass `now()`; later moments see no more."""
        with self._lock:
            self._catch_up()
            found = [v for o in self._orders.values() if (v := self._visible(o, moment, None))]
            return sorted(found, key=lambda v: (v.updated, v.order_id))

    def version_times(self) -> list[tuple[str, datetime]]:
        """(order id, update time) of every version up to now, oldest first."""
        with self._lock:
            now = self._catch_up()
            times = [(o.order_id, t) for o in self._orders.values() for t in o.times if t <= now]
            return sorted(times, key=lambda pair: (pair[1], pair[0]))

    @staticmethod
    def _visible(order: _Order, cutoff: datetime, hidden: Hidden | None) -> VisibleOrder | None:
        index = bisect.bisect_right(order.times, cutoff)
        while index:
            index -= 1
            at = order.times[index]
            if hidden is None or not hidden(order.order_id, at):
                return VisibleOrder(order.order_id, order.created, at, order.bodies[index])
        return None

    # --- writing -------------------------------------------------------------------------

    def add_order(
        self,
        *,
        order_id: str | None = None,
        status: str = "UNSHIPPED",
        fulfilled_by: str = "MERCHANT",
        marketplace_id: str = DEFAULT_MARKETPLACE,
        created: datetime | str | None = None,
        updated: datetime | str | None = None,
        buyer_name: str | None = "Jane Doe",
        buyer_email: str | None = None,
        items: list[dict[str, Any]] | None = None,
        service_level: str = "STANDARD",
        programs: list[str] | None = None,
        address: dict[str, str] | None = None,
        omit: Iterable[str] = (),
        ship_by: datetime | str | None = None,
    ) -> str:
        """Add an order; returns its id. Times: datetime, ISO string, or "-3d4h" from now;
        `ship_by` (its shipByWindow's end) defaults to two days after it was placed.

        `items` are dicts of sku, title, asin, price (decimal string, in the marketplace's
        currency), quantity, shipped. `status` may be one Amazon has not documented, and `omit`
        drops top-level fields (e.g. ["createdTime"]) to make a deliberately malformed order.
        """
        with self._lock:
            now = self._catch_up()
            created_at = resolve_time(created, now)
            updated_at = resolve_time(updated, now) if updated is not None else created_at
            order_id = order_id or self._new_id()
            if order_id in self._orders:
                raise ValueError(f"order {order_id} already exists")
            if items is None:
                items = [catalog_item(len(self._orders), 1, currency_of(marketplace_id))]
            body = build_order(
                order_id,
                status=status,
                fulfilled_by=fulfilled_by,
                marketplace_id=marketplace_id,
                created=created_at,
                updated=updated_at,
                buyer_name=buyer_name,
                buyer_email=buyer_email or anonymized_email(self._rng),
                items=items,
                item_ids=[self._new_item_id() for _ in items],
                service_level=service_level,
                programs=programs,
                address=address,
                ship_by=resolve_time(ship_by, now) if ship_by is not None else None,
            )
            if status in _ALL_SHIPPED:
                _ship_everything(body, updated_at, self._rng)
            elif shipped := [
                {"orderItemId": line["orderItemId"], "quantity": item["shipped"]}
                for item, line in zip(items, body["orderItems"], strict=True)
                if item.get("shipped")
            ]:
                _add_package(body, shipped, updated_at, self._rng)
            for key in omit:
                body.pop(key, None)
            self._insert(order_id, created_at, updated_at, body)
            return order_id

    def add_raw(self, body: dict[str, Any], *, updated: datetime | str | None = None) -> str:
        """Add an order exactly as given (any shape); `updated` places it in time if needed."""
        with self._lock:
            now = self._catch_up()
            order_id = body.get("orderId") if isinstance(body.get("orderId"), str) else None
            order_id = order_id or self._new_id()
            at = resolve_time(updated or body.get("lastUpdatedTime"), now)
            created = resolve_time(body.get("createdTime") or at, now)
            self._insert(order_id, created, at, copy.deepcopy(body))
            return order_id

    def set_status(self, order_id: str, status: str, at: datetime | str | None = None) -> None:
        """Change the status as of `at` (default now) as a new version; future `at` is scheduled."""
        with self._lock:
            now = self._catch_up()
            if order_id not in self._orders:
                raise OrderNotFound(f"no order {order_id}")
            moment = resolve_time(at, now)
            if moment > now:
                heapq.heappush(self._scheduled, (moment, next(self._seq), order_id, status))
            else:
                self._apply_status(order_id, status, moment)

    def confirm_shipment(self, order_id: str, marketplace_id: str, package: dict[str, Any]) -> None:
        """Record a shipped package (confirmShipment's packageDetail, already schema-checked)."""
        with self._lock:
            now = self._catch_up()
            order = self._orders.get(order_id)
            version = order.version_at(now) if order else None
            if version is None:
                raise OrderNotFound(f"Order {order_id} was not found.")
            body = copy.deepcopy(version[1])
            _check_shippable(body, marketplace_id, package)
            items = {i["orderItemId"]: i for i in body["orderItems"]}
            for shipped in package["orderItems"]:
                fulfillment = items[shipped["orderItemId"]]["fulfillment"]
                fulfillment["quantityFulfilled"] += shipped["quantity"]
                fulfillment["quantityUnfulfilled"] -= shipped["quantity"]
            body["packages"].append(_package(package, now))
            done = all(i["fulfillment"]["quantityUnfulfilled"] == 0 for i in body["orderItems"])
            body["fulfillment"]["fulfillmentStatus"] = "SHIPPED" if done else "PARTIALLY_SHIPPED"
            body["lastUpdatedTime"] = utc_iso(now)
            self._add_version(order, to_second(now), body)

    def cancel_order(self, order_id: str, item_ids: Iterable[str], reason: str) -> None:
        """Cancel an unshipped order (an order-acknowledgement feed with StatusCode Failure)."""
        with self._lock:
            now = self._catch_up()
            order = self._orders.get(order_id)
            version = order.version_at(now) if order else None
            if version is None:
                raise CancelRejected(f"Order {order_id} was not found for this seller.")
            body = copy.deepcopy(version[1])
            status = (body.get("fulfillment") or {}).get("fulfillmentStatus")
            if status in ("SHIPPED", "PARTIALLY_SHIPPED"):
                raise CancelRejected(
                    f"Order {order_id} is {status}; shipped orders can't be canceled."
                )
            if status != "UNSHIPPED":
                raise CancelRejected(
                    f"Order {order_id} is {status}; only unshipped orders can be canceled."
                )
            items = {i["orderItemId"]: i for i in body["orderItems"]}
            unknown = sorted(set(item_ids) - set(items))
            if unknown:
                raise CancelRejected(
                    f"AmazonOrderItemCode {', '.join(unknown)} is not in order {order_id}."
                )
            for item in body["orderItems"]:
                item["cancellation"] = {
                    "cancellationExecution": {"cancelledBy": "MERCHANT", "cancelReason": reason}
                }
            body["fulfillment"]["fulfillmentStatus"] = "CANCELLED"
            body["lastUpdatedTime"] = utc_iso(now)
            self._add_version(order, to_second(now), body)  # Amazon reports it to the second

    def generate(
        self,
        n: int,
        *,
        seed: int = 1,
        marketplace_ids: Iterable[str] = (DEFAULT_MARKETPLACE,),
        statuses: Iterable[str] = ("UNSHIPPED", "SHIPPED", "SHIPPED", "PENDING", "CANCELLED"),
        fba_share: float = 0.3,
        days: float = 30.0,
    ) -> list[str]:
        """Add `n` valid random orders updated over the last `days` (all visible); returns ids.

        The same seed gives the same orders at the same clock. Built for volume: 20,000 orders
        take about a second.
        """
        rng = random.Random(seed)
        marketplace_ids, statuses = list(marketplace_ids), list(statuses)
        with self._lock:
            now = self._catch_up()
            # Leave the newest orders older than the delay so every generated order is visible.
            newest = now - self.visibility_delay - timedelta(minutes=1)
            ids = []
            for _ in range(n):
                marketplace_id = rng.choice(marketplace_ids)
                created = newest - timedelta(seconds=rng.uniform(0, days * 86400))
                updated = min(newest, created + timedelta(seconds=rng.uniform(0, 2 * 86400)))
                created, updated = resolve_time(created, now), resolve_time(updated, now)
                fba = rng.random() < fba_share
                country = country_of(marketplace_id)
                items = [
                    catalog_item(
                        rng.randrange(len(CATALOG)),
                        rng.choice((1, 1, 1, 2, 3)),
                        currency_of(marketplace_id),
                    )
                    for _ in range(rng.choice((1, 1, 1, 2, 3)))
                ]
                status = rng.choice(statuses)
                order_id = self._new_id(rng)
                body = build_order(
                    order_id,
                    status=status,
                    fulfilled_by="AMAZON" if fba else "MERCHANT",
                    marketplace_id=marketplace_id,
                    created=created,
                    updated=updated,
                    buyer_name=rng.choice(NAMES.get(country, NAMES["US"])),
                    buyer_email=anonymized_email(rng),
                    items=items,
                    item_ids=[self._new_item_id(rng) for _ in items],
                    service_level=rng.choice(SERVICE_LEVELS),
                    programs=["PRIME"] if rng.random() < 0.3 else [],
                )
                if status in _ALL_SHIPPED:
                    _ship_everything(body, updated, rng)
                self._insert(order_id, created, updated, body)
                ids.append(order_id)
            return ids

    # --- internals -----------------------------------------------------------------------

    def _insert(self, order_id: str, created: datetime, at: datetime, body: dict) -> None:
        order = _Order(order_id, created)
        self._orders[order_id] = order
        self._add_version(order, at, body)

    def _add_version(self, order: _Order, at: datetime, body: dict[str, Any]) -> None:
        order.add_version(at, body)
        for listener in self.listeners:
            listener(order.order_id, at, body)

    def _apply_status(self, order_id: str, status: str, at: datetime) -> None:
        order = self._orders[order_id]
        body = copy.deepcopy(order.bodies[-1])
        body.setdefault("fulfillment", {})["fulfillmentStatus"] = status
        body["lastUpdatedTime"] = utc_iso(at)
        if status in _ALL_SHIPPED:
            _ship_everything(body, at, self._rng)
        self._add_version(order, at, body)

    def _catch_up(self) -> datetime:
        """Apply scheduled changes whose time has come; returns now."""
        now = self._clock()
        while self._scheduled and self._scheduled[0][0] <= now:
            at, _, order_id, status = heapq.heappop(self._scheduled)
            self._apply_status(order_id, status, at)
        return now

    def _new_id(self, rng: random.Random | None = None) -> str:
        while (order_id := new_order_id(rng or self._rng)) in self._orders:
            pass
        return order_id

    def _new_item_id(self, rng: random.Random | None = None) -> str:
        return str((rng or self._rng).randint(10**13, 10**14 - 1))


def _check_shippable(body: dict[str, Any], marketplace_id: str, package: dict[str, Any]) -> None:
    if (body.get("salesChannel") or {}).get("marketplaceId") != marketplace_id:
        raise ShipmentRejected(f"The order was not placed in marketplace {marketplace_id}.")
    fulfillment = body.get("fulfillment") or {}
    if fulfillment.get("fulfilledBy") == "AMAZON":
        raise ShipmentRejected("Amazon fulfills this order (FBA); it cannot be confirmed.")
    status = fulfillment.get("fulfillmentStatus")
    if status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        raise ShipmentRejected(f"The order is {status}; only unshipped orders can be confirmed.")
    if any(p["packageReferenceId"] == package["packageReferenceId"] for p in body["packages"]):
        raise ShipmentRejected(
            f"A package with reference {package['packageReferenceId']} was confirmed for this "
            "order before."
        )
    items = {i["orderItemId"]: i for i in body["orderItems"]}
    for shipped in package["orderItems"]:
        item = items.get(shipped["orderItemId"])
        if item is None:
            raise ShipmentRejected(f"orderItemId {shipped['orderItemId']} is not in this order.")
        left = item["fulfillment"]["quantityUnfulfilled"]
        if not 0 < shipped["quantity"] <= left:
            raise ShipmentRejected(
                f"quantity {shipped['quantity']} for orderItemId {shipped['orderItemId']}"
                f" must be between 1 and the {left} unshipped."
            )


def _package(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    package = {
        "packageReferenceId": detail["packageReferenceId"],
        "createdTime": utc_iso(now),
        "packageStatus": {"status": "SHIPPED"},
        "carrier": detail.get("carrierName") or detail["carrierCode"],
        "shipTime": utc_iso(resolve_time(detail["shipDate"], now)),
        "trackingNumber": detail["trackingNumber"],
        "packageItems": [
            {"orderItemId": i["orderItemId"], "quantity": i["quantity"]}
            for i in detail["orderItems"]
        ],
    }
    if detail.get("shippingMethod"):
        package["shippingService"] = detail["shippingMethod"]
    return package


def _ship_everything(body: dict[str, Any], at: datetime, rng: random.Random) -> None:
    """Mark all items shipped; a merchant-fulfilled order gets a package for what was left."""
    left = []
    for item in body.get("orderItems", []):
        fulfillment = item.setdefault("fulfillment", {})
        unshipped = fulfillment.get("quantityUnfulfilled", item["quantityOrdered"])
        if unshipped:
            left.append({"orderItemId": item["orderItemId"], "quantity": unshipped})
        fulfillment.update(quantityFulfilled=item["quantityOrdered"], quantityUnfulfilled=0)
    if left:
        _add_package(body, left, at, rng)


def _add_package(body: dict[str, Any], items: list[dict], at: datetime, rng: random.Random) -> None:
    """A UPS package for `items` (orderItemId, quantity); only merchant orders have packages."""
    if (body.get("fulfillment") or {}).get("fulfilledBy") != "MERCHANT":
        return
    detail = {
        "packageReferenceId": str(len(body.get("packages", [])) + 1),
        "carrierCode": "UPS",
        "trackingNumber": f"1Z{rng.getrandbits(48):012X}",
        "shipDate": utc_iso(at),
        "shippingMethod": "UPS Ground",
        "orderItems": items,
    }
    body.setdefault("packages", []).append(_package(detail, at))
