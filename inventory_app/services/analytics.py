"""The analytics summary, read from the aggregates the analytics worker keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg_pool import AsyncConnectionPool

from inventory_app.bootstrap import wiring
from inventory_app.domain.events import rfc3339

LOW_STOCK_LIST_LIMIT = 50
TOP_ADJUSTED_LIMIT = 10
EVENTS_WINDOW_MINUTES = 60
# Per location: the worker's quantities times its product prices, and its movements of the last 24 hours.
BY_LOCATION = """
SELECT l.id, l.code, l.name, l.active,
       coalesce(sum(s.quantity * p.price), 0), coalesce(sum(s.quantity), 0),
       count(s.product_id) FILTER (WHERE s.quantity > 0),
       coalesce((SELECT sum(m.count) FROM analytics_location_movements_hourly m
                 WHERE m.location_id = l.id AND m.hour >= date_trunc('hour', now()) - interval '23 hours'), 0)
FROM location l
LEFT JOIN analytics_location_stock s ON s.location_id = l.id
LEFT JOIN analytics_product_state p ON p.product_id = s.product_id AND NOT p.deleted
GROUP BY l.id, l.code, l.name, l.active
ORDER BY l.code
"""


async def summary(*, pool: AsyncConnectionPool | None = None) -> dict[str, Any]:
    async with (pool or await wiring().pool()).connection() as conn:

        async def rows(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
            return await (await conn.execute(sql, params)).fetchall()

        per_minute = await rows(
            "SELECT minute, event_type, count FROM analytics_events_per_minute "
            "WHERE minute >= date_trunc('minute', now()) - make_interval(mins => %(window)s) "
            "ORDER BY minute, event_type",
            {"window": EVENTS_WINDOW_MINUTES},
        )
        by_category = await rows(
            "SELECT category, coalesce(sum(price * quantity), 0), count(*) FROM analytics_product_state "
            "WHERE NOT deleted GROUP BY category ORDER BY category"
        )
        [(low_count,)] = await rows(
            "SELECT count(*) FROM analytics_product_state WHERE NOT deleted AND quantity <= low_stock_threshold"
        )
        low_products = await rows(
            "SELECT product_id, sku, name, quantity, low_stock_threshold FROM analytics_product_state "
            "WHERE NOT deleted AND quantity <= low_stock_threshold "
            "ORDER BY quantity - low_stock_threshold, sku LIMIT %(limit)s",
            {"limit": LOW_STOCK_LIST_LIMIT},
        )
        by_location = await rows(BY_LOCATION)
        top_adjusted = await rows(
            "SELECT a.product_id, coalesce(s.sku, '?'), sum(a.count) AS adjustments "
            "FROM analytics_adjustments_hourly a LEFT JOIN analytics_product_state s USING (product_id) "
            "WHERE a.hour >= date_trunc('hour', now()) - interval '23 hours' "
            "GROUP BY a.product_id, s.sku ORDER BY adjustments DESC, 2 LIMIT %(limit)s",
            {"limit": TOP_ADJUSTED_LIMIT},
        )
    return {
        "generated_at": rfc3339(datetime.now(UTC)),
        "stock_by_location": [
            {
                "location_id": str(i),
                "code": code,
                "name": name,
                "active": active,
                "stock_value": str(Decimal(value).quantize(Decimal("0.01"))),
                "units": int(units),
                "product_count": int(held),
                "movements_24h": int(moved),
            }
            for i, code, name, active, value, units, held, moved in by_location
        ],
        "events_per_minute": [{"minute": rfc3339(m), "type": t, "count": c} for m, t, c in per_minute],
        "stock_value_by_category": [
            {"category": cat, "stock_value": str(Decimal(value).quantize(Decimal("0.01"))), "product_count": n}
            for cat, value, n in by_category
        ],
        "low_stock_count": low_count,
        "low_stock_products": [
            {"id": str(i), "sku": s, "name": n, "quantity": q, "low_stock_threshold": t}
            for i, s, n, q, t in low_products
        ],
        "most_adjusted_24h": [{"product_id": str(i), "sku": s, "adjustments": int(n)} for i, s, n in top_adjusted],
    }
