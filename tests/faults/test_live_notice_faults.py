"""Live notices through faults: a Kafka outage, a killed notifier, a client away for five seconds.

Each client must get every notice exactly once, in order — or a `gap` telling it to reload; never a
silent hole. The expected notices are the outbox's events for the test's product, in write order (one
product lives in one partition, so that is also the order on the topic).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tests.conftest import devstack
from tests.integration.helpers import outbox_events
from tests.sse_client import SseReader, about, open_stream
from tests.support import run_async

pytestmark = pytest.mark.faults
CLIENTS = 3


def client(app_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=app_url,
        headers=headers,
        timeout=httpx.Timeout(30, read=120),
        limits=httpx.Limits(max_connections=CLIENTS + 5, max_keepalive_connections=CLIENTS + 5),
    )


async def create_product(api: httpx.AsyncClient, quantity: int) -> str:
    response = await api.post(
        "/api/products",
        json={"sku": f"LIVE-F-{uuid.uuid4().hex[:8]}", "name": "Fault widget", "price": "1.00", "quantity": quantity},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def adjust(api: httpx.AsyncClient, product_id: str) -> None:
    response = await api.post(f"/api/products/{product_id}/stock-adjustments", json={"delta": -1, "reason": "sold"})
    assert response.status_code == 201, response.text


def ours(reader: SseReader, product_id: str) -> list[str]:
    return [m.notice_id for m in reader.notices() if about(product_id)(m)]


def assert_complete(readers: list[SseReader], product_id: str, expected: list[str]) -> None:
    for n, reader in enumerate(readers):
        gaps = [m.json() for m in reader.received if m.event == "gap"]
        assert not gaps, f"client {n} was told to reload: {gaps}"
        got = ours(reader, product_id)
        assert len(got) == len(set(got)), f"client {n} got a notice twice"
        assert got == expected, f"client {n}: {len(got)} of {len(expected)} notices, or out of order"


async def read_until(reader: SseReader, done: Callable[[], bool], timeout_s: float) -> None:
    async def loop() -> None:
        while not done():
            await reader.next()

    await asyncio.wait_for(loop(), timeout_s)


def listen_through(
    app_url: str, headers: dict[str, str], engine: Any, fault: Callable[[], None], recover: Callable[[], None]
) -> list[int]:
    """Three clients listen while 60 changes are made: 20 before `fault`, 20 until `recover`, 20 after."""

    async def scenario() -> list[int]:
        async with client(app_url, headers) as api, AsyncExitStack() as streams:
            readers = [await streams.enter_async_context(open_stream(api)) for _ in range(CLIENTS)]
            product_id = await create_product(api, 1000)
            for _ in range(20):
                await adjust(api, product_id)
            await asyncio.to_thread(fault)
            for _ in range(20):
                await adjust(api, product_id)  # the outbox holds these while Kafka is away
            await asyncio.to_thread(recover)
            for _ in range(20):
                await adjust(api, product_id)
            expected = [e["id"] for e in outbox_events(engine, product_id)]
            assert len(expected) == 61
            started = time.monotonic()
            await asyncio.gather(
                *(read_until(r, lambda r=r: len(ours(r, product_id)) >= len(expected), 120) for r in readers)
            )
            print(f"all {CLIENTS} clients complete {time.monotonic() - started:.1f}s after the last write")
            assert_complete(readers, product_id, expected)
            return [len(ours(r, product_id)) for r in readers]

    return run_async(scenario())


class KafkaAway:
    """Kafka stopped for ten seconds."""

    def stop(self) -> None:
        self.stopped = time.monotonic()
        devstack("stop", "kafka")

    def recover(self) -> None:
        time.sleep(max(0.0, 10 - (time.monotonic() - self.stopped)))
        devstack("start", "kafka")


def test_three_clients_get_every_notice_once_across_a_ten_second_kafka_outage(
    app_url: str, workers, accounts, engine
) -> None:
    away = KafkaAway()
    counts = listen_through(app_url, accounts.editor.headers, engine, away.stop, away.recover)
    assert counts == [61] * CLIENTS


def test_three_clients_get_every_notice_once_while_the_notifier_is_killed(
    app_url: str, workers, accounts, engine
) -> None:
    """The notifier (DynamoDB log, S3 archive) is not on the live path: killing it mid-stream changes nothing."""

    counts = listen_through(
        app_url, accounts.editor.headers, engine, workers.notifier.kill, lambda: workers.notifier.start() and None
    )
    assert counts == [61] * CLIENTS


def test_a_client_away_for_five_seconds_during_a_hundred_writes_gets_exactly_what_it_missed(
    app_url: str, accounts, engine
) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with client(app_url, accounts.editor.headers) as api:
            product_id = await create_product(api, 1000)

            async def hundred_writes() -> None:  # ~20 a second: the client is away for a quarter of them
                for _ in range(100):
                    await adjust(api, product_id)
                    await asyncio.sleep(0.05)

            async with open_stream(api) as reader:
                await read_until(reader, lambda: len(ours(reader, product_id)) >= 1, 30)
                writes = asyncio.create_task(hundred_writes())
                await read_until(reader, lambda: len(ours(reader, product_id)) >= 20, 60)
                last = [m for m in reader.received if m.id][-1]
                before = ours(reader, product_id)
                gaps = [m for m in reader.received if m.event == "gap"]
            await asyncio.sleep(5)
            async with open_stream(api, last_event_id=last.id) as resumed:
                await writes
                await adjust(api, product_id)  # live after the replay, on the same stream
                expected = [e["id"] for e in outbox_events(engine, product_id)]
                # A notice sent twice would take the place of a later one: the comparison below sees it.
                await read_until(resumed, lambda: len(before) + len(ours(resumed, product_id)) >= len(expected), 60)
                gaps += [m for m in resumed.received if m.event == "gap"]
                assert not gaps, [g.data for g in gaps]
                return before, ours(resumed, product_id), [e["id"] for e in outbox_events(engine, product_id)]

    before, after, expected = run_async(scenario())
    print(f"before the disconnect: {len(before)} notices; after reconnecting: {len(after)}")
    assert before + after == expected
    assert 20 <= len(before) < 101 and len(expected) == 102
