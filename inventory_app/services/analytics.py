"""The analytics summary, read from the aggregates the analytics worker keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from inventory_app.domain.events import rfc3339
from inventory_app.services.unit_of_work import unit_of_work

LOW_STOCK_LIST_LIMIT = 50
TOP_ADJUSTED_LIMIT = 10
EVENTS_WINDOW_MINUTES = 60


def summary(*, engine: Engine | None = None) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        per_minute = session.execute(
            text(
                "SELECT minute, event_type, count FROM analytics_events_per_minute "
                "WHERE minute >= date_trunc('minute', now()) - make_interval(mins => :window) "
                "ORDER BY minute, event_type"
            ),
            {"window": EVENTS_WINDOW_MINUTES},
        ).all()
        by_category = session.execute(
            text(
                "SELECT category, coalesce(sum(price * quantity), 0), count(*) FROM analytics_product_state "
                "WHERE NOT deleted GROUP BY category ORDER BY category"
            )
        ).all()
        low_count = session.execute(
            text("SELECT count(*) FROM analytics_product_state WHERE NOT deleted AND quantity <= low_stock_threshold")
        ).scalar_one()
        low_products = session.execute(
            text(
                "SELECT product_id, sku, name, quantity, low_stock_threshold FROM analytics_product_state "
                "WHERE NOT deleted AND quantity <= low_stock_threshold "
                "ORDER BY quantity - low_stock_threshold, sku LIMIT :limit"
            ),
            {"limit": LOW_STOCK_LIST_LIMIT},
        ).all()
        top_adjusted = session.execute(
            text(
                "SELECT a.product_id, coalesce(s.sku, '?'), sum(a.count) AS adjustments "
                "FROM analytics_adjustments_hourly a LEFT JOIN analytics_product_state s USING (product_id) "
                "WHERE a.hour >= date_trunc('hour', now()) - interval '23 hours' "
                "GROUP BY a.product_id, s.sku ORDER BY adjustments DESC, 2 LIMIT :limit"
            ),
            {"limit": TOP_ADJUSTED_LIMIT},
        ).all()
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
