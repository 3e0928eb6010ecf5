"""Run the analytics worker: `python -m backend_workers.analytics`."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from backend_workers import logs
from backend_workers.analytics.handler import AnalyticsHandler
from backend_workers.consumer import ConsumeLoop
from inventory_app.adapters.db import assert_migrated
from inventory_app.adapters.kafka import ensure_topics
from inventory_app.adapters.outbox import psycopg_url
from inventory_app.adapters.retention import RetentionSweeper, processed_event_sweep
from inventory_app.gc_tuning import tune_for_serving
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
    # The processed-event ids only need to outlive redeliveries (and dead-letter replays): pruned by age.
    sweeper = RetentionSweeper(
        psycopg_url(settings.database_url),
        [processed_event_sweep(settings.analytics_dedup_retention_s)],
        interval_s=settings.retention_interval_s,
        batch=settings.retention_batch_size,
        application_name="inventory-analytics-retention",
    )
    sweeping = asyncio.create_task(sweeper.run_forever(), name="retention")
    try:
        return await loop.run()
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
        await handler.close()


if __name__ == "__main__":
    logs.configure(get_settings().log_level)
    tune_for_serving()
    sys.exit(asyncio.run(main()))
