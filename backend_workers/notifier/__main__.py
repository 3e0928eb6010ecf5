"""Run the notifier: `python -m backend_workers.notifier` (consume), or `--rebuild` (refill from the topic, exit)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from contextlib import AsyncExitStack

from backend_workers import logs
from backend_workers.consumer import ConsumeLoop
from backend_workers.notifier.archive import ensure_bucket
from backend_workers.notifier.handler import NotifierHandler
from backend_workers.notifier.rebuild import (
    ProgressBar,
    RebuildFailed,
    log_progress,
    needs_rebuild,
    rebuild_from_topic,
)
from inventory_app.adapters import aws, event_log
from inventory_app.adapters.kafka import ensure_topics
from inventory_app.backoff import backoff_delay
from inventory_app.gc_tuning import tune_for_serving
from inventory_app.settings import Settings, get_settings

log = logging.getLogger("backend_workers.notifier")


class StartupFailed(Exception):
    pass


async def connect_dynamodb(stack: AsyncExitStack, settings: Settings):
    """The original design's rule: up to N attempts (default 5) with backoff, then give up clearly."""
    attempts = settings.notifier_dynamodb_connect_attempts
    for attempt in range(1, attempts + 1):
        client = await stack.enter_async_context(aws.dynamodb_client(settings, timeout_s=3, attempts=1))
        try:
            await client.list_tables(Limit=1)
            log.info(
                "connected to DynamoDB", extra=logs.fields(attempt=attempt, endpoint=settings.dynamodb_endpoint_url)
            )
            return client
        except Exception as error:  # noqa: BLE001 - every failure counts as one connection attempt
            log.warning(
                "DynamoDB connection attempt failed",
                extra=logs.fields(
                    attempt=attempt, of=attempts, endpoint=settings.dynamodb_endpoint_url, error=str(error)
                ),
            )
            if attempt < attempts:
                await asyncio.sleep(backoff_delay(attempt, 0.5, 8))
    raise StartupFailed(
        f"notifier: cannot reach DynamoDB at {settings.dynamodb_endpoint_url} after {attempts} attempts; exiting"
    )


def _report(result, elapsed_s: float) -> str:
    return (
        f"rebuilt {result.records} records in {elapsed_s:.1f}s: {result.stored} new, "
        f"{result.already_there} already there, {result.skipped} not events, {result.archive_objects} archive objects"
    )


async def rebuild_only(settings: Settings) -> int:
    """`--rebuild`: refill the table and archive from the topic with a progress bar on stderr, then exit."""
    async with AsyncExitStack() as stack:
        try:
            await connect_dynamodb(stack, settings)
        except StartupFailed as error:
            print(str(error), file=sys.stderr)
            return 2
        dynamodb = await stack.enter_async_context(aws.dynamodb_client(settings, timeout_s=5, attempts=2))
        s3 = await stack.enter_async_context(aws.s3_client(settings, timeout_s=10, attempts=2))
        await ensure_topics(settings)
        started = asyncio.get_running_loop().time()
        try:
            result = await rebuild_from_topic(settings, dynamodb, s3, ProgressBar(sys.stderr))
        except RebuildFailed as error:
            print(f"notifier: rebuild failed: {error}", file=sys.stderr)
            return 1
        print(
            f"notifier: {_report(result, asyncio.get_running_loop().time() - started)} "
            f"(table {settings.dynamodb_events_table}, bucket {settings.s3_archive_bucket})",
            file=sys.stderr,
        )
        return 0


async def main() -> int:
    settings = get_settings()
    async with AsyncExitStack() as stack:
        try:
            dynamodb = await connect_dynamodb(stack, settings)
        except StartupFailed as error:
            log.error(str(error))
            print(str(error), file=sys.stderr)
            return 2
        # Requests in the consume loop fail fast; the loop's backoff handles outages.
        dynamodb = await stack.enter_async_context(aws.dynamodb_client(settings, timeout_s=5, attempts=2))
        s3 = await stack.enter_async_context(aws.s3_client(settings, timeout_s=10, attempts=2))
        table_created = await event_log.ensure_table(dynamodb, settings.dynamodb_events_table)
        ttl = await event_log.enable_ttl(dynamodb, settings.dynamodb_events_table)
        log.info(
            "event table ready",
            extra=logs.fields(table=settings.dynamodb_events_table, ttl_enabled=ttl, created=table_created),
        )
        await ensure_bucket(s3, settings.s3_archive_bucket)
        await ensure_topics(settings)
        reason = await needs_rebuild(settings, dynamodb, table_created)
        if reason and settings.notifier_rebuild_on_start:
            # Before joining the group: the history is whole again before new events land on top of it.
            log.info("rebuilding the event table and archive from the topic", extra=logs.fields(reason=reason))
            started = asyncio.get_running_loop().time()
            try:
                result = await rebuild_from_topic(settings, dynamodb, s3, log_progress())
            except RebuildFailed as error:
                log.error("rebuild failed; exiting", extra=logs.fields(error=str(error)))
                return 1
            log.info(_report(result, asyncio.get_running_loop().time() - started))
        elif reason:
            log.warning(
                "event table needs a rebuild (NOTIFIER_REBUILD_ON_START is off): "
                "run python -m backend_workers.notifier --rebuild",
                extra=logs.fields(reason=reason),
            )
        handler = NotifierHandler(settings, dynamodb, s3)
        await handler.start_producer()
        stack.push_async_callback(handler.stop_producer)
        loop = ConsumeLoop(
            "notifier",
            settings,
            settings.notifier_group_id,
            handler,
            batch_max_records=settings.notifier_archive_batch_size,
            batch_max_wait_s=settings.notifier_archive_interval_s,
            metrics_port=settings.notifier_metrics_port,
        )
        return await loop.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m backend_workers.notifier", description=__doc__)
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="write every event of the product-events topic to the event table and archive (idempotent), then exit",
    )
    args = parser.parse_args()
    logs.configure(get_settings().log_level)
    tune_for_serving()
    sys.exit(asyncio.run(rebuild_only(get_settings()) if args.rebuild else main()))
