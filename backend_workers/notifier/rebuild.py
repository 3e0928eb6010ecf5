"""Rebuild the notifier's event table and S3 archive from the product-events topic, the event store.

The topic is read without a consumer group (nothing is committed, no other notifier is disturbed), with
read_committed isolation, from the beginning to the end offsets captured when the rebuild starts. Every
event goes through the same idempotent writes the consume loop uses: a conditional put per event (an
event already there is a no-op) and archive objects named by partition and offsets. Chunks start at the
partition's first offset and hold a fixed number of events, so a second run over the same topic writes
the same keys with the same bytes: running it twice changes nothing. No notices are sent: these events
were announced when they happened.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from backend_workers import logs
from backend_workers.consumed import ConsumedEvent, UnknownType, parse
from backend_workers.notifier import archive
from backend_workers.notifier.handler import CONCURRENT_PUTS, ensure_stores, is_outage, missing_store
from inventory_app.adapters import event_log
from inventory_app.adapters.kafka import topic_partitions
from inventory_app.backoff import backoff_delay
from inventory_app.settings import Settings

log = logging.getLogger("backend_workers.notifier")

ARCHIVE_CHUNK_EVENTS = 500
FETCH_MAX_RECORDS = 2000

Progress = Callable[[int, int], None]  # (records read, records to read)


class RebuildFailed(Exception):
    """The rebuild could not finish (a store stayed down past the retries, or the broker stalled)."""


@dataclass
class RebuildResult:
    records: int = 0  # read from the topic
    stored: int = 0  # new items in the table
    already_there: int = 0  # items the table already held (conditional put was a no-op)
    skipped: int = 0  # records that are not valid events (the consume loop dead-letters them)
    archive_objects: int = 0
    end_offsets: dict[int, int] = field(default_factory=dict)


class ProgressBar:
    """A plain-text progress bar on a terminal; one line per tenth otherwise (logs, pipes)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()
        self._last_tenth = -1
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        if self._finished:
            return
        self._finished = done >= total
        fraction = 1.0 if total == 0 else min(1.0, done / total)
        line = f"rebuild [{'#' * int(fraction * self.width):<{self.width}}] {fraction:4.0%} {done}/{total} records"
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
            self.stream.flush()
        elif int(fraction * 10) > self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(line + "\n")
            self.stream.flush()


def log_progress() -> Progress:
    """Progress as log entries (the automatic rebuild at start), one per tenth."""
    last = {"tenth": -1}

    def report(done: int, total: int) -> None:
        tenth = 10 if total == 0 else int(10 * done / total)
        if tenth > last["tenth"]:
            last["tenth"] = tenth
            log.info("rebuild progress", extra=logs.fields(records=done, of=total))

    return report


async def _with_retries(settings: Settings, call: Callable[[], Any], ensure_stores: Callable[[], Any]) -> Any:
    """Bounded retries for store outages; a vanished table or bucket is recreated and the call retried."""
    attempts = settings.consumer_max_attempts
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as error:
            if not (is_outage(error) or missing_store(error)) or attempt == attempts:
                raise RebuildFailed(f"{type(error).__name__}: {error} (after {attempt} attempts)") from error
            log.warning("rebuild write failed; retrying", extra=logs.fields(attempt=attempt, error=str(error)))
            await asyncio.sleep(
                backoff_delay(attempt, settings.consumer_backoff_initial_s, settings.consumer_backoff_max_s)
            )
            if missing_store(error):
                try:
                    await ensure_stores()
                except Exception as ensure_error:  # noqa: BLE001 - still down: the next attempt tells
                    log.warning("could not recreate the stores yet", extra=logs.fields(error=str(ensure_error)))
    raise AssertionError("unreachable")


async def needs_rebuild(settings: Settings, dynamodb: Any, table_created: bool) -> str | None:
    """Why the table must be rebuilt before consuming, or None: it was just created (it is empty, the
    topic is not), or no rebuild ever finished into it (created before rebuilds existed, or recreated
    under a running notifier after the emulator lost it)."""
    if table_created:
        return "event table was missing"
    marker = await event_log.rebuild_marker(
        dynamodb, settings.dynamodb_events_table, settings.kafka_topic_product_events
    )
    return "event table was never rebuilt from the topic" if marker is None else None


async def rebuild_from_topic(
    settings: Settings, dynamodb: Any, s3: Any, progress: Progress | None = None
) -> RebuildResult:
    """Write every event of the product-events topic (up to its end offsets now) to the table and archive."""
    topic = settings.kafka_topic_product_events

    async def stores() -> None:
        await ensure_stores(settings, dynamodb, s3)

    await _with_retries(settings, stores, stores)
    partitions = sorted(await topic_partitions(settings.kafka_bootstrap_servers, topic))
    tps = [TopicPartition(topic, p) for p in partitions]
    result = RebuildResult()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        request_timeout_ms=settings.kafka_request_timeout_ms + 30_000,
        client_id="notifier-rebuild",
    )
    await asyncio.wait_for(consumer.start(), timeout=settings.kafka_request_timeout_ms / 1000 + 10)
    try:
        if not tps:
            await _finish(settings, dynamodb, result, progress, stores)
            return result
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        result.end_offsets = {tp.partition: ends[tp] for tp in tps}
        total = sum(max(0, ends[tp] - begins[tp]) for tp in tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > begins[tp]}
        chunks: dict[TopicPartition, list[ConsumedEvent]] = {tp: [] for tp in tps}
        last_progress = time.monotonic()
        if progress:
            progress(0, total)
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=FETCH_MAX_RECORDS)
            events: list[ConsumedEvent] = []
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    result.records += 1
                    item = _parsed(record)
                    if item is None:
                        result.skipped += 1
                    else:
                        events.append(item)
                        chunks[tp].append(item)
            await _put_all(settings, dynamodb, events, result, stores)
            for tp in list(pending):
                # The position passes control records (transaction markers) that are never delivered.
                done = await consumer.position(tp) >= ends[tp]
                while len(chunks[tp]) >= ARCHIVE_CHUNK_EVENTS or (done and chunks[tp]):
                    chunk, chunks[tp] = chunks[tp][:ARCHIVE_CHUNK_EVENTS], chunks[tp][ARCHIVE_CHUNK_EVENTS:]
                    await _with_retries(
                        settings,
                        lambda chunk=chunk: archive.archive_batch(s3, settings.s3_archive_bucket, chunk),
                        stores,
                    )
                    result.archive_objects += 1
                if done:
                    pending.discard(tp)
            if batch:
                last_progress = time.monotonic()
                if progress:
                    progress(result.records, total)
            elif time.monotonic() - last_progress > settings.notifier_rebuild_stall_timeout_s:
                raise RebuildFailed(
                    f"read nothing from {topic} for {settings.notifier_rebuild_stall_timeout_s:.0f}s "
                    f"({result.records}/{total} records read)"
                )
        await _finish(settings, dynamodb, result, progress, stores, total)
        return result
    finally:
        await consumer.stop()


def _parsed(record: ConsumerRecord) -> ConsumedEvent | None:
    try:
        return ConsumedEvent(record, parse(record))
    except ValueError:
        return None  # not a valid event: the consume loop dead-letters it; nothing to rebuild
    except UnknownType:
        return None  # a type the notifier does not know: the consume loop skips it too


async def _put_all(
    settings: Settings, dynamodb: Any, events: Sequence[ConsumedEvent], result: RebuildResult, stores
) -> None:
    limit = asyncio.Semaphore(CONCURRENT_PUTS)
    table, retention = settings.dynamodb_events_table, settings.event_retention_days

    async def put(item: ConsumedEvent) -> bool:
        async with limit:
            return await _with_retries(
                settings, lambda: event_log.put_event(dynamodb, table, item.attributed_event, retention), stores
            )

    created = await asyncio.gather(*(put(item) for item in events))
    result.stored += sum(created)
    result.already_there += len(created) - sum(created)


async def _finish(settings, dynamodb, result: RebuildResult, progress, stores, total: int = 0) -> None:
    await _with_retries(
        settings,
        lambda: event_log.put_rebuild_marker(
            dynamodb, settings.dynamodb_events_table, settings.kafka_topic_product_events, result.end_offsets
        ),
        stores,
    )
    if progress:
        progress(total, total)
