"""Read the notifier's event log (DynamoDB): a product's history and the recent events across products."""

from __future__ import annotations

from typing import Any

from inventory_app.adapters import aws, event_log
from inventory_app.domain.errors import FieldError, ValidationFailed
from inventory_app.services.products import parse_product_id
from inventory_app.settings import get_settings

MAX_EVENTS = 200


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_EVENTS:
        raise ValidationFailed("Invalid limit.", [FieldError("limit", f"must be between 1 and {MAX_EVENTS}")])


async def product_events(product_id: str, limit: int = 50) -> dict[str, Any]:
    _check_limit(limit)
    pid = str(parse_product_id(product_id))
    settings = get_settings()
    async with aws.dynamodb_client(settings, timeout_s=3, attempts=2) as client:
        events = await event_log.product_history(client, settings.dynamodb_events_table, pid, limit)
    return {"data": events, "count": len(events)}


async def recent_events(limit: int = 50) -> dict[str, Any]:
    _check_limit(limit)
    settings = get_settings()
    async with aws.dynamodb_client(settings, timeout_s=3, attempts=2) as client:
        events = await event_log.recent_events(
            client, settings.dynamodb_events_table, limit, settings.event_retention_days
        )
    return {"data": events, "count": len(events)}
