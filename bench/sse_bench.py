"""Write → SSE latency at a fixed write rate, and how many SSE clients one app process serves.

Every stream and every write carries the run's API token (`headers`): the stream is authenticated at
connect and re-checked while open, as any client's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import httpx


async def _read_notices(client: httpx.AsyncClient, url: str, on_notice, ready: asyncio.Event) -> None:
    async with client.stream("GET", url, timeout=httpx.Timeout(None, connect=10)) as response:
        response.raise_for_status()  # a refused credential must not pass for a quiet stream
        ready.set()
        event_type = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event_type = line[6:].strip()
            elif line.startswith("data:") and event_type not in (None, "gap"):
                on_notice(event_type, json.loads(line[5:].strip()), time.perf_counter())


class RawPoster:
    """POSTs over a few keep-alive HTTP/1.1 connections, with next to no client-side CPU.

    httpx spends about a millisecond of CPU per request; at a fixed 200 writes/s that is a fifth of a
    core taken from the server under test on a 2-core machine, and the rate would not be held.
    """

    def __init__(self, base_url: str, headers: dict[str, str], connections: int = 16) -> None:
        parsed = urlsplit(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.extra_headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.size = connections
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.opened = 0

    async def post(self, path: str, body: bytes) -> int:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            await self.idle.put(await asyncio.open_connection(self.host, self.port))
        reader, writer = await self.idle.get()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"{self.extra_headers}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        length = next(int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:"))
        await reader.readexactly(length)
        await self.idle.put((reader, writer))
        return status

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def write_to_sse_latency(
    base_url: str, products: list[dict[str, Any]], rate_per_s: int, duration_s: int, headers: dict[str, str]
) -> dict[str, Any]:
    """Writes round-robin over `products` at a fixed rate.

    The k-th update notice of a product answers its k-th write (writes to one product commit in order).
    """
    sent: dict[str, list[float]] = defaultdict(list)
    received: dict[str, list[float]] = defaultdict(list)
    ids = {p["id"] for p in products}

    def on_notice(event_type: str, notice: dict[str, Any], at: float) -> None:
        if event_type == "product_updated" and notice["product_id"] in ids:
            received[notice["product_id"]].append(at)

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:
        ready = asyncio.Event()
        reader = asyncio.create_task(_read_notices(client, "/api/notifications/stream", on_notice, ready))
        await asyncio.wait_for(ready.wait(), timeout=10)
        await asyncio.sleep(1)

        poster = RawPoster(base_url, headers)
        refused: list[int] = []

        async def write(product_id: str) -> None:
            status = await poster.post(
                f"/api/products/{product_id}/stock-adjustments", b'{"delta":1,"reason":"received"}'
            )
            if status == 201:
                # Order of sends per product = order of commits (row lock), matching notice order.
                sent[product_id].append(time.perf_counter())
            else:
                refused.append(status)

        total = rate_per_s * duration_s
        interval = 1 / rate_per_s
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
            tasks.append(asyncio.create_task(write(products[n % len(products)]["id"])))
        await asyncio.gather(*tasks)
        achieved = total / (time.perf_counter() - started)
        await poster.close()
        deadline = time.perf_counter() + 60
        while sum(len(v) for v in received.values()) < sum(len(v) for v in sent.values()):
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.1)
        reader.cancel()
    latencies = []
    for product_id, sends in sent.items():
        for k, sent_at in enumerate(sorted(sends)):
            if k < len(received[product_id]):
                latencies.append((received[product_id][k] - sent_at) * 1000)
    return {
        "writes": sum(len(v) for v in sent.values()),
        "notices": len(latencies),
        "achieved_rate": achieved,
        "refused": len(refused),  # writes not answered 201 (a refused token would show here)
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
    }


async def clients_per_process(
    base_url: str, product_id: str, client_counts: list[int], headers: dict[str, str]
) -> list[dict[str, Any]]:
    """For each N: open N streams, make one change, count clients that got its notice within 1 s."""
    results = []
    for count in client_counts:
        try:
            results.append(await _one_client_count(base_url, product_id, count, headers))
        except Exception as error:  # noqa: BLE001 - recorded as the result for this count
            results.append(
                {
                    "clients": count,
                    "connected": 0,
                    "received": 0,
                    "within_1s": 0,
                    "slowest_s": float("nan"),
                    "error": f"{type(error).__name__}: {error}",
                }
            )
    return results


async def _one_client_count(base_url: str, product_id: str, count: int, headers: dict[str, str]) -> dict[str, Any]:
    """Open `count` streams, make one change, and time its notice at every client."""
    arrivals: list[float] = []
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:
        readies = [asyncio.Event() for _ in range(count)]

        def make_handler(seen: set[str], sink: list[float]):
            def handler(event_type: str, notice: dict[str, Any], received_at: float) -> None:
                if notice["product_id"] == product_id and "first" not in seen:
                    seen.add("first")
                    sink.append(received_at)

            return handler

        readers = [
            asyncio.create_task(_read_notices(client, "/api/notifications/stream", make_handler(set(), arrivals), r))
            for r in readies
        ]
        with contextlib.suppress(TimeoutError):  # count how many got through instead
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=120)
        connected = sum(r.is_set() for r in readies)
        await asyncio.sleep(1)
        started = time.perf_counter()
        # The write goes on a connection of its own: the stream pool may be saturated.
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as writer:
            written = await writer.post(
                f"/api/products/{product_id}/stock-adjustments", json={"delta": 1, "reason": "received"}
            )
            written.raise_for_status()
        await asyncio.sleep(5)
        for reader in readers:
            reader.cancel()
        failed = sum(
            1
            for result in await asyncio.gather(*readers, return_exceptions=True)
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError)
        )
    within = sum(1 for at in arrivals if at - started <= 1.0)
    slowest = max((at - started for at in arrivals), default=float("nan"))
    return {
        "clients": count,
        "connected": connected,
        "received": len(arrivals),
        "within_1s": within,
        "slowest_s": slowest,
        "stream_errors": failed,
    }


async def kafka_only_latency(settings: Any, topic: str, rate_per_s: int, duration_s: int) -> dict[str, Any]:
    """The baseline of write → SSE: the same rate of event-sized records through the same broker, without the app.

    A producer (as the relay's, one record per transaction is not modelled) sends at `rate_per_s`; a
    group-less consumer like the hub's reads them; latency is from the send call to the record's arrival.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from inventory_app.adapters.kafka import ensure_topics, make_producer

    await ensure_topics(settings, [topic])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, fetch_max_wait_ms=100
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(settings.kafka_topic_partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    producer = make_producer(settings, "bench-baseline")
    await producer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    payload = b"x" * 1200  # about one product event

    async def consume() -> None:
        while len(latencies) < rate_per_s * duration_s:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for records in batch.values():
                latencies.extend((now - sent[r.key]) * 1000 for r in records if r.key in sent)

    reading = asyncio.create_task(consume())
    try:
        started = time.perf_counter()
        for n in range(rate_per_s * duration_s):
            await asyncio.sleep(max(0.0, started + n / rate_per_s - time.perf_counter()))
            key = f"{n:08d}".encode()
            sent[key] = time.perf_counter()
            await producer.send(topic, value=payload, key=key)
        await asyncio.wait_for(reading, timeout=60)
    finally:
        reading.cancel()
        await producer.stop()
        await consumer.stop()
    return {
        "records": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
    }
