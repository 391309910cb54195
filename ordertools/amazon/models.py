"""Typed Amazon orders: Orders API 2026-01-01 JSON becomes these models once, at the client.

The models mirror the spec's nesting (so validation is the spec's own shape) and expose the
domain words the rest of the toolkit uses as properties: `status`, `is_fba`, `buyer_name`,
`grand_total`. Past the client nothing touches raw dicts; the raw JSON is still kept on the
model (`raw`) because the order book stores it as received.

Tolerance is deliberate. Amazon adds enum values and omits blocks (FBA orders have no buyer
email, a Pending order may have no proceeds yet), so statuses and other enums are plain strings
and every block not required by the spec is optional. What the spec *requires* (orderId,
createdTime, lastUpdatedTime, salesChannel, orderItems) must be there, or the order is
malformed: `parse_order` raises `MalformedOrder` with the id and the reason, and
`parse_search_page` reports it beside the good orders instead of failing the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation, ValidationError
from pydantic.alias_generators import to_camel

from ..errors import MalformedOrder


class FulfillmentStatus(StrEnum):
    """The statuses Amazon documents today; an order may carry one we don't know yet."""

    PENDING_AVAILABILITY = "PENDING_AVAILABILITY"
    PENDING = "PENDING"
    UNSHIPPED = "UNSHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    UNFULFILLABLE = "UNFULFILLABLE"


KNOWN_STATUSES = frozenset(s.value for s in FulfillmentStatus)


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class Money(_Model):
    amount: Decimal
    currency_code: str = Field(min_length=3, max_length=3)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency_code}"


class SalesChannel(_Model):
    channel_name: str
    marketplace_id: str | None = None
    marketplace_name: str | None = None


class Buyer(_Model):
    buyer_name: str | None = None
    buyer_email: str | None = None
    buyer_company_name: str | None = None
    buyer_purchase_order_number: str | None = None


class Address(_Model):
    name: str | None = None
    company_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    municipality: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None
    address_type: str | None = None


class Recipient(_Model):
    delivery_address: Address | None = None


class OrderProceeds(_Model):
    grand_total: Money | None = None


class OrderFulfillment(_Model):
    fulfillment_status: str
    fulfilled_by: str | None = None
    fulfillment_service_level: str | None = None


class ItemPrice(_Model):
    unit_price: Money | None = None


class ItemProduct(_Model):
    asin: str | None = None
    title: str | None = None
    seller_sku: str | None = None
    price: ItemPrice | None = None


class ItemProceeds(_Model):
    proceeds_total: Money | None = None


class ItemFulfillment(_Model):
    quantity_fulfilled: int | None = None
    quantity_unfulfilled: int | None = None


class OrderItem(_Model):
    order_item_id: str
    quantity_ordered: int = Field(ge=0)
    product: ItemProduct
    proceeds: ItemProceeds | None = None
    fulfillment: ItemFulfillment | None = None

    @property
    def sku(self) -> str | None:
        return self.product.seller_sku

    @property
    def title(self) -> str | None:
        return self.product.title

    @property
    def unit_price(self) -> Money | None:
        return self.product.price.unit_price if self.product.price else None

    @property
    def quantity_shipped(self) -> int:
        return (self.fulfillment.quantity_fulfilled or 0) if self.fulfillment else 0


class PackageItem(_Model):
    order_item_id: str
    quantity: int


class PackageStatus(_Model):
    status: str
    detailed_status: str | None = None


class OrderPackage(_Model):
    package_reference_id: str
    created_time: AwareDatetime | None = None
    package_status: PackageStatus | None = None
    carrier: str | None = None
    ship_time: AwareDatetime | None = None
    shipping_service: str | None = None
    tracking_number: str | None = None
    package_items: list[PackageItem] = Field(default_factory=list)


class AmazonOrder(_Model):
    """One Amazon order as Amazon last described it."""

    order_id: str = Field(min_length=1)
    created_time: AwareDatetime
    last_updated_time: AwareDatetime
    sales_channel: SalesChannel
    order_items: list[OrderItem]
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None
    # default_factory, not `= []`: pydantic deep-copies a mutable default for every order.
    packages: list[OrderPackage] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    # The JSON exactly as received, for the order book; never validated (that is the fields' job).
    raw: SkipValidation[dict[str, Any]] = Field(default_factory=dict, exclude=True, repr=False)

    @property
    def status(self) -> str | None:
        """Amazon's fulfillment status code (e.g. "UNSHIPPED"), possibly one not documented yet."""
        return self.fulfillment.fulfillment_status if self.fulfillment else None

    @property
    def status_known(self) -> bool:
        return self.status in KNOWN_STATUSES

    @property
    def fulfilled_by(self) -> str | None:
        """Who ships: "AMAZON" (FBA/AFN), "MERCHANT" (FBM/MFN), or None when Amazon did not say."""
        return self.fulfillment.fulfilled_by if self.fulfillment else None

    @property
    def is_fba(self) -> bool:
        return self.fulfilled_by == "AMAZON"

    @property
    def marketplace_id(self) -> str | None:
        return self.sales_channel.marketplace_id

    @property
    def buyer_name(self) -> str | None:
        return self.buyer.buyer_name if self.buyer else None

    @property
    def buyer_email(self) -> str | None:
        return self.buyer.buyer_email if self.buyer else None

    @property
    def grand_total(self) -> Money | None:
        return self.proceeds.grand_total if self.proceeds else None

    @property
    def delivery_address(self) -> Address | None:
        return self.recipient.delivery_address if self.recipient else None


def _reason(exc: ValidationError) -> str:
    """A one-line reason from pydantic's errors: the first few fields and what is wrong."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "order"
        parts.append(f"{where}: {err['msg'].lower()}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_order(raw: Any) -> AmazonOrder:
    """Validate one order from Amazon's JSON, or raise `MalformedOrder` naming it and why."""
    if not isinstance(raw, dict):
        raise MalformedOrder(None, f"expected an object, got {type(raw).__name__}", raw)
    try:
        # `raw` rides along in the same validation: cheaper than copying the model afterwards.
        return AmazonOrder.model_validate({**raw, "raw": raw})
    except ValidationError as exc:
        order_id = raw.get("orderId") if isinstance(raw.get("orderId"), str) else None
        raise MalformedOrder(order_id, _reason(exc), raw) from None


class SearchPage(_Model):
    """One page of searchOrders: the orders that parsed and the ones that didn't.

    (The next page's token is read by the client before the page is parsed, to fetch ahead.)
    """

    orders: list[AmazonOrder]
    # MalformedOrder instances (exceptions are not pydantic types)
    malformed: list[Any] = Field(default_factory=list)


def parse_search_page(body: Any) -> SearchPage:
    """Turn a searchOrders response body into a `SearchPage`; one bad order never breaks it."""
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
        raise MalformedOrder(None, "searchOrders response has no 'orders' list", body)
    orders, malformed = [], []
    for raw in body["orders"]:
        try:
            orders.append(parse_order(raw))
        except MalformedOrder as bad:
            malformed.append(bad)
    return SearchPage(orders=orders, malformed=malformed)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as Amazon writes and expects times."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
