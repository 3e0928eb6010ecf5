"""The outbox relay: one leader per topic, racing relays still publish each event once; backlog in readiness/metrics."""

from __future__ import annotations

import asyncio
import collections
import time
import uuid

import httpx
import psycopg
from sqlalchemy import text

from inventory_app.adapters.outbox import ClaimedRow, OutboxRelay, drop_blocked, psycopg_url
from inventory_app.services import products
from tests.support import TEST_EDITOR, adjust_stock, call_async_service, read_topic, run_async


def test_rows_of_a_product_held_by_another_relay_block_its_later_rows() -> None:
    rows = [
        ClaimedRow(5, "e5", "a", {}, None),
        ClaimedRow(6, "e6", "b", {}, None),  # type: ignore[arg-type]
        ClaimedRow(9, "e9", "a", {}, None),
    ]  # type: ignore[arg-type]
    assert [r.id for r in drop_blocked(rows, {"a": 3})] == [6]
    assert [r.id for r in drop_blocked(rows, {"a": 7})] == [5, 6]


def test_two_relays_racing_on_one_outbox_publish_every_event_exactly_once(settings, engine, topics) -> None:
    run = uuid.uuid4().hex[:8]
    created = [
        call_async_service(
            products.create_product,
            {"sku": f"RACE-{n}-{run}", "name": "Race", "price": "1.00", "quantity": 5},
            by=TEST_EDITOR,
        )
        for n in range(20)
    ]
    ids = {c.body["id"] for c in created}
    for c in created:
        for _ in range(9):
            adjust_stock(c.body["id"], {"delta": 1, "reason": "received"})

    async def race() -> None:
        relays = [OutboxRelay(settings), OutboxRelay(settings)]
        tasks = [asyncio.create_task(r.run_forever()) for r in relays]
        try:
            for _ in range(300):
                with engine.connect() as connection:
                    pending = connection.execute(
                        text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND aggregate_id = ANY(:ids)"),
                        {"ids": list(ids)},
                    ).scalar()
                if pending == 0:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("outbox not drained within 30 s")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run_async(race())
    messages = [
        m
        for m in run_async(read_topic(settings.kafka_bootstrap_servers, settings.kafka_topic_product_events))
        if m.key in ids
    ]
    counts = collections.Counter(m.json()["id"] for m in messages)
    assert len(counts) == 200
    assert set(counts.values()) == {1}
    by_product = collections.defaultdict(list)
    for m in sorted(messages, key=lambda m: m.offset):
        by_product[m.key].append(m.json()["data"]["product"]["version"])
    assert all(v == list(range(1, 11)) for v in by_product.values())


def test_ready_reports_the_outbox_backlog_and_metrics_expose_the_relay(api: httpx.Client) -> None:
    ready = api.get("/api/ready").json()
    assert set(ready["outbox"]) == {"pending", "oldest_pending_age_s"}
    body = api.get("/metrics").text
    for name in (
        "outbox_pending_rows",
        "outbox_published_total",
        "outbox_publish_errors_total",
        "outbox_publish_latency_seconds_bucket",
    ):
        assert name in body


def test_one_relay_per_topic_publishes_and_a_standby_takes_over_when_the_leader_goes(settings) -> None:
    """The leader lock lives on the leader's listener connection: losing the connection hands it over."""
    relay_settings = settings.model_copy(
        update={"kafka_topic_product_events": f"test.leader-{uuid.uuid4().hex[:8]}", "outbox_poll_interval_s": 0.2}
    )
    url = psycopg_url(settings.database_url)

    async def scenario() -> tuple[bool, float]:
        first, second = OutboxRelay(relay_settings), OutboxRelay(relay_settings)
        leader_conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        standby_conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            await asyncio.wait_for(first._become_leader(leader_conn), 5)
            standby = asyncio.create_task(second._become_leader(standby_conn))
            await asyncio.sleep(1.0)
            waited_while_leader_alive = not standby.done()
            await leader_conn.close()  # the leader's process dies: its session and lock go with it
            gone = time.monotonic()
            await asyncio.wait_for(standby, 5)
            return waited_while_leader_alive, time.monotonic() - gone
        finally:
            await leader_conn.close()
            await standby_conn.close()

    waited, takeover_s = run_async(scenario())
    assert waited, "a second relay published beside the leader"
    assert takeover_s < 2, f"the standby took {takeover_s:.1f}s to take over"
