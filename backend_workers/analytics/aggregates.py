"""Apply one product event to the analytics aggregates, exactly once (processed-event record, same transaction)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from backend_workers.analytics import by_location
from inventory_app.domain.events import PRODUCT_DELETED

MARK_PROCESSED = """
INSERT INTO analytics_processed_event (event_id, event_type) VALUES (%(id)s, %(type)s)
ON CONFLICT (event_id) DO NOTHING
"""
COUNT_MINUTE = """
INSERT INTO analytics_events_per_minute (minute, event_type, count) VALUES (%(minute)s, %(type)s, 1)
ON CONFLICT (minute, event_type) DO UPDATE SET count = analytics_events_per_minute.count + 1
"""
# Per product, events arrive in order (one partition per product), but a re-delivery or a replay
# must never move the projection backwards: only a newer version wins.
UPSERT_STATE = """
INSERT INTO analytics_product_state
    (product_id, sku, name, category, price, quantity, low_stock_threshold, version, deleted)
VALUES (%(id)s, %(sku)s, %(name)s, %(category)s, %(price)s, %(quantity)s, %(low_stock_threshold)s,
        %(version)s, %(deleted)s)
ON CONFLICT (product_id) DO UPDATE SET
    sku = EXCLUDED.sku, name = EXCLUDED.name, category = EXCLUDED.category, price = EXCLUDED.price,
    quantity = EXCLUDED.quantity, low_stock_threshold = EXCLUDED.low_stock_threshold,
    version = EXCLUDED.version, deleted = EXCLUDED.deleted
WHERE analytics_product_state.version < EXCLUDED.version
   OR (EXCLUDED.deleted AND NOT analytics_product_state.deleted)
"""
COUNT_ADJUSTMENT = """
INSERT INTO analytics_adjustments_hourly (product_id, hour, count) VALUES (%(id)s, %(hour)s, 1)
ON CONFLICT (product_id, hour) DO UPDATE SET count = analytics_adjustments_hourly.count + 1
"""


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).astimezone(UTC)


async def apply_event(conn: psycopg.AsyncConnection, event: dict[str, Any]) -> bool:
    """Returns False when the event had been applied before (nothing changes then)."""
    async with conn.transaction():
        marked = await conn.execute(MARK_PROCESSED, {"id": event["id"], "type": event["type"]})
        if marked.rowcount == 0:
            return False
        moment = _time(event)
        await conn.execute(COUNT_MINUTE, {"minute": moment.replace(second=0, microsecond=0), "type": event["type"]})
        data = event["data"]
        if "product" in data:
            product = data["product"]
            await conn.execute(
                UPSERT_STATE,
                {
                    **{
                        k: product[k]
                        for k in (
                            "id",
                            "sku",
                            "name",
                            "category",
                            "price",
                            "quantity",
                            "low_stock_threshold",
                            "version",
                        )
                    },
                    "deleted": event["type"] == PRODUCT_DELETED,
                },
            )
        hour = moment.replace(minute=0, second=0, microsecond=0)
        reason = data.get("reason") or {}
        if reason.get("kind") == "stock_adjustment":
            await conn.execute(COUNT_ADJUSTMENT, {"id": event["subject"], "hour": hour})
        await by_location.apply(conn, event, hour)
    return True
