"""The analytics worker's stock per location, from the stock events (schemas 1.4.0), in the event's
transaction (so exactly once, with the processed-event record).

Absolute quantities where the event has them (ProductUpdated v2's `reason.locations`, both sides of a
StockTransferred); deltas into the default location where it has none: ProductCreated's quantity and a
version-1 quantity change, which the producer sends only for stock in the default location.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from inventory_app.domain.events import PRODUCT_CREATED, PRODUCT_DELETED, PRODUCT_UPDATED, STOCK_TRANSFERRED

SET_QUANTITY = """
INSERT INTO analytics_location_stock (product_id, location_id, quantity) VALUES (%s, %s, %s)
ON CONFLICT (product_id, location_id) DO UPDATE SET quantity = EXCLUDED.quantity
"""
ADD_TO_DEFAULT = """
INSERT INTO analytics_location_stock (product_id, location_id, quantity)
SELECT %(product)s, id, %(delta)s FROM location WHERE is_default
ON CONFLICT (product_id, location_id) DO UPDATE SET quantity = analytics_location_stock.quantity + EXCLUDED.quantity
"""
COUNT_MOVEMENT = """
INSERT INTO analytics_location_movements_hourly (location_id, hour, count) VALUES (%s, %s, 1)
ON CONFLICT (location_id, hour) DO UPDATE SET count = analytics_location_movements_hourly.count + 1
"""
COUNT_DEFAULT_MOVEMENT = """
INSERT INTO analytics_location_movements_hourly (location_id, hour, count)
SELECT id, %s, 1 FROM location WHERE is_default
ON CONFLICT (location_id, hour) DO UPDATE SET count = analytics_location_movements_hourly.count + 1
"""


async def apply(conn: psycopg.AsyncConnection, event: dict[str, Any], hour: datetime) -> None:
    data, product = event["data"], event["subject"]
    if event["type"] == PRODUCT_CREATED and data["product"]["quantity"]:
        await conn.execute(ADD_TO_DEFAULT, {"product": product, "delta": data["product"]["quantity"]})
    elif event["type"] == PRODUCT_DELETED:
        await conn.execute("DELETE FROM analytics_location_stock WHERE product_id = %s", (product,))
    elif event["type"] == STOCK_TRANSFERRED:
        for side in (data["from"], data["to"]):
            await conn.execute(SET_QUANTITY, (product, side["location_id"], side["quantity_after"]))
            await conn.execute(COUNT_MOVEMENT, (side["location_id"], hour))
    elif event["type"] == PRODUCT_UPDATED and "quantity" in data["changes"]:
        located = data["reason"].get("locations")
        if located:  # version 2
            for row in located:
                await conn.execute(SET_QUANTITY, (product, row["location_id"], row["quantity_after"]))
                await conn.execute(COUNT_MOVEMENT, (row["location_id"], hour))
        else:
            change = data["changes"]["quantity"]
            await conn.execute(ADD_TO_DEFAULT, {"product": product, "delta": change["to"] - change["from"]})
            await conn.execute(COUNT_DEFAULT_MOVEMENT, (hour,))
