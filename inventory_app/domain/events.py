"""CloudEvents 1.0 envelopes for the product events, shaped exactly as schemas/events/*.schema.json."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

SCHEMA_BASE = "https://inventory.example/schemas/events"

PRODUCT_CREATED = "inventory.product.created"
PRODUCT_UPDATED = "inventory.product.updated"
PRODUCT_DELETED = "inventory.product.deleted"
LOW_STOCK_WARNING = "inventory.product.low-stock-warning"
STOCK_TRANSFERRED = "inventory.product.stock-transferred"
LOCATION_LOW_STOCK_WARNING = "inventory.product.location-low-stock-warning"

DATASCHEMAS = {
    PRODUCT_CREATED: f"{SCHEMA_BASE}/product-created/1",
    PRODUCT_UPDATED: f"{SCHEMA_BASE}/product-updated/1",
    PRODUCT_DELETED: f"{SCHEMA_BASE}/product-deleted/1",
    LOW_STOCK_WARNING: f"{SCHEMA_BASE}/low-stock-warning/1",
    STOCK_TRANSFERRED: f"{SCHEMA_BASE}/stock-transferred/1",
    LOCATION_LOW_STOCK_WARNING: f"{SCHEMA_BASE}/location-low-stock-warning/1",
}
# ProductUpdated version 2: a stock adjustment that names its locations (schemas/CHANGELOG.md, 1.4.0).
PRODUCT_UPDATED_V2 = f"{SCHEMA_BASE}/product-updated/2"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def envelope(
    event_type: str,
    product_id: str,
    data: dict[str, Any],
    *,
    source: str,
    time: datetime | None = None,
    dataschema: str | None = None,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": rfc3339(time or datetime.now(UTC)),
        "subject": product_id,
        "datacontenttype": "application/json",
        "dataschema": dataschema or DATASCHEMAS[event_type],
        "data": data,
    }


def product_created(snapshot: dict[str, Any], *, source: str) -> dict[str, Any]:
    return envelope(PRODUCT_CREATED, snapshot["id"], {"product": snapshot}, source=source)


def product_updated(
    snapshot: dict[str, Any], changes: dict[str, dict[str, Any]], reason: dict[str, Any], *, source: str
) -> dict[str, Any]:
    data = {"product": snapshot, "changes": changes, "reason": reason}
    # Only a reason that names locations needs version 2; everything else is sent as today's version 1.
    version = PRODUCT_UPDATED_V2 if "locations" in reason else None
    return envelope(PRODUCT_UPDATED, snapshot["id"], data, source=source, dataschema=version)


def stock_adjustment_reason(movement_id: str, adjustment_reason: str, delta: int) -> dict[str, Any]:
    """The `reason` of the ProductUpdated a stock adjustment emits."""
    return {
        "kind": "stock_adjustment",
        "movement_id": movement_id,
        "adjustment_reason": adjustment_reason,
        "delta": delta,
    }


def product_deleted(snapshot: dict[str, Any], *, source: str) -> dict[str, Any]:
    return envelope(PRODUCT_DELETED, snapshot["id"], {"product": snapshot}, source=source)


def low_stock_warning(snapshot: dict[str, Any], caused_by_event_id: str, *, source: str) -> dict[str, Any]:
    data = {
        "product_id": snapshot["id"],
        "sku": snapshot["sku"],
        "name": snapshot["name"],
        "quantity": snapshot["quantity"],
        "low_stock_threshold": snapshot["low_stock_threshold"],
        "caused_by_event_id": caused_by_event_id,
    }
    return envelope(LOW_STOCK_WARNING, snapshot["id"], data, source=source)


def diff(before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {f: {"from": before[f], "to": after[f]} for f in fields if before[f] != after[f]}


def stock_transferred(data: dict[str, Any], *, source: str) -> dict[str, Any]:
    return envelope(STOCK_TRANSFERRED, data["product_id"], data, source=source)


def location_low_stock_warning(
    snapshot: dict[str, Any], location: dict[str, Any], quantity: int, minimum: int, caused_by: str, *, source: str
) -> dict[str, Any]:
    data = {
        "product_id": snapshot["id"],
        "sku": snapshot["sku"],
        "name": snapshot["name"],
        "location": location,
        "quantity": quantity,
        "min_quantity": minimum,
        "caused_by_event_id": caused_by,
    }
    return envelope(LOCATION_LOW_STOCK_WARNING, snapshot["id"], data, source=source)
