"""The analytics dashboard's state: a view of `services.analytics.summary()`, refreshed every few seconds."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import reflex as rx

from inventory_app.domain.events import (
    LOCATION_LOW_STOCK_WARNING,
    LOW_STOCK_WARNING,
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    STOCK_TRANSFERRED,
)
from inventory_app.services import analytics

SHORT_TYPES = {
    PRODUCT_CREATED: "created",
    PRODUCT_UPDATED: "updated",
    PRODUCT_DELETED: "deleted",
    LOW_STOCK_WARNING: "low_stock",
    STOCK_TRANSFERRED: "transferred",
    LOCATION_LOW_STOCK_WARNING: "location_low",
}


def events_by_minute(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pivot [{minute, type, count}] into one chart row per minute with a column per event type."""
    pivot: dict[str, dict[str, Any]] = defaultdict(lambda: {name: 0 for name in SHORT_TYPES.values()})
    for row in rows:
        minute = row["minute"][11:16]
        pivot[minute]["minute"] = minute
        series = SHORT_TYPES.get(row["type"], row["type"])  # a type this page does not chart yet: its own column
        pivot[minute][series] = pivot[minute].get(series, 0) + row["count"]
    return [pivot[m] for m in sorted(pivot)]


class AnalyticsState(rx.State):
    events_per_minute: list[dict[str, Any]] = []
    stock_value: list[dict[str, Any]] = []
    low_stock_products: list[dict[str, Any]] = []
    by_location: list[dict[str, Any]] = []
    low_stock_count: int = 0
    total_events: int = 0
    generated_at: str = ""
    error: str = ""
    loaded: bool = False

    @rx.event
    async def refresh(self) -> None:
        await self._load()

    @rx.event
    async def tick(self, _moment: str) -> None:
        """Called by the page's interval timer."""
        await self._load()

    async def _load(self) -> None:
        try:
            summary = await analytics.summary()
        except Exception:  # noqa: BLE001 - the page shows a message instead of failing
            self.error = "Analytics are unavailable right now; retrying."
            return
        self.error = ""
        self.events_per_minute = events_by_minute(summary["events_per_minute"])
        self.total_events = sum(row["count"] for row in summary["events_per_minute"])
        self.stock_value = [
            {
                "category": row["category"] or "(none)",
                "value": float(row["stock_value"]),
                "label": row["stock_value"],
                "products": row["product_count"],
            }
            for row in summary["stock_value_by_category"]
        ]
        self.low_stock_products = summary["low_stock_products"]
        self.by_location = [row for row in summary["stock_by_location"] if row["units"] or row["movements_24h"]]
        self.low_stock_count = summary["low_stock_count"]
        self.generated_at = summary["generated_at"][11:19]
        self.loaded = True
