"""Helpers for tests that run the workers as real processes on private topics, tables and buckets."""

from __future__ import annotations

import json
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from backend_workers import dead_letters
from backend_workers.notifier import archive
from inventory_app.adapters import aws
from inventory_app.adapters.kafka import ensure_topics
from tests.conftest import wait_for
from tests.support import Message, WorkerProcess, produce, read_topic, run_async

NOTIFIER = "backend_workers.notifier"
ANALYTICS = "backend_workers.analytics"
ALL_PARTITIONS = set(range(6))


def unique_name(prefix: str) -> str:
    """Lower-case and dash-only: valid as a topic, a DynamoDB table, an S3 bucket and a group id."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class IsolatedStores:
    """One test's own topics, table, bucket and consumer group, so it can count exactly."""

    product_events: str
    notifications: str
    dead_letters: str
    table: str
    bucket: str
    group: str

    @classmethod
    def create(cls, settings) -> IsolatedStores:
        stores = cls(*(unique_name(p) for p in ("t-events", "t-notices", "t-dlq", "t-table", "t-bucket", "g-worker")))
        run_async(ensure_topics(settings, [stores.product_events, stores.notifications, stores.dead_letters]))
        return stores

    def notifier_env(self, **overrides: str) -> dict[str, str]:
        return {
            "KAFKA_TOPIC_PRODUCT_EVENTS": self.product_events,
            "KAFKA_TOPIC_NOTIFICATIONS": self.notifications,
            "KAFKA_TOPIC_DEAD_LETTERS": self.dead_letters,
            "DYNAMODB_EVENTS_TABLE": self.table,
            "S3_ARCHIVE_BUCKET": self.bucket,
            "NOTIFIER_GROUP_ID": self.group,
            "NOTIFIER_METRICS_PORT": "0",
            "NOTIFIER_ARCHIVE_INTERVAL_S": "1",
            **overrides,
        }

    def analytics_env(self, **overrides: str) -> dict[str, str]:
        return {
            "KAFKA_TOPIC_PRODUCT_EVENTS": self.product_events,
            "KAFKA_TOPIC_NOTIFICATIONS": self.notifications,
            "KAFKA_TOPIC_DEAD_LETTERS": self.dead_letters,
            "ANALYTICS_GROUP_ID": self.group,
            "ANALYTICS_METRICS_PORT": "0",
            **overrides,
        }


def produce_events(settings, topic: str, events: list[dict[str, Any]]) -> None:
    """Key = product id (the event subject), as the outbox relay does."""
    messages = [(event["subject"].encode(), json.dumps(event).encode()) for event in events]
    run_async(produce(settings.kafka_bootstrap_servers, topic, messages))


def read_messages(settings, topic: str, timeout_s: float = 10.0) -> list[Message]:
    """Every message on `topic` up to its current end."""
    return run_async(read_topic(settings.kafka_bootstrap_servers, topic, timeout_s))


def wait_for_topic_messages(settings, topic: str, predicate, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Poll `topic` until at least `expected` messages match `predicate`; return the matches."""

    def matches() -> list[Message] | None:
        found = [m for m in read_messages(settings, topic) if predicate(m)]
        return found if len(found) >= expected else None

    return wait_for(matches, timeout_s, 0.3, f"{expected} messages on {topic}")


def stored_event_ids(settings, table: str) -> list[str]:
    """Every event id in the notifier's DynamoDB table, one entry per item (so duplicates show)."""

    async def scan() -> list[str]:
        ids: list[str] = []
        async with aws.dynamodb_client(settings) as client:
            paginator = client.get_paginator("scan")
            try:
                async for page in paginator.paginate(TableName=table, ProjectionExpression="event_id"):
                    # Items without an event id are the table's own bookkeeping (the rebuild marker).
                    ids.extend(item["event_id"]["S"] for item in page.get("Items", []) if "event_id" in item)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    return []  # the notifier has not created its table yet
                raise
        return ids

    return run_async(scan())


def archived_event_ids(settings, bucket: str) -> tuple[Counter[str], list[str]]:
    """(copies of each event id over all archive objects, ids returned by the de-duplicating reader)."""

    async def read() -> tuple[Counter[str], list[str]]:
        copies: Counter[str] = Counter()
        async with aws.s3_client(settings) as client:
            try:
                await client.head_bucket(Bucket=bucket)
            except ClientError:
                return copies, []
            paginator = client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=bucket, Prefix="events/"):
                for entry in page.get("Contents", []):
                    response = await client.get_object(Bucket=bucket, Key=entry["Key"])
                    async with response["Body"] as body:
                        copies.update(event["id"] for event in archive.decode(await body.read()))
            unique = [event["id"] for event in await archive.read_archive(client, bucket)]
        return copies, unique

    return run_async(read())


def processed_total(metrics_port: int) -> float:
    """`worker_events_processed_total` from a worker's Prometheus endpoint (0 while it is not up)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("worker_events_processed_total "):
            return float(line.split()[1])
    return 0.0


def committed_offsets(settings, group: str, topic: str) -> dict[int, int]:
    return run_async(dead_letters.committed_offsets(settings, group, topic))


def last_assignment(worker: WorkerProcess) -> list[int] | None:
    assigned = [e for e in worker.log_entries() if e.get("message") == "partitions assigned"]
    return assigned[-1]["partitions"] if assigned else None


@pytest.fixture()
def stores(settings) -> IsolatedStores:
    return IsolatedStores.create(settings)


class RunningWorkers:
    """Worker processes started by one test; any still running are killed when it ends."""

    def __init__(self) -> None:
        self.started: list[WorkerProcess] = []

    def start(self, module: str, env: dict[str, str], log_name: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(module, env, log_name=log_name).start()
        self.started.append(worker)
        return worker

    def __enter__(self) -> RunningWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture()
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    with RunningWorkers() as workers:
        yield workers.start
