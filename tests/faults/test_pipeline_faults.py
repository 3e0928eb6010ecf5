"""The pipeline survives the faults it was designed for: broker, worker, store and database outages."""

from __future__ import annotations

import collections
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import bindparam, text

from tests.conftest import commit_group_at_end, devstack, wait_for
from tests.support import make_product_events
from tests.worker_support import (
    ANALYTICS,
    NOTIFIER,
    committed_offsets,
    produce_events,
    stored_event_ids,
)

pytestmark = pytest.mark.faults


def topic_event_ids(engine, product_ids: list[str]) -> list[str]:
    """Every event the outbox holds for these products (the source of truth for what must arrive)."""
    query = text("SELECT event_id::text FROM outbox WHERE aggregate_id::text IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query, {"ids": product_ids})]


def analytics_counts(engine, event_ids: list[str]) -> collections.Counter:
    query = text("SELECT event_id::text FROM analytics_processed_event WHERE event_id::text IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with engine.connect() as connection:
        return collections.Counter(row[0] for row in connection.execute(query, {"ids": event_ids}))


def test_kafka_down_for_30_s_during_1000_writes_loses_and_doubles_nothing(
    api: httpx.Client, settings, engine, stores, start_worker
) -> None:
    # Workers on the session's product-events topic, with their own table, bucket and groups that start
    # at the topic's end (its history from earlier tests is not this test's business).
    analytics_group = f"{stores.group}-analytics"  # its own group: sharing one would split the partitions
    for group in (stores.group, analytics_group):
        commit_group_at_end(settings, group, settings.kafka_topic_product_events)
    env = {**stores.notifier_env(), "KAFKA_TOPIC_PRODUCT_EVENTS": settings.kafka_topic_product_events}
    notifier = start_worker(NOTIFIER, env, "fault-notifier")
    analytics = start_worker(
        ANALYTICS,
        {
            **stores.analytics_env(ANALYTICS_GROUP_ID=analytics_group),
            "KAFKA_TOPIC_PRODUCT_EVENTS": settings.kafka_topic_product_events,
        },
        "fault-analytics",
    )
    notifier.wait_for_log("partitions assigned")
    analytics.wait_for_log("partitions assigned")
    products = [
        api.post(
            "/api/products",
            json={"sku": f"K30-{n}-{uuid.uuid4().hex[:8]}", "name": "Outage", "price": "2.00", "quantity": 0},
        ).json()
        for n in range(10)
    ]
    statuses: list[int] = []
    outage = threading.Event()

    def stop_kafka_for_30_s() -> None:
        devstack("stop", "kafka")
        outage.set()
        time.sleep(30)
        devstack("start", "kafka")

    stopper = threading.Thread(target=stop_kafka_for_30_s)
    started = time.monotonic()
    for n in range(1000):
        if n == 200:
            stopper.start()
            outage.wait(60)
        product = products[n % len(products)]
        statuses.append(
            api.post(
                f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
            ).status_code
        )
        # Spread the writes so that many of them land inside the outage window.
        time.sleep(max(0.0, started + n * 0.035 - time.monotonic()))
    stopper.join(120)
    assert statuses.count(201) == 1000, collections.Counter(statuses)

    product_ids = [p["id"] for p in products]
    expected = topic_event_ids(engine, product_ids)
    assert len(expected) == 1010  # 10 created + 1000 updated
    wait_for(
        lambda: set(expected) <= set(stored_event_ids(settings, stores.table)), 180, 1.0, "every event in DynamoDB"
    )
    stored = collections.Counter(e for e in stored_event_ids(settings, stores.table) if e in set(expected))
    assert set(stored.values()) == {1}
    wait_for(lambda: len(analytics_counts(engine, expected)) == len(expected), 120, 1.0, "every event in analytics")
    assert set(analytics_counts(engine, expected).values()) == {1}


def test_notifier_killed_five_times_during_a_stream_loses_and_doubles_nothing(settings, stores, start_worker) -> None:
    events = make_product_events(2000, products=40)
    expected = {e["id"] for e in events}
    produce_events(settings, stores.product_events, events)
    worker = start_worker(NOTIFIER, stores.notifier_env(), "notifier-kill")
    for kill in range(5):
        floor = 200 * (kill + 1)
        wait_for(
            lambda floor=floor: len(stored_event_ids(settings, stores.table)) >= floor,
            90,
            0.2,
            f"{floor} events stored before kill {kill + 1}",
        )
        worker.kill()
        worker = start_worker(NOTIFIER, stores.notifier_env(), f"notifier-kill-{kill + 1}")
    wait_for(lambda: set(stored_event_ids(settings, stores.table)) == expected, 180, 1.0, "all 2000 stored")
    stored = stored_event_ids(settings, stores.table)
    assert len(stored) == len(expected), "an event was stored twice"


def test_notifier_holds_offsets_while_dynamodb_and_s3_are_down_and_catches_up(settings, stores, start_worker) -> None:
    first, second = make_product_events(100, products=10), make_product_events(200, products=10)
    worker = start_worker(NOTIFIER, stores.notifier_env(), "notifier-store-outage")
    produce_events(settings, stores.product_events, first)
    wait_for(lambda: len(stored_event_ids(settings, stores.table)) == 100, 60, 0.3, "first 100 stored")
    wait_for(
        lambda: sum(committed_offsets(settings, stores.group, stores.product_events).values()) == 100,
        30,
        0.3,
        "first 100 committed",
    )
    devstack("stop", "aws")
    try:
        produce_events(settings, stores.product_events, second)
        wait_for(lambda: "dependency unavailable" in worker.log(), 60, 0.5, "the notifier to back off")
        time.sleep(3)  # a stretch of outage: offsets must not move and the worker must stay up
        assert sum(committed_offsets(settings, stores.group, stores.product_events).values()) == 100
        assert worker.process is not None and worker.process.poll() is None
    finally:
        devstack("start", "aws")
    # moto keeps nothing across a restart: the notifier recreates its table and bucket and catches up.
    wanted = {e["id"] for e in second}
    wait_for(lambda: wanted <= set(stored_event_ids(settings, stores.table)), 120, 1.0, "the 200 events after")
    wait_for(
        lambda: sum(committed_offsets(settings, stores.group, stores.product_events).values()) == 300,
        60,
        0.5,
        "all 300 committed",
    )


def test_postgres_restart_under_load_gives_503_not_500_and_the_app_recovers(api: httpx.Client) -> None:
    product = api.post(
        "/api/products", json={"sku": f"PGR-{uuid.uuid4().hex[:10]}", "name": "Restart", "price": "1.00", "quantity": 0}
    ).json()
    statuses: collections.Counter = collections.Counter()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=15, headers=api.headers) as client:
            while not stop.is_set():
                for request in (
                    lambda: client.get(f"/api/products/{product['id']}"),
                    lambda: client.get("/api/products", params={"limit": 5}),
                    lambda: client.post(
                        f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
                    ),
                ):
                    try:
                        statuses[request().status_code] += 1
                    except httpx.HTTPError:
                        statuses["transport error"] += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(2)
        devstack("stop", "postgres")
        time.sleep(5)
        during = dict(statuses)
        devstack("start", "postgres")
        wait_for(lambda: api.get(f"/api/products/{product['id']}").status_code == 200, 60, 0.5, "recovery")
        time.sleep(2)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert statuses[503] > 0, during
    assert statuses[500] == 0, dict(statuses)
    assert statuses["transport error"] == 0, dict(statuses)
    assert (
        api.post(
            f"/api/products/{product['id']}/stock-adjustments", json={"delta": 1, "reason": "received"}
        ).status_code
        == 201
    )
