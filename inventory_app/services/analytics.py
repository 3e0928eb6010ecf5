"""The analytics summary, read from the aggregates the analytics worker keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters.pg_pool import get_pool
from inventory_app.domain.events import rfc3339

LOW_STOCK_LIST_LIMIT = 50
TOP_ADJUSTED_LIMIT = 10
EVENTS_WINDOW_MINUTES = 60


async def summary(*, pool: AsyncConnectionPool | None = None) -> dict[str, Any]:
    async with (pool or await get_pool()).connection() as conn:

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
        top_adjusted = await rows(
            "SELECT a.product_id, coalesce(s.sku, '?'), sum(a.count) AS adjustments "
            "FROM analytics_adjustments_hourly a LEFT JOIN analytics_product_state s USING (product_id) "
            "WHERE a.hour >= date_trunc('hour', now()) - interval '23 hours' "
            "GROUP BY a.product_id, s.sku ORDER BY adjustments DESC, 2 LIMIT %(limit)s",
            {"limit": TOP_ADJUSTED_LIMIT},
        )
    return {
        "generated_at": rfc3339(datetime.now(UTC)),
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
