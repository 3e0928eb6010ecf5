"""The notifier as a real process against Kafka and moto: exactly-once storage, crash recovery, groups, DLQ, stops."""

from __future__ import annotations

import json
import time
from collections import Counter

from tests.conftest import wait_for
from tests.support import make_product_events, produce, run_async
from tests.worker_support import (
    ALL_PARTITIONS,
    NOTIFIER,
    archived_event_ids,
    committed_offsets,
    free_port,
    last_assignment,
    processed_total,
    produce_events,
    read_messages,
    stored_event_ids,
    wait_for_topic_messages,
)

# -- tests ------------------------------------------------------------------------------------------------
EVENTS_KILLED_MID_STREAM = 5_000


def test_notifier_killed_mid_stream_resumes_and_stores_every_event_exactly_once(settings, stores, start_worker) -> None:
    # Enough that the first notifier (about 1,400 events/s here, 25 DynamoDB items per request) is killed
    # well before it is through.
    events = make_product_events(EVENTS_KILLED_MID_STREAM, products=50)
    expected = {e["id"] for e in events}
    produce_events(settings, stores.product_events, events)

    first = start_worker(NOTIFIER, stores.notifier_env(), "notifier-killed")
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) >= 100, 60, 0.05, "100 events stored")
    first.kill()
    stored_at_kill = len(stored_event_ids(settings, stores.table))

    start_worker(NOTIFIER, stores.notifier_env(), "notifier-restarted")
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 120, 0.5, "all events stored")
    wait_for(lambda: set(archived_event_ids(settings, stores.bucket)[1]) == expected, 60, 0.5, "all archived")

    stored = Counter(stored_event_ids(settings, stores.table))
    copies, unique = archived_event_ids(settings, stores.bucket)
    assert stored_at_kill < EVENTS_KILLED_MID_STREAM, (
        "the first notifier finished before it was killed: nothing was tested"
    )
    assert set(stored) == expected and max(stored.values()) == 1
    assert set(copies) == expected  # every event archived at least once (overlaps after the crash are fine)
    assert len(unique) == EVENTS_KILLED_MID_STREAM and set(unique) == expected


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
    run_async(
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


def test_an_aborted_transaction_at_the_end_of_the_topic_still_lets_the_group_lag_reach_zero(
    settings, stores, start_worker
) -> None:
    """Records of an aborted transaction (and its marker) are never delivered, so no batch commits past them;
    the loop commits positions that moved while idle, or the group's lag stays above 0 until the next event."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    events = make_product_events(20, products=4)
    produce_events(settings, stores.product_events, events)
    worker = start_worker(NOTIFIER, stores.notifier_env(), "notifier-aborted-tail")
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) >= 20, 60, 0.2, "the committed events stored")

    def committed_up_to(ends: dict[int, int]) -> bool:
        committed = committed_offsets(settings, stores.group, stores.product_events)
        return all(committed.get(p, 0) >= end for p, end in ends.items() if end)

    async def end_offsets() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await consumer.start()
        try:
            partitions = [TopicPartition(stores.product_events, p) for p in range(settings.kafka_topic_partitions)]
            return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
        finally:
            await consumer.stop()

    # The 20 events' batch is committed first, so only the aborted records are left to pass.
    wait_for(lambda: committed_up_to(run_async(end_offsets())), 30, 0.2, "the batch committed")

    async def abort_a_batch() -> dict[int, int]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, transactional_id=f"test-abort-{stores.group}"
        )
        await producer.start()
        try:
            await producer.begin_transaction()
            for event in events[:5]:
                await producer.send(stores.product_events, value=json.dumps(event).encode(), key=b"k")
            await producer.abort_transaction()
        finally:
            await producer.stop()
        return await end_offsets()

    ends = run_async(abort_a_batch())
    wait_for(lambda: committed_up_to(ends), 30, 0.5, "the group to commit past the aborted transaction")
    assert len(stored_event_ids(settings, stores.table)) == 20  # and nothing of the aborted batch was stored
    assert worker.process is not None and worker.process.poll() is None
