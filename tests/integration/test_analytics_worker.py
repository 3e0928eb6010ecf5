"""The analytics worker as a real process: aggregates from Kafka events into PostgreSQL, once per event."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, text

from inventory_app.domain import events
from inventory_app.services import analytics
from tests.conftest import wait_for
from tests.support import WorkerProcess, call_async_service, make_product_events
from tests.worker_support import (
    IsolatedStores,
    RunningWorkers,
    committed_offsets,
    produce_events,
    wait_for_topic_messages,
)

ANALYTICS = "backend_workers.analytics"


@pytest.fixture()
def stores(settings) -> IsolatedStores:
    return IsolatedStores.create(settings)


@pytest.fixture()
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    with RunningWorkers() as workers:
        yield workers.start


def processed_ids(engine: Engine, ids: list[str]) -> dict[str, int]:
    """Rows in analytics_processed_event per event id (only ids that have rows)."""
    query = text(
        "SELECT event_id::text, count(*) FROM analytics_processed_event WHERE event_id::text IN :ids GROUP BY 1"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as connection:
        return dict(connection.execute(query, {"ids": ids}).all())


def per_minute_counts(engine: Engine, minute: datetime) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_type, count FROM analytics_events_per_minute WHERE minute = :minute"),
            {"minute": minute},
        )
        return dict(rows.all())


def all_consumed(settings, stores: IsolatedStores, messages: int) -> bool:
    return sum(committed_offsets(settings, stores.group, stores.product_events).values()) >= messages


def snapshot(sku: str, category: str, price: str, quantity: int, threshold: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "sku": sku,
        "name": f"Analytics {sku}",
        "description": "",
        "category": category,
        "price": price,
        "quantity": quantity,
        "low_stock_threshold": threshold,
        "low_stock": quantity <= threshold,
        "version": 1,
        "created_at": "2026-11-24T10:00:00Z",
        "updated_at": "2026-11-24T10:00:00Z",
    }


def adjusted(before: dict[str, Any], delta: int) -> dict[str, Any]:
    after = {**before, "quantity": before["quantity"] + delta, "version": before["version"] + 1}
    after["low_stock"] = after["quantity"] <= after["low_stock_threshold"]
    reason = {"kind": "stock_adjustment", "movement_id": str(uuid.uuid4()), "adjustment_reason": "sold", "delta": delta}
    changes = events.diff(before, after, ("quantity",))
    return events.product_updated(after, changes, reason, source="/tests")


def test_redelivered_events_change_the_aggregates_only_once(settings, engine, stores, start_worker) -> None:
    stream = make_product_events(40, products=4)
    # A minute of its own (in 2001) so the per-minute counts belong to this test alone.
    minute = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(5_000_000))
    for n, event in enumerate(stream):
        event["time"] = events.rfc3339(minute + timedelta(milliseconds=n))
    ids = [e["id"] for e in stream]
    produce_events(settings, stores.product_events, stream)
    produce_events(settings, stores.product_events, stream)  # the same events delivered again

    start_worker(ANALYTICS, stores.analytics_env())
    wait_for(lambda: all_consumed(settings, stores, 2 * len(stream)), 60, 0.3, "both deliveries consumed")

    assert processed_ids(engine, ids) == dict.fromkeys(ids, 1)
    assert per_minute_counts(engine, minute) == {events.PRODUCT_CREATED: 4, events.PRODUCT_UPDATED: 36}
    products = [e["subject"] for e in stream[:4]]
    with engine.connect() as connection:
        adjustments = connection.execute(
            text(
                "SELECT product_id::text, sum(count) FROM analytics_adjustments_hourly "
                "WHERE product_id::text IN :ids GROUP BY 1"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": products},
        ).all()
        states = connection.execute(
            text(
                "SELECT product_id::text, quantity, version FROM analytics_product_state WHERE product_id::text IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": products},
        ).all()
    assert dict(adjustments) == dict.fromkeys(products, 9)
    assert {pid: (quantity, version) for pid, quantity, version in states} == dict.fromkeys(products, (991, 10))


def test_stock_value_by_category_and_low_stock_come_from_the_events(settings, engine, stores, start_worker) -> None:
    category = f"Analytics {uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:8].upper()
    running_low = snapshot(f"LOW-{tag}", category, "2.50", 10, 1_000_000)
    plenty = snapshot(f"PLENTY-{tag}", category, "10.00", 5, 0)
    removed = snapshot(f"GONE-{tag}", category, "1.00", 100, 0)
    stream = [
        events.product_created(running_low, source="/tests"),
        events.product_created(plenty, source="/tests"),
        events.product_created(removed, source="/tests"),
        adjusted(running_low, -10),
        events.product_deleted(removed, source="/tests"),
    ]
    produce_events(settings, stores.product_events, stream)

    start_worker(ANALYTICS, stores.analytics_env())
    wait_for(lambda: all_consumed(settings, stores, len(stream)), 60, 0.3, "the events consumed")

    summary = call_async_service(analytics.summary)
    by_category = {entry["category"]: entry for entry in summary["stock_value_by_category"]}
    # 2.50 * 0 (sold out) + 10.00 * 5; the deleted product no longer counts.
    assert by_category[category] == {"category": category, "stock_value": "50.00", "product_count": 2}
    low = [p for p in summary["low_stock_products"] if p["id"] == running_low["id"]]
    assert low == [
        {
            "id": running_low["id"],
            "sku": running_low["sku"],
            "name": running_low["name"],
            "quantity": 0,
            "low_stock_threshold": 1_000_000,
        }
    ]
    assert summary["low_stock_count"] >= 1
    with engine.connect() as connection:
        low_in_category = connection.execute(
            text(
                "SELECT count(*) FROM analytics_product_state "
                "WHERE category = :category AND NOT deleted AND quantity <= low_stock_threshold"
            ),
            {"category": category},
        ).scalar_one()
    assert low_in_category == 1


def test_an_invalid_message_goes_to_the_dead_letter_topic_and_analytics_keeps_going(
    settings, engine, stores, start_worker
) -> None:
    invalid, valid = make_product_events(2, products=1)
    invalid["data"]["product"]["price"] = 1.5  # valid JSON, but the contract wants a "1.50" string
    produce_events(settings, stores.product_events, [invalid, valid])

    start_worker(ANALYTICS, stores.analytics_env())
    dead = wait_for_topic_messages(settings, stores.dead_letters, lambda m: True, 1, timeout_s=60)
    wait_for(lambda: processed_ids(engine, [valid["id"]]) == {valid["id"]: 1}, 30, 0.3, "the valid event applied")

    assert len(dead) == 1
    [message] = dead
    assert json.loads(message.value) == invalid
    assert message.headers["dlq_worker"] == "analytics"
    assert message.headers["dlq_error"].startswith("schema violation")
    assert message.headers["dlq_original_topic"] == stores.product_events
    assert message.headers["dlq_original_offset"] == "0"
    assert processed_ids(engine, [invalid["id"]]) == {}


def test_a_product_past_version_2_31_is_projected_not_dead_lettered(settings, engine) -> None:
    """product.version is 64-bit (migration 0006); the analytics projection must hold it too (0007)."""
    import psycopg

    from backend_workers.analytics.aggregates import apply_event
    from inventory_app.adapters.outbox import psycopg_url
    from tests.support import run_async

    created, updated = make_product_events(2, products=1)
    big = 2**40
    updated["data"]["product"]["version"] = big

    async def apply() -> None:
        async with await psycopg.AsyncConnection.connect(psycopg_url(settings.database_url)) as conn:
            for event in (created, updated):
                await apply_event(conn, event)

    run_async(apply())
    with engine.connect() as connection:
        version = connection.execute(
            text("SELECT version FROM analytics_product_state WHERE product_id = :id"), {"id": created["subject"]}
        ).scalar_one()
    assert version == big
