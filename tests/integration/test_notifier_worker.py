"""The notifier as a real process against Kafka and moto: exactly-once storage, crash recovery, groups, DLQ, stops."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from botocore.exceptions import ClientError

from backend_workers.notifier import archive
from inventory_app.adapters import aws
from inventory_app.adapters.kafka import ensure_topics
from tests.conftest import wait_for
from tests.support import Message, WorkerProcess, make_product_events, produce

NOTIFIER = "backend_workers.notifier"
ALL_PARTITIONS = set(range(6))


# -- helpers (shared with the other worker test modules) -----------------------------------------------
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
        asyncio.run(ensure_topics(settings, [stores.product_events, stores.notifications, stores.dead_letters]))
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
    asyncio.run(produce(settings.kafka_bootstrap_servers, topic, messages))


def read_messages(settings, topic: str, timeout_s: float = 10.0) -> list[Message]:
    """Every message on `topic` up to its current end.

    Unlike `support.read_topic`, the partitions are assigned by number (every test topic has
    `kafka_topic_partitions`): an unsubscribed consumer's metadata does not know the topic, so
    `partitions_for_topic` answers None and `read_topic` returns nothing.
    """

    async def read() -> list[Message]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(settings.kafka_topic_partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            remaining = {tp for tp in partitions if ends[tp] > 0}
            out: list[Message] = []
            deadline = time.monotonic() + timeout_s
            while remaining and time.monotonic() < deadline:
                for tp, records in (await consumer.getmany(timeout_ms=500, max_records=5000)).items():
                    for r in records:
                        if r.offset < ends[tp]:
                            key = r.key.decode() if r.key else None
                            headers = {k: v.decode() for k, v in (r.headers or [])}
                            out.append(Message(r.topic, r.partition, r.offset, key, r.value, headers))
                        if r.offset >= ends[tp] - 1:
                            remaining.discard(tp)
            assert not remaining, f"could not read {topic} to its end within {timeout_s}s"
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


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
                    ids.extend(item["event_id"]["S"] for item in page.get("Items", []))
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    return []  # the notifier has not created its table yet
                raise
        return ids

    return asyncio.run(scan())


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

    return asyncio.run(read())


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
    async def fetch() -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}

    return asyncio.run(fetch())


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


# -- tests ------------------------------------------------------------------------------------------------
def test_notifier_killed_mid_stream_resumes_and_stores_every_event_exactly_once(settings, stores, start_worker) -> None:
    events = make_product_events(500, products=50)
    expected = {e["id"] for e in events}
    produce_events(settings, stores.product_events, events)

    first = start_worker(NOTIFIER, stores.notifier_env(), "notifier-killed")
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) >= 100, 60, 0.05, "100 events stored")
    first.kill()
    stored_at_kill = len(stored_event_ids(settings, stores.table))

    start_worker(NOTIFIER, stores.notifier_env(), "notifier-restarted")
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 60, 0.5, "all 500 events stored")
    wait_for(lambda: set(archived_event_ids(settings, stores.bucket)[1]) == expected, 30, 0.5, "all 500 archived")

    stored = Counter(stored_event_ids(settings, stores.table))
    copies, unique = archived_event_ids(settings, stores.bucket)
    assert stored_at_kill < 500, "the first notifier finished before it was killed: nothing was tested"
    assert set(stored) == expected and max(stored.values()) == 1
    assert set(copies) == expected  # every event archived at least once (overlaps after the crash are fine)
    assert len(unique) == 500 and set(unique) == expected


def test_two_notifiers_in_one_group_share_the_partitions_and_store_each_event_once(
    settings, stores, start_worker
) -> None:
    ports = [free_port(), free_port()]
    workers = [
        start_worker(NOTIFIER, stores.notifier_env(NOTIFIER_METRICS_PORT=str(port)), f"notifier-member{n}")
        for n, port in enumerate(ports)
    ]

    def shared() -> bool:
        first, second = (last_assignment(w) for w in workers)
        return bool(first and second) and not set(first) & set(second) and set(first) | set(second) == ALL_PARTITIONS

    wait_for(shared, 60, 0.2, "both members assigned disjoint partitions covering all six")

    events = make_product_events(300, products=30)
    produce_events(settings, stores.product_events, events)
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) >= 300, 60, 0.5, "300 events stored")
    wait_for(lambda: sum(processed_total(p) for p in ports) >= 300, 30, 0.5, "both members' counters")

    stored = Counter(stored_event_ids(settings, stores.table))
    assert set(stored) == {e["id"] for e in events} and max(stored.values()) == 1
    assert all(processed_total(p) > 0 for p in ports), "one member handled nothing"


def test_invalid_and_non_json_messages_are_dead_lettered_and_the_notifier_keeps_going(
    settings, stores, start_worker
) -> None:
    invalid, valid = make_product_events(2, products=1)
    del invalid["data"]["product"]["sku"]  # valid JSON, violates product-created
    key = valid["subject"].encode()
    bad_values = [json.dumps(invalid).encode(), b"{not json"]
    asyncio.run(
        produce(
            settings.kafka_bootstrap_servers,
            stores.product_events,
            [(key, bad_values[0]), (key, bad_values[1]), (key, json.dumps(valid).encode())],
        )
    )
    start_worker(NOTIFIER, stores.notifier_env(), "notifier-dlq")

    dead = wait_for_topic_messages(settings, stores.dead_letters, lambda m: True, 2, timeout_s=60)
    wait_for(lambda: stored_event_ids(settings, stores.table) == [valid["id"]], 30, 0.3, "the valid event stored")

    originals = {m.value: m for m in read_messages(settings, stores.product_events)}
    assert sorted(m.value for m in dead) == sorted(bad_values)
    errors = {}
    for message in dead:
        original = originals[message.value]
        assert message.key == valid["subject"]
        assert message.headers["dlq_original_topic"] == stores.product_events
        assert message.headers["dlq_original_partition"] == str(original.partition)
        assert message.headers["dlq_original_offset"] == str(original.offset)
        errors[message.value] = message.headers["dlq_error"]
    assert errors[bad_values[0]].startswith("schema violation") and "sku" in errors[bad_values[0]]
    assert errors[bad_values[1]].startswith("not JSON")


def test_notifier_gives_up_after_five_dynamodb_connection_attempts_with_a_clear_message(stores, start_worker) -> None:
    started = time.monotonic()
    worker = start_worker(NOTIFIER, stores.notifier_env(DYNAMODB_ENDPOINT_URL="http://127.0.0.1:9"), "notifier-nodb")

    exit_code = worker.wait(timeout_s=60)

    elapsed = time.monotonic() - started
    attempts = [e for e in worker.log_entries() if e.get("message") == "DynamoDB connection attempt failed"]
    assert exit_code != 0
    assert [e["attempt"] for e in attempts] == [1, 2, 3, 4, 5]
    assert "cannot reach DynamoDB at http://127.0.0.1:9 after 5 attempts" in worker.log()
    assert elapsed < 45


def test_sigterm_finishes_the_batch_commits_and_a_restart_reprocesses_nothing(settings, stores, start_worker) -> None:
    events = make_product_events(300, products=30)
    expected = {e["id"] for e in events}
    produce_events(settings, stores.product_events, events)

    # A long archive interval: the whole stream is one open batch (handled, uncommitted) at SIGTERM,
    # and the stop must not wait for the interval to run out.
    first = start_worker(NOTIFIER, stores.notifier_env(NOTIFIER_ARCHIVE_INTERVAL_S="60"), "notifier-terminated")
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) >= 50, 60, 0.05, "50 events stored")
    assert committed_offsets(settings, stores.group, stores.product_events) == {}
    stop_requested = time.monotonic()
    assert first.terminate(timeout_s=30) == 0
    assert time.monotonic() - stop_requested < 10
    assert "stopped cleanly" in first.log()

    # Everything the first process stored is committed and archived, and nothing more is committed.
    stored_by_first = stored_event_ids(settings, stores.table)
    assert sum(committed_offsets(settings, stores.group, stores.product_events).values()) == len(stored_by_first)
    assert set(archived_event_ids(settings, stores.bucket)[1]) == set(stored_by_first)

    port = free_port()
    start_worker(NOTIFIER, stores.notifier_env(NOTIFIER_METRICS_PORT=str(port)), "notifier-after-sigterm")
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 60, 0.5, "all events stored")
    wait_for(lambda: processed_total(port) >= len(expected - set(stored_by_first)), 30, 0.5, "restart counter")

    assert processed_total(port) == len(expected) - len(stored_by_first)
    notices = Counter(m.json()["id"] for m in read_messages(settings, stores.notifications))
    assert set(notices) == expected and max(notices.values()) == 1  # no event handled twice
    assert Counter(stored_event_ids(settings, stores.table)).most_common(1)[0][1] == 1


def test_a_member_joining_mid_batch_causes_no_redelivery(settings, stores, start_worker) -> None:
    # A long archive interval keeps the first member's batch open (handled, not yet committed) while
    # the second member joins: the rebalance must commit it, or the new owner handles it again.
    env = stores.notifier_env(NOTIFIER_ARCHIVE_INTERVAL_S="30")
    first = start_worker(NOTIFIER, env, "notifier-first-member")
    first.wait_for_log("partitions assigned", 60)
    events = make_product_events(60, products=30)
    expected = {e["id"] for e in events}
    produce_events(settings, stores.product_events, events)
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 30, 0.2, "all events stored")
    assert committed_offsets(settings, stores.group, stores.product_events) == {}, "the batch closed too early"

    second = start_worker(NOTIFIER, env, "notifier-second-member")

    def shared() -> bool:
        mine, theirs = last_assignment(first), last_assignment(second)
        return bool(mine and theirs) and set(mine) | set(theirs) == ALL_PARTITIONS and not set(mine) & set(theirs)

    wait_for(shared, 60, 0.2, "the partitions shared between the members")
    assert first.terminate() == 0 and second.terminate() == 0

    assert sum(committed_offsets(settings, stores.group, stores.product_events).values()) == len(events)
    notices = Counter(m.json()["id"] for m in read_messages(settings, stores.notifications))
    assert set(notices) == expected and max(notices.values()) == 1, "events handled again after the rebalance"
