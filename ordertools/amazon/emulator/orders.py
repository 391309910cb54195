"""Realistic Orders API 2026-01-01 JSON, from friendly arguments or at random.

One builder (`build_order`) serves `World.add_order`, scenarios and bulk generation, so every
order the emulator serves has the same shape. What differs by fulfillment is what Amazon
documents: FBA (fulfilledBy AMAZON) orders carry no buyer email and no delivery address; FBM
(MERCHANT) orders carry both, and only they get packages.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ordertools.amazon.models import utc_iso
from ordertools.amazon.regions import marketplace

DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"

# A small catalog: (asin, sku, title, price in USD); other currencies scale by _FX.
CATALOG = [
    ("B0C7KQ2N4M", "MUG-CER-350", "Ceramic Coffee Mug, 350 ml, Matte Black", "14.99"),
    ("B09XJ4T1LP", "TEA-GRN-100", "Organic Green Tea, 100 Bags", "9.49"),
    ("B0B2R8MZQ7", "KNF-CHF-20", "Chef's Knife 20 cm, Stainless Steel", "39.90"),
    ("B08L5WHFT9", "BAG-CNV-TOTE", "Canvas Tote Bag, Natural", "12.00"),
    ("B0CHX2F1VZ", "LMP-DSK-LED", "LED Desk Lamp with USB-C Port", "29.99"),
    ("B07PGL2ZSL", "NTB-A5-DOT", "A5 Dotted Notebook, 160 Pages", "8.75"),
    ("B0D1M3K8QX", "BTL-STL-750", "Insulated Steel Bottle 750 ml", "24.50"),
    ("B0BSHF7WHW", "CBL-USBC-2M", "USB-C Cable 2 m, Braided", "11.99"),
    ("B09V3KXJPB", "PLW-LIN-50", "Linen Pillow Cover 50x50 cm", "19.95"),
    ("B0CRB9ZD3N", "SPC-SET-12", "Spice Jar Set of 12 with Labels", "27.00"),
]
_FX = {"USD": "1", "EUR": "0.92", "GBP": "0.79", "JPY": "150", "CAD": "1.36", "AUD": "1.52"}

NAMES = {
    "US": ["Emily Johnson", "Michael Brown", "Ashley Garcia", "David Miller", "José Ñúñez"],
    "DE": ["Zoë Müller", "Jürgen Weiß", "Anna Schröder", "Lukas Becker", "Marie Köhler"],
    "GB": ["Oliver Smith", "Amelia Jones", "Siân Davies", "Harry Wilson", "Chloë Evans"],
    "JP": ["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健"],
}
ADDRESSES = {
    "US": ("742 Evergreen Terrace", "Seattle", "WA", "98109"),
    "DE": ("Hauptstraße 12", "München", "Bayern", "80331"),
    "GB": ("221B Baker Street", "London", "Greater London", "NW1 6XE"),
    "JP": ("千代田1-1", "千代田区", "東京都", "100-0001"),
}
SERVICE_LEVELS = ["STANDARD", "STANDARD", "EXPEDITED", "NEXT_DAY", "SECOND_DAY"]


def money(amount: Decimal | str, currency: str) -> dict[str, str]:
    """Money as Amazon writes it: a decimal string, yen without a fraction."""
    places = Decimal("1") if currency == "JPY" else Decimal("0.01")
    return {"amount": str(Decimal(amount).quantize(places)), "currencyCode": currency}


def currency_of(marketplace_id: str) -> str:
    known = marketplace(marketplace_id)
    return known.currency if known else "USD"


def country_of(marketplace_id: str) -> str:
    known = marketplace(marketplace_id)
    return known.country if known else "US"


def new_order_id(rng: random.Random) -> str:
    return (
        f"{rng.randint(100, 999)}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9_999_999):07d}"
    )


def catalog_item(index: int, quantity: int, currency: str) -> dict[str, Any]:
    asin, sku, title, usd = CATALOG[index % len(CATALOG)]
    price = Decimal(usd) * Decimal(_FX.get(currency, "1"))
    return {"asin": asin, "sku": sku, "title": title, "price": price, "quantity": quantity}


def _order_item(item: dict[str, Any], item_id: str, currency: str) -> dict[str, Any]:
    quantity = int(item.get("quantity", 1))
    unit = Decimal(str(item.get("price", "10.00")))
    shipped = int(item.get("shipped", 0))
    return {
        "orderItemId": item_id,
        "quantityOrdered": quantity,
        "product": {
            "asin": item.get("asin", "B000000000"),
            "title": item.get("title", "Item"),
            "sellerSku": item.get("sku", "SKU-1"),
            "condition": {"conditionType": "New"},
            "price": {"unitPrice": money(unit, currency)},
        },
        "proceeds": {"proceedsTotal": money(unit * quantity, currency)},
        "fulfillment": {"quantityFulfilled": shipped, "quantityUnfulfilled": quantity - shipped},
    }


def build_order(
    order_id: str,
    *,
    status: str,
    fulfilled_by: str,
    marketplace_id: str,
    created: datetime,
    updated: datetime,
    buyer_name: str | None,
    buyer_email: str | None,
    items: list[dict[str, Any]],
    item_ids: list[str],
    service_level: str = "STANDARD",
    programs: list[str] | None = None,
    address: dict[str, str] | None = None,
    ship_by: datetime | None = None,
) -> dict[str, Any]:
    """The full order (every optional block); `includedData` later decides what is served.
    Its ship-by date is `ship_by`, else two days after it was placed."""
    currency = currency_of(marketplace_id)
    known = marketplace(marketplace_id)
    order_items = [_order_item(i, iid, currency) for i, iid in zip(items, item_ids, strict=True)]
    total = sum(Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in order_items)
    order: dict[str, Any] = {
        "orderId": order_id,
        "createdTime": utc_iso(created),
        "lastUpdatedTime": utc_iso(updated),
        "programs": list(programs or []),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id},
        "buyer": {},
        "proceeds": {"grandTotal": money(total, currency)},
        "fulfillment": {
            "fulfillmentStatus": status,
            "fulfilledBy": fulfilled_by,
            "fulfillmentServiceLevel": service_level,
            "shipByWindow": {"latestDateTime": utc_iso(ship_by or created + timedelta(days=2))},
        },
        "orderItems": order_items,
        "packages": [],
    }
    if known:
        order["salesChannel"]["marketplaceName"] = known.name
    if buyer_name is not None:
        order["buyer"]["buyerName"] = buyer_name
    if fulfilled_by == "MERCHANT":
        if buyer_email is not None:
            order["buyer"]["buyerEmail"] = buyer_email
        order["recipient"] = {
            "deliveryAddress": address or default_address(marketplace_id, buyer_name)
        }
    return order


def default_address(marketplace_id: str, name: str | None) -> dict[str, str]:
    country = country_of(marketplace_id)
    line1, city, region, postal = ADDRESSES.get(country, ADDRESSES["US"])
    address = {
        "addressLine1": line1,
        "city": city,
        "stateOrRegion": region,
        "postalCode": postal,
        "countryCode": country,
        "addressType": "RESIDENTIAL",
    }
    if name:
        address["name"] = name
    return address


def anonymized_email(rng: random.Random) -> str:
    return f"{rng.getrandbits(60):015x}@marketplace.amazon.com"
