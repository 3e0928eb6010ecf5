"""Run the analytics worker: `python -m backend_workers.analytics`."""

from __future__ import annotations

import asyncio
import sys

from backend_workers import logs
from backend_workers.analytics.handler import AnalyticsHandler
from backend_workers.consumer import ConsumeLoop
from inventory_app.adapters.db import assert_migrated
from inventory_app.adapters.kafka import ensure_topics
from inventory_app.settings import get_settings


async def main() -> int:
    settings = get_settings()
    assert_migrated()
    await ensure_topics(settings)
    handler = AnalyticsHandler(settings)
    loop = ConsumeLoop(
        "analytics",
        settings,
        settings.analytics_group_id,
        handler,
        batch_max_records=500,
        batch_max_wait_s=0.5,
        metrics_port=settings.analytics_metrics_port,
    )
    try:
        return await loop.run()
    finally:
        await handler.close()


if __name__ == "__main__":
    logs.configure(get_settings().log_level)
    sys.exit(asyncio.run(main()))
