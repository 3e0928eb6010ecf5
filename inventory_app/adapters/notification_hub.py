"""One product-events reader per app process: it turns events into notices and wakes every SSE stream.

The hub reads every partition of the product-events topic without a consumer group (read_committed,
so only what the relay's transactions committed), keeps the newest notices in a `NoticeWindow`, and
wakes the streams; each stream walks the window from its own cursor. Notices are built here from the
events (`domain.notices.notice_for`), so nothing between a commit and a browser waits on DynamoDB or S3,
and the topic — which holds every event before any browser hears of it — is what replay reads.

After a Kafka outage the hub resumes exactly where it stopped; if the topic no longer holds what it had
not read yet (retention, a recreated topic), a gap marker in the window tells every stream to reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from inventory_app import metrics
from inventory_app.adapters.kafka import topic_partitions
from inventory_app.backoff import Backoff
from inventory_app.domain.notice_window import NoticeWindow, Reason
from inventory_app.domain.notices import notice_for
from inventory_app.settings import Settings

log = logging.getLogger("inventory_app.notifications")


class TooManyStreams(Exception):
    """The caller already holds the most streams one user or token may have open."""


@dataclass(eq=False)  # identity semantics: subscribers live in a set
class Subscriber:
    token: str | None  # the position the client asked to resume from (Last-Event-ID or ?after=)
    owner: str | None  # whose stream it is ("user:<id>" or "token:<id>"), for the per-owner cap
    opened_seq: int  # the window's arrival counter when the stream opened
    hub_started: bool  # whether the hub had a position when the stream opened
    cursor: int = 0  # the last window entry this stream has looked at
    position: list[int] | None = None  # per partition, the next offset this client has not had
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def notice_from_record(value: bytes | None) -> dict[str, Any] | None:
    """The notice for one product-events record; None for a record that is not a product event."""
    try:
        return notice_for(orjson.loads(value or b""))  # every event, in every server worker: the fast parser
    except (ValueError, TypeError, KeyError):  # orjson.JSONDecodeError is a ValueError
        return None


class NotificationHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.window = NoticeWindow(settings.notice_window_size)
        self.subscribers: set[Subscriber] = set()
        self.open_by_owner: Counter[str] = Counter()
        self.shutting_down = asyncio.Event()
        self.connected = False
        self.highwater: list[int] = []  # the topic's end per partition, as last seen by a fetch
        self._news = asyncio.Event()

    def subscribe(self, token: str | None = None, owner: str | None = None) -> Subscriber:
        if owner is not None:
            if self.open_by_owner[owner] >= self.settings.sse_max_streams_per_user:
                raise TooManyStreams(owner)
            self.open_by_owner[owner] += 1
        subscriber = Subscriber(token, owner, self.window.seq, self.window.position is not None)
        self.subscribers.add(subscriber)
        metrics.SSE_CLIENTS.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers and subscriber.owner is not None:
            self.open_by_owner[subscriber.owner] -= 1
            if self.open_by_owner[subscriber.owner] <= 0:
                del self.open_by_owner[subscriber.owner]
        self.subscribers.discard(subscriber)
        metrics.SSE_CLIENTS.set(len(self.subscribers))

    async def wait_for_news(self, seq: int, timeout_s: float) -> None:
        """Return once the window holds entries past `seq`, the hub closes, or `timeout_s` passes."""
        if self.window.seq > seq or self.shutting_down.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._news.wait(), timeout_s)

    def announce(self) -> None:
        """Wake every waiting stream (each reads the window from its own cursor)."""
        news, self._news = self._news, asyncio.Event()
        news.set()

    def close(self) -> None:
        """Server shutdown: end every open stream so the server does not wait on them."""
        self.shutting_down.set()
        for subscriber in list(self.subscribers):
            subscriber.closed.set()
        self.announce()

    def close_on_termination_signals(self) -> None:
        """End every stream as soon as the server is told to stop, not at lifespan shutdown.

        Granian drains open responses before it runs the lifespan shutdown, and an SSE response never
        ends by itself, so without this a SIGTERM waits for every client to leave. The server's own
        handler is chained, never replaced; where nothing handles the signal (the default action
        ends the process anyway) nothing is installed.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def close_then_chain(received: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close)
                previous(received, frame)

            signal.signal(signum, close_then_chain)

    async def run_forever(self) -> None:
        self.close_on_termination_signals()
        backoff = Backoff(initial_s=0.5, max_s=10.0)
        while not self.shutting_down.is_set():
            try:
                await self._consume(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a Kafka outage only delays live notices
                self.connected = False
                delay = backoff.next_delay()
                log.warning("product-events reader error: %s; reconnecting in %.1fs", error, delay)
                await asyncio.sleep(delay)

    def resume_at(self, begin: list[int], end: list[int]) -> None:
        """Where to read from: the newest notices on the first start, exactly where it stopped after that."""
        window = self.window
        if window.position is None or len(window.position) != len(begin):
            per_partition = max(1, window.capacity // len(begin))
            restarted = window.position is not None
            window.start([max(b, e - per_partition) for b, e in zip(begin, end, strict=True)], end)
            if restarted:  # the topic's partitions changed: positions from before mean nothing now
                window.reset(0, window.position[0], Reason.LOG_TRUNCATED)  # type: ignore[index]
            return
        for partition, (first, last) in enumerate(zip(begin, end, strict=True)):
            held = window.position[partition]
            if held < first or held > last:  # deleted by retention, or the topic was recreated
                log.warning("partition %d: resuming at %d, the topic has %d..%d", partition, held, first, last)
                window.reset(partition, first, Reason.LOG_TRUNCATED)

    async def _consume(self, backoff: Backoff) -> None:
        topic = self.settings.kafka_topic_product_events
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            request_timeout_ms=self.settings.kafka_request_timeout_ms + 30_000,
            # How long the broker holds a fetch with nothing new: what an idle hub adds to a notice's
            # latency at worst. 20 ms costs an idle process ~50 small fetches a second.
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            partitions = await topic_partitions(self.settings.kafka_bootstrap_servers, topic)
            if not partitions:
                raise RuntimeError(f"topic {topic} does not exist yet")
            tps = [TopicPartition(topic, p) for p in range(max(partitions) + 1)]
            consumer.assign(tps)
            begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
            self.resume_at([begin[tp] for tp in tps], [end[tp] for tp in tps])
            self.highwater = [end[tp] for tp in tps]
            assert self.window.position is not None
            for tp in tps:
                consumer.seek(tp, self.window.position[tp.partition])
            self.connected = True
            self.announce()  # streams opened before the first start can now find their position
            log.info("notification hub reading %s (%d partitions)", topic, len(tps))
            while not self.shutting_down.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                backoff.reset()
                for tp, records in batch.items():
                    for record in records:
                        if self.window.add(tp.partition, record.offset, notice_from_record(record.value)) is None:
                            log.warning("no notice for the record at %s:%d", tp.partition, record.offset)
                    highwater = consumer.highwater(tp)
                    if highwater is not None:
                        self.highwater[tp.partition] = highwater
                if batch:
                    self.announce()
        finally:
            self.connected = False
            await consumer.stop()
