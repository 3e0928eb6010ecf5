"""Turn a product event into a short human notice (what the notification panel and toasts show)."""

from __future__ import annotations

from typing import Any

from inventory_app.domain.events import (
    LOCATION_LOW_STOCK_WARNING,
    LOW_STOCK_WARNING,
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    STOCK_TRANSFERRED,
)

NOTICE_TYPES = {
    PRODUCT_CREATED: "product_created",
    PRODUCT_UPDATED: "product_updated",
    PRODUCT_DELETED: "product_deleted",
    LOW_STOCK_WARNING: "low_stock_warning",
    STOCK_TRANSFERRED: "stock_transferred",
    LOCATION_LOW_STOCK_WARNING: "location_low_stock_warning",
}
WARNINGS = frozenset({"low_stock_warning", "location_low_stock_warning"})


class UnknownNotice(KeyError):
    """An event of a type with no notice (a newer producer's): readers skip it."""


def _describe_update(data: dict[str, Any]) -> str:
    product, reason, changes = data["product"], data["reason"], data["changes"]
    if reason["kind"] == "stock_adjustment":
        quantity = changes.get("quantity", {})
        where = ", ".join(f"{x['code']} {x['delta']:+d}" for x in reason.get("locations", []))  # version 2
        return (
            f"{product['sku']}: stock {reason['adjustment_reason']} {reason['delta']:+d}, "
            f"{quantity.get('from')} → {quantity.get('to')}{f' ({where})' if where else ''}."
        )
    fields = ", ".join(sorted(changes))
    by = "by CSV import" if reason["kind"] == "import" else "edited"
    return f"{product['sku']} {by}: {fields}."


def notice_for(event: dict[str, Any]) -> dict[str, Any]:
    """The event's notice; UnknownNotice for a type this code has no notice for."""
    kind = NOTICE_TYPES.get(event["type"])
    if kind is None:
        raise UnknownNotice(event["type"])
    data = event["data"]
    if kind == "stock_transferred":
        sku, product_id = data["sku"], data["product_id"]
        origin, destination = data["from"], data["to"]
        title = f"Moved {data['quantity']} of {sku}"
        message = (
            f"{data['quantity']} of {sku} moved from {origin['code']} to {destination['code']} "
            f"(now {origin['quantity_after']} and {destination['quantity_after']})."
        )
    elif kind == "location_low_stock_warning":
        sku, product_id, place = data["sku"], data["product_id"], data["location"]
        title = f"Low stock in {place['code']}: {sku}"
        message = f"{data['name']} is at {data['quantity']} in {place['name']} (minimum {data['min_quantity']})."
    elif kind == "low_stock_warning":
        sku, product_id = data["sku"], data["product_id"]
        title = f"Low stock: {sku}"
        message = f"{data['name']} is at {data['quantity']} (threshold {data['low_stock_threshold']})."
    else:
        product = data["product"]
        sku, product_id = product["sku"], product["id"]
        if kind == "product_created":
            title, message = f"New product {sku}", f"{product['name']} added with {product['quantity']} in stock."
        elif kind == "product_deleted":
            title, message = f"Deleted {sku}", f"{product['name']} was removed."
        else:
            title, message = f"Updated {sku}", _describe_update(data)
    return {
        "id": event["id"],
        "type": kind,
        "title": title,
        "message": message,
        "severity": "warning" if kind in WARNINGS else "info",
        "product_id": product_id,
        "sku": sku,
        "event_id": event["id"],
        "event_type": event["type"],
        "time": event["time"],
    }
