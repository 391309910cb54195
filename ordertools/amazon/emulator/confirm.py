"""confirmShipment's request body, checked the way the v0 model declares it.

The emulator ships in the package, where neither jsonschema nor Amazon's model files are
available, so ConfirmShipmentRequest is restated here; tests hold this against the model.
"""

from __future__ import annotations

from typing import Any

from ordertools.amazon.emulator.times import parse_iso

_PACKAGE_STRINGS = ("carrierName", "shippingMethod", "shipFromSupplySourceId")


def request_problems(body: Any) -> list[str]:
    """What is wrong with a ConfirmShipmentRequest (empty when it is valid)."""
    if not isinstance(body, dict):
        return ["The request body must be a JSON object."]
    problems = []
    if not isinstance(body.get("marketplaceId"), str):
        problems.append("marketplaceId is required and must be a string.")
    if "codCollectionMethod" in body and body["codCollectionMethod"] != "DirectPayment":
        problems.append("codCollectionMethod must be DirectPayment.")
    package = body.get("packageDetail")
    if not isinstance(package, dict):
        return problems + ["packageDetail is required and must be an object."]
    for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate"):
        if not isinstance(package.get(name), str):
            problems.append(f"packageDetail.{name} is required and must be a string.")
    problems += [
        f"packageDetail.{name} must be a string."
        for name in _PACKAGE_STRINGS
        if name in package and not isinstance(package[name], str)
    ]
    reference = package.get("packageReferenceId")
    if isinstance(reference, str) and not (reference.isdigit() and int(reference) > 0):
        problems.append("packageDetail.packageReferenceId must be a positive number (as a string).")
    if isinstance(package.get("shipDate"), str):
        try:
            parse_iso(package["shipDate"])
        except ValueError:
            problems.append("packageDetail.shipDate must be an ISO 8601 date-time.")
    items = package.get("orderItems")
    if not isinstance(items, list) or not items:
        return problems + ["packageDetail.orderItems is required and must list order items."]
    for index, item in enumerate(items):
        where = f"packageDetail.orderItems[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object.")
            continue
        if not isinstance(item.get("orderItemId"), str):
            problems.append(f"{where}.orderItemId is required and must be a string.")
        if type(item.get("quantity")) is not int:
            problems.append(f"{where}.quantity is required and must be an integer.")
    return problems
