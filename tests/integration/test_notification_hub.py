"""The app's notification hub against a real broker: it starts with recent history and resumes where it stopped.

Each test reads a topic of its own, so nothing else writes between the hub's reads.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from inventory_app.adapters.kafka import ensure_topics
from inventory_app.adapters.notification_hub import NotificationHub
from inventory_app.backoff import Backoff
from inventory_app.domain.notice_window import NoticeWindow
from tests.support import make_product_events, produce, run_async

PARTITIONS = 3


async def private_hub(settings: Any, window_size: int = 100) -> NotificationHub:
    topic = f"test-hub-{uuid.uuid4().hex[:8]}"
    private = settings.model_copy(update={"kafka_topic_product_events": topic, "notice_window_size": window_size})
    await ensure_topics(private, [topic], partitions=PARTITIONS)
    return NotificationHub(private)


async def publish(hub: NotificationHub, events: list[dict[str, Any]]) -> None:
    records = [(e["subject"].encode(), json.dumps(e).encode()) for e in events]
    await produce(hub.settings.kafka_bootstrap_servers, hub.settings.kafka_topic_product_events, records)


async def held(window: NoticeWindow, count: int, timeout_s: float = 30) -> list[str]:
    async def loop() -> None:
        while sum(1 for e in window.entries if e.notice) < count:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout_s)
    return [e.notice["id"] for e in window.entries if e.notice]


async def reading(hub: NotificationHub) -> asyncio.Task:
    task = asyncio.create_task(hub._consume(Backoff(0.5, 1)))
    async with asyncio.timeout(30):
        while not hub.connected:
            await asyncio.sleep(0.05)
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def by_partition(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for event in events:
        order.setdefault(event["subject"], []).append(event["id"])
    return order


def test_after_losing_the_broker_the_hub_resumes_where_it_stopped_not_at_the_end(settings) -> None:
    """Seam 1: what was published while the hub was away reaches the open streams on its return."""

    async def scenario() -> tuple[list[str], list[dict[str, Any]]]:
        hub = await private_hub(settings)
        events = make_product_events(40, products=6)
        task = await reading(hub)
        await publish(hub, events[:20])
        await held(hub.window, 20)
        await stop(task)  # the connection is gone, as after a broker outage
        await publish(hub, events[20:])
        task = await reading(hub)
        try:
            return await held(hub.window, 40), events
        finally:
            await stop(task)

    ids, events = run_async(scenario())
    assert sorted(ids) == sorted(e["id"] for e in events) and len(ids) == len(set(ids))
    # Within a product (one partition) the hub holds the events in the order they were written.
    positions = {event_id: n for n, event_id in enumerate(ids)}
    for product_events in by_partition(events).values():
        assert [positions[i] for i in product_events] == sorted(positions[i] for i in product_events)


def test_a_new_hub_holds_the_newest_history_and_then_what_comes_after(settings) -> None:
    async def scenario() -> tuple[NotificationHub, list[tuple[int, int]], list[str], list[dict[str, Any]]]:
        hub = await private_hub(settings, window_size=30)  # 10 per partition at start
        events = make_product_events(60, products=6)
        await publish(hub, events[:45])
        task = await reading(hub)
        try:
            assert hub.window.live_from is not None
            await held(hub.window, sum(min(10, end) for end in hub.window.live_from))
            history = [(e.partition, e.offset) for e in hub.window.entries]
            await publish(hub, events[45:])
            await asyncio.wait_for(_until(lambda: _read_since_start(hub) == 15), 30)
            return hub, history, [e.notice["id"] for e in hub.window.entries if e.notice], events
        finally:
            await stop(task)

    hub, history, held_ids, events = run_async(scenario())
    live_from = hub.window.live_from
    assert live_from is not None and sum(live_from) == 45
    for partition, end in enumerate(live_from):  # the newest records of every partition, nothing older
        assert sorted(o for p, o in history if p == partition) == list(range(max(0, end - 10), end))
    assert set(held_ids[-15:]) == {e["id"] for e in events[45:]}
    assert len(held_ids) == 30 and len(set(held_ids)) == 30


def _read_since_start(hub: NotificationHub) -> int:
    position, live_from = hub.window.position, hub.window.live_from
    assert position is not None and live_from is not None
    return sum(position) - sum(live_from)


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.05)
