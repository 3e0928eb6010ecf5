"""Event pipeline throughput: outbox → broker beside a raw aiokafka producer, and the notifier."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer

from bench.harness import LOG_DIR, REPO_ROOT
from inventory_app.adapters.kafka import ensure_topics, make_producer
from inventory_app.adapters.outbox import OutboxRelay, kafka_headers, psycopg_url
from inventory_app.settings import Settings


def make_events(count: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support import make_product_events

    return make_product_events(count, products=50)


def fill_outbox(settings: Settings, events: list[dict[str, Any]]) -> None:
    with psycopg.connect(psycopg_url(settings.database_url)) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY outbox (event_id, aggregate_id, event_type, payload) FROM STDIN") as copy:
            for event in events:
                copy.write_row((event["id"], event["subject"], event["type"], json.dumps(event)))
        connection.commit()


async def relay_throughput(settings: Settings, events: list[dict[str, Any]]) -> float:
    fill_outbox(settings, events)
    await ensure_topics(settings)
    relay = OutboxRelay(settings)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run_forever())
    url = psycopg_url(settings.database_url)
    try:
        while True:
            with psycopg.connect(url) as connection:
                pending = connection.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
            if pending == 0:
                break
            await asyncio.sleep(0.05)
        return len(events) / (time.perf_counter() - started)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def raw_producer_throughput(settings: Settings, events: list[dict[str, Any]], topic: str) -> float:
    """The same payloads, headers and producer settings, without PostgreSQL: the broker-side ceiling."""
    producer: AIOKafkaProducer = make_producer(settings, "inventory-outbox-relay")
    await producer.start()
    try:
        started = time.perf_counter()
        batch_size = settings.outbox_batch_size
        for start in range(0, len(events), batch_size):
            futures = [
                await producer.send(
                    topic,
                    value=json.dumps(e, separators=(",", ":")).encode(),
                    key=e["subject"].encode(),
                    headers=kafka_headers(e),
                )
                for e in events[start : start + batch_size]
            ]
            await asyncio.gather(*futures)
        return len(events) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def _processed(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("worker_events_processed_total "):
                return float(line.split()[1])
    return 0.0


def notifier_throughput(env: dict[str, str], settings: Settings, events: list[dict[str, Any]]) -> float:
    """Events per second the notifier stores in DynamoDB, archives to S3 and turns into notices."""
    run = uuid.uuid4().hex[:8]
    topic = f"bench-{run}.notifier-input"
    port = 9390
    worker_env = {
        **os.environ,
        **env,
        "KAFKA_TOPIC_PRODUCT_EVENTS": topic,
        "NOTIFIER_GROUP_ID": f"bench-{run}",
        "DYNAMODB_EVENTS_TABLE": f"bench-{run}-events",
        "S3_ARCHIVE_BUCKET": f"bench-{run}-archive",
        "NOTIFIER_METRICS_PORT": str(port),
        "KAFKA_TOPIC_NOTIFICATIONS": f"bench-{run}.notices",
    }

    async def produce() -> None:
        s = settings.model_copy(
            update={"kafka_topic_product_events": topic, "kafka_topic_notifications": f"bench-{run}.notices"}
        )
        await ensure_topics(s)
        await raw_producer_throughput(s, events, topic)

    asyncio.run(produce())
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"bench-notifier-{run}.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend_workers.notifier"],
            cwd=REPO_ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _processed(port)
                break
            except OSError:
                time.sleep(0.1)
        started = time.perf_counter()
        deadline = time.monotonic() + 600
        while _processed(port) < len(events):
            if time.monotonic() > deadline:
                raise SystemExit("notifier did not finish within 10 minutes")
            time.sleep(0.1)
        return len(events) / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def skip_backlog(settings: Settings, group: str, topic: str) -> None:
    """Commit `group` at the end of `topic`, so a worker started next handles only what comes after.

    The latency benchmarks must not wait behind the write benchmark's tens of thousands of events.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from inventory_app.adapters.kafka import topic_partitions

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(await topic_partitions(settings.kafka_bootstrap_servers, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()
