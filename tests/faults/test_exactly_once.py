"""Each event reaches the topic exactly once for a read_committed reader, whatever happens to the relay.

The relay publishes a batch in one Kafka transaction with a relay-state record naming its outbox ids, then
marks the rows in PostgreSQL (adapters/outbox.py). These tests open the windows between those steps on
purpose (test-only pause settings) and kill or fence the relay there. Each uses a database of its own, so
the test app's relay never drains its outbox, and a topic of its own, so counts are exact.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import uuid

import psycopg
import pytest

from inventory_app.adapters.outbox import OutboxRelay, psycopg_url
from tests.conftest import wait_for
from tests.support import (
    Message,
    WorkerProcess,
    insert_outbox_events,
    make_product_events,
    pending_outbox_rows,
    private_database,
    read_topic,
    run_async,
)

pytestmark = pytest.mark.faults


@pytest.fixture()
def private(settings):
    """A database and a topic of this test's own."""
    run = uuid.uuid4().hex[:8]
    url = private_database(settings.database_url, f"inventory_relay_{run}")
    return url, f"test.relay-{run}"


def assert_each_event_once_in_product_order(messages: list[Message], events: list[dict]) -> None:
    counts = collections.Counter(m.headers["ce_id"] for m in messages)
    assert set(counts) == {e["id"] for e in events}
    doubled = {event_id: n for event_id, n in counts.items() if n > 1}
    assert not doubled, f"{len(doubled)} events published more than once"
    versions = collections.defaultdict(list)
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        versions[m.key].append(m.json()["data"]["product"]["version"])
    assert all(v == sorted(v) for v in versions.values()), "an event overtook an earlier one of its product"


def relay_process(url: str, topic: str, name: str, **settings: str) -> WorkerProcess:
    env = {"DATABASE_URL": url, "KAFKA_TOPIC_PRODUCT_EVENTS": topic, "OUTBOX_BATCH_SIZE": "40"}
    env |= {"OUTBOX_POLL_INTERVAL_S": "0.2", **{k.upper(): v for k, v in settings.items()}}
    return WorkerProcess("inventory_app.relay", env, f"relay-{name}")


def test_a_relay_killed_between_the_kafka_and_postgresql_commits_five_times_publishes_each_event_once(
    settings, private
) -> None:
    url, topic = private
    events = make_product_events(400, products=20)
    insert_outbox_events(url, events)
    killed = []
    for attempt in range(5):
        relay = relay_process(url, topic, f"killed-{attempt}", outbox_test_pause_after_kafka_commit_s="30").start()
        relay.wait_for_log("committed to Kafka, not yet to PostgreSQL", 60)
        relay.kill()  # SIGKILL: Kafka has the batch, PostgreSQL does not know it
        killed.append(relay)
    # Each killed relay marked only its predecessor's batch (recovered from Kafka) before dying holding its own.
    assert pending_outbox_rows(url) == 400 - 4 * 40

    survivor = relay_process(url, topic, "survivor").start()
    try:
        wait_for(lambda: pending_outbox_rows(url) == 0, 120, 0.5, "the outbox to drain")
    finally:
        survivor.terminate()
    messages = run_async(read_topic(settings.kafka_bootstrap_servers, topic, timeout_s=30))
    assert_each_event_once_in_product_order(messages, events)
    # Every restart found the batch its predecessor died holding, and marked it instead of sending it again.
    recovered = [r for r in (*killed[1:], survivor) if "marked 40 rows published that Kafka had committed" in r.log()]
    assert len(recovered) == 5


def test_two_relays_racing_for_leadership_the_fenced_ones_batch_is_aborted_never_duplicated(settings, private) -> None:
    url, topic = private
    events = make_product_events(200, products=10)
    insert_outbox_events(url, events)
    common = {"database_url": url, "kafka_topic_product_events": topic, "outbox_poll_interval_s": 0.2}
    old = OutboxRelay(
        settings.model_copy(update={**common, "outbox_batch_size": 50, "outbox_test_pause_before_kafka_commit_s": 8})
    )
    new = OutboxRelay(settings.model_copy(update={**common, "outbox_batch_size": 50}))

    async def race() -> None:
        old_task = asyncio.create_task(old.run_forever())
        new_task = None
        try:
            # The old leader has sent its first batch and holds the Kafka transaction open.
            async def sent() -> bool:
                seen = await read_topic(settings.kafka_bootstrap_servers, topic, 5, isolation_level="read_uncommitted")
                return len(seen) >= 50

            for _ in range(300):
                if await sent():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the old leader never sent its batch")
            # Its lock's connection dies (a network blip); its process and open transaction live on.
            async with await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            new_task = asyncio.create_task(new.run_forever())  # leads, and its producer fences the old one
            for _ in range(600):
                if pending_outbox_rows(url) == 0:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("the outbox was not drained")
        finally:
            for task in (old_task, new_task):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in (old_task, new_task) if t), return_exceptions=True)

    run_async(race())
    committed = run_async(read_topic(settings.kafka_bootstrap_servers, topic, timeout_s=30))
    assert_each_event_once_in_product_order(committed, events)
    # A careless reader sees the fenced batch too: proof that the race happened and was aborted.
    everything = run_async(
        read_topic(settings.kafka_bootstrap_servers, topic, timeout_s=30, isolation_level="read_uncommitted")
    )
    assert len(everything) >= len(events) + 50


def test_a_record_the_broker_refuses_is_quarantined_and_the_events_behind_it_keep_flowing(settings, private) -> None:
    url, topic = private
    events = make_product_events(60, products=6)
    poison = copy.deepcopy(events[0])  # a second "created" event for the first product, far too large to send
    poison["id"] = str(uuid.uuid4())
    poison["data"]["product"]["description"] = "x" * 1_200_000
    after = events[6:]  # later events of the same product and of others, committed after the poison row
    insert_outbox_events(url, [*events[:6], poison, *after])
    relay = relay_process(url, topic, "poison", outbox_max_publish_attempts="3").start()
    try:
        wait_for(lambda: pending_outbox_rows(url) == 0, 90, 0.5, "the outbox to drain past the poison row")
        relay.wait_for_log("quarantined after 3 refusals", 10)
    finally:
        relay.terminate()
    with psycopg.connect(psycopg_url(url)) as conn:
        quarantined = conn.execute("SELECT event_id::text, reason FROM outbox_quarantine").fetchall()
    assert [row[0] for row in quarantined] == [poison["id"]]
    assert "MessageSizeTooLarge" in quarantined[0][1]
    messages = run_async(read_topic(settings.kafka_bootstrap_servers, topic, timeout_s=30))
    assert_each_event_once_in_product_order(messages, events)


def test_a_relay_whose_idle_lock_connection_is_cut_leads_again_and_publishes_what_comes_next(settings, private) -> None:
    """The connection holding the leader lock dies while the relay waits for work: it reconnects, leads
    again, and later events are published once (no waiting for a poll that never comes)."""
    url, topic = private
    events = make_product_events(120, products=6)
    insert_outbox_events(url, events[:60])
    relay = relay_process(url, topic, "cut").start()
    try:
        wait_for(lambda: pending_outbox_rows(url) == 0, 60, 0.2, "the first events to be published")

        def cut() -> int:
            with psycopg.connect(psycopg_url(url), autocommit=True) as admin:
                return len(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                        (f"inventory-outbox-relay:{topic}"[:63],),
                    ).fetchall()
                )

        assert cut() == 1, "the relay's lock connection was not found"
        insert_outbox_events(url, events[60:])
        wait_for(lambda: pending_outbox_rows(url) == 0, 60, 0.2, "the events after the cut to be published")
        relay.wait_for_log("outbox relay error", 10)  # it noticed, and recovered
    finally:
        relay.terminate()
    messages = run_async(read_topic(settings.kafka_bootstrap_servers, topic, timeout_s=30))
    assert_each_event_once_in_product_order(messages, events)
