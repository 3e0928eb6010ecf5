"""Read the notifier's event log (DynamoDB): a product's history and the recent events across products."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError

from inventory_app.adapters import aws, event_log
from inventory_app.domain.errors import FieldError, ProductNotFound, ValidationFailed
from inventory_app.domain.history import history_completeness
from inventory_app.services import products
from inventory_app.services.products import parse_product_id
from inventory_app.settings import get_settings

MAX_EVENTS = 200
# Reading the versions of a product's whole history is bounded; beyond this the count stops growing
# (the page then says "incomplete" for a product with more versions, the safe side of the rule).
MAX_VERSIONS_READ = 20_000


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_EVENTS:
        raise ValidationFailed("Invalid limit.", [FieldError("limit", f"must be between 1 and {MAX_EVENTS}")])


async def product_events(product_id: str, limit: int = 50) -> dict[str, Any]:
    _check_limit(limit)
    pid = str(parse_product_id(product_id))
    settings = get_settings()
    async with aws.dynamodb_client(settings, timeout_s=3, attempts=2) as client:
        events = await event_log.product_history(client, settings.dynamodb_events_table, pid, limit)
        page: dict[str, Any] = {"data": events, "count": len(events)}
        current_version = await _current_version(pid)
        if current_version is not None:  # a deleted product's events stay listed, with nothing to compare
            versions = await event_log.product_versions(client, settings.dynamodb_events_table, pid, MAX_VERSIONS_READ)
            page["completeness"] = history_completeness(versions, current_version).as_public()
    return page


async def _current_version(product_id: str) -> int | None:
    """The product's version now; None when it is gone, or when the database is down (the events,
    which come from DynamoDB, are still worth showing then)."""
    try:
        return (await products.get_product(product_id))["version"]
    except (ProductNotFound, DBAPIError):
        return None


async def recent_events(limit: int = 50) -> dict[str, Any]:
    _check_limit(limit)
    settings = get_settings()
    async with aws.dynamodb_client(settings, timeout_s=3, attempts=2) as client:
        events = await event_log.recent_events(
            client, settings.dynamodb_events_table, limit, settings.event_retention_days
        )
    return {"data": events, "count": len(events)}
