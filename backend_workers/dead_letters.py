"""Dead letters: list them, and replay them to the worker that failed them once the cause is fixed.

    python -m backend_workers.dead_letters list [--worker notifier|analytics] [--json]
    python -m backend_workers.dead_letters replay --worker notifier|analytics [--dry-run] [--skip-failing]

A replay runs that worker's own handler on each of its dead letters, in this process, exactly as its consumer
group would have: the event never goes back onto the product-events topic, so no other consumer sees it
again. The handlers are idempotent (DynamoDB conditional puts, one S3 object per original offset, the
analytics processed-event ids), so replaying twice, or replaying an event that a later redelivery handled after
all, leaves one copy. The analytics worker forgets processed events after `ANALYTICS_DEDUP_RETENTION_S`:
replay within it (the list shows each dead letter's age).

Progress is a consumer group per worker on the dead-letter topic (`<worker group>.replay`): a replay starts
after the last dead letter the previous one finished, and stops (exit 1, nothing after it committed) at a
dead letter that fails again, unless `--skip-failing` passes it by; it stays on the topic and in `list`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Counter

from backend_workers import logs
from backend_workers.consumed import ConsumedEvent, EventHandler, parse
from backend_workers.retry_policy import RetryPolicy
from inventory_app.adapters.kafka import topic_partitions
from inventory_app.settings import Settings, get_settings

log = logging.getLogger("backend_workers.dead_letters")

WORKERS = ("notifier", "analytics")
OUTAGE_LIMIT_S = 120.0
STALL_S = 60.0  # no progress reading the topic for this long: the broker is away; give up, change nothing more


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    record: ConsumerRecord  # as it sits on the dead-letter topic
    headers: dict[str, str]  # its dlq_* headers

    @property
    def worker(self) -> str:
        return self.headers.get("dlq_worker", "")

    def original(self) -> ConsumerRecord:
        """The record the worker failed on: its topic, partition, offset and timestamp, its own headers."""
        record = self.record
        return dataclasses.replace(
            record,
            topic=self.headers.get("dlq_original_topic", record.topic),
            partition=int(self.headers.get("dlq_original_partition", record.partition)),
            offset=int(self.headers.get("dlq_original_offset", record.offset)),
            timestamp=int(self.headers.get("dlq_original_timestamp", record.timestamp)),
            headers=[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")],
        )

    def describe(self, replayed: bool) -> dict[str, Any]:
        try:
            event = json.loads(self.record.value)
            event_id, event_type = event.get("id"), event.get("type")
        except (TypeError, ValueError, AttributeError):
            event_id = event_type = None
        return {
            "position": f"{self.record.partition}:{self.record.offset}",
            "worker": self.worker,
            "group": self.headers.get("dlq_group", ""),
            "original": f"{self.headers.get('dlq_original_topic')}/{self.headers.get('dlq_original_partition')}"
            f"@{self.headers.get('dlq_original_offset')}",
            "event_id": event_id,
            "event_type": event_type,
            "age_s": round(time.time() - self.record.timestamp / 1000),
            "error": self.headers.get("dlq_error", ""),
            "replayed": replayed,
        }


def _dlq_headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ()) if k.startswith("dlq_")}


def replay_group(settings: Settings, worker: str) -> str:
    group = settings.notifier_group_id if worker == "notifier" else settings.analytics_group_id
    return f"{group}.replay"


@asynccontextmanager
async def dead_letter_consumer(settings: Settings, group: str | None) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        # Not only a default: aiokafka resets a freshly assigned partition with this strategy, and if that reset
        # is still in flight when a seek_to_beginning() arrives, its answer (with "latest", the end) wins.
        auto_offset_reset="earliest",
        request_timeout_ms=settings.kafka_request_timeout_ms + 30_000,
    )
    await asyncio.wait_for(consumer.start(), timeout=60)
    try:
        yield consumer
    finally:
        await asyncio.wait_for(consumer.stop(), timeout=15)


async def read_dead_letters(
    consumer: AIOKafkaConsumer,
    bootstrap: str,
    topic: str,
    start: Callable[[TopicPartition], Awaitable[int | None]],
) -> AsyncIterator[DeadLetter]:
    """Every dead letter from `start` (None: the beginning) up to the topic's end as it is now, in order."""
    partitions = [TopicPartition(topic, p) for p in sorted(await topic_partitions(bootstrap, topic))]
    if not partitions:
        return
    consumer.assign(partitions)
    begins = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    log.info("reading %s up to %s", topic, {tp.partition: ends[tp] for tp in partitions})
    for tp in partitions:
        # An explicit seek, never seek_to_beginning(): see auto_offset_reset in dead_letter_consumer().
        offset = await start(tp)
        consumer.seek(tp, begins[tp] if offset is None else max(offset, begins[tp]))
        last_progress = time.monotonic()
        while (position := await consumer.position(tp)) < ends[tp]:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=500)
            records = batch.get(tp, [])
            if records or await consumer.position(tp) > position:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise TimeoutError(f"no progress reading {topic} for {STALL_S:.0f}s (is Kafka up?)")
            for record in records:
                if record.offset < ends[tp]:
                    yield DeadLetter(record, _dlq_headers(record))


async def list_dead_letters(settings: Settings, worker: str | None) -> list[dict[str, Any]]:
    topic = settings.kafka_topic_dead_letters
    done = {name: await committed_offsets(settings, replay_group(settings, name), topic) for name in WORKERS}
    async with dead_letter_consumer(settings, None) as consumer:

        async def beginning(tp: TopicPartition) -> None:
            return None

        found = []
        async for letter in read_dead_letters(consumer, settings.kafka_bootstrap_servers, topic, beginning):
            if worker and letter.worker != worker:
                continue
            replayed = letter.record.offset < done.get(letter.worker, {}).get(letter.record.partition, 0)
            found.append(letter.describe(replayed))
    return found


async def committed_offsets(settings: Settings, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on `topic`, by partition (none: the group never committed there)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


@dataclasses.dataclass
class ReplayResult:
    replayed: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: str | None = None


async def replay(
    settings: Settings, worker: str, handler: EventHandler, *, dry_run: bool = False, skip_failing: bool = False
) -> ReplayResult:
    topic = settings.kafka_topic_dead_letters
    result = ReplayResult()
    # The worker's own policy: a store outage is waited out (at most OUTAGE_LIMIT_S, then the tool exits with
    # nothing past the last replayed letter committed); a failure is retried CONSUMER_MAX_ATTEMPTS times.
    retries = Counter("replay_retries_total", "Handler retries during a replay", registry=CollectorRegistry())
    policy = RetryPolicy(f"{worker}-replay", settings, asyncio.Event(), OUTAGE_LIMIT_S, retries)
    async with dead_letter_consumer(settings, replay_group(settings, worker)) as consumer:
        async for letter in read_dead_letters(consumer, settings.kafka_bootstrap_servers, topic, consumer.committed):
            tp = TopicPartition(topic, letter.record.partition)
            if letter.worker == worker:
                where = f"{letter.record.partition}:{letter.record.offset}"
                if dry_run:
                    result.replayed += 1
                    continue
                try:
                    original = letter.original()
                    item = ConsumedEvent(original, parse(original))
                    await policy.run(lambda item=item: handler.handle(item), settings.consumer_max_attempts)
                    await policy.run(lambda item=item: handler.flush([item]), settings.consumer_max_attempts)
                    result.replayed += 1
                except Exception as error:  # noqa: BLE001 - reported; the dead letter stays on the topic
                    if not skip_failing:
                        result.failed = f"{where}: {error!r}"
                        return result
                    result.skipped.append(f"{where}: {error!r}")
            if not dry_run:
                await consumer.commit({tp: letter.record.offset + 1})
    return result


@asynccontextmanager
async def worker_handler(settings: Settings, worker: str) -> AsyncIterator[EventHandler]:
    """The handler the worker itself runs, with the stores it needs (created if missing, as at its start)."""
    if worker == "analytics":
        from backend_workers.analytics.handler import AnalyticsHandler

        handler = AnalyticsHandler(settings)
        try:
            yield handler
        finally:
            await handler.close()
        return
    from backend_workers.notifier.handler import NotifierHandler
    from inventory_app.adapters import aws

    async with AsyncExitStack() as stack:
        dynamodb = await stack.enter_async_context(aws.dynamodb_client(settings, timeout_s=5, attempts=2))
        s3 = await stack.enter_async_context(aws.s3_client(settings, timeout_s=10, attempts=2))
        handler = NotifierHandler(settings, dynamodb, s3)
        await handler.ensure_stores()
        await handler.start_producer()
        stack.push_async_callback(handler.stop_producer)
        yield handler


async def run_replay(settings: Settings, worker: str, dry_run: bool, skip_failing: bool) -> int:
    async with worker_handler(settings, worker) as handler:
        result = await replay(settings, worker, handler, dry_run=dry_run, skip_failing=skip_failing)
    verb = "would replay" if dry_run else "replayed"
    print(f"{verb} {result.replayed} dead letters of the {worker} worker", file=sys.stderr)
    for skipped in result.skipped:
        print(f"skipped (failed again, still on the topic): {skipped}", file=sys.stderr)
    if result.failed:
        print(f"stopped at a dead letter that failed again: {result.failed}", file=sys.stderr)
        print("fix the cause and run replay again, or pass --skip-failing", file=sys.stderr)
        return 1
    return 0


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no dead letters")
        return
    print(f"{'position':<10} {'worker':<10} {'replayed':<8} {'age':>8}  {'event':<45} error")
    for row in rows:
        event = f"{row['event_type'] or '?'} {row['event_id'] or '(not an event)'}"
        print(
            f"{row['position']:<10} {row['worker']:<10} {'yes' if row['replayed'] else 'no':<8} "
            f"{_age(row['age_s']):>8}  {event:<45} {row['error'][:120]}"
        )


def _age(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend_workers.dead_letters", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show the dead letters and whether each was replayed")
    listing.add_argument("--worker", choices=WORKERS)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    replaying = commands.add_parser("replay", help="run the worker's handler on its dead letters not replayed yet")
    replaying.add_argument("--worker", choices=WORKERS, required=True)
    replaying.add_argument("--dry-run", action="store_true", help="count what would be replayed, change nothing")
    replaying.add_argument("--skip-failing", action="store_true", help="pass by dead letters that fail again")
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, sys.stderr)
    if args.command == "list":
        rows = asyncio.run(list_dead_letters(settings, args.worker))
        if args.json:
            for row in rows:
                print(json.dumps(row))
        else:
            _print_table(rows)
        return 0
    return asyncio.run(run_replay(settings, args.worker, args.dry_run, args.skip_failing))


if __name__ == "__main__":
    sys.exit(main())
